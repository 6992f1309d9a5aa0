#!/bin/sh
# Distributor action: remove volkey (not purge: /etc/volkey stays). Volumes,
# headers and open mappings stay as they are; without the token plugin,
# crypttab volumes are not unlocked at the next boot (docs/packaging.md).
set -eu
pkgs=
for p in volkey-initramfs volkey-dracut volkey-xts-dkms volkey; do
  if dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^i'; then
    pkgs="$pkgs $p"
  fi
done
if [ -z "$pkgs" ]; then
  echo "volkey is not installed: nothing to remove"
  exit 0
fi
echo "removing$pkgs"
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q $pkgs
