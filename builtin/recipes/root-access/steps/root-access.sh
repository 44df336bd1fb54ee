#!/bin/sh
set -eu
if [ -n "$RECIPE_PARAM_AUTHORIZED_KEYS" ]; then
  install -d -m 700 /root/.ssh
  printf '%s\n' "$RECIPE_PARAM_AUTHORIZED_KEYS" > /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
fi
if [ -n "$RECIPE_PARAM_PASSWORD" ]; then
  # A salt derived from the inputs, not a random one: the same sources make the same image.
  # (The last-change day comes from SOURCE_DATE_EPOCH, which shadow's tools honour.)
  salt=$(printf 'bakery-root:%s:%s' "$BAKERY_LAYER" "$RECIPE_PARAM_PASSWORD" | sha256sum | cut -c1-16)
  hash=$(perl -e 'print crypt($ARGV[0], "\$6\$$ARGV[1]\$")' "$RECIPE_PARAM_PASSWORD" "$salt")
  echo "root:$hash" | chpasswd -e
else
  passwd -l root >/dev/null
fi
