#!/bin/bash
# volkey rotate --rewrap and --secret with AWS KMS (the double) and a file key:
# a rewrap is one ReEncrypt (the plaintext stays in KMS) plus one Decrypt that
# proves the new blob opens the keyslot before it is written; it lands under the
# key's newest backing version, or another key with --to-key. A new secret is a
# new keyslot and token, verified, then the old ones go. Bad input changes nothing
# (device checksum identical). Every rotation reaches the journal with structured
# fields and the KMS request ids; rotate --all has its three outcomes.
source "$(dirname "$0")/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
OTHER=5678efab-12ab-34cd-56ef-1234567890ab
DIS=9999aaaa-12ab-34cd-56ef-1234567890ab
cat >"$TMP/kms.json" <<JSON
{"region": "eu-west-1", "account": "111122223333", "seed": "volkey-test-seed",
 "credentials": [{"access_key": "AKIDTEST1", "secret_key": "sekrit/abc+def", "session_token": null}],
 "keys": [{"id": "$KEYID", "aliases": ["alias/vol"]},
          {"id": "$OTHER", "aliases": ["alias/other"]},
          {"id": "$DIS", "aliases": ["alias/disabled"], "state": "Disabled"}]}
JSON
start_kms A --config "$TMP/kms.json"
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
printf '[kms]\nendpoint = %s\nretry_base_ms = 20\ndeadline_ms = 3000\n' "$KMS_URL_A" >"$TMP/volkey.conf"
export VOLKEY_CONFIG=$TMP/volkey.conf
L=$KMS_LOG_A
ARN=arn:aws:kms:eu-west-1:111122223333:key/$KEYID
ARN_OTHER=arn:aws:kms:eu-west-1:111122223333:key/$OTHER
k1=$(new_kek k1)
dev=$(new_loop disk 32M)
expect_exit 0 "$VOLKEY" format "$dev" --key aws-kms:alias/vol --yes
expect_exit 0 "$VOLKEY" bind "$dev" --key "$k1"

# token_field DEV ID PYEXPR: evaluate PYEXPR on token ID's JSON (t) as cryptsetup exports it.
token_field() {
	cryptsetup token export --token-id "$2" "$1" >"$TMP/tok.json" || fail "token export $2"
	"$PY" -c 'import json,sys,base64; t=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/tok.json" "$3"
}
# blob_version DEV ID: the double's backing key version in token ID's wrapped blob.
blob_version() {
	token_field "$1" "$2" '(lambda b: 0 if b[:5]==b"VKMS1" else int.from_bytes(b[6+b[5]:10+b[5]],"big"))(base64.b64decode(t["wrapped"]))'
}
# only_token N: with the other backend out of reach, token N alone unlocks (0: KMS, 1: file).
only_token() {
	if [[ $1 == 0 ]]; then
		mv "$TMP/k1.kek" "$TMP/k1.away"
		expect_exit 0 "$VOLKEY" open --test "$dev"
		mv "$TMP/k1.away" "$TMP/k1.kek"
	else
		kms_ctl "$KMS_URL_A" /_volkey/fault '{"deny": 10}'
		expect_exit 0 "$VOLKEY" open --test "$dev"
		kms_ctl "$KMS_URL_A" /_volkey/fault '{"deny": 0}'
	fi
	assert_grep "unlocks through token $1 "
}
calls() { echo "$(count_calls "$L" ReEncrypt) $(count_calls "$L" Decrypt) $(count_calls "$L" GenerateDataKey) $(count_calls "$L" Encrypt)"; }

echo "== rewrap under the key's newest version: one ReEncrypt to the same key, one Decrypt to verify"
[[ $(blob_version "$dev" 0) == 0 ]] || fail "fresh blob is not under version 0"
kms_ctl "$KMS_URL_A" /_volkey/rotate-key '{"key": "alias/vol"}'
before=$(calls)
n0=$(wc -l <"$L")
t0=$EPOCHREALTIME
expect_exit 0 with_journal "$TMP/journal.log" "$VOLKEY" rotate "$dev" --rewrap --token 0 --json
ms=$(awk "BEGIN{printf \"%.0f\", ($EPOCHREALTIME - $t0) * 1000}")
tail -n +$((n0 + 1)) "$L" >"$TMP/rewrap-calls.log"
after=$(calls)
read -r r0 d0 g0 e0 <<<"$before"; read -r r1 d1 g1 e1 <<<"$after"
[[ $((r1 - r0)) -eq 1 && $((d1 - d0)) -eq 1 && $g1 -eq $g0 && $e1 -eq $e0 ]] ||
	fail "rewrap made ReEncrypt/Decrypt/GenerateDataKey/Encrypt $before -> $after, want +1 +1 +0 +0"
echo "   rewrap: ${ms} ms, 1 ReEncrypt + 1 Decrypt (verification)"
grep '"op": "ReEncrypt"' "$L" | tail -1 >"$TMP/re.json"
[[ $(json_get "$TMP/re.json" 'j["source_key_arn"]') == "$ARN" && $(json_get "$TMP/re.json" 'j["key_arn"]') == "$ARN" ]] ||
	fail "ReEncrypt was not from and to the same key"
[[ $(json_get "$TMP/re.json" 'j["context"]["volkey:luks-uuid"]') == "$(cryptsetup luksUUID "$dev")" ]] ||
	fail "ReEncrypt's destination context lacks the LUKS UUID"
[[ $(blob_version "$dev" 0) == 1 ]] || fail "rewrapped blob is not under the newest backing version"
[[ $(token_field "$dev" 0 't["generation"]') == 2 ]] || fail "generation did not go up"
token_field "$dev" 0 't["rewrapped"]' | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' || fail "no rewrapped time"
[[ $(token_field "$dev" 0 't["keyslots"]') == "['0']" ]] || fail "keyslot changed on rewrap"
assert_grep '"kind":"rewrap","outcome":"rotated"'
only_token 0

echo "== journal: structured fields, KMS request ids, no secret"
grep -v '"_malformed"' "$TMP/journal.log" | grep -q . || fail "nothing reached the journal"
assert_no_grep '_malformed' "$TMP/journal.log"
tail -1 "$TMP/journal.log" >"$TMP/j.json"
[[ $(json_get "$TMP/j.json" 'j["VOLKEY_KIND"]') == rewrap ]] || fail "VOLKEY_KIND"
[[ $(json_get "$TMP/j.json" 'j["VOLKEY_DEVICE"]') == "$dev" ]] || fail "VOLKEY_DEVICE"
[[ $(json_get "$TMP/j.json" 'j["VOLKEY_LUKS_UUID"]') == "$(cryptsetup luksUUID "$dev")" ]] || fail "VOLKEY_LUKS_UUID"
[[ $(json_get "$TMP/j.json" 'j["VOLKEY_OLD_KEY"]') == "$ARN" && $(json_get "$TMP/j.json" 'j["VOLKEY_NEW_KEY"]') == "$ARN" ]] || fail "keys"
[[ $(json_get "$TMP/j.json" 'j["VOLKEY_GENERATION"]') == 2 && $(json_get "$TMP/j.json" 'j["VOLKEY_OUTCOME"]') == done ]] || fail "generation/outcome"
[[ $(json_get "$TMP/j.json" 'j["MESSAGE_ID"]') == 5e0b7ad2c1f44f3e9a4f7e61d0c3b9a8 ]] || fail "MESSAGE_ID"
ids=$(json_get "$TMP/j.json" 'j["VOLKEY_KMS_REQUEST_IDS"]')
for id in $("$PY" -c 'import json,sys; [print(json.loads(l)["request_id"]) for l in sys.stdin]' <"$TMP/rewrap-calls.log"); do
	[[ " $ids " == *" $id "* ]] || fail "journal lacks KMS request id $id (has: $ids)"
done
token_field "$dev" 0 't["wrapped"]' >"$TMP/wrapped"
grep -qF "$(cat "$TMP/wrapped")" "$TMP/journal.log" && fail "the wrapped blob reached the journal"

echo "== rewrap to another key (--to-key); it alone unlocks"
expect_exit 1 "$VOLKEY" rotate "$dev" --rewrap --to-key aws-kms:alias/other
assert_grep 'choose one with --token N'
expect_exit 0 "$VOLKEY" rotate "$dev" --rewrap --to-key aws-kms:alias/other --token 0
[[ $(token_field "$dev" 0 't["key_uri"]') == aws-kms:alias/other && $(token_field "$dev" 0 't["key_ref"]') == "$ARN_OTHER" ]] ||
	fail "token 0 does not name the other key"
grep '"op": "ReEncrypt"' "$L" | tail -1 >"$TMP/re.json"
[[ $(json_get "$TMP/re.json" 'j["source_key_arn"]') == "$ARN" && $(json_get "$TMP/re.json" 'j["key_arn"]') == "$ARN_OTHER" ]] ||
	fail "ReEncrypt did not move the blob to the other key"
kms_ctl "$KMS_URL_A" /_volkey/key-state '{"key": "alias/vol", "state": "Disabled"}'
only_token 0
kms_ctl "$KMS_URL_A" /_volkey/key-state '{"key": "alias/vol", "state": "Enabled"}'

echo "== rewrap every token (KMS and file)"
expect_exit 0 "$VOLKEY" rotate "$dev" --rewrap
[[ $(token_field "$dev" 1 't["generation"]') == 2 ]] || fail "file token not rewrapped"
only_token 1

echo "== bad input: one line, documented code, header unchanged"
sum=$(dev_sum "$dev")
bad() {
	local code=$1 pattern=$2; shift 2
	expect_exit "$code" "$VOLKEY" rotate "$@"
	assert_grep "$pattern"
	[[ $(wc -l <"$TMP/out") -eq 1 ]] || { cat "$TMP/out"; fail "not one line: $*"; }
	[[ $(dev_sum "$dev") == "$sum" ]] || fail "device changed by: $*"
}
bad 1 'malformed' "$dev" --rewrap --token 0 --to-key 'nonsense:x'
bad 2 'NotFoundException' "$dev" --rewrap --token 0 --to-key aws-kms:alias/nope
bad 5 'already uses aws-kms:alias/other' "$dev" --rewrap --token 1 --to-key aws-kms:alias/other
bad 2 'DisabledException' "$dev" --rewrap --token 0 --to-key aws-kms:alias/disabled
kms_ctl "$KMS_URL_A" /_volkey/key-state '{"key": "alias/other", "state": "Disabled"}'
bad 2 'DisabledException' "$dev" --rewrap --token 0
bad 2 'DisabledException' "$dev" --secret --token 0
kms_ctl "$KMS_URL_A" /_volkey/key-state '{"key": "alias/other", "state": "Enabled"}'
kms_ctl "$KMS_URL_A" /_volkey/fault '{"deny": 1}'
bad 2 'AccessDeniedException.*kms:ReEncrypt' "$dev" --rewrap --token 0 --to-key aws-kms:alias/vol
bad 4 'token 7 is not a readable volkey token' "$dev" --rewrap --token 7
bad 2 'pass --yes' "$dev" --crypto-erase </dev/null
bad 1 'exactly one of' "$dev" --rewrap --secret
plain=$(new_loop plain 32M)
printf 'pass' | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$plain" -
psum=$(dev_sum "$plain")
expect_exit 4 "$VOLKEY" rotate "$plain" --rewrap
assert_grep "$plain: no readable volkey token to rotate"
expect_exit 4 "$VOLKEY" rotate "$plain" --volume-key
[[ $(dev_sum "$plain") == "$psum" ]] || fail "a plain LUKS volume was changed"
empty=$(new_loop empty 8M)
expect_exit 4 "$VOLKEY" rotate "$empty" --secret
assert_grep "$empty: not a LUKS2 volume"

echo "== new secret: new keyslot and token, verified, old ones gone"
volume_json "$dev" >"$TMP/st0.json"
before=$(calls)
t0=$EPOCHREALTIME
expect_exit 0 "$VOLKEY" rotate "$dev" --secret --token 0 --json
ms=$(awk "BEGIN{printf \"%.0f\", ($EPOCHREALTIME - $t0) * 1000}")
read -r r0 d0 g0 e0 <<<"$before"; read -r r1 d1 g1 e1 <<<"$(calls)"
echo "   secret: ${ms} ms, KMS calls: $((g1 - g0)) GenerateDataKey, $((d1 - d0)) Decrypt (volume key, then verification)"
[[ $((g1 - g0)) -eq 1 && $((d1 - d0)) -eq 2 && $r1 -eq $r0 ]] || fail "secret rotation KMS calls: $before -> $(calls)"
volume_json "$dev" >"$TMP/st1.json"
"$PY" - "$TMP/st0.json" "$TMP/st1.json" <<'PY' || fail "secret rotation did not replace token 0 and its keyslot"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
va = {t["key_uri"]: t for t in a["tokens"] if t["type"] == "volkey"}
vb = {t["key_uri"]: t for t in b["tokens"] if t["type"] == "volkey"}
assert va.keys() == vb.keys(), (va.keys(), vb.keys())
old, new = va["aws-kms:alias/other"], vb["aws-kms:alias/other"]
assert new["keyslot"] != old["keyslot"], "same keyslot"
assert new["generation"] == old["generation"] + 1, "generation"
assert len(b["keyslots"]) == len(a["keyslots"]) == 2, "keyslot count"
assert all(k["role"].startswith("token ") for k in b["keyslots"]), b["keyslots"]
PY
expect_exit 0 "$VOLKEY" open --test "$dev"

echo "== across backends (file to KMS): unwrap and Encrypt, no ReEncrypt; it alone unlocks"
before=$(calls)
expect_exit 0 "$VOLKEY" rotate "$dev" --rewrap --token 1 --to-key aws-kms:alias/vol
read -r r0 d0 g0 e0 <<<"$before"; read -r r1 d1 g1 e1 <<<"$(calls)"
[[ $((e1 - e0)) -eq 1 && $((d1 - d0)) -eq 1 && $r1 -eq $r0 ]] || fail "file-to-KMS rewrap calls: $before -> $(calls)"
[[ $(token_field "$dev" 1 't["key_ref"]') == "$ARN" ]] || fail "token 1 is not under the KMS key"
mv "$TMP/k1.kek" "$TMP/k1.away"
kms_ctl "$KMS_URL_A" /_volkey/key-state '{"key": "alias/other", "state": "Disabled"}'
expect_exit 0 "$VOLKEY" open --test "$dev"
assert_grep 'unlocks through token 1 '
kms_ctl "$KMS_URL_A" /_volkey/key-state '{"key": "alias/other", "state": "Enabled"}'
mv "$TMP/k1.away" "$TMP/k1.kek"

echo "== rotate --all: nothing due (11), all done (0), some failed (12); one JSON line per device"
dev2=$(new_loop disk2 32M)
expect_exit 0 "$VOLKEY" format "$dev2" --key "$k1" --yes
# --all rotates every volkey volume of the host: never run it over someone else's.
"$VOLKEY" status --json >"$TMP/all.json" 2>/dev/null || echo '{"volumes": []}' >"$TMP/all.json"
others=$(json_get "$TMP/all.json" '" ".join(v["device"] for v in j["volumes"] if v["device"] not in ("'"$dev"'", "'"$dev2"'"))')
if [[ -n $others ]]; then
	echo "   skipped: other volkey volumes on this host ($others)"
	echo "rotate: ok"
	exit 0
fi
expect_exit 11 "$VOLKEY" rotate --all --secret --older-than 1 --json
[[ $(grep -c '"outcome":"not-due"' "$TMP/out") -ge 2 ]] || fail "no not-due lines"
expect_exit 0 "$VOLKEY" rotate --all --rewrap --older-than 0 --json
for d in "$dev" "$dev2"; do
	grep "\"device\":\"$d\"" "$TMP/out" | grep -q '"outcome":"rotated"' || { cat "$TMP/out"; fail "$d not rotated by --all"; }
done
mv "$TMP/k1.kek" "$TMP/k1.away"
expect_exit 12 "$VOLKEY" rotate --all --rewrap --json
grep "\"device\":\"$dev2\"" "$TMP/out" | grep -q '"outcome":"failed"' || fail "$dev2 failure not reported"
grep "\"device\":\"$dev2\"" "$TMP/out" | grep -q '"exit_code":4' || fail "$dev2 failure has no exit code"
mv "$TMP/k1.away" "$TMP/k1.kek"
expect_exit 0 "$VOLKEY" open --test "$dev"
expect_exit 0 "$VOLKEY" open --test "$dev2"
echo "rotate: ok"
