#!/bin/sh
set -eu
# Every device must have its own host keys: drop the ones the package made at build time.
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/ssh/sshd_config.d
echo "PermitRootLogin $RECIPE_PARAM_ROOT_LOGIN" > /etc/ssh/sshd_config.d/10-bakery.conf
# Keys are made on the device when sshd first starts.
mkdir -p /etc/systemd/system/ssh.service.d
cat > /etc/systemd/system/ssh.service.d/10-bakery-hostkeys.conf <<UNIT
[Service]
ExecStartPre=/usr/bin/ssh-keygen -A
UNIT
