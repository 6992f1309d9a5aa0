#!/bin/sh
# Distributor action for the Volkey package on Debian 12 (install, and update:
# update.sh runs this file). The SSM agent runs `sh install.sh` as root in the
# extracted package. Installs or upgrades volkey from the .deb beside it, its
# dependencies from the instance's configured apt sources; the companion
# packages (volkey-initramfs, volkey-dracut, volkey-xts-dkms) are upgraded
# only where they are installed already. Idempotent: the same version again
# changes nothing. Never touches volumes, mappings or /etc/volkey/volkey.conf
# (an edited conffile is kept).
set -eu
cd "$(dirname "$0")"
here=$(pwd)
deb() { # PACKAGE: the one .deb of that package here
  set -- "$here/$1"_*.deb
  [ $# -eq 1 ] && [ -f "$1" ] || { echo "install: expected one $1 .deb in $here" >&2; exit 1; }
  echo "$1"
}
installed() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'; }
debs=$(deb volkey)
for p in volkey-initramfs volkey-dracut volkey-xts-dkms; do
  if installed "$p"; then
    set -- "$here/$p"_*.deb
    [ -f "$1" ] && debs="$debs $1"
  fi
done
before=$(dpkg-query -W -f='${Version}' volkey 2>/dev/null || true)
echo "volkey ${before:-not installed}: installing $(for d in $debs; do basename "$d"; done | tr '\n' ' ')"
# --allow-downgrades: Distributor installs the previous version when an update fails
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $debs
after=$(dpkg-query -W -f='${Version}' volkey)
echo "volkey $after installed"
