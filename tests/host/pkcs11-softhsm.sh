#!/bin/bash
# pkcs11: key backend against SoftHSM2 tokens made in $TMP: envelope round trips
# (AES key wrap, with padding, RSA-OAEP, RSA PKCS#1), the mechanism kept in the
# blob, binding and key mismatches, PIN file rules, wrong PIN, missing and
# ambiguous keys and tokens, damaged blobs, rewrap, config fallbacks.
source "$(dirname "$0")/lib.bash"
MOD=/usr/lib/softhsm/libsofthsm2.so
[[ -e $MOD ]] && command -v softhsm2-util >/dev/null || skip "softhsm2 is not installed (make deps)"
command -v openssl >/dev/null || skip "openssl (the tool) is not installed"

# Tokens live in $TMP: never touch the system's /var/lib/softhsm.
export SOFTHSM2_CONF=$TMP/softhsm2.conf
mkdir -m 700 "$TMP/tokens"
cat >"$SOFTHSM2_CONF" <<CONF
directories.tokendir = $TMP/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
# volkey loads only modules volkey.conf names and reads PINs only under pin_dir
# (pkcs11-trust.sh tests those rules); notalib.so is allowed to test a non-module.
printf '[pkcs11]\nallowed_modules = %s %s\npin_dir = %s\n' "$MOD" "$TMP/notalib.so" "$TMP" >"$TMP/base.conf"
export VOLKEY_CONFIG=$TMP/base.conf

softhsm2-util --init-token --free --label volkey-test --pin 1234 --so-pin 5678 >/dev/null
softhsm2-util --init-token --free --label volkey-other --pin 4321 --so-pin 5678 >/dev/null
# import_aes TOKEN PIN LABEL ID: a fresh AES-256 key (the raw test key stays in $TMP).
# softhsm2-util reads the key file up to the first newline: leave newlines (and NULs) out.
import_aes() {
	head -c 256 /dev/urandom >"$TMP/aes.rnd"
	tr -d '\n\000' <"$TMP/aes.rnd" >"$TMP/aes.flt"
	head -c 32 "$TMP/aes.flt" >"$TMP/aes.raw"
	rm -f "$TMP/aes.rnd" "$TMP/aes.flt"
	[[ $(stat -c %s "$TMP/aes.raw") -eq 32 ]] || fail "could not make a 32-byte AES key"
	softhsm2-util --import "$TMP/aes.raw" --aes --token "$1" --pin "$2" --label "$3" --id "$4" >/dev/null
	rm -f "$TMP/aes.raw"
}
import_aes volkey-test 1234 kek 01
import_aes volkey-test 1234 dup 03
import_aes volkey-test 1234 dup 04
import_aes volkey-test 1234 kek2 05
import_aes volkey-other 4321 kek 01
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/rsa.pem" 2>/dev/null
softhsm2-util --import "$TMP/rsa.pem" --token volkey-test --pin 1234 --label rsa --id 02 >/dev/null
rm -f "$TMP/rsa.pem"

printf '1234\n' >"$TMP/pin"; chmod 600 "$TMP/pin"
printf '4321' >"$TMP/pin-other"; chmod 600 "$TMP/pin-other"
printf '9999\n' >"$TMP/pin-wrong"; chmod 600 "$TMP/pin-wrong"
# uri TOKEN OBJECT [QUERY...]: module-path and pin-source default to SoftHSM and $TMP/pin.
uri() {
	local tok=$1 obj=$2 q="module-path=$MOD&pin-source=$TMP/pin" a; shift 2
	for a in "$@"; do
		case $a in pin-source=*) q=${q/pin-source=$TMP\/pin/$a} ;; *) q+="&$a" ;; esac
	done
	printf 'pkcs11:token=%s;object=%s?%s' "$tok" "$obj" "$q"
}
sha() { grep '^sha256=' "$TMP/out"; }
# blob_mech FILE: the mechanism number and parameter byte from the blob header.
blob_mech() { od -An -tx1 -j5 -N5 "$1" | tr -d ' \n'; }
KEK=$(uri volkey-test kek)

echo "== AES key wrap round trip, binding, describe"
expect_exit 0 "$VK" wrap "$KEK" "$UUID" "$TMP/b1" app=db
want=$(sha)
assert_grep '^key_ref=pkcs11:token=volkey-test;object=kek$'
assert_grep '^cred_source=pin-source$'
[[ $(head -c 5 "$TMP/b1" | od -An -c | tr -d ' \n') == VKP1001 ]] || fail "blob does not start with VKP1, version 1"
[[ $(blob_mech "$TMP/b1") == 0000210900 ]] || fail "blob does not record CKM_AES_KEY_WRAP: $(blob_mech "$TMP/b1")"
expect_exit 0 "$VK" unwrap "$KEK" "$UUID" "$TMP/b1" app=db
[[ $(sha) == "$want" ]] || fail "round trip differs"
assert_grep '^key_ref=pkcs11:token=volkey-test;object=kek$'
expect_exit 2 "$VK" unwrap "$KEK" "$UUID" "$TMP/b1" app=web
assert_grep 'wrong volume binding'
expect_exit 2 "$VK" unwrap "$KEK" 11111111-2222-3333-4444-555555555555 "$TMP/b1" app=db
assert_grep 'wrong volume binding'
expect_exit 0 "$VK" describe "$KEK"
assert_grep '^state=present$'
assert_grep '^detail=AES-256 secret key, mechanism aes-key-wrap \(0x2109\), token .volkey-test.'
assert_grep '^key_ref=pkcs11:token=volkey-test;object=kek$'
# Two wraps of the same secret differ (fresh data key and nonce each time).
expect_exit 0 "$VK" wrap "$KEK" "$UUID" "$TMP/b1b"
cmp -s "$TMP/b1" "$TMP/b1b" && fail "two wraps gave the same blob"

echo "== the blob's mechanism wins over the URI and the configuration"
expect_exit 0 "$VK" wrap "$(uri volkey-test kek x-mechanism=aes-key-wrap-pad)" "$UUID" "$TMP/b2"
want2=$(sha)
[[ $(blob_mech "$TMP/b2") == 0000210a00 ]] || fail "blob does not record CKM_AES_KEY_WRAP_PAD"
expect_exit 0 "$VK" unwrap "$KEK" "$UUID" "$TMP/b2"
[[ $(sha) == "$want2" ]] || fail "padded-wrap round trip differs"
expect_exit 0 "$VK" unwrap "$(uri volkey-test kek x-mechanism=rsa-pkcs)" "$UUID" "$TMP/b2"
[[ $(sha) == "$want2" ]] || fail "x-mechanism on unwrap changed the result"
expect_exit 0 "$VK" wrap "$(uri volkey-test kek x-mechanism=0x2109)" "$UUID" "$TMP/b3"
[[ $(blob_mech "$TMP/b3") == 0000210900 ]] || fail "x-mechanism=0x2109 is not CKM_AES_KEY_WRAP"

echo "== [pkcs11] module and mechanism from volkey.conf"
cat >"$TMP/p11.conf" <<CONF
[pkcs11]
module = $MOD
mechanism = aes-key-wrap-pad
pin_dir = $TMP
CONF
NOMOD="pkcs11:token=volkey-test;object=kek?pin-source=file:$TMP/pin"
expect_exit 0 "$VK" --config "$TMP/p11.conf" wrap "$NOMOD" "$UUID" "$TMP/b4"
want4=$(sha)
[[ $(blob_mech "$TMP/b4") == 0000210a00 ]] || fail "[pkcs11] mechanism was not used"
expect_exit 0 "$VK" unwrap "$(uri volkey-test kek)" "$UUID" "$TMP/b4"
[[ $(sha) == "$want4" ]] || fail "config-wrapped round trip differs"
expect_exit 1 "$VK" wrap "$NOMOD" "$UUID" "$TMP/bx"
assert_grep 'no module-path and volkey.conf sets no \[pkcs11\] module'

echo "== RSA: OAEP (SHA-1) and PKCS#1 v1.5 wrap with the public key, unwrap with the private key"
for mech in rsa-pkcs-oaep rsa-pkcs; do
	expect_exit 0 "$VK" wrap "$(uri volkey-test rsa x-mechanism=$mech)" "$UUID" "$TMP/r-$mech" app=db
	w=$(sha)
	expect_exit 0 "$VK" unwrap "$(uri volkey-test rsa)" "$UUID" "$TMP/r-$mech" app=db
	[[ $(sha) == "$w" ]] || fail "$mech round trip differs"
	expect_exit 2 "$VK" unwrap "$(uri volkey-test rsa)" "$UUID" "$TMP/r-$mech" app=web
	assert_grep 'wrong volume binding'
done
[[ $(blob_mech "$TMP/r-rsa-pkcs-oaep") == 0000000901 ]] || fail "blob does not record OAEP with SHA-1"
expect_exit 0 "$VK" describe "$(uri volkey-test rsa x-mechanism=rsa-pkcs-oaep)"
assert_grep '^detail=RSA-2048 private key, mechanism rsa-pkcs-oaep \(0x9\)'
# SoftHSM does OAEP with SHA-1 only: SHA-256 (CloudHSM's choice) is refused clearly.
expect_exit 7 "$VK" wrap "$(uri volkey-test rsa x-mechanism=rsa-pkcs-oaep-sha256)" "$UUID" "$TMP/bx"
assert_grep "token 'volkey-test' cannot wrap with rsa-pkcs-oaep-sha256"
# CloudHSM's vendor mechanisms do not exist in SoftHSM.
expect_exit 7 "$VK" wrap "$(uri volkey-test kek x-mechanism=cloudhsm-aes-key-wrap-no-pad)" "$UUID" "$TMP/bx"
assert_grep 'cannot wrap with cloudhsm-aes-key-wrap-no-pad \(0x80002109\).*CKR_MECHANISM_INVALID'
# An AES mechanism never picks the RSA key, and the other way round.
expect_exit 2 "$VK" wrap "$(uri volkey-test rsa)" "$UUID" "$TMP/bx"
assert_grep "no secret key labelled 'rsa' on token 'volkey-test'"
expect_exit 2 "$VK" wrap "$(uri volkey-test kek x-mechanism=rsa-pkcs-oaep)" "$UUID" "$TMP/bx"
assert_grep "no public key labelled 'kek' on token 'volkey-test'"
expect_exit 1 "$VK" wrap "$(uri volkey-test kek x-mechanism=des-cbc)" "$UUID" "$TMP/bx"
assert_grep "unknown PKCS#11 mechanism 'des-cbc' \(x-mechanism in the URI\): use one of aes-key-wrap, "
assert_grep 'rsa-pkcs-oaep-sha256, rsa-pkcs, cloudhsm-aes-key-wrap-no-pad'

echo "== PIN file rules and wrong PIN"
chmod 644 "$TMP/pin"
expect_exit 2 "$VK" unwrap "$KEK" "$UUID" "$TMP/b1" app=db
assert_grep "PIN file $TMP/pin has mode 0644: must be 0600"
chmod 640 "$TMP/pin"
expect_exit 2 "$VK" wrap "$KEK" "$UUID" "$TMP/bx"
assert_grep "PIN file $TMP/pin has mode 0640"
chmod 600 "$TMP/pin"
expect_exit 2 "$VK" unwrap "$(uri volkey-test kek pin-source=$TMP/pin-wrong)" "$UUID" "$TMP/b1" app=db
assert_grep "PIN rejected by token 'volkey-test' \(CKR_PIN_INCORRECT\)"
assert_no_grep '9999'
expect_exit 4 "$VK" unwrap "$(uri volkey-test kek pin-source=$TMP/nopin)" "$UUID" "$TMP/b1" app=db
assert_grep "PIN file $TMP/nopin: No such file"
mkdir -m 700 "$TMP/pindir"
expect_exit 1 "$VK" unwrap "$(uri volkey-test kek pin-source=$TMP/pindir)" "$UUID" "$TMP/b1" app=db
assert_grep "PIN file $TMP/pindir is not a regular file"
expect_exit 1 "$VK" unwrap "pkcs11:token=volkey-test;object=kek?module-path=$MOD" "$UUID" "$TMP/b1" app=db
assert_grep 'the pkcs11 URI has no pin-source'
expect_exit 1 "$VK" unwrap "pkcs11:token=volkey-test;object=kek?module-path=$MOD&pin-value=1234" "$UUID" \
	"$TMP/b1" app=db
assert_grep 'pin-value in a pkcs11 URI is refused'
expect_exit 1 "$VK" unwrap "$(uri volkey-test kek pin-source=pin)" "$UUID" "$TMP/b1" app=db
assert_grep 'pin-source pin: only an absolute file path'
: >"$TMP/pin-empty"; chmod 600 "$TMP/pin-empty"
expect_exit 1 "$VK" unwrap "$(uri volkey-test kek pin-source=$TMP/pin-empty)" "$UUID" "$TMP/b1" app=db
assert_grep "PIN file $TMP/pin-empty is empty"

echo "== missing and ambiguous keys, tokens and modules"
expect_exit 2 "$VK" unwrap "$(uri volkey-test nope)" "$UUID" "$TMP/b1" app=db
assert_grep "no secret key labelled 'nope' on token 'volkey-test'"
expect_exit 8 "$VK" wrap "$(uri volkey-test dup)" "$UUID" "$TMP/bx"
assert_grep "2 secret keys labelled 'dup' on token 'volkey-test': give id= in the URI"
expect_exit 0 "$VK" wrap "pkcs11:token=volkey-test;object=dup;id=%04?module-path=$MOD&pin-source=$TMP/pin" \
	"$UUID" "$TMP/b5"
assert_grep '^key_ref=pkcs11:token=volkey-test;id=%04;object=dup$|^key_ref=pkcs11:token=volkey-test;object=dup;id=%04$'
expect_exit 0 "$VK" unwrap "pkcs11:token=volkey-test;id=%04?module-path=$MOD&pin-source=$TMP/pin" "$UUID" "$TMP/b5"
expect_exit 2 "$VK" unwrap "pkcs11:token=volkey-test;object=dup;id=%03?module-path=$MOD&pin-source=$TMP/pin" \
	"$UUID" "$TMP/b5"
assert_grep "wrong key: the key labelled 'dup' with id 03 on token 'volkey-test' does not unwrap this secret"
expect_exit 1 "$VK" wrap "pkcs11:token=volkey-test?module-path=$MOD&pin-source=$TMP/pin" "$UUID" "$TMP/bx"
assert_grep 'the pkcs11 URI names no key: add object=LABEL'
expect_exit 4 "$VK" wrap "$(uri no-such-token kek)" "$UUID" "$TMP/bx"
assert_grep "no token matching the URI in PKCS#11 module $MOD \(initialized tokens: '"
assert_grep "tokens: .*'volkey-test'"
assert_grep "tokens: .*'volkey-other'"
expect_exit 8 "$VK" wrap "pkcs11:object=kek?module-path=$MOD&pin-source=$TMP/pin" "$UUID" "$TMP/bx"
assert_grep '2 tokens in PKCS#11 module .* match the URI .*: give token= or serial= in the URI'
expect_exit 4 "$VK" wrap "pkcs11:token=volkey-test;object=kek?module-path=$TMP/nope.so&pin-source=$TMP/pin" \
	"$UUID" "$TMP/bx"
assert_grep "PKCS#11 module $TMP/nope.so: No such file"
cp "$TMP/pin" "$TMP/notalib.so"
expect_exit 7 "$VK" wrap "pkcs11:token=volkey-test;object=kek?module-path=$TMP/notalib.so&pin-source=$TMP/pin" \
	"$UUID" "$TMP/bx"
assert_grep "cannot load PKCS#11 module $TMP/notalib.so"

echo "== another token's key, damaged blobs"
expect_exit 2 "$VK" unwrap "$(uri volkey-other kek pin-source=$TMP/pin-other)" "$UUID" "$TMP/b1" app=db
assert_grep "wrong key: the key labelled 'kek' on token 'volkey-other' does not unwrap this secret"
expect_exit 2 "$VK" unwrap "$(uri volkey-test kek2)" "$UUID" "$TMP/b1" app=db
assert_grep "wrong key: the key labelled 'kek2' on token 'volkey-test'"
# bytes 12.. hold the wrapped data key (40 bytes for RFC 3394), then nonce, ciphertext, tag
cp "$TMP/b1" "$TMP/bt"; flip_byte "$TMP/bt" 20
expect_exit 2 "$VK" unwrap "$KEK" "$UUID" "$TMP/bt" app=db
assert_grep 'wrong key'
cp "$TMP/b1" "$TMP/bt"; flip_byte "$TMP/bt" 70
expect_exit 2 "$VK" unwrap "$KEK" "$UUID" "$TMP/bt" app=db
assert_grep 'wrong volume binding or wrong key'
# the header is associated data too: move the mechanism to CKM_AES_KEY_WRAP_PAD
cp "$TMP/b1" "$TMP/bt"; printf '\x0a' | dd of="$TMP/bt" bs=1 seek=8 conv=notrunc status=none
expect_exit 2 "$VK" unwrap "$KEK" "$UUID" "$TMP/bt" app=db
head -c 30 "$TMP/b1" >"$TMP/bt"
expect_exit 8 "$VK" unwrap "$KEK" "$UUID" "$TMP/bt" app=db
assert_grep 'PKCS#11 blob is truncated'
cp "$TMP/b1" "$TMP/bt"; printf '\x07' | dd of="$TMP/bt" bs=1 seek=4 conv=notrunc status=none
expect_exit 8 "$VK" unwrap "$KEK" "$UUID" "$TMP/bt" app=db
assert_grep 'PKCS#11 blob version 7 is not supported'
cp "$TMP/b1" "$TMP/bt"; printf '\x05' | dd of="$TMP/bt" bs=1 seek=9 conv=notrunc status=none
expect_exit 8 "$VK" unwrap "$KEK" "$UUID" "$TMP/bt" app=db
assert_grep 'impossible mechanism 0x2109/5'
expect_exit 8 "$VK" unwrap "file:$TMP/pin" "$UUID" "$TMP/b1" app=db

echo "== rewrap: to another token, to another key on the same token (one session), to a file key"
expect_exit 0 "$VK" rewrap "$KEK" "$(uri volkey-other kek pin-source=$TMP/pin-other)" "$UUID" "$TMP/b1" "$TMP/b6" app=db
expect_exit 0 "$VK" unwrap "$(uri volkey-other kek pin-source=$TMP/pin-other)" "$UUID" "$TMP/b6" app=db
[[ $(sha) == "$want" ]] || fail "rewrapped (other token) secret differs"
expect_exit 2 "$VK" unwrap "$KEK" "$UUID" "$TMP/b6" app=db
# The second operation on the same token reuses the logged-in session: its PIN file is not even read.
expect_exit 0 "$VK" rewrap "$KEK" "$(uri volkey-test rsa x-mechanism=rsa-pkcs-oaep pin-source=$TMP/nopin)" "$UUID" \
	"$TMP/b1" "$TMP/b7" app=db
expect_exit 0 "$VK" unwrap "$(uri volkey-test rsa)" "$UUID" "$TMP/b7" app=db
[[ $(sha) == "$want" ]] || fail "rewrapped (RSA) secret differs"
head -c 32 /dev/urandom >"$TMP/kek.file"; chmod 600 "$TMP/kek.file"
expect_exit 0 "$VK" rewrap "$KEK" "file:$TMP/kek.file" "$UUID" "$TMP/b1" "$TMP/b8" app=db
expect_exit 0 "$VK" rewrap "file:$TMP/kek.file" "$KEK" "$UUID" "$TMP/b8" "$TMP/b9" app=db
expect_exit 0 "$VK" unwrap "$KEK" "$UUID" "$TMP/b9" app=db
[[ $(sha) == "$want" ]] || fail "file round trip changed the secret"
echo "pkcs11 backend ok (SoftHSM $(softhsm2-util -v))"
