#!/bin/bash
# The host tier's footing: loop devices and libcryptsetup's userspace LUKS2 work
# here without device-mapper (format, keyslot test, wrong key refused, header dump).
source "$(dirname "$0")/lib.bash"
command -v cryptsetup >/dev/null || fail "cryptsetup missing (make deps)"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"

truncate -s 32M "$TMP/disk.img"
dev=$(losetup -f --show "$TMP/disk.img")
on_exit "losetup -d $dev"
key=$(head -c 32 /dev/urandom | base64)   # test key: stays in this shell, fed on stdin
printf %s "$key" | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--sector-size 4096 --key-file=- "$dev"
printf %s "$key" | cryptsetup open --test-passphrase --key-file=- "$dev"
rc=0; printf wrong | cryptsetup open --test-passphrase --key-file=- "$dev" 2>/dev/null || rc=$?
[[ $rc -eq 2 ]] || fail "wrong key gave exit $rc (want 2)"
cryptsetup luksDump "$dev" >"$TMP/out"
assert_grep '^Version:[[:space:]]+2'
assert_grep 'sector:[[:space:]]+4096'
blkid -p -o value -s TYPE "$dev" | grep -qx crypto_LUKS || fail "blkid does not see LUKS"
echo "loop + LUKS2 userspace ok on $dev"
