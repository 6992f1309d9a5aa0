#!/bin/bash
# make install DESTDIR= PREFIX= puts the binary and man page at standard paths, and they work.
source "$(dirname "$0")/lib.bash"
make -s -C "$VOLKEY_SRC" BUILD="$BUILD" install DESTDIR="$TMP/root" PREFIX=/usr >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "make install"; }
[[ -x $TMP/root/usr/sbin/volkey ]] || fail "no /usr/sbin/volkey"
[[ -f $TMP/root/usr/share/man/man8/volkey.8 ]] || fail "no man page"
"$TMP/root/usr/sbin/volkey" --version | grep -qx "volkey $(cat "$VOLKEY_SRC/VERSION")" || fail "installed binary"
man -l "$TMP/root/usr/share/man/man8/volkey.8" 2>/dev/null | grep -q 'doctor' ||
	grep -q 'doctor' "$TMP/root/usr/share/man/man8/volkey.8" || fail "man page content"
echo "install ok"
