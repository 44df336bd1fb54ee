#!/bin/sh
set -eu
echo "$RECIPE_PARAM_NAME" > /etc/hostname
cat > /etc/hosts <<HOSTS
127.0.0.1	localhost
127.0.1.1	$RECIPE_PARAM_NAME
::1	localhost ip6-localhost ip6-loopback
HOSTS
