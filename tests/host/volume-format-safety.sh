#!/bin/bash
# format refuses, with the reason, what it must not overwrite, and leaves the
# device byte-for-byte unchanged: any blkid signature, data without a signature
# (at the start or the end), a mounted device (even with --force), an existing
# LUKS volume, a regular file, a missing path; bad options; an unreachable key.
# --force overrides what it may. (A device held by a mapping: rig tier.)
source "$(dirname "$0")/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
: >"$TMP/empty.conf"
export VOLKEY_CONFIG=$TMP/empty.conf
k=$(new_kek k)
dev=$(new_loop disk 48M)

# refused DEV CODE REGEX [ARGS...]: format is refused with CODE and a one-line reason; DEV unchanged.
refused() {
	local d=$1 code=$2 re=$3 before; shift 3
	before=$(dev_sum "$d")
	expect_exit "$code" "$VOLKEY" format "$d" --key "$k" --yes "$@"
	assert_grep "^volkey: error: $d: $re"
	[[ $(wc -l <"$TMP/out") -eq 1 ]] || fail "not a one-line error"
	[[ $(dev_sum "$d") == "$before" ]] || fail "refused format changed $d"
}

echo "== filesystem signature"
mkfs.ext4 -q -F "$dev"
refused "$dev" 5 'holds a ext4 signature; refusing to format it without --force'
echo "== mounted: refused even with --force"
mkdir "$TMP/mnt"
# Read-only: a read-write ext4 is written by the kernel itself (lazy inode-table
# init, journal commits) while the test compares checksums.
mount -o ro "$dev" "$TMP/mnt"
on_exit "umount '$TMP/mnt' 2>/dev/null"
refused "$dev" 5 "mounted on $TMP/mnt; refusing" --force
umount "$TMP/mnt"
echo "== a swap signature, a partition table"
mkswap -q "$dev" >/dev/null
refused "$dev" 5 'holds a swap signature'
wipefs -qa "$dev" 2>/dev/null
printf 'label: gpt\n' | sfdisk -q "$dev" >/dev/null 2>&1
refused "$dev" 5 'holds a (gpt|PMBR) signature'
echo "== data without a signature, at the start and at the end"
wipefs -qa "$dev" 2>/dev/null
dd if=/dev/zero of="$dev" bs=1M count=48 status=none
printf 'customer data' | dd of="$dev" bs=1 seek=600000 conv=notrunc status=none
refused "$dev" 5 'holds data \(non-zero bytes, no known signature\)'
dd if=/dev/zero of="$dev" bs=1M count=1 status=none conv=notrunc
printf 'tail data' | dd of="$dev" bs=1 seek=$((48 * 1024 * 1024 - 4096)) conv=notrunc status=none
refused "$dev" 5 'holds data'
dd if=/dev/zero of="$dev" bs=1M count=48 status=none
printf 'middle data' | dd of="$dev" bs=1 seek=$((20 * 1024 * 1024 + 12345)) conv=notrunc status=none
refused "$dev" 5 'holds data \(non-zero bytes'
echo "== --force over data works"
expect_exit 0 "$VOLKEY" format "$dev" --key "$k" --yes --force
expect_exit 0 "$VOLKEY" open --test "$dev"
echo "== an existing volkey volume"
refused "$dev" 5 'holds a LUKS2 volume \(volkey, UUID [0-9a-f-]{36}\); refusing to format it without --force'
echo "== bad options change nothing"
before=$(dev_sum "$dev")
expect_exit 1 "$VOLKEY" format "$dev" --key "$k" --key "$k" --yes --force
assert_grep 'given twice'
expect_exit 1 "$VOLKEY" format "$dev" --key "$k" --yes --force --sector-size 777
assert_grep 'sector size 777'
expect_exit 1 "$VOLKEY" format "$dev" --key "nope:x" --yes --force
assert_grep 'key URI nope:x is malformed'
expect_exit 1 "$VOLKEY" format "$dev" --key "$k" --yes --force --context 'volkey:luks-uuid=x'
assert_grep 'context volkey:luks-uuid=x: not K=V'
expect_exit 1 "$VOLKEY" format "$dev" --yes
expect_exit 1 "$VOLKEY" format --key "$k" --yes
echo "== a PKCS#11 module that unlock would refuse is refused before anything is written"
expect_exit 2 "$VOLKEY" format "$dev" --key "pkcs11:token=x;object=y?module-path=$TMP/empty.conf&pin-source=/dev/null" --yes --force
assert_grep "^volkey: error: $dev: PKCS#11 module $TMP/empty.conf is not allowed: volkey.conf names it in neither .*nothing was written$"
[[ $(dev_sum "$dev") == "$before" ]] || fail "a refused format changed $dev"
echo "== an unreachable key: nothing written"
expect_exit 4 "$VOLKEY" format "$dev" --key "file:$TMP/absent.kek" --yes --force
assert_grep "cannot wrap a secret with file:$TMP/absent.kek: .*nothing was written"
[[ $(dev_sum "$dev") == "$before" ]] || fail "a failed format changed $dev"
echo "== not a block device, missing path"
truncate -s 32M "$TMP/plain.img"
refused "$TMP/plain.img" 4 'not a block device \(--force formats a regular file\)'
expect_exit 0 "$VOLKEY" format "$TMP/plain.img" --key "$k" --yes --force
expect_exit 0 "$VOLKEY" open --test "$TMP/plain.img"
echo "== a file that backs a loop device: refused even with --force"
lp=$(losetup -f --show "$TMP/plain.img"); on_exit "losetup -d $lp 2>/dev/null"
refused "$TMP/plain.img" 5 "held by $lp \(attached loop device\); refusing to format it" --force
losetup -d "$lp"
expect_exit 4 "$VOLKEY" format "$TMP/none" --key "$k" --yes
assert_grep "^volkey: error: $TMP/none: No such file"
expect_exit 4 "$VOLKEY" format /dev/null --key "$k" --yes
assert_grep 'not a block device or regular file'
echo "== checked again right before the header write: a change while the keys were wrapped aborts"
fresh=$(new_loop fresh 48M)
# format stops itself after wrapping (VOLKEY_TEST_PAUSE_AT); the test writes to the disk; format goes on
race() { # WHAT-TO-DO REGEX
	VOLKEY_TEST_PAUSE_AT=format-wrapped "$VOLKEY" format "$fresh" --key "$k" --yes >"$TMP/out" 2>&1 &
	local pid=$! i
	for i in $(seq 1 200); do [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == T ]] && break; sleep 0.05; done
	[[ $(awk '{print $3}' "/proc/$pid/stat") == T ]] || fail "format did not pause"
	eval "$1"
	local before; before=$(dev_sum "$fresh")
	kill -CONT "$pid"
	wait "$pid" && rc=0 || rc=$?
	[[ $rc -eq 5 ]] || { cat "$TMP/out"; fail "format went on after $fresh changed (exit $rc)"; }
	assert_grep "^volkey: error: $fresh: $2 changed since it was checked; nothing was written$"
	[[ $(wc -l <"$TMP/out") -eq 1 ]] || fail "not a one-line error"
	[[ $(dev_sum "$fresh") == "$before" ]] || fail "format wrote to $fresh after it changed"
	[[ -z $(blkid -p -o value -s TYPE "$fresh" 2>/dev/null) || $(blkid -p -o value -s TYPE "$fresh") != crypto_LUKS ]] ||
		fail "a LUKS header was written"
}
race 'printf "written meanwhile" | dd of="$fresh" bs=1 seek=1000000 conv=notrunc status=none' "its contents"
wipefs -qa "$fresh"; dd if=/dev/zero of="$fresh" bs=1M count=2 conv=notrunc status=none
race 'mkfs.ext4 -q -F "$fresh"' "its signature"
echo "format safety ok"
