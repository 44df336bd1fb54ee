#!/bin/sh
set -eu
case "$BAKERY_ARCH" in
  amd64) pkg=grub-efi-amd64-bin serial=ttyS0 ;;
  arm64) pkg=grub-efi-arm64-bin serial=ttyAMA0 ;;
  *) echo "bakery-grub-efi: no GRUB EFI for $BAKERY_ARCH" >&2; exit 1 ;;
esac
[ -n "$(ls /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ] || apt-get update
apt-get install -y --no-install-recommends "$pkg"
# Read by the boot partition's grub.cfg from the slot it boots: the command line travels with
# the slot, so an update can change it.
cmdline=${RECIPE_PARAM_CMDLINE:-console=tty0 console=$serial,115200 quiet}
# A boot that dies before userspace must not wait for a human: reboot, and let GRUB fall back.
[ "${RECIPE_PARAM_PANIC:-0}" -le 0 ] || cmdline="panic=$RECIPE_PARAM_PANIC $cmdline"
printf 'set bakery_cmdline="%s"\n' "$cmdline" > /boot/bakery-grub.cfg
