#!/bin/bash
# A volkey volume's life with the file backend on a loop device (no dm needed):
# format, open --test, status (text and JSON), bind a second key, recovery key
# (opens with plain cryptsetup), unbind (never the last way in), backup-header,
# and the token plugin through cryptsetup --token-only, with luksDump readable.
source "$(dirname "$0")/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
: >"$TMP/empty.conf"
export VOLKEY_CONFIG=$TMP/empty.conf
dev=$(new_loop disk 64M)
k1=$(new_kek k1)
k2=$(new_kek k2)

echo "== format: defaults (LUKS2, aes-xts-plain64, 512-bit key, 4096-byte sectors, PBKDF2 minimum)"
expect_exit 1 "$VOLKEY" format "$dev" --key "$k1" </dev/null
assert_grep 'pass --yes'
expect_exit 0 "$VOLKEY" format "$dev" --key "$k1" --context app=db --yes
uuid=$(grep -xE '[0-9a-f-]{36}' "$TMP/out" || true)
[[ $uuid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "no UUID printed: $uuid"
[[ $(cryptsetup luksUUID "$dev") == "$uuid" ]] || fail "printed UUID is not the header's"
cryptsetup luksDump --disable-external-tokens "$dev" >"$TMP/dump"
assert_grep '^Subsystem:[[:space:]]+volkey$' "$TMP/dump"
assert_grep 'cipher:[[:space:]]+aes-xts-plain64' "$TMP/dump"
assert_grep 'sector:[[:space:]]+4096' "$TMP/dump"
assert_grep '^[[:space:]]+Key:[[:space:]]+512 bits' "$TMP/dump"
assert_grep 'PBKDF:[[:space:]]+pbkdf2' "$TMP/dump"
assert_grep 'Iterations:[[:space:]]+1000$' "$TMP/dump"
assert_grep '0: volkey' "$TMP/dump"

echo "== open --test; the wrong key file refuses"
expect_exit 0 "$VOLKEY" open --test "$dev"
assert_grep 'unlocks through token 0'
cp "$TMP/k1.kek" "$TMP/k1.good"
head -c 32 /dev/urandom >"$TMP/k1.kek"
expect_exit 2 "$VOLKEY" open --test "$dev"
assert_grep "^volkey: error: $dev: token 0 \(file:$TMP/k1.kek\): "
[[ $(wc -l <"$TMP/out") -eq 1 ]] || fail "error is not one line"
cp "$TMP/k1.good" "$TMP/k1.kek"

echo "== status: text and JSON"
expect_exit 0 "$VOLKEY" status "$dev"
assert_grep "LUKS UUID +$uuid"
assert_grep "token 0 +volkey keyslot 0, $k1, generation 1"
volume_json "$dev" >"$TMP/st.json" || fail "status --json"
[[ $(json_get "$TMP/st.json" 'j["format"]') == complete ]] || fail "format"
[[ $(json_get "$TMP/st.json" 'j["state"]') == locked ]] || fail "state"
[[ $(json_get "$TMP/st.json" 'j["tokens"][0]["context"]["app"]') == db ]] || fail "context in status"
[[ $(json_get "$TMP/st.json" 'j["tokens"][0]["context"]["volkey:luks-uuid"]') == "$uuid" ]] || fail "uuid binding"
[[ $(json_get "$TMP/st.json" 'j["keyslots"][0]["role"]') == "token 0" ]] || fail "keyslot role"
[[ $(json_get "$TMP/st.json" 'j["volume_key_bits"]') == 512 ]] || fail "key bits"
expect_exit 0 "$VOLKEY" status --json
json_get "$TMP/out" '[v["device"] for v in j["volumes"]]' | grep -q "'$dev'" || fail "status without DEVICE misses $dev"

echo "== bind a second key; it alone unlocks"
expect_exit 0 "$VOLKEY" bind "$dev" --key "$k2"
grep -qx 1 "$TMP/out" || fail "bind did not print token 1"
expect_exit 5 "$VOLKEY" bind "$dev" --key "$k2"
assert_grep 'already bound'
mv "$TMP/k1.kek" "$TMP/k1.away"
expect_exit 0 "$VOLKEY" open --test "$dev"
assert_grep 'unlocks through token 1'
mv "$TMP/k1.away" "$TMP/k1.kek"
volume_json "$dev" >"$TMP/st.json"
[[ $(json_get "$TMP/st.json" 'j["tokens"][1]["context"]["app"]') == db ]] || fail "bind did not keep the context"

echo "== recovery key: printed once, opens with plain cryptsetup"
"$VOLKEY" recovery-key "$dev" >"$TMP/phrase" 2>"$TMP/err" || { cat "$TMP/err"; fail "recovery-key"; }
grep -qE '^([bcdefghijklnrtuv]{8}-){7}[bcdefghijklnrtuv]{8}$' "$TMP/phrase" || fail "recovery phrase shape: $(cat "$TMP/phrase")"
assert_grep 'shown only this once' "$TMP/err"
tr -d '\n' <"$TMP/phrase" | cryptsetup open --disable-external-tokens --test-passphrase --key-file=- "$dev" ||
	fail "plain cryptsetup does not take the recovery passphrase"
grep -qf "$TMP/phrase" "$TMP/err" && fail "recovery phrase also went to stderr"

echo "== unbind: token 0 goes, keyslot with it; the last way in stays"
expect_exit 0 "$VOLKEY" unbind "$dev" --token 0
volume_json "$dev" >"$TMP/st.json"
[[ $(json_get "$TMP/st.json" '[k["id"] for k in j["keyslots"]]') == "[1, 2]" ]] || fail "keyslot 0 not removed"
expect_exit 0 "$VOLKEY" unbind "$dev" --token 1
expect_exit 2 "$VOLKEY" unbind "$dev" --token 2
assert_grep 'last way in'
expect_exit 4 "$VOLKEY" unbind "$dev" --token 7
expect_exit 1 "$VOLKEY" unbind "$dev" --token x
echo "== without a recovery key, the last token cannot go"
dev2=$(new_loop disk2 32M)
expect_exit 0 "$VOLKEY" format "$dev2" --key "$k1" --yes --sector-size 512
cryptsetup luksDump --disable-external-tokens "$dev2" | grep -qE 'sector:[[:space:]]+512 ' || fail "--sector-size 512"
before=$(dev_sum "$dev2")
expect_exit 2 "$VOLKEY" unbind "$dev2" --token 0
assert_grep "^volkey: error: $dev2: refusing to remove token 0: it is the last way in"
[[ $(dev_sum "$dev2") == "$before" ]] || fail "refused unbind changed the device"

echo "== backup-header: new file, mode 0600, restorable"
expect_exit 0 "$VOLKEY" backup-header "$dev2" "$TMP/hdr"
[[ $(stat -c %a "$TMP/hdr") == 600 ]] || fail "backup mode $(stat -c %a "$TMP/hdr")"
expect_exit 5 "$VOLKEY" backup-header "$dev2" "$TMP/hdr"
assert_grep 'already exists'
expect_exit 0 "$VOLKEY" open --test "$TMP/hdr"

echo "== token plugin: cryptsetup --token-only, and luksDump prints the token"
with_token_plugin
plugin_cryptsetup open --test-passphrase --token-only "$dev2" >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "cryptsetup --token-only"; }
plugin_cryptsetup luksDump "$dev2" >"$TMP/dump"
assert_grep "Key URI:[[:space:]]+$k1" "$TMP/dump"
assert_grep 'Generation:[[:space:]]+1' "$TMP/dump"
assert_grep "Context:[[:space:]]+volkey:luks-uuid=" "$TMP/dump"
head -c 32 /dev/urandom >"$TMP/k1.kek"
rc=0; plugin_cryptsetup open --test-passphrase --token-only "$dev2" >"$TMP/out" 2>&1 || rc=$?
[[ $rc -ne 0 ]] || fail "plugin unlocked with the wrong KEK"
assert_grep "volkey token 0: file:$TMP/k1.kek: "
echo "volume lifecycle ok ($dev, $dev2)"
