#!/bin/bash
# make deb: the two Debian packages build, lintian finds no error, they hold
# everything `make install` installs where Debian 12 wants it, the example
# configuration is a conffile the real parser loads, the maintainer scripts touch
# no device, and the DKMS package's tree builds the module with dkms itself
# (private trees in $TMP: the host's /var/lib/dkms is left as it was).
# Installing, upgrading and purging on a booted system is the instance tier's.
source "$(dirname "$0")/lib.bash"
[[ ${BUILD:-build} != build-asan ]] || skip "packages are built from a copy of the tree, not from the ASan build: checked in the plain tier"
for t in dpkg-buildpackage dh lintian dh_dkms dkms; do
	command -v "$t" >/dev/null || skip "$t is not installed (make deps)"
done
version=$(cat "$VOLKEY_SRC/VERSION")
debv=$version-0test1
B=$TMP/b
deb=$B/deb/volkey_${debv}_amd64.deb
dkdeb=$B/deb/volkey-xts-dkms_${debv}_all.deb
irdeb=$B/deb/volkey-initramfs_${debv}_all.deb
drdeb=$B/deb/volkey-dracut_${debv}_all.deb
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

# A DEB_VERSION whose upstream part is not the code's VERSION is refused before any work.
expect_exit 2 make -s -C "$VOLKEY_SRC" BUILD="$B" deb DEB_VERSION=9.9.9-1
assert_grep "DEB_VERSION=9.9.9-1 must be $version-REVISION"
[[ ! -e $B/deb ]] || fail "a refused DEB_VERSION still copied the tree"

make -s -C "$VOLKEY_SRC" BUILD="$B" deb DEB_VERSION="$debv" >"$TMP/make.out" 2>&1 || { cat "$TMP/make.out"; fail "make deb"; }
[[ -f $deb && -f $dkdeb && -f $irdeb && -f $drdeb ]] || { ls -l "$B/deb"; fail "make deb left a package out"; }
grep -q '^LINTIAN\|  LINTIAN ' "$TMP/make.out" || fail "make deb did not run lintian"
assert_no_grep '^E: ' "$TMP/make.out"
grep '^[WI]: ' "$TMP/make.out" || true   # warnings are shown, not fatal
[[ $(dpkg-deb -f "$deb" Version) == "$debv" ]] || fail "volkey's version is not DEB_VERSION"
[[ $(dpkg-deb -f "$dkdeb" Version) == "$debv" ]] || fail "volkey-xts-dkms's version is not DEB_VERSION"

# Control fields.
dpkg-deb -f "$deb" Depends | grep -q 'libcryptsetup12' || fail "volkey: no shlibs Depends on libcryptsetup12"
# dlopen'ed on first use (agent/base/dlib.h): dpkg-shlibdeps cannot see them, debian/control names them
for p in libcurl4 libp11-kit0 libnvme1 libsystemd0; do
	dpkg-deb -f "$deb" Depends | grep -qE "(^|, )$p( |,|$)" || fail "volkey does not depend on $p"
done
dpkg-deb -f "$deb" Recommends | grep -qw 'cryptsetup-bin' || fail "volkey: does not recommend cryptsetup-bin"
[[ $(dpkg-deb -f "$deb" Architecture) == amd64 ]] || fail "volkey is not amd64"
[[ $(dpkg-deb -f "$dkdeb" Architecture) == all ]] || fail "volkey-xts-dkms is not Architecture: all"
dpkg-deb -f "$dkdeb" Depends | grep -qE '(^|, )dkms( |,|$)' || fail "volkey-xts-dkms does not depend on dkms"
dpkg-deb -I "$deb" conffiles >"$TMP/conffiles" || fail "volkey has no conffiles"
[[ $(cat "$TMP/conffiles") == /etc/volkey/volkey.conf ]] || { cat "$TMP/conffiles"; fail "conffiles is not exactly /etc/volkey/volkey.conf"; }

# Every path, in the right package.
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | sort >"$TMP/volkey.list"
dpkg-deb -c "$dkdeb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | sort >"$TMP/dkms.list"
want=(/usr/sbin/volkey /usr/sbin/volkeyd
	/usr/lib/$multiarch/cryptsetup/libcryptsetup-token-volkey.so
	/lib/udev/rules.d/70-volkey.rules /lib/systemd/system/volkeyd.service
	/lib/systemd/system/multi-user.target.d/volkey-remote-cryptsetup.conf
	/usr/share/man/man8/volkey.8.gz /usr/share/man/man8/volkeyd.8.gz
	/usr/share/volkey/bench/common.fioinc /usr/share/volkey/bench/ratio.gp /usr/share/volkey/bench/seqwrite-1m.fio
	/etc/volkey/volkey.conf /usr/share/doc/volkey/copyright /usr/share/doc/volkey/config.md
	/lib/systemd/system/volkey-rekey.service)
for p in "${want[@]}"; do grep -qxF "$p" "$TMP/volkey.list" || fail "volkey lacks $p"; done
# The root volume's initramfs parts are their own packages: installing volkey
# alone must not make every upgrade rebuild the initramfs (the hook's trigger).
dpkg-deb -c "$irdeb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | sort >"$TMP/initramfs.list"
dpkg-deb -c "$drdeb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | sort >"$TMP/dracut.list"
for p in /usr/lib/volkey/volkey-keyscript /usr/share/initramfs-tools/hooks/volkey; do
	grep -qxF "$p" "$TMP/initramfs.list" || fail "volkey-initramfs lacks $p"
done
for p in /usr/lib/dracut/modules.d/90volkey/module-setup.sh /usr/lib/dracut/modules.d/90volkey/volkey-unlock.service \
	/usr/lib/dracut/modules.d/90volkey/volkey-unlock.sh; do
	grep -qxF "$p" "$TMP/dracut.list" || fail "volkey-dracut lacks $p"
done
! grep -q 'initramfs-tools\|dracut' "$TMP/volkey.list" || fail "volkey holds initramfs parts"
dpkg-deb -f "$irdeb" Depends | grep -q 'cryptsetup-initramfs' || fail "volkey-initramfs does not depend on cryptsetup-initramfs"
for p in /usr/src/volkey-xts-$version/dkms.conf /usr/src/volkey-xts-$version/Kbuild \
	/usr/src/volkey-xts-$version/kernel/Kbuild /usr/src/volkey-xts-$version/kernel/volkey_xts.c; do
	grep -qxF "$p" "$TMP/dkms.list" || fail "volkey-xts-dkms lacks $p"
done
! grep -q '^/usr/src' "$TMP/volkey.list" || fail "volkey holds the module's sources"
# ...and every file `make install` installs is in one of them (so what it adds, such as
# a systemd generator, is packaged), the man pages compressed.
make -s -C "$VOLKEY_SRC" BUILD="$BUILD" install DESTDIR="$TMP/inst" PREFIX=/usr \
	TOKENDIR=/usr/lib/$multiarch/cryptsetup >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "make install"; }
n=0
while read -r f; do
	p=${f#"$TMP/inst"}
	[[ $p == /usr/share/man/* ]] && p=$p.gz
	grep -qxF "$p" "$TMP/volkey.list" "$TMP/dkms.list" "$TMP/initramfs.list" "$TMP/dracut.list" ||
		fail "make install installs $p, no package holds it"
	n=$((n + 1))
done < <(find "$TMP/inst" -type f -o -type l)
[[ $n -ge 20 ]] || fail "make install installed only $n files"
# The token plugin's directory is the one libcryptsetup reports (/lib is /usr/lib on Debian 12).
printf '#include <stdio.h>\n#include <libcryptsetup.h>\nint main(void){puts(crypt_token_external_path());return 0;}\n' >"$TMP/tp.c"
gcc -o "$TMP/tp" "$TMP/tp.c" -lcryptsetup || fail "cannot build the token-path probe"
[[ $(realpath "$("$TMP/tp")") == $(realpath "/usr/lib/$multiarch/cryptsetup") ]] ||
	fail "the plugin's directory /usr/lib/$multiarch/cryptsetup is not libcryptsetup's $("$TMP/tp")"

# The files themselves.
R=$TMP/root
dpkg-deb -x "$deb" "$R"
! grep -rl '@SBINDIR@\|@VERSION@' "$R/lib" "$R/usr/lib" 2>/dev/null | grep -q . || fail "a template was left unfilled"
grep -q 'IMPORT{program}="/usr/sbin/volkey nvme-id $devnode"' "$R/lib/udev/rules.d/70-volkey.rules" ||
	fail "udev rules do not name /usr/sbin/volkey"
grep -qx 'ExecStart=/usr/sbin/volkeyd' "$R/lib/systemd/system/volkeyd.service" || fail "unit does not run /usr/sbin/volkeyd"
"$R/usr/sbin/volkey" --version | grep -qx "volkey $version" || fail "packaged volkey --version"
"$R/usr/sbin/volkey" bench --jobs nosuch >"$TMP/out" 2>&1 && fail "bench --jobs nosuch worked"
assert_grep "$R/usr/sbin/../share/volkey/bench/nosuch.fio: no such job file"
grep -qaF /usr/share/volkey/bench "$R/usr/sbin/volkey" || fail "volkey was not built with PREFIX=/usr (bench directory)"
dropin=$R/lib/systemd/system/multi-user.target.d/volkey-remote-cryptsetup.conf
[[ $(grep -v '^#' "$dropin") == $'[Unit]\nWants=remote-cryptsetup.target' ]] || { cat "$dropin"; fail "drop-in content"; }
[[ -f /lib/systemd/system/remote-cryptsetup.target ]] || fail "this systemd has no remote-cryptsetup.target"

# The example configuration: nothing set, provisioning off, and the real parser
# loads it, with every setting uncommented too; a bad line is caught (the check can fail).
conf=$R/etc/volkey/volkey.conf
grep -nvE '^(#.*|;.*|\[[a-z0-9:-]+\]|)$' "$conf" && fail "the example configuration sets something"
grep -qx ';provision = off' "$conf" || fail "the example does not show provision = off"
# `volkey nvme-id /dev/null` reads the configuration before the device (docs/config.md).
check_conf() {
	"$R/usr/sbin/volkey" --config "$1" nvme-id /dev/null >"$TMP/out" 2>&1 && fail "nvme-id /dev/null worked"
	! grep -q 'Cannot read config' "$TMP/out" || { cat "$TMP/out"; fail "$2: the parser refuses it"; }
	assert_grep 'Identify Controller failed'
}
check_conf "$conf" "the example configuration"
sed 's/^;\([a-z_0-9]* = \|\[\)/\1/' "$conf" >"$TMP/all.conf"
[[ $(grep -cE '^[a-z_0-9]+ = ' "$TMP/all.conf") -ge 40 ]] || fail "uncommenting gave too few settings"
check_conf "$TMP/all.conf" "the example with every setting uncommented"
printf '[kms]\nno_such_key = 1\n' >>"$TMP/all.conf"
expect_exit 1 "$R/usr/sbin/volkey" --config "$TMP/all.conf" nvme-id /dev/null
assert_grep "Cannot read config .*line $(wc -l <"$TMP/all.conf")"

# Maintainer scripts: valid sh, and none touches a device, a mapping, a header or
# volkey's data; volkeyd.service is enabled, stopped only on remove.
for d in "$deb" "$dkdeb" "$irdeb" "$drdeb"; do
	rm -rf "$TMP/ctl" && dpkg-deb -e "$d" "$TMP/ctl"
	for s in "$TMP"/ctl/{preinst,postinst,prerm,postrm}; do
		[[ -f $s ]] || continue
		sh -n "$s" || fail "$(basename "$d"): $(basename "$s") is not valid sh"
		# Comments are not commands: only the code is searched.
		sed -e 's|/dev/null||g' -e 's/^[[:space:]]*#.*//' "$s" |
			grep -nE '\b(dmsetup|cryptsetup|wipefs|blkdiscard|mkfs|losetup|mdadm|nvme|umount|volkey( |$))\b|/dev/|/run/volkey|/var/lib/volkey|rm -r' &&
			fail "$(basename "$d"): $(basename "$s") touches devices or data"
	done
	cp -r "$TMP/ctl" "$TMP/ctl-$(dpkg-deb -f "$d" Package)"
done
grep -q "deb-systemd-helper enable 'volkeyd.service'" "$TMP/ctl-volkey/postinst" || fail "postinst does not enable volkeyd.service"
grep -q "deb-systemd-helper enable 'volkey-rekey.service'" "$TMP/ctl-volkey/postinst" || fail "postinst does not enable volkey-rekey.service"
[[ ! -e $TMP/ctl-volkey/triggers ]] || ! grep -q update-initramfs "$TMP/ctl-volkey/triggers" ||
	fail "volkey triggers update-initramfs (only volkey-initramfs should)"
grep -qx 'activate-noawait update-initramfs' "$TMP/ctl-volkey-initramfs/triggers" ||
	fail "volkey-initramfs has no update-initramfs trigger (the initramfs would keep an old volkey)"
grep -q "restart.*volkey-rekey\|start.*volkey-rekey" "$TMP/ctl-volkey/postinst" && fail "postinst starts or restarts volkey-rekey.service"
grep -q 'remote-cryptsetup' "$TMP"/ctl-volkey/{postinst,prerm,postrm} && fail "a maintainer script handles remote-cryptsetup.target (the drop-in does)"
grep -q "deb-systemd-invoke stop .*'volkeyd.service'" "$TMP/ctl-volkey/prerm" || fail "prerm does not stop volkeyd"
grep -q '"$1" = remove' "$TMP/ctl-volkey/prerm" || fail "prerm stops volkeyd on more than remove"
[[ ! -e $TMP/ctl-volkey/preinst ]] || fail "volkey has a preinst"
grep -q 'dkms remove -m $DKMS_NAME' "$TMP/ctl-volkey-xts-dkms/prerm" || fail "the dkms prerm does not remove the module"

# The DKMS package's tree builds the module with dkms, against the rig kernel's
# headers, in private trees; signing keys go to $TMP (the host's /var/lib/dkms stays as it was).
kver=$("$VOLKEY_SRC/tests/rig/kernel")
if [[ -d /lib/modules/$kver/build ]]; then
	dpkg-deb -x "$dkdeb" "$TMP/dk"
	before=$(ls -la /var/lib/dkms 2>&1)
	dk=(-m volkey-xts -v "$version" --dkmstree "$TMP/dkmstree" --sourcetree "$TMP/dk/usr/src" --installtree "$TMP/dkmsinst")
	mkdir -p "$TMP/dkmstree" "$TMP/dkmsinst"
	export mok_signing_key=$TMP/mok.key mok_certificate=$TMP/mok.pub
	{ dkms add "${dk[@]}" && dkms build "${dk[@]}" -k "$kver"; } >"$TMP/dkms.log" 2>&1 || { cat "$TMP/dkms.log"; fail "dkms build"; }
	ko=$(find "$TMP/dkmstree/volkey-xts/$version/$kver" -name volkey_xts.ko)
	[[ -n $ko ]] || { cat "$TMP/dkms.log"; fail "dkms built no volkey_xts.ko"; }
	modinfo -F vermagic "$ko" | grep -q "^$kver " || fail "module not built for $kver"
	[[ $(ls -la /var/lib/dkms 2>&1) == "$before" ]] || fail "dkms changed the host's /var/lib/dkms"
else
	echo "no headers for $kver: dkms build not checked (make deps installs them)"
fi
echo "deb ok"
