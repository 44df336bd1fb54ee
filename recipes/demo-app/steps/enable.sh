#!/bin/sh
set -eu
chmod 755 /usr/bin/demo-hello
echo "$RECIPE_PARAM_VERSION" > /etc/demo-version
systemctl enable demo-hello.service
