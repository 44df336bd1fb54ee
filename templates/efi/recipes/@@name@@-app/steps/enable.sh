#!/bin/sh
set -eu
systemctl enable @@name@@-hello.service
