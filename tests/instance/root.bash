# The root tier's helpers (sourced after lib.bash): an image whose root file
# system is a volkey volume, built the way an image pipeline builds one on a
# builder instance (docs/root.md, "Building an encrypted root"):
#   1. the root tree: the instance image with volkey and volkey-initramfs installed from their .debs, a
#      crypttab line with volkey's keyscript, fstab's root on /dev/mapper/root,
#      and the initramfs rebuilt (initramfs-tools, in a chroot); a dracut initrd
#      from a copy of the same tree with Debian's dracut installed;
#   2. a builder instance (the plain image, volkey installed) with a blank disk
#      and the tree as a second disk: `volkey format --image` through KMS (IMDS
#      role credentials), the LUKS2 label volkey-root, a recovery passphrase,
#      `volkey open`, the tree copied in, `volkey close`.
# The result is cached in /var/cache/volkey-rig/root/KEY (VOLKEY_ROOT_CACHE
# overrides the parent; the newest 2 are kept), KEY = sha256 of the base
# image's cache name and every file the image's contents come from: the
# sources that make the .deb (agent, tools, udev, debian, Makefile, VERSION,
# Kbuild, kernel), this file, the KMS double and lib.bash's kms_config (they
# make the keys). A warm run copies it (seconds); a cold one builds (about 4.5 min).
# root_build sets:
#   ROOT_DIR        its directory; ROOT_DIR/enc.img is the encrypted root disk
#   ROOT_ITOOLS     the initramfs-tools initrd; ROOT_DRACUT the dracut initrd
#   ROOT_PHRASE     the file holding the image's recovery passphrase
#   ROOT_SIZE_MB    the root file system's size
# and writes ROOT_DIR/build.times (seconds per step) and ROOT_DIR/initrd.sizes.

ROOT_SIZE_MB=${ROOT_SIZE_MB:-1536}
ROOT_KEYSCRIPT=/usr/lib/volkey/volkey-keyscript

# _root_chroot_mount IMG DIR: loop-mounts IMG on DIR with /proc, /dev, /run for a chroot.
_root_chroot_mount() {
	mkdir -p "$2"
	mount -o loop "$1" "$2" || return 1
	mount -t proc proc "$2/proc" && mount --bind /dev "$2/dev" && mount --bind /dev/pts "$2/dev/pts" &&
		mount -t tmpfs tmpfs "$2/run"
	printf '#!/bin/sh\nexit 101\n' >"$2/usr/sbin/policy-rc.d"
	chmod +x "$2/usr/sbin/policy-rc.d"
}
_root_chroot_umount() {
	rm -f "$1/usr/sbin/policy-rc.d"
	umount "$1/run" "$1/dev/pts" "$1/dev" "$1/proc" 2>/dev/null || true
	umount "$1"
}

_root_time() { # NAME T0: appends "NAME SECONDS" to build.times
	printf '%s %s\n' "$1" "$(_inst_elapsed "$2")" >>"$ROOT_DIR/build.times"
}

_root_key() {
	{
		echo "${INST_IMAGE##*/}"
		(cd "$INST_SRC" && find agent tools udev debian kernel Makefile VERSION Kbuild tests/instance/root.bash \
			tests/fakes/kms.py -type f ! -name '*.o' ! -name '*.d' 2>/dev/null | LC_ALL=C sort | xargs sha256sum)
		# the KMS double's keys (its config and seed), not the rest of lib.bash
		sed -n '/^kms_config()/,/^}/p' "$INST_LIB/lib.bash"
	} | sha256sum | cut -c1-16
}

root_build() {
	local cache=${VOLKEY_ROOT_CACHE:-/var/cache/volkey-rig/root} key f
	inst_image
	key=$(_root_key)
	ROOT_DIR=$INST_RUN/rootbuild
	if [[ -f $cache/$key/.done ]]; then
		step "root image: cached ($cache/$key)"
		mkdir -p "$ROOT_DIR"
		for f in "$cache/$key"/*; do cp --sparse=always "$f" "$ROOT_DIR/"; done
		touch "$cache/$key"
	else
		_root_build_cold
		mkdir -p "$cache"
		rm -rf "$cache/.tmp-$key"
		mkdir "$cache/.tmp-$key"
		for f in "$ROOT_DIR"/*; do cp --sparse=always "$f" "$cache/.tmp-$key/"; done
		touch "$cache/.tmp-$key/.done"
		rm -rf "${cache:?}/$key"
		mv "$cache/.tmp-$key" "$cache/$key"
		ls -1dt "$cache"/*/ 2>/dev/null | tail -n +3 | while read -r f; do rm -rf "$f"; done
	fi
	ROOT_ITOOLS=$ROOT_DIR/initrd-itools.img ROOT_DRACUT=$ROOT_DIR/initrd-dracut.img ROOT_PHRASE=$ROOT_DIR/phrase
	[[ -n ${_inst_pids[imds]:-} ]] || imds_start --role volkey-role --region us-east-1
	[[ -n ${_inst_pids[kms-us-east-1]:-} ]] || kms_start
	cat "$ROOT_DIR/build.times" "$ROOT_DIR/initrd.sizes"
}

_root_build_cold() {
	local t0 kver mnt=$INST_RUN/rootmnt min_blocks bs
	[[ -n ${VOLKEY_DEB:-} && -f $VOLKEY_DEB ]] || fail "VOLKEY_DEB (make deb) is needed"
	mkdir -p "$ROOT_DIR"
	: >"$ROOT_DIR/build.times"
	kver=$(cat "$INST_IMAGE/kver")

	step "root image: the tree (volkey from its .deb, crypttab, fstab, initramfs-tools)"
	t0=$EPOCHREALTIME
	cat >"$ROOT_DIR/builder.conf" <<-CONF
		[kms]
		region = us-east-1
		deadline_ms = 8000
		connect_timeout_ms = 5000
	CONF
	# The root volume's parts are their own packages, beside volkey's .deb.
	local ver irdeb drdeb
	ver=${VOLKEY_DEB##*/volkey_}; ver=${ver%_*.deb}
	irdeb=${VOLKEY_DEB%/*}/volkey-initramfs_${ver}_all.deb drdeb=${VOLKEY_DEB%/*}/volkey-dracut_${ver}_all.deb
	[[ -f $irdeb && -f $drdeb ]] || fail "no $irdeb or $drdeb beside VOLKEY_DEB (make deb builds them)"
	inst_prepare --deb "$VOLKEY_DEB" --deb "$irdeb" --file "$ROOT_DIR/builder.conf:/etc/volkey/volkey.conf:0644"
	cp --sparse=always "$INST_RUN/root.img" "$ROOT_DIR/tree.img"
	_root_chroot_mount "$ROOT_DIR/tree.img" "$mnt" || fail "cannot mount the tree"
	cat >"$mnt/etc/volkey/volkey.conf" <<-CONF
		# the encrypted root's volkey.conf (also in its initramfs)
		[kms]
		region = us-east-1
		deadline_ms = 8000
		connect_timeout_ms = 5000
		[initramfs]
		wait = 60
		interval = 5
		fallback = passphrase
	CONF
	printf '# <target> <source> <key> <options>\nroot LABEL=volkey-root none luks,discard,initramfs,keyscript=%s\n' \
		"$ROOT_KEYSCRIPT" >"$mnt/etc/crypttab"
	printf '# <device> <mount point> <type> <options> <dump> <pass>\n/dev/mapper/root / ext4 errors=remount-ro 0 1\n' \
		>"$mnt/etc/fstab"
	chroot "$mnt" update-initramfs -u -k "$kver" >"$ROOT_DIR/update-initramfs.log" 2>&1 ||
		{ cat "$ROOT_DIR/update-initramfs.log"; _root_chroot_umount "$mnt"; fail "update-initramfs in the tree failed"; }
	cp "$mnt/boot/initrd.img-$kver" "$ROOT_DIR/initrd-itools.img"
	# What volkey adds: the same initramfs without volkey's hook.
	chmod -x "$mnt/usr/share/initramfs-tools/hooks/volkey"
	chroot "$mnt" mkinitramfs -o /tmp/initrd-novolkey "$kver" >>"$ROOT_DIR/update-initramfs.log" 2>&1 ||
		{ _root_chroot_umount "$mnt"; fail "mkinitramfs without volkey failed"; }
	chmod +x "$mnt/usr/share/initramfs-tools/hooks/volkey"
	printf 'itools %s\nitools-without-volkey %s\nbase %s\n' "$(stat -c %s "$ROOT_DIR/initrd-itools.img")" \
		"$(stat -c %s "$mnt/tmp/initrd-novolkey")" "$(stat -c %s "$INST_IMAGE/initrd.img")" >"$ROOT_DIR/initrd.sizes"
	rm -f "$mnt/tmp/initrd-novolkey"
	chroot "$mnt" lsinitramfs "/boot/initrd.img-$kver" >"$ROOT_DIR/initrd-itools.list"
	_root_chroot_umount "$mnt" || fail "cannot unmount the tree"
	ROOT_ITOOLS=$ROOT_DIR/initrd-itools.img
	_root_time tree "$t0"

	step "root image: the dracut initrd (a copy of the tree with Debian's dracut)"
	t0=$EPOCHREALTIME
	cp --sparse=always "$ROOT_DIR/tree.img" "$ROOT_DIR/dracut.img"
	_root_chroot_mount "$ROOT_DIR/dracut.img" "$mnt" || fail "cannot mount the dracut copy"
	mkdir -p "$mnt/var/tmp/nosrc/sources.list.d"
	: >"$mnt/var/tmp/nosrc/sources.list"
	# network-legacy: dhclient, DNS from the lease into resolv.conf (docs/root.md).
	mkdir -p "$mnt/etc/dracut.conf.d"
	printf 'add_dracutmodules+=" network-legacy "\n' >"$mnt/etc/dracut.conf.d/50-network-legacy.conf"
	cp "$drdeb" "$mnt/opt/volkey-dracut-debs/"
	# shellcheck disable=SC2016
	chroot "$mnt" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -o Dir::Etc::SourceList=/var/tmp/nosrc/sources.list \
		-o Dir::Etc::SourceParts=/var/tmp/nosrc/sources.list.d /opt/volkey-dracut-debs/*.deb' >"$ROOT_DIR/dracut.log" 2>&1 ||
		{ tail -n 30 "$ROOT_DIR/dracut.log"; _root_chroot_umount "$mnt"; fail "installing dracut in the copy failed"; }
	# dracut's postinst built /boot/initrd.img-KVER (the volkey module included:
	# crypttab names volkey's keyscript).
	cp "$mnt/boot/initrd.img-$kver" "$ROOT_DIR/initrd-dracut.img"
	chroot "$mnt" lsinitrd "/boot/initrd.img-$kver" >"$ROOT_DIR/initrd-dracut.list" 2>&1 || true
	grep -q 'volkey-unlock' "$ROOT_DIR/initrd-dracut.list" ||
		{ tail -n 30 "$ROOT_DIR/dracut.log"; _root_chroot_umount "$mnt"; fail "the dracut initrd has no volkey module"; }
	_root_chroot_umount "$mnt"
	rm -f "$ROOT_DIR/dracut.img"
	printf 'dracut %s\n' "$(stat -c %s "$ROOT_DIR/initrd-dracut.img")" >>"$ROOT_DIR/initrd.sizes"
	ROOT_DRACUT=$ROOT_DIR/initrd-dracut.img
	_root_time dracut "$t0"

	step "root image: shrink the tree's file system to $ROOT_SIZE_MB MiB"
	e2fsck -fy "$ROOT_DIR/tree.img" >/dev/null 2>&1 || true
	e2fsck -fn "$ROOT_DIR/tree.img" >/dev/null 2>&1 || fail "the tree's file system does not check clean"
	bs=$(dumpe2fs -h "$ROOT_DIR/tree.img" 2>/dev/null | awk -F: '/^Block size/ {print $2+0}')
	min_blocks=$(resize2fs -P "$ROOT_DIR/tree.img" 2>/dev/null | awk -F: '/Estimated minimum/ {print $2+0}')
	[[ $((min_blocks * bs / 1048576 + 64)) -le $ROOT_SIZE_MB ]] ||
		fail "the tree needs $((min_blocks * bs / 1048576)) MiB, more than ROOT_SIZE_MB=$ROOT_SIZE_MB"
	resize2fs "$ROOT_DIR/tree.img" "${ROOT_SIZE_MB}M" >/dev/null 2>&1 || fail "resize2fs failed"
	truncate -s "${ROOT_SIZE_MB}M" "$ROOT_DIR/tree.img"

	step "root image: the builder instance formats the root disk through KMS and copies the tree in"
	t0=$EPOCHREALTIME
	truncate -s "$((ROOT_SIZE_MB + 32))M" "$ROOT_DIR/enc.img"
	[[ -n ${_inst_pids[imds]:-} ]] || imds_start --role volkey-role --region us-east-1
	[[ -n ${_inst_pids[kms-us-east-1]:-} ]] || kms_start
	vm_start --nvme "$ROOT_DIR/enc.img,serial=target" --nvme "$ROOT_DIR/tree.img,serial=source"
	vm_wait_ssh 300
	vm_ssh 'systemd-analyze' </dev/null | head -1 | sed 's/^Startup finished in //' >"$ROOT_DIR/builder.analyze"
	root_to_switch >"$ROOT_DIR/builder.to_root"
	local t=/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_target s=/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_source
	# volkeyd unlocks the volkey volumes it finds (udev starts it again on each event):
	# on a builder it would take the new one. Masked for this boot.
	vm_ssh "systemctl mask --runtime --now volkeyd && volkey format $t --key aws-kms:alias/vol --image --yes && cryptsetup config --label volkey-root $t" \
		</dev/null >"$ROOT_DIR/format.out" 2>&1 || { cat "$ROOT_DIR/format.out"; fail "volkey format --image in the builder"; }
	vm_ssh "volkey recovery-key $t" </dev/null >"$ROOT_DIR/phrase" 2>"$ROOT_DIR/recovery.err" ||
		{ cat "$ROOT_DIR/recovery.err"; fail "volkey recovery-key in the builder"; }
	chmod 600 "$ROOT_DIR/phrase"
	ROOT_PHRASE=$ROOT_DIR/phrase
	vm_ssh "set -e; volkey open $t volkey-build >/dev/null
		t0=\$(date +%s%N); dd if=$s of=/dev/mapper/volkey-build bs=4M oflag=direct status=none
		echo copy_ms \$(( (\$(date +%s%N) - t0) / 1000000 ))
		sync; volkey close volkey-build; volkey status $t" </dev/null >"$ROOT_DIR/copy.out" 2>&1 ||
		{ cat "$ROOT_DIR/copy.out"; fail "copying the tree into the volume in the builder"; }
	grep -q 'template, not re-keyed' "$ROOT_DIR/copy.out" || { cat "$ROOT_DIR/copy.out"; fail "the built root is not marked as an image"; }
	vm_ssh "$(root_keyhash_cmd $t)" </dev/null >"$ROOT_DIR/image.keyhash"
	vm_ssh "cryptsetup luksUUID $t" </dev/null >"$ROOT_DIR/image.uuid"
	vm_poweroff
	rm -f "$ROOT_DIR/tree.img"
	_root_time builder "$t0"
}

# root_to_switch: seconds from kernel start to the switch to the real root in
# `systemd-analyze` (kernel, or kernel + initrd when systemd runs in the initrd).
root_to_switch() {
	vm_ssh 'systemd-analyze' </dev/null | head -1 | awk '{ t = 0
		for (i = 2; i <= NF; i++) if ($i ~ /^\((kernel|initrd)\)/) { v = $(i-1); m = 0
			if (v ~ /min/) { split(v, a, "min"); m = a[1] * 60; v = a[2] }
			sub(/s$/, "", v); t += m + v }
		printf "%.1f\n", t }'
}

# root_keyhash_cmd DEVICE: a guest command printing a fingerprint of the volume
# key (16 hex digits of its SHA-256; the key itself never leaves the guest). The
# dm table does not show it: libcryptsetup hands dm-crypt the key through the
# kernel keyring, so the table holds a key description, not the key.
root_keyhash_cmd() {
	echo "volkey unwrap $1 2>/dev/null | cryptsetup luksDump -q --dump-volume-key --key-file=- $1 2>/dev/null |
		awk '/MK dump:/ { f = 1; sub(/.*MK dump:/, \"\") } f' | tr -d ' \\t\\n' | sha256sum | cut -c1-16"
}

# root_copy NAME: a sparse copy of the built encrypted root disk (one instance's root).
root_copy() {
	cp --sparse=always "$ROOT_DIR/enc.img" "$INST_RUN/$1.img" && echo "$INST_RUN/$1.img"
}

# root_boot DISK INITRD [vm_start args...]: boots an encrypted root (root=/dev/mapper/root).
root_boot() {
	local disk=$1 initrd=$2
	shift 2
	vm_start --rootdisk "$disk" --initrd "$initrd" --root /dev/mapper/root "$@"
}
