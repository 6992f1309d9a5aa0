#!/bin/bash
# rig-args: --timeout 240
# LUKS2 round trip through real dm-crypt: 64 MiB written through /dev/mapper,
# identical after close and reopen, and the backing file never holds the plaintext.
source "$RIG_SRC/tests/rig/lib.bash"

step "make a 96 MiB file-backed loop device"
truncate -s 96M "$TMP/backing.img"
dev=$(losetup -f --show "$TMP/backing.img")
on_exit "losetup -d $dev 2>/dev/null"
key=$(head -c 32 /dev/urandom | base64)   # fed on stdin only

step "luksFormat (LUKS2, aes-xts-plain64, 4096-byte sectors, pbkdf2 1000)"
printf %s "$key" | cryptsetup luksFormat -q --type luks2 --cipher aes-xts-plain64 --key-size 512 \
	--sector-size 4096 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file=- "$dev"
printf %s "$key" | cryptsetup open --key-file=- "$dev" rigvol
on_exit "cryptsetup close rigvol 2>/dev/null"
dmsetup table rigvol >"$TMP/table"
assert_grep ' crypt aes-xts-plain64 ' "$TMP/table"

step "write 64 MiB of recognisable plaintext through the mapping"
marker="VOLKEY-PLAINTEXT-MARKER-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$PY" - "$marker" >"$TMP/plain" <<'PY'
import sys, os
m = (sys.argv[1] + "\n").encode()
block = (m * (4096 // len(m) + 1))[:4096]
out = sys.stdout.buffer
for i in range(64 * 256):
    # alternate marker blocks and random blocks so the data is neither constant nor all random
    out.write(block if i % 2 == 0 else os.urandom(4096))
PY
dd if="$TMP/plain" of=/dev/mapper/rigvol bs=1M oflag=direct status=none
sync
want=$(sha256sum <"$TMP/plain" | cut -d' ' -f1)
head -c 64M /dev/mapper/rigvol >"$TMP/readback"
got=$(sha256sum <"$TMP/readback" | cut -d' ' -f1)
[[ $got == "$want" ]] || fail "read-back differs before close"
grep -qa "$marker" "$TMP/readback" || fail "marker not readable through the mapping"
rm -f "$TMP/readback"

step "the xts(aes) driver dm-crypt uses"
"$VOLKEY" doctor --json >"$TMP/doctor.json"
echo "xts(aes) = $(json_get "$TMP/doctor.json" 'j["xts_aes"]["driver"]'), async=$(json_get "$TMP/doctor.json" 'j["xts_aes"]["async"]')"

step "close, reopen, compare"
cryptsetup close rigvol
[[ ! -e /dev/mapper/rigvol ]] || fail "mapping still present after close"
printf %s "$key" | cryptsetup open --key-file=- "$dev" rigvol
got2=$(head -c 64M /dev/mapper/rigvol | sha256sum | cut -d' ' -f1)
[[ $got2 == "$want" ]] || fail "data differs after reopen"
cryptsetup close rigvol

step "the backing file holds no plaintext"
losetup -d "$dev"
if grep -qa "$marker" "$TMP/backing.img"; then fail "plaintext marker found in the backing file"; fi
hits=$(grep -ac "$marker" "$TMP/plain")
echo "marker lines in plaintext: $hits; in backing file: 0; sha256 $want"
