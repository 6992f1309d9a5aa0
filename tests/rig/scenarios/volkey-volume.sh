#!/bin/bash
# rig-args: --timeout 300
# A volkey volume through real dm-crypt: volkey format/open → ext4 → files →
# close → reopen, identical checksums; format refuses the device while a mapping
# holds it; the same volume through `cryptsetup open --token-only` (the token
# plugin), through a crypttab line run by systemd-cryptsetup, and through plain
# cryptsetup with the recovery passphrase once every backend is gone.
source "$RIG_SRC/tests/rig/lib.bash"
: >"$TMP/empty.conf"
export VOLKEY_CONFIG=$TMP/empty.conf

step "a 96 MiB loop device and a file KEK"
truncate -s 96M "$TMP/backing.img"
dev=$(losetup -f --show "$TMP/backing.img")
on_exit "losetup -d $dev 2>/dev/null"
head -c 32 /dev/urandom >"$TMP/kek"; chmod 600 "$TMP/kek"
K=file:$TMP/kek

step "volkey format, open, mkfs.ext4, write files"
"$VOLKEY" format "$dev" --key "$K" --yes
uuid=$(cryptsetup luksUUID "$dev")
"$VOLKEY" open "$dev" vol | tee "$TMP/open.out"
assert_grep '^/dev/mapper/vol$' "$TMP/open.out"
on_exit "cryptsetup close vol 2>/dev/null"
dmsetup table vol | grep -q ' crypt aes-xts-plain64 ' || fail "vol is not a dm-crypt mapping"
[[ $(dmsetup info -c --noheadings -o uuid vol) == CRYPT-LUKS2-${uuid//-/}-vol ]] || fail "dm uuid"
mkfs.ext4 -q /dev/mapper/vol
mkdir -p "$TMP/mnt"
mount /dev/mapper/vol "$TMP/mnt"
on_exit "umount $TMP/mnt 2>/dev/null"
for i in 1 2 3 4 5; do head -c $((i * 1000003)) /dev/urandom >"$TMP/mnt/f$i"; done
echo "VOLKEY-RIG-MARKER-$uuid" >"$TMP/mnt/marker.txt"
(cd "$TMP/mnt" && sha256sum f* marker.txt) >"$TMP/sums"
sync

step "status shows the mapping; format refuses a device a mapping holds"
volume_json "$dev" >"$TMP/st.json"
[[ $(json_get "$TMP/st.json" 'j["mappings"][0]["name"]') == vol ]] || fail "status: no mapping"
before=$(head -c 32M "$dev" | sha256sum)
rc=0; "$VOLKEY" format "$dev" --key "$K" --yes --force >"$TMP/out" 2>&1 || rc=$?
[[ $rc -eq 5 ]] || { cat "$TMP/out"; fail "format of a held device: exit $rc"; }
assert_grep "held by dm-[0-9]+ \(vol\); refusing to format it" "$TMP/out"
[[ $(head -c 32M "$dev" | sha256sum) == "$before" ]] || fail "refused format changed the device"
rc=0; "$VOLKEY" close vol >"$TMP/out" 2>&1 || rc=$?
[[ $rc -eq 5 ]] || { cat "$TMP/out"; fail "close of a mounted volume: exit $rc"; }

step "umount, close, reopen with volkey: same files"
umount "$TMP/mnt"
"$VOLKEY" close vol
[[ ! -e /dev/mapper/vol ]] || fail "mapping left after close"
rc=0; "$VOLKEY" close vol >"$TMP/out" 2>&1 || rc=$?
[[ $rc -eq 4 ]] || { cat "$TMP/out"; fail "closing a missing mapping: exit $rc"; }
"$VOLKEY" open "$dev" vol >/dev/null
mount /dev/mapper/vol "$TMP/mnt"
(cd "$TMP/mnt" && sha256sum -c --quiet "$TMP/sums") || fail "files differ after volkey reopen"
umount "$TMP/mnt"; "$VOLKEY" close vol
if grep -qa "VOLKEY-RIG-MARKER-$uuid" "$TMP/backing.img"; then fail "plaintext marker on the backing file"; fi

step "cryptsetup open --token-only, through libcryptsetup-token-volkey.so"
tokdir=$(pkg-config --variable=libdir libcryptsetup 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)/cryptsetup
mkdir -p "$tokdir"
install -m 0644 "$RIG_SRC/$BUILD/libcryptsetup-token-volkey.so" "$tokdir/"
cryptsetup open --token-only "$dev" csvol
mount /dev/mapper/csvol "$TMP/mnt"
(cd "$TMP/mnt" && sha256sum -c --quiet "$TMP/sums") || fail "files differ through cryptsetup --token-only"
umount "$TMP/mnt"; cryptsetup close csvol
cryptsetup luksDump "$dev" >"$TMP/dump"
assert_grep "Key URI: +$K" "$TMP/dump"

step "a crypttab line, run by systemd-cryptsetup (through the plugin)"
echo "ctvol UUID=$uuid none luks,headless=true,token-timeout=30s" >/etc/crypttab
mkdir -p "$TMP/gen"
/lib/systemd/system-generators/systemd-cryptsetup-generator "$TMP/gen" "$TMP/gen" "$TMP/gen"
unit="$TMP/gen/systemd-cryptsetup@ctvol.service"
[[ -f $unit ]] || fail "the generator made no unit for the crypttab line"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
echo "ExecStart=$exec_start"
[[ $exec_start == *"systemd-cryptsetup attach 'ctvol'"* || $exec_start == *"systemd-cryptsetup attach ctvol"* ]] ||
	fail "unexpected ExecStart"
# The unit names the device by UUID: udev in this guest does not run, so give the path the link would.
mkdir -p /dev/disk/by-uuid
ln -sf "$dev" "/dev/disk/by-uuid/$uuid"
eval "$exec_start" </dev/null
[[ -e /dev/mapper/ctvol ]] || fail "systemd-cryptsetup did not create ctvol"
mount /dev/mapper/ctvol "$TMP/mnt"
(cd "$TMP/mnt" && sha256sum -c --quiet "$TMP/sums") || fail "files differ through systemd-cryptsetup"
umount "$TMP/mnt"
/lib/systemd/systemd-cryptsetup detach ctvol
rm -f /etc/crypttab

step "every backend gone: plain cryptsetup with the recovery passphrase"
"$VOLKEY" recovery-key "$dev" >"$TMP/phrase"
rm -f "$TMP/kek" "$tokdir/libcryptsetup-token-volkey.so"
rc=0; "$VOLKEY" open "$dev" vol >"$TMP/out" 2>&1 || rc=$?
[[ $rc -ne 0 ]] || fail "volkey opened with the KEK gone"
tr -d '\n' <"$TMP/phrase" | cryptsetup open --key-file=- "$dev" recvol
mount /dev/mapper/recvol "$TMP/mnt"
(cd "$TMP/mnt" && sha256sum -c --quiet "$TMP/sums") || fail "files differ through the recovery passphrase"
umount "$TMP/mnt"; cryptsetup close recvol
echo "volkey volume ok: $(wc -l <"$TMP/sums") files, UUID $uuid"
