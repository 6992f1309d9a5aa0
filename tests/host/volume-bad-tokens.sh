#!/bin/bash
# Damaged and foreign tokens: each gives a one-line error naming the device and
# the token, a documented exit code, and changes nothing on disk. Covers JSON
# that is not a volkey token, an unknown version, bad base64, a removed keyslot,
# a token copied from another volume (binding mismatch, caught before any key
# call), a binding edited to match (caught by the key's AEAD), a PKCS#11 module
# path outside the allow-list, and one good token among bad ones still unlocking.
source "$(dirname "$0")/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
: >"$TMP/empty.conf"
export VOLKEY_CONFIG=$TMP/empty.conf
k=$(new_kek k)
a=$(new_loop a 32M)
b=$(new_loop b 32M)
"$VOLKEY" format "$a" --key "$k" --yes >/dev/null 2>&1 || fail "format a"
"$VOLKEY" format "$b" --key "$k" --yes >/dev/null 2>&1 || fail "format b"
uuid_a=$(cryptsetup luksUUID "$a")
uuid_b=$(cryptsetup luksUUID "$b")
cs() { cryptsetup --disable-external-tokens "$@"; }
cs token export --token-id 0 "$a" >"$TMP/tok_a.json"
cs token export --token-id 0 "$b" >"$TMP/tok_b.json"
# put_token DEV ID PYEXPR: token ID of DEV becomes PYEXPR (t = token of $b as a dict).
put_token() {
	"$PY" -c 'import json,sys; t=json.load(open(sys.argv[1])); exec(sys.argv[2]); print(json.dumps(t))' \
		"$TMP/tok_b.json" "$3" >"$TMP/new.json"
	cs token import --token-id "$2" --token-replace --json-file "$TMP/new.json" "$1" || fail "token import"
}
# bad_open CODE REGEX: open --test on $b fails with CODE and one line matching REGEX; $b unchanged.
bad_open() {
	local before
	before=$(dev_sum "$b")
	expect_exit "$1" "$VOLKEY" open --test "$b"
	assert_grep "^volkey: error: $b: $2"
	[[ $(wc -l <"$TMP/out") -eq 1 ]] || fail "not a one-line error"
	[[ $(dev_sum "$b") == "$before" ]] || fail "open changed the device"
}

echo "== not a volkey token: fields missing or of the wrong shape"
put_token "$b" 0 'del t["wrapped"]'
bad_open 8 'token 0 \(\?\): token is unreadable: no "wrapped" secret'
put_token "$b" 0 't["wrapped"]="!!!notbase64"'
bad_open 8 'token 0 .*"wrapped" is not base64'
put_token "$b" 0 't["binding"]="x"'
bad_open 8 'token 0 .*no "binding" object'
put_token "$b" 0 't["generation"]=-1'
bad_open 8 'token 0 .*no positive integer "generation"'
echo "== an unknown version"
put_token "$b" 0 't["volkey_version"]=2'
bad_open 7 'token 0 .*token version 2; this volkey reads version 1'
echo "== status shows the damage instead of failing"
expect_exit 0 "$VOLKEY" status "$b"
assert_grep 'token 0 +volkey UNREADABLE: token version 2'
echo "== the keyslot removed behind volkey's back"
put_token "$b" 0 'pass'
expect_exit 0 "$VOLKEY" open --test "$b"
"$VOLKEY" recovery-key "$b" >/dev/null 2>&1 || fail "recovery-key"
cs luksKillSlot -q "$b" 0 </dev/null 2>/dev/null
bad_open 8 "token 0 \(file:$TMP/k.kek\): its keyslot is missing"
echo "== a token copied from another volume"
dev=$(new_loop c 32M); b_saved=$b; b=$dev
"$VOLKEY" format "$b" --key "$k" --yes >/dev/null 2>&1 || fail "format c"
cs token import --token-id 0 --token-replace --json-file "$TMP/tok_a.json" "$b" || fail "import"
bad_open 8 "token 0 \(file:$TMP/k.kek\): its secret is bound to volume $uuid_a, not to this volume"
echo "== ... with its binding edited to this volume: the KEK's AEAD refuses it"
uuid_c=$(cryptsetup luksUUID "$b")
"$PY" -c 'import json,sys; t=json.load(open(sys.argv[1])); t["binding"]["volkey:luks-uuid"]=sys.argv[2]; print(json.dumps(t))' \
	"$TMP/tok_a.json" "$uuid_c" >"$TMP/new.json"
cs token import --token-id 0 --token-replace --json-file "$TMP/new.json" "$b"
bad_open 2 "token 0 \(file:$TMP/k.kek\): .*(binding|authentic)"
echo "== one good token among bad ones unlocks"
b=$b_saved
"$VOLKEY" format "$b" --key "$k" --yes --force >/dev/null 2>&1 || fail "reformat b"
cs token import --token-id 5 --json-file "$TMP/tok_a.json" "$b" 2>/dev/null ||
	{ sed 's/"keyslots":\["0"\]/"keyslots":[]/' "$TMP/tok_a.json" >"$TMP/t5.json"; cs token import --token-id 5 --json-file "$TMP/t5.json" "$b"; }
expect_exit 0 "$VOLKEY" open --test "$b"
assert_grep 'unlocks through token 0'
echo "== a PKCS#11 module path outside the allow-list is never loaded"
cs token remove --token-id 5 "$b"
cs token export --token-id 0 "$b" >"$TMP/tok_b.json"
cat >"$TMP/evil.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void boom(void) { FILE *f = fopen(getenv("EVIL_MARK"), "w"); if (f) fclose(f); }
C
gcc -shared -fPIC -o "$TMP/evil.so" "$TMP/evil.c"
export EVIL_MARK=$TMP/evil-ran
# A well-formed PKCS#11 envelope (VKP1, CKM_AES_KEY_WRAP, 40-byte wrapped key), so only the module decides.
printf '1234\n' >"$TMP/evil.pin"; chmod 600 "$TMP/evil.pin"
put_token "$b" 0 "import base64; t['key_uri']='pkcs11:token=x;object=y?module-path=$TMP/evil.so&pin-source=$TMP/evil.pin'; t['wrapped']=base64.b64encode(b'VKP1\\x01\\x00\\x00\\x21\\x09\\x00\\x00\\x28'+bytes(100)).decode()"
bad_open 2 "token 0 \(pkcs11:.*\): PKCS#11 module $TMP/evil.so is not allowed: volkey.conf names it in neither \[pkcs11\] module nor allowed_modules"
[[ ! -e $EVIL_MARK ]] || fail "the token's module was loaded"
printf '[pkcs11]\nallowed_modules = %s\npin_dir = %s\n' "$TMP/evil.so" "$TMP" >"$TMP/allow.conf"
VOLKEY_CONFIG=$TMP/allow.conf "$VOLKEY" open --test "$b" >"$TMP/out" 2>&1 || true
[[ -e $EVIL_MARK ]] || fail "an allowed module was not even tried (allow-list not read)"
echo "== not LUKS2 at all; LUKS2 without a volkey token"
z=$(new_loop z 20M)
expect_exit 4 "$VOLKEY" open --test "$z"
assert_grep "^volkey: error: $z: not a LUKS2 volume$"
printf 'pw' | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file=- "$z"
expect_exit 4 "$VOLKEY" open --test "$z"
assert_grep "^volkey: error: $z: has no volkey token$"
expect_exit 4 "$VOLKEY" bind "$z" --key "$k"
echo "== unbind of an unreadable token removes its keyslot too; the last good token then stays"
w=$(new_loop w 32M)
k2=$(new_kek k2)
"$VOLKEY" format "$w" --key "$k" --key "$k2" --yes >/dev/null 2>&1 || fail "format w"
cs token export --token-id 1 "$w" | "$PY" -c 'import json,sys; t=json.load(sys.stdin); t["volkey_version"]=2; print(json.dumps(t))' >"$TMP/v2.json"
cs token import --token-id 1 --token-replace --json-file "$TMP/v2.json" "$w"
expect_exit 0 "$VOLKEY" unbind "$w" --token 1
volume_json "$w" >"$TMP/st.json"
[[ $(json_get "$TMP/st.json" '[k["id"] for k in j["keyslots"]]') == "[0]" ]] || fail "the unreadable token's keyslot stayed"
expect_exit 2 "$VOLKEY" unbind "$w" --token 0
assert_grep 'last way in'
echo "== a keyslot shared with another tool's token is not removed"
"$VOLKEY" recovery-key "$w" >/dev/null 2>&1 || fail "recovery-key"
printf '{"type":"systemd-tpm2","keyslots":["0"]}' >"$TMP/other.json"
cs token import --json-file "$TMP/other.json" "$w"
before=$(dev_sum "$w")
expect_exit 5 "$VOLKEY" unbind "$w" --token 0
assert_grep "^volkey: error: $w: keyslot 0 of token 0 is also used by token [0-9]+ \(systemd-tpm2\); not removing it$"
[[ $(dev_sum "$w") == "$before" ]] || fail "refused unbind changed the device"
echo "bad tokens ok"
