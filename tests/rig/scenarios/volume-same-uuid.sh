#!/bin/bash
# rig-args: --timeout 240
# Two devices with one LUKS UUID (a snapshot restored beside its original, here
# a byte copy): once one is open, the other is not opened under any name, with
# one line naming both devices; lookups of "the volume's mapping" go by the
# device under the mapping, not the UUID alone, so `rotate --volume-key` of the
# copy is an offline re-encryption of the copy and leaves the open original alone.
source "$RIG_SRC/tests/rig/lib.bash"
: >"$TMP/empty.conf"
export VOLKEY_CONFIG=$TMP/empty.conf
head -c 32 /dev/urandom >"$TMP/kek"; chmod 600 "$TMP/kek"

step "a volkey volume and a byte copy of it"
truncate -s 48M "$TMP/a.img"
a=$(losetup -f --show "$TMP/a.img"); on_exit "losetup -d $a 2>/dev/null"
"$VOLKEY" format "$a" --key "file:$TMP/kek" --yes
uuid=$(cryptsetup luksUUID "$a")
"$VOLKEY" open "$a" orig >/dev/null
on_exit "cryptsetup close orig 2>/dev/null"
head -c 8M /dev/urandom >"$TMP/data"
dd if="$TMP/data" of=/dev/mapper/orig bs=1M oflag=direct status=none
sync
cp "$TMP/a.img" "$TMP/b.img"
b=$(losetup -f --show "$TMP/b.img"); on_exit "losetup -d $b 2>/dev/null"
[[ $(cryptsetup luksUUID "$b") == "$uuid" ]] || fail "the copy has another UUID"

step "the copy is not opened while the original is"
for name in copy ""; do
	rc=0; "$VOLKEY" open "$b" $name >"$TMP/out" 2>&1 || rc=$?
	cat "$TMP/out"
	[[ $rc -eq 5 ]] || fail "open of the copy${name:+ as $name}: exit $rc, expected 5 (busy)"
	[[ $(grep -c . "$TMP/out") -eq 1 ]] || fail "not one line"
	assert_grep "^.*$b: not opened: its LUKS UUID $uuid is already open as /dev/mapper/orig from $a " "$TMP/out"
done
[[ -z $(ls "/sys/class/block/$(basename "$b")/holders") ]] || fail "the copy got a mapping"
[[ $(ls /dev/mapper | grep -cv control) -eq 1 ]] || fail "mappings: $(ls /dev/mapper)"

step "status tells them apart by device"
volume_json "$a" >"$TMP/sa.json"
volume_json "$b" >"$TMP/sb.json"
[[ $(json_get "$TMP/sa.json" 'len(j["mappings"])') == 1 ]] || fail "status of the original: no mapping"
[[ $(json_get "$TMP/sb.json" 'len(j["mappings"])') == 0 ]] || fail "status of the copy shows a mapping"

step "rotate --volume-key of the copy: offline, on the copy; the original untouched"
sum_a=$(sha256sum <"$TMP/a.img")
"$VOLKEY" rotate "$b" --volume-key >"$TMP/rot.out" 2>&1 || { cat "$TMP/rot.out"; fail "rotate of the copy"; }
cat "$TMP/rot.out"
assert_grep 'offline' "$TMP/rot.out"
! grep -q 'online' "$TMP/rot.out" || fail "the copy was re-encrypted through the original's mapping"
[[ $(sha256sum <"$TMP/a.img") == "$sum_a" ]] || fail "the original's device changed"
cmp <(dd if=/dev/mapper/orig bs=1M count=8 iflag=direct status=none) "$TMP/data" || fail "the original's data"

step "once the original is closed, the copy opens and holds the same data"
cryptsetup close orig
"$VOLKEY" open "$b" copy >/dev/null
on_exit "cryptsetup close copy 2>/dev/null"
cmp <(dd if=/dev/mapper/copy bs=1M count=8 iflag=direct status=none) "$TMP/data" || fail "the copy's data"
rc=0; "$VOLKEY" open "$a" orig >"$TMP/out" 2>&1 || rc=$?
[[ $rc -eq 5 ]] && assert_grep "$a: not opened: .* from $b " "$TMP/out" || fail "the original opened beside the copy (exit $rc)"
echo "same uuid ok"
