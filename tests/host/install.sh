#!/bin/bash
# make install DESTDIR= PREFIX= puts the binary, the man page and the token plugin
# at standard paths (the plugin where this libcryptsetup looks for it), and they work.
source "$(dirname "$0")/lib.bash"
make -s -C "$VOLKEY_SRC" BUILD="$BUILD" install DESTDIR="$TMP/root" PREFIX=/usr >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "make install"; }
[[ -x $TMP/root/usr/sbin/volkey ]] || fail "no /usr/sbin/volkey"
[[ -f $TMP/root/usr/share/man/man8/volkey.8 ]] || fail "no man page"
[[ -f $TMP/root/usr/share/man/man8/volkeyd.8 ]] || fail "no volkeyd man page"
"$TMP/root/usr/sbin/volkey" --version | grep -qx "volkey $(cat "$VOLKEY_SRC/VERSION")" || fail "installed binary"
man -l "$TMP/root/usr/share/man/man8/volkey.8" 2>/dev/null | grep -q 'doctor' ||
	grep -q 'doctor' "$TMP/root/usr/share/man/man8/volkey.8" || fail "man page content"
# The directory libcryptsetup itself reports for external token handlers.
printf '#include <stdio.h>\n#include <libcryptsetup.h>\nint main(void){puts(crypt_token_external_path());return 0;}\n' >"$TMP/tp.c"
gcc -o "$TMP/tp" "$TMP/tp.c" -lcryptsetup || fail "cannot build the token-path probe"
so=$TMP/root$("$TMP/tp")/libcryptsetup-token-volkey.so
[[ -f $so ]] || fail "token plugin not at $so"
nm -D --defined-only "$so" | awk '{print $3}' | sort >"$TMP/syms"
printf '%s\n' CRYPTSETUP_TOKEN_1.0 cryptsetup_token_buffer_free@@CRYPTSETUP_TOKEN_1.0 cryptsetup_token_dump@@CRYPTSETUP_TOKEN_1.0 \
	cryptsetup_token_open@@CRYPTSETUP_TOKEN_1.0 cryptsetup_token_validate@@CRYPTSETUP_TOKEN_1.0 \
	cryptsetup_token_version@@CRYPTSETUP_TOKEN_1.0 | sort >"$TMP/want"
diff -u "$TMP/want" "$TMP/syms" || fail "the plugin exports more or less than the token ABI"
rules=$TMP/root$(pkg-config --variable=udevdir udev)/rules.d/70-volkey.rules
[[ -f $rules ]] || fail "no udev rules at $rules"
grep -q 'IMPORT{program}="/usr/sbin/volkey nvme-id $devnode"' "$rules" || fail "udev rules do not name the installed volkey"
! grep -q '@SBINDIR@' "$rules" || fail "template left unfilled"
unit=$TMP/root$(pkg-config --variable=systemdsystemunitdir systemd)/volkeyd.service
[[ -f $unit ]] || fail "no unit at $unit"
[[ -x $TMP/root/usr/sbin/volkeyd ]] || fail "no /usr/sbin/volkeyd"
# The module's DKMS tree: dkms.conf with this version, and sources that build
# (against the rig kernel's headers, as DKMS would against each kernel's).
dk=$TMP/root/usr/src/volkey-xts-$(cat "$VOLKEY_SRC/VERSION")
grep -qx "PACKAGE_VERSION=\"$(cat "$VOLKEY_SRC/VERSION")\"" "$dk/dkms.conf" || fail "dkms.conf version"
grep -qx 'BUILT_MODULE_NAME\[0\]="volkey_xts"' "$dk/dkms.conf" || fail "dkms.conf module name"
kdir=/lib/modules/$("$VOLKEY_SRC/tests/rig/kernel")/build
if [[ -d $kdir ]]; then
	make -s -C "$kdir" M="$dk" modules >"$TMP/dkms.log" 2>&1 || { cat "$TMP/dkms.log"; fail "the DKMS tree does not build"; }
	[[ -f $dk/kernel/volkey_xts.ko ]] || fail "the DKMS tree built no volkey_xts.ko"
fi
# volkey bench's job files, found by the installed binary beside it.
for f in common.fioinc ratio.gp randread-4k-qd1.fio seqwrite-1m.fio; do
	[[ -f $TMP/root/usr/share/volkey/bench/$f ]] || fail "no bench file $f"
done
"$TMP/root/usr/sbin/volkey" bench --jobs nosuch >"$TMP/out" 2>&1 && fail "bench --jobs nosuch worked"
assert_grep "$TMP/root/usr/sbin/../share/volkey/bench/nosuch.fio: no such job file"
grep -qx 'ExecStart=/usr/sbin/volkeyd' "$unit" || fail "unit does not start the installed volkeyd"
grep -qx 'Type=notify' "$unit" || fail "unit is not Type=notify"
# systemd's own check of the unit (the binary path is resolved on this host, so point it at the build).
sed "s|^ExecStart=.*|ExecStart=$VOLKEY_SRC/${BUILD:-build}/volkeyd|" "$unit" >"$TMP/volkeyd.service"
systemd-analyze verify "$TMP/volkeyd.service" >"$TMP/verify" 2>&1 || true
grep -v "man volkey(8)\|Documentation=" "$TMP/verify" | grep -q . && { cat "$TMP/verify"; fail "systemd-analyze verify complains"; }
# The first-boot re-key unit: the installed volkey, never holding up boot.
rekey=${unit%/*}/volkey-rekey.service
[[ -f $rekey ]] || fail "no unit at $rekey"
grep -qx 'ExecStart=/usr/sbin/volkey rekey --root --if-image --progress-interval 60' "$rekey" || fail "rekey unit ExecStart"
grep -qx 'Type=exec' "$rekey" || fail "rekey unit is not Type=exec"
grep -qx 'After=network-online.target volkeyd.service' "$rekey" || fail "rekey unit ordering"
sed "s|^ExecStart=/usr/sbin/volkey|ExecStart=$VOLKEY_SRC/${BUILD:-build}/volkey|" "$rekey" >"$TMP/volkey-rekey.service"
systemd-analyze verify "$TMP/volkey-rekey.service" >"$TMP/verify" 2>&1 || true
grep -v "man volkey(8)\|Documentation=" "$TMP/verify" | grep -q . && { cat "$TMP/verify"; fail "systemd-analyze verify complains about volkey-rekey.service"; }
"$TMP/root/usr/sbin/volkeyd" --help | grep -q 'volkey boot agent' || fail "volkeyd --help"
echo "install ok"
