#!/bin/sh
set -eu
# apt's package cache and lists never reach the image: the layer's finish drops them, after the
# package record (SBOM, lock) has read the lists' checksums.
rm -rf /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/log/apt/* /var/log/dpkg.log
if [ "$RECIPE_PARAM_DOCS" = true ]; then
  find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find /usr/share/doc -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf /usr/share/man/* /usr/share/info/*
  # Keep later package installs from putting them back.
  cat > /etc/dpkg/dpkg.cfg.d/10-bakery-nodoc <<CFG
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
CFG
fi
