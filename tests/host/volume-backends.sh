#!/bin/bash
# volkey volumes with the real backends' protocols: AWS KMS (the double checks
# SigV4 and the EncryptionContext) and PKCS#11 (SoftHSM2). Format with KMS,
# bind the HSM, unlock with either; a hung KMS does not delay the HSM token
# (the tokens race); every backend down is one line and exit 6; the token
# plugin unlocks through KMS inside cryptsetup.
source "$(dirname "$0")/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
softhsm_init
kms_config "$TMP/kms.json"
start_kms A --config "$TMP/kms.json"
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
cat >"$TMP/volkey.conf" <<CONF
[kms]
endpoint = $KMS_URL_A
retry_base_ms = 50
deadline_ms = 8000
connect_timeout_ms = 500
$P11_CONF
CONF
export VOLKEY_CONFIG=$TMP/volkey.conf
L=$KMS_LOG_A
dev=$(new_loop disk 32M)

echo "== format with KMS: one GenerateDataKey, two Decrypts (before writing, and through the header), context sent"
expect_exit 0 "$VOLKEY" format "$dev" --key aws-kms:alias/vol --context app=db --yes
uuid=$(cryptsetup luksUUID "$dev")
[[ $(count_calls "$L" GenerateDataKey) -eq 1 && $(count_calls "$L" Decrypt) -eq 2 ]] || fail "format KMS calls"
grep '"op": "GenerateDataKey"' "$L" | grep -q "\"volkey:luks-uuid\": \"$uuid\"" || fail "EncryptionContext lacks the LUKS UUID"
grep '"op": "GenerateDataKey"' "$L" | grep -q '"app": "db"' || fail "EncryptionContext lacks app=db"
volume_json "$dev" >"$TMP/st.json"
[[ $(json_get "$TMP/st.json" 'j["tokens"][0]["key_ref"]') == "arn:aws:kms:eu-west-1:111122223333:key/$KEYID" ]] || fail "key_ref is not the key ARN"
expect_exit 0 "$VOLKEY" open --test "$dev"
[[ $(count_calls "$L" Decrypt) -eq 3 ]] || fail "open --test is one Decrypt"

echo "== bind the HSM; each backend alone unlocks"
expect_exit 0 "$VOLKEY" bind "$dev" --key "$P11_KEK"
n=$(count_calls "$L" Decrypt)
kms_ctl "$KMS_URL_A" /_volkey/fault '{"deny": 5}'
expect_exit 0 "$VOLKEY" open --test "$dev"
assert_grep 'unlocks through token 1'
kms_ctl "$KMS_URL_A" /_volkey/fault '{"deny": 0}'
mv "$TMP/pin" "$TMP/pin.away"
expect_exit 0 "$VOLKEY" open --test "$dev"
assert_grep 'unlocks through token 0'
mv "$TMP/pin.away" "$TMP/pin"

echo "== KMS hangs (20 s per answer, 8 s deadline): the HSM token is not held up"
kms_ctl "$KMS_URL_A" /_volkey/fault '{"latency_ms": 20000, "latency_calls": 3}'
t0=$EPOCHREALTIME
expect_exit 0 "$VOLKEY" open --test "$dev"
secs=$(awk "BEGIN{print $EPOCHREALTIME - $t0}")
assert_grep 'unlocks through token 1'
echo "   unlocked in ${secs}s while KMS hung"
awk "BEGIN{exit !($secs < 4)}" || fail "a hung KMS delayed the HSM token: ${secs}s"
kms_ctl "$KMS_URL_A" /_volkey/fault '{"latency_ms": 0, "latency_calls": 0}'

echo "== every backend down: one line, exit 6, nothing written"
before=$(dev_sum "$dev")
printf '[kms]\nendpoint = http://127.0.0.1:9\nconnect_timeout_ms = 300\ndeadline_ms = 1500\nretry_base_ms = 50\n' >"$TMP/down.conf"
mv "$TMP/pin" "$TMP/pin.away"
rc=0; VOLKEY_CONFIG=$TMP/down.conf "$VOLKEY" open --test "$dev" >"$TMP/out" 2>&1 || rc=$?
mv "$TMP/pin.away" "$TMP/pin"
cat "$TMP/out"
[[ $rc -eq 6 ]] || fail "all backends down gave exit $rc (want 6: the first token's class)"
assert_grep "^volkey: error: $dev: no token unlocks it: token 0 \(aws-kms:alias/vol\): .*; token 1 \(pkcs11:"
[[ $(wc -l <"$TMP/out") -eq 1 ]] || fail "not one line"
[[ $(dev_sum "$dev") == "$before" ]] || fail "a failed open changed the device"
echo "== KMS alone down: exit 6 (unavailable)"
dev2=$(new_loop d2 32M)
expect_exit 0 "$VOLKEY" format "$dev2" --key aws-kms:alias/vol --yes
VOLKEY_CONFIG=$TMP/down.conf expect_exit 6 "$VOLKEY" open --test "$dev2"
assert_grep "^volkey: error: $dev2: token 0 \(aws-kms:alias/vol\): "
echo "== a disabled KMS key: exit 2, naming the key"
kms_ctl "$KMS_URL_A" /_volkey/key-state "{\"key\": \"$KEYID\", \"state\": \"Disabled\"}"
expect_exit 2 "$VOLKEY" open --test "$dev2"
assert_grep "Disabled"
kms_ctl "$KMS_URL_A" /_volkey/key-state "{\"key\": \"$KEYID\", \"state\": \"Enabled\"}"

echo "== the token plugin unlocks through KMS inside cryptsetup"
with_token_plugin
n=$(count_calls "$L" Decrypt)
plugin_cryptsetup open --test-passphrase --token-only --token-id 0 "$dev" >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "plugin via KMS"; }
[[ $(count_calls "$L" Decrypt) -eq $((n + 1)) ]] || fail "plugin did not call KMS Decrypt once"
plugin_cryptsetup open --test-passphrase --token-only --token-id 1 "$dev" >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "plugin via PKCS#11"; }
echo "backends ok"
