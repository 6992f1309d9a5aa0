#!/bin/bash
# TLS (verification always on, one handshake for many calls), multi-Region
# failover, and instance-role credentials from IMDSv2 with refresh.
source "$(dirname "$0")/lib.bash"
kms_config "$TMP/kms.json" eu-west-1
kms_config "$TMP/kms2.json" eu-central-1

echo "== a test CA and a server certificate for 127.0.0.1"
test_ca_and_server
start_kms T --config "$TMP/kms.json" --tls-cert "$TMP/srv.pem" --tls-key "$TMP/srv.key"
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
printf '[kms]\nendpoint = %s\n' "$KMS_URL_T" >"$TMP/tls.conf"
export VOLKEY_CONFIG=$TMP/tls.conf

echo "== an untrusted (test-CA) certificate is refused"
expect_exit 2 "$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/b1"
assert_grep "TLS certificate of $KMS_URL_T not trusted"
echo "== trusted through AWS_CA_BUNDLE: works; 8 keys checked over one TLS handshake"
AWS_CA_BUNDLE=$TMP/ca.pem expect_exit 0 "$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/b1"
h0=$(curl -sf --cacert "$TMP/ca.pem" "$KMS_URL_T/_volkey/stats" | json_get /dev/stdin 'j["tls_handshakes"]')
args=(); for i in 1 2 3 4 5 6 7 8; do args+=(--key aws-kms:alias/vol); done
AWS_CA_BUNDLE=$TMP/ca.pem "$VOLKEY" doctor --json "${args[@]}" >"$TMP/doc.json" 2>"$TMP/err" || { cat "$TMP/err"; fail "doctor --key x8"; }
[[ $(json_get "$TMP/doc.json" 'sum(1 for k in j["keys"] if k["ok"])') -eq 8 ]] || fail "not all 8 keys ok"
h1=$(curl -sf --cacert "$TMP/ca.pem" "$KMS_URL_T/_volkey/stats" | json_get /dev/stdin 'j["tls_handshakes"]')
# h1 also counts the handshake of the stats request that read it.
hs=$((h1 - h0 - 1))
echo "16 KMS calls (8 wraps, 8 unwraps) cost $hs TLS handshake(s)"
[[ $hs -eq 1 ]] || fail "$hs handshakes for one doctor run (want 1)"

echo "== multi-Region key: the first region is down, the second answers"
start_kms W --config "$TMP/kms.json" --region eu-west-1
start_kms C --config "$TMP/kms2.json" --region eu-central-1
dead=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/mr-ok.conf" <<CONF
[kms]
regions = eu-west-1, eu-central-1
[kms:eu-west-1]
endpoint = $KMS_URL_W
[kms:eu-central-1]
endpoint = $KMS_URL_C
CONF
sed "s#$KMS_URL_W#http://127.0.0.1:$dead#" "$TMP/mr-ok.conf" >"$TMP/mr-down.conf"
MRK=arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef
VOLKEY_CONFIG=$TMP/mr-ok.conf expect_exit 0 "$VK" wrap "aws-kms:$MRK" "$UUID" "$TMP/mr" app=x
want=$(grep '^sha256=' "$TMP/out"); assert_grep '^region=eu-west-1'
s=$(date +%s%N)
VOLKEY_CONFIG=$TMP/mr-down.conf expect_exit 0 "$VK" unwrap "aws-kms:$MRK" "$UUID" "$TMP/mr" app=x
ms=$(( ($(date +%s%N) - s) / 1000000 ))
assert_grep '^region=eu-central-1'
[[ $(grep '^sha256=' "$TMP/out") == "$want" ]] || fail "failover unwrap differs"
grep -q "arn:aws:kms:eu-central-1:111122223333:key/mrk-" "$KMS_LOG_C" || fail "replica ARN not used"
echo "failover unwrap in $ms ms"
echo "== a single-Region key does not fail over"
VOLKEY_CONFIG=$TMP/mr-down.conf expect_exit 6 "$VK" unwrap "aws-kms:arn:aws:kms:eu-west-1:111122223333:key/$KEYID" "$UUID" "$TMP/mr" app=x

echo "== instance-role credentials through IMDSv2, refreshed when they near expiry"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION VOLKEY_CONFIG
start_imds --role volkey-role --region eu-west-1 --cred-expiry-seconds 5
printf '[kms]\nendpoint = %s\n' "$KMS_URL_W" >"$TMP/imds.conf"
unset AWS_EC2_METADATA_DISABLED
export AWS_EC2_METADATA_SERVICE_ENDPOINT=$IMDS_URL
"$VOLKEY" --config "$TMP/imds.conf" doctor --json --key aws-kms:alias/vol >"$TMP/doc2.json" 2>"$TMP/err" ||
	{ cat "$TMP/err"; fail "doctor with IMDS credentials"; }
[[ $(json_get "$TMP/doc2.json" 'j["keys"][0]["credential_source"]') == "imds role volkey-role" ]] || fail "cred source"
[[ $(json_get "$TMP/doc2.json" 'j["keys"][0]["region"]') == eu-west-1 ]] || fail "region from IMDS"
# Credentials expiring within the refresh margin are fetched again for the second call.
n=$(grep -c 'security-credentials/volkey-role"' "$IMDS_LOG")
[[ $n -ge 2 ]] || fail "IMDS role credentials fetched $n time(s); expected a refresh"
keys=$(grep -o '"access_key": "ASIAFAKEIMDS[0-9]*"' "$KMS_LOG_W" | sort -u | wc -l)
[[ $keys -ge 2 ]] || fail "KMS saw $keys distinct IMDS credentials; expected refreshed ones"
echo "== one IMDS credential fetch serves every backend context in a process"
# format with two KMS keys: one context wraps, then each token is verified through
# its own unlock context; with long-lived role credentials IMDS is asked once.
start_imds --role volkey-role --region eu-west-1
export AWS_EC2_METADATA_SERVICE_ENDPOINT=$IMDS_URL
start_kms S --config "$TMP/kms.json"   # a fresh double: it has seen the first IMDS's credentials
printf '[kms]\nendpoint = %s\n' "$KMS_URL_S" >"$TMP/imds2.conf"
dev=$(new_loop shared 24M)
"$VOLKEY" --config "$TMP/imds2.conf" format "$dev" --key aws-kms:alias/vol --key "aws-kms:$KEYID" --yes >"$TMP/out" 2>&1 ||
	{ cat "$TMP/out"; fail "format with IMDS credentials"; }
n=$(grep -c 'security-credentials/volkey-role"' "$IMDS_LOG")
[[ $n -eq 1 ]] || fail "IMDS role credentials fetched $n times for one format (want 1: shared)"
echo "kms tls/regions/imds ok"
