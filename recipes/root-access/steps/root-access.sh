#!/bin/sh
set -eu
if [ -n "$RECIPE_PARAM_AUTHORIZED_KEYS" ]; then
  install -d -m 700 /root/.ssh
  printf '%s\n' "$RECIPE_PARAM_AUTHORIZED_KEYS" > /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
fi
if [ -n "$RECIPE_PARAM_PASSWORD" ]; then
  echo "root:$RECIPE_PARAM_PASSWORD" | chpasswd
else
  passwd -l root >/dev/null
fi
