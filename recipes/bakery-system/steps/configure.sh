#!/bin/sh
set -eu
systemctl enable systemd-networkd.service
# Each device gets its own machine-id at first boot (kept on /data by bakery-readonly-root).
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
# The image has no fstab of its own beyond what bakery's recipes add.
[ -e /etc/fstab ] || : > /etc/fstab
