#!/bin/sh
set -eu
# Every device must have its own host keys: drop the ones the package made at build time. The
# device makes them when sshd first starts, in /etc/ssh/hostkeys (kept on /data where the system
# has a persistent data partition).
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/ssh/sshd_config.d /etc/ssh/hostkeys
{
  echo "PermitRootLogin $RECIPE_PARAM_ROOT_LOGIN"
  for t in ed25519 ecdsa rsa; do echo "HostKey /etc/ssh/hostkeys/ssh_host_${t}_key"; done
} > /etc/ssh/sshd_config.d/10-bakery.conf
mkdir -p /etc/systemd/system/ssh.service.d
cat > /etc/systemd/system/ssh.service.d/10-bakery-hostkeys.conf <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'for t in ed25519 ecdsa rsa; do f=/etc/ssh/hostkeys/ssh_host_$${t}_key; [ -s "$$f" ] || ssh-keygen -q -N "" -t $$t -f "$$f"; done'
ExecStartPre=/usr/sbin/sshd -t
UNIT
