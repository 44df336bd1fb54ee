#!/bin/sh
set -eu
mkdir -p /etc/bakery /data
echo "OVERLAY_SIZE=$RECIPE_PARAM_OVERLAY_SIZE" > /etc/bakery/overlay.conf
# What lives on /data: identity and state that must survive reboots and updates.
{
  echo /etc/machine-id
  echo /etc/ssh/hostkeys
  echo /var/lib/rauc
  echo /var/lib/systemd/timesync
  echo /var/lib/systemd/random-seed
  for p in $RECIPE_PARAM_PERSISTENT_PATHS; do echo "$p"; done
} > /etc/bakery/persistent-paths
# Files in the list must exist as files in the image (anything absent is taken as a directory).
mkdir -p /var/lib/systemd /etc/ssh/hostkeys /var/lib/rauc /var/lib/systemd/timesync
[ -e /var/lib/systemd/random-seed ] || : > /var/lib/systemd/random-seed
chmod 600 /var/lib/systemd/random-seed
grep -q ' /data ' /etc/fstab || echo 'PARTLABEL=data /data ext4 defaults,noatime,nofail,x-systemd.device-timeout=10min 0 2' >> /etc/fstab
chmod 755 /etc/initramfs-tools/hooks/bakery /etc/initramfs-tools/scripts/init-bottom/bakery /usr/libexec/bakery/*
systemctl enable bakery-grow-data.service
# /etc/machine-id is bind-mounted from /data (a mount point), which makes systemd try to
# "commit" it to the read-only root and fail; the id is already persistent.
systemctl mask systemd-machine-id-commit.service
update-initramfs -u -k all
