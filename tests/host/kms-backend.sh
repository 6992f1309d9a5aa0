#!/bin/bash
# The aws-kms backend against the KMS double: round trip, binding, ReEncrypt,
# retries, failures that must be immediate, deadlines, TLS, credentials, regions.
source "$(dirname "$0")/lib.bash"
kms_config "$TMP/kms.json"
start_kms A --config "$TMP/kms.json"
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
cat >"$TMP/volkey.conf" <<CONF
[kms]
endpoint = $KMS_URL_A
retry_base_ms = 50
deadline_ms = 4000
connect_timeout_ms = 500
CONF
export VOLKEY_CONFIG=$TMP/volkey.conf
L=$KMS_LOG_A

echo "== round trip, binding, describe"
expect_exit 0 "$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
want=$(grep '^sha256=' "$TMP/out")
assert_grep '^key_ref=arn:aws:kms:eu-west-1:111122223333:key/'"$KEYID"
assert_grep '^cred_source=environment'
[[ $(count_calls "$L" GenerateDataKey) -eq 1 ]] || fail "wrap is one GenerateDataKey call"
expect_exit 0 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
[[ $(grep '^sha256=' "$TMP/out") == "$want" ]] || fail "unwrapped secret differs"
expect_exit 2 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=web
assert_grep 'wrong volume binding or wrong key'
expect_exit 2 "$VK" unwrap aws-kms:alias/vol 11111111-2222-3333-4444-555555555555 "$TMP/b1" app=db
assert_grep 'wrong volume binding or wrong key'
expect_exit 0 "$VK" describe "aws-kms:arn:aws:kms:eu-west-1:111122223333:key/$KEYID"
assert_grep '^state=Enabled'

echo "== rewrap uses ReEncrypt: no plaintext on this host"
before_dec=$(count_calls "$L" Decrypt)
expect_exit 0 "$VK" rewrap aws-kms:alias/vol "aws-kms:$KEYID" "$UUID" "$TMP/b1" "$TMP/b2" app=db
[[ $(count_calls "$L" ReEncrypt) -eq 1 && $(count_calls "$L" Decrypt) -eq $before_dec ]] || fail "rewrap not a lone ReEncrypt"
expect_exit 0 "$VK" unwrap "aws-kms:$KEYID" "$UUID" "$TMP/b2" app=db
[[ $(grep '^sha256=' "$TMP/out") == "$want" ]] || fail "rewrapped secret differs"

echo "== throttled twice, then success"
n0=$(count_calls "$L" Decrypt)
kms_ctl "$KMS_URL_A" /_volkey/fault '{"throttle": 2}'
expect_exit 0 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
[[ $(( $(count_calls "$L" Decrypt) - n0 )) -eq 3 ]] || fail "expected 3 Decrypt calls (2 throttled)"
echo "== 5xx then success; a dropped connection then success"
kms_ctl "$KMS_URL_A" /_volkey/fault '{"error5xx": 1}'
expect_exit 0 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
kms_ctl "$KMS_URL_A" /_volkey/fault '{"drop": 1}'
expect_exit 0 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
echo "== throttled past the attempt limit: fails as unavailable"
kms_ctl "$KMS_URL_A" /_volkey/fault '{"throttle": 5}'
expect_exit 6 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
assert_grep 'ThrottlingException'
kms_ctl "$KMS_URL_A" /_volkey/fault '{"throttle": 0}'

echo "== AccessDenied and Disabled fail at once, naming the key ARN"
n0=$(wc -l <"$L")
kms_ctl "$KMS_URL_A" /_volkey/fault '{"deny": 1}'
expect_exit 2 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
assert_grep "access denied: AccessDeniedException: .*arn:aws:kms:eu-west-1:111122223333:key/$KEYID"
[[ $(( $(wc -l <"$L") - n0 )) -eq 1 ]] || fail "AccessDenied was retried"
kms_ctl "$KMS_URL_A" /_volkey/key-state '{"key": "alias/vol", "state": "Disabled"}'
n0=$(wc -l <"$L")
expect_exit 2 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
assert_grep "DisabledException: arn:aws:kms:eu-west-1:111122223333:key/$KEYID is disabled"
[[ $(( $(wc -l <"$L") - n0 )) -eq 1 ]] || fail "Disabled was retried"
kms_ctl "$KMS_URL_A" /_volkey/key-state '{"key": "alias/vol", "state": "PendingDeletion"}'
expect_exit 2 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
assert_grep 'KMSInvalidStateException.*pending deletion'
kms_ctl "$KMS_URL_A" /_volkey/key-state '{"key": "alias/vol", "state": "Enabled"}'

echo "== malformed, truncated and oversized answers are rejected (exit 8)"
for f in malformed truncate oversize; do
	kms_ctl "$KMS_URL_A" /_volkey/fault "{\"$f\": 1}"
	rc=0; "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db >"$TMP/out" 2>&1 || rc=$?
	[[ $rc -eq 8 || ( $f == truncate && $rc -eq 0 ) ]] || { cat "$TMP/out"; fail "$f: exit $rc"; }
	[[ $rc -eq 0 ]] || assert_grep 'malformed KMS Decrypt answer|larger than'
	kms_ctl "$KMS_URL_A" /_volkey/fault "{\"$f\": 0}"
done

echo "== wrong secret key or tampered signature: credentials rejected"
AWS_SECRET_ACCESS_KEY=wrong expect_exit 2 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
assert_grep 'credentials rejected: InvalidSignatureException'
AWS_ACCESS_KEY_ID=AKIDNOBODY expect_exit 2 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
assert_grep 'credentials rejected: UnrecognizedClientException'
echo "== session tokens are sent and signed"
AWS_ACCESS_KEY_ID=AKIDTOKEN AWS_SECRET_ACCESS_KEY=tok-secret AWS_SESSION_TOKEN=tok-session-1 \
	expect_exit 0 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
AWS_ACCESS_KEY_ID=AKIDTOKEN AWS_SECRET_ACCESS_KEY=tok-secret expect_exit 2 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db

echo "== KMS unreachable: fails within the deadline (exit 6)"
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
s=$(date +%s%N)
AWS_ENDPOINT_URL_KMS=http://127.0.0.1:$port expect_exit 6 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
ms=$(( ($(date +%s%N) - s) / 1000000 )); echo "unreachable after $ms ms"
[[ $ms -lt 4500 ]] || fail "took $ms ms, deadline is 4000"
assert_grep 'cannot reach KMS at http://127.0.0.1'
echo "== slow KMS: the deadline bounds the wait"
kms_ctl "$KMS_URL_A" /_volkey/fault '{"latency_ms": 3000, "latency_calls": 5}'
s=$(date +%s%N)
printf '[kms]\nendpoint = %s\ntimeout_ms = 700\ndeadline_ms = 1500\nretry_base_ms = 10\n' "$KMS_URL_A" >"$TMP/slow.conf"
VOLKEY_CONFIG=$TMP/slow.conf expect_exit 6 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
ms=$(( ($(date +%s%N) - s) / 1000000 )); echo "slow KMS given up after $ms ms"
[[ $ms -lt 2500 ]] || fail "deadline not kept ($ms ms)"
kms_ctl "$KMS_URL_A" /_volkey/fault '{"latency_ms": 0, "latency_calls": 0}'

echo "== plain http only to loopback"
AWS_ENDPOINT_URL_KMS=http://kms.example.invalid expect_exit 1 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
assert_grep 'KMS endpoint http://kms.example.invalid refused: plain http only to a loopback host'
[[ $(grep -c . "$TMP/volkey.conf") -gt 0 ]]

echo "== shared credentials file: profile, and refused when readable by others"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
printf '[default]\naws_access_key_id = AKIDNOBODY\naws_secret_access_key = x\n[ops]\naws_access_key_id = AKIDTEST1\naws_secret_access_key = sekrit/abc+def\n' >"$TMP/credentials"
chmod 600 "$TMP/credentials"
AWS_SHARED_CREDENTIALS_FILE=$TMP/credentials AWS_PROFILE=ops expect_exit 0 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
assert_grep "^cred_source=profile ops"
chmod 644 "$TMP/credentials"
AWS_SHARED_CREDENTIALS_FILE=$TMP/credentials AWS_PROFILE=ops expect_exit 2 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
assert_grep "credentials file $TMP/credentials has mode 0644"
expect_exit 2 "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/b1" app=db
assert_grep 'no AWS credentials found'
echo "kms backend ok"
