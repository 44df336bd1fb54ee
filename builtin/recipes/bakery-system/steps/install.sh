#!/bin/sh
set -eu
# Stable kernel paths for the boot loader: /boot/vmlinuz and /boot/initrd.img, whatever the
# version (an update can bring a new kernel; the boot configuration never changes).
cat > /etc/kernel-img.conf <<CONF
do_symlinks = yes
link_in_boot = yes
CONF
[ -n "$(ls /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ] || apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends \
  "linux-image-$BAKERY_ARCH" systemd systemd-sysv udev dbus initramfs-tools kmod \
  e2fsprogs fdisk cloud-guest-utils util-linux iproute2 procps less ca-certificates \
  $RECIPE_PARAM_PACKAGES
