#!/bin/sh
set -eu
systemctl enable systemd-networkd.service
# No vsock on most devices: the ssh-over-vsock generator would only log a failure at every boot.
mkdir -p /etc/systemd/system-generators
ln -sf /dev/null /etc/systemd/system-generators/systemd-ssh-generator
# Each device gets its own machine-id at first boot (kept on /data by bakery-readonly-root).
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
# The image has no fstab of its own beyond what bakery's recipes add.
[ -e /etc/fstab ] || : > /etc/fstab
