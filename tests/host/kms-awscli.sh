#!/bin/bash
# The fake KMS (tests/fakes/kms.py) speaks KMS to a real AWS client: awscli
# signs with SigV4 and the double verifies it; encrypt/decrypt with an
# encryption context, data keys, re-encrypt through an alias, describe-key,
# key states, bad secrets, session tokens, prefixed error types, and HTTPS.
source "$(dirname "$0")/lib.bash"
AWS=/usr/bin/aws
[[ -x $AWS ]] || skip "awscli not installed (/usr/bin/aws)"
command -v openssl >/dev/null || skip "openssl not installed"
command -v curl >/dev/null || skip "curl not installed"

ACCOUNT=111122223333
REGION=eu-west-1
KEY=1234abcd-12ab-34cd-56ef-1234567890ab
ARN=arn:aws:kms:$REGION:$ACCOUNT:key/$KEY
cat >"$TMP/kms.json" <<EOF
{"region": "$REGION", "account": "$ACCOUNT", "seed": "kms-awscli-test",
 "credentials": [{"access_key": "AKIAVOLKEYTEST000001", "secret_key": "s3cr3t/long+term", "session_token": null},
                 {"access_key": "ASIAVOLKEYTEST000002", "secret_key": "temp-secret", "session_token": "FwoGZXIvYXdzEBYaD0tvken"}],
 "keys": [{"id": "$KEY", "aliases": ["alias/vol"], "state": "Enabled", "key_spec": "SYMMETRIC_DEFAULT"}]}
EOF

# start_kms NAME [ARGS...]: run the fake KMS; sets KMS_PORT, log in $TMP/NAME.log.
start_kms() {
	local name=$1 pid i; shift
	"$PY" "$VOLKEY_SRC/tests/fakes/kms.py" --port-file "$TMP/$name.port" --log "$TMP/$name.log" \
		--config "$TMP/kms.json" "$@" 2>"$TMP/$name.err" &
	pid=$!
	on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	for i in $(seq 1 100); do [[ -s $TMP/$name.port ]] && break; sleep 0.05; done
	[[ -s $TMP/$name.port ]] || { cat "$TMP/$name.err" >&2; fail "fake KMS $name did not start"; }
	KMS_PORT=$(cat "$TMP/$name.port")
}

# awscli isolated from the host's configuration; one attempt per call.
unset AWS_PROFILE AWS_DEFAULT_REGION AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KMS AWS_CA_BUNDLE
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export AWS_PAGER= AWS_REGION=$REGION AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard
export AWS_ACCESS_KEY_ID=AKIAVOLKEYTEST000001 AWS_SECRET_ACCESS_KEY=s3cr3t/long+term
kms() { "$AWS" kms "$@" --endpoint-url "$EP" --cli-connect-timeout 5 --cli-read-timeout 20; }
# expect_error NAME CMD...: CMD must fail and awscli must report error NAME.
expect_error() {
	local name=$1 rc=0; shift
	"$@" >"$TMP/out" 2>&1 || rc=$?
	[[ $rc -ne 0 ]] || { cat "$TMP/out" >&2; fail "expected $name, command succeeded: $*"; }
	assert_grep "\\($name\\)"
}
t0=$(date +%s%N)

start_kms plain
EP=http://127.0.0.1:$KMS_PORT
LOG=$TMP/plain.log
printf 'volume secret \x00\x01\xff 0123456789' >"$TMP/pt"

# Encrypt with a context, decrypt with the same context (other order).
kms encrypt --key-id alias/vol --plaintext "fileb://$TMP/pt" --encryption-context purpose=test,volume=vol-1 \
	--output text --query CiphertextBlob >"$TMP/ct.b64" 2>"$TMP/err" || { cat "$TMP/err"; fail "encrypt"; }
base64 -d "$TMP/ct.b64" >"$TMP/ct"
kms decrypt --ciphertext-blob "fileb://$TMP/ct" --encryption-context volume=vol-1,purpose=test \
	--output text --query '[KeyId,Plaintext]' >"$TMP/dec" 2>"$TMP/err" || { cat "$TMP/err"; fail "decrypt"; }
[[ $(cut -f1 "$TMP/dec") == "$ARN" ]] || fail "decrypt KeyId: $(cat "$TMP/dec")"
cut -f2 "$TMP/dec" | base64 -d | cmp -s - "$TMP/pt" || fail "decrypt gave another plaintext"

# Another context: the ciphertext does not open.
expect_error InvalidCiphertextException kms decrypt --ciphertext-blob "fileb://$TMP/ct" \
	--encryption-context purpose=test,volume=vol-2

# A 256-bit data key.
kms generate-data-key --key-id "$KEY" --key-spec AES_256 --encryption-context volume=vol-1 \
	--output text --query '[KeyId,Plaintext,CiphertextBlob]' >"$TMP/dk" 2>"$TMP/err" || { cat "$TMP/err"; fail "generate-data-key"; }
[[ $(cut -f1 "$TMP/dk") == "$ARN" ]] || fail "generate-data-key KeyId"
[[ $(cut -f2 "$TMP/dk" | base64 -d | wc -c) -eq 32 ]] || fail "data key is not 32 bytes"
[[ $(cut -f3 "$TMP/dk" | base64 -d | wc -c) -gt 32 ]] || fail "data key ciphertext too short"

# Re-encrypt to the alias under a new context (decrypted later by another instance).
kms re-encrypt --ciphertext-blob "fileb://$TMP/ct" --source-encryption-context purpose=test,volume=vol-1 \
	--destination-key-id alias/vol --destination-encryption-context purpose=rotated \
	--output text --query '[SourceKeyId,KeyId,CiphertextBlob]' >"$TMP/re" 2>"$TMP/err" || { cat "$TMP/err"; fail "re-encrypt"; }
[[ $(cut -f1,2 "$TMP/re") == "$ARN"$'\t'"$ARN" ]] || fail "re-encrypt key ids: $(cut -f1,2 "$TMP/re")"
cut -f3 "$TMP/re" | base64 -d >"$TMP/ct2"
cmp -s "$TMP/ct" "$TMP/ct2" && fail "re-encrypt returned the same blob"

# describe-key through the key ARN.
kms describe-key --key-id "$ARN" --output text --query 'KeyMetadata.[KeyState,Arn,KeyUsage,MultiRegion]' \
	>"$TMP/dk2" 2>"$TMP/err" || { cat "$TMP/err"; fail "describe-key"; }
[[ $(cat "$TMP/dk2") == "Enabled"$'\t'"$ARN"$'\t'"ENCRYPT_DECRYPT"$'\t'"False" ]] || fail "describe-key: $(cat "$TMP/dk2")"

# Wrong secret: the signature does not verify.
AWS_SECRET_ACCESS_KEY=not-the-secret expect_error InvalidSignatureException kms describe-key --key-id alias/vol
assert_grep 'signature we calculated does not match'

# Temporary credentials: accepted with the session token, refused without.
AWS_ACCESS_KEY_ID=ASIAVOLKEYTEST000002 AWS_SECRET_ACCESS_KEY=temp-secret AWS_SESSION_TOKEN=FwoGZXIvYXdzEBYaD0tvken \
	kms describe-key --key-id alias/vol --output text --query KeyMetadata.KeyId >"$TMP/out" 2>&1 ||
	{ cat "$TMP/out"; fail "session credentials refused"; }
[[ $(cat "$TMP/out") == "$KEY" ]] || fail "describe-key with session token: $(cat "$TMP/out")"
AWS_ACCESS_KEY_ID=ASIAVOLKEYTEST000002 AWS_SECRET_ACCESS_KEY=temp-secret \
	expect_error UnrecognizedClientException kms describe-key --key-id alias/vol

# Disabled key: decrypt refused.
curl -sf -X POST --data '{"key": "alias/vol", "state": "Disabled"}' "$EP/_volkey/key-state" >"$TMP/out" ||
	fail "key-state endpoint"
assert_grep '"state": "Disabled"'
expect_error DisabledException kms decrypt --ciphertext-blob "fileb://$TMP/ct" \
	--encryption-context purpose=test,volume=vol-1
assert_grep "$ARN is disabled"

# The log: one line per call, right ops, errors, contexts, keep-alive fields, no plaintext.
"$PY" - "$LOG" "$ARN" <<'PY' || fail "fake KMS log"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
arn = sys.argv[2]
ops = [(r["op"], r["error"]) for r in recs]
want = [("Encrypt", None), ("Decrypt", None), ("Decrypt", "InvalidCiphertextException"),
        ("GenerateDataKey", None), ("ReEncrypt", None), ("DescribeKey", None),
        ("DescribeKey", "InvalidSignatureException"), ("DescribeKey", None),
        ("DescribeKey", "UnrecognizedClientException"), ("Decrypt", "DisabledException")]
assert ops == want, ops
for r in recs:
    for f in ("op", "key_arn", "region", "status", "error", "request_id", "conn", "new_conn",
              "access_key", "context", "fault"):
        assert f in r, (f, r)
    assert r["region"] == "eu-west-1" and r["key_arn"] == arn and r["fault"] is None, r
    assert r["status"] == (200 if r["error"] is None else 400), r
assert recs[0]["context"] == {"purpose": "test", "volume": "vol-1"}, recs[0]
assert recs[2]["context"] == {"purpose": "test", "volume": "vol-2"}, recs[2]
assert recs[4]["context"] == {"purpose": "rotated"} and recs[4]["source_context"]["volume"] == "vol-1", recs[4]
assert recs[7]["access_key"] == "ASIAVOLKEYTEST000002", recs[7]
assert all(r["new_conn"] for r in recs)  # each awscli run is one process, one connection
assert len({r["request_id"] for r in recs}) == len(recs)
PY
! grep -q 'volume secret' "$LOG" || fail "plaintext in the log"
! grep -qF "$(base64 -w0 "$TMP/pt" | cut -c1-16)" "$LOG" || fail "base64 plaintext in the log"

# HTTPS with a private CA, and --prefixed-errors: awscli still names the error.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=volkey-test-ca \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>"$TMP/err" || { cat "$TMP/err"; fail "CA"; }
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
	-keyout "$TMP/srv.key" -out "$TMP/srv.csr" 2>"$TMP/err" || { cat "$TMP/err"; fail "server key"; }
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$TMP/srv.ext"
openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial -days 2 \
	-extfile "$TMP/srv.ext" -out "$TMP/srv.pem" 2>"$TMP/err" || { cat "$TMP/err"; fail "server cert"; }
start_kms tls --tls-cert "$TMP/srv.pem" --tls-key "$TMP/srv.key" --prefixed-errors
EP=https://127.0.0.1:$KMS_PORT
export AWS_CA_BUNDLE=$TMP/ca.pem
kms encrypt --key-id alias/vol --plaintext "fileb://$TMP/pt" --output text --query CiphertextBlob \
	>"$TMP/ct3.b64" 2>"$TMP/err" || { cat "$TMP/err"; fail "encrypt over TLS"; }
base64 -d "$TMP/ct3.b64" >"$TMP/ct3"
kms decrypt --ciphertext-blob "fileb://$TMP/ct3" --output text --query Plaintext 2>"$TMP/err" |
	base64 -d | cmp -s - "$TMP/pt" || { cat "$TMP/err"; fail "TLS round trip"; }
# Same seed, same region: this instance opens what the first one re-encrypted.
kms decrypt --ciphertext-blob "fileb://$TMP/ct2" --encryption-context purpose=rotated --output text \
	--query Plaintext 2>"$TMP/err" | base64 -d | cmp -s - "$TMP/pt" || { cat "$TMP/err"; fail "re-encrypted blob"; }
expect_error NotFoundException kms describe-key --key-id alias/no-such-alias
curl -s --cacert "$TMP/ca.pem" -X POST -H 'Content-Type: application/x-amz-json-1.1' \
	-H 'X-Amz-Target: TrentService.DescribeKey' --data '{}' "$EP/" >"$TMP/out" || fail "curl over TLS"
assert_grep '"__type": "com\.amazonaws\.kms#MissingAuthenticationTokenException"'
curl -sf --cacert "$TMP/ca.pem" "$EP/_volkey/stats" >"$TMP/stats" || fail "stats"
[[ $(json_get "$TMP/stats" 'j["tls_handshakes"]') -ge 4 ]] || fail "tls_handshakes: $(cat "$TMP/stats")"
[[ $(json_get "$TMP/stats" 'j["calls"]["Decrypt"]') -eq 2 ]] || fail "stats calls: $(cat "$TMP/stats")"
# volkey and awscli understand each other through the double: a blob awscli
# encrypted unwraps in volkey, and a secret volkey wrapped decrypts in awscli.
VK=$VOLKEY_SRC/${BUILD:-build}/tests/progs/vk-key
UUID=6b2d237d-2aa4-400d-ac36-d583efc0b07c
head -c 32 /dev/urandom >"$TMP/vol-secret"
kms encrypt --key-id alias/vol --plaintext "fileb://$TMP/vol-secret" \
	--encryption-context "volkey:luks-uuid=$UUID,app=db" --output text --query CiphertextBlob 2>"$TMP/err" |
	base64 -d >"$TMP/aws-blob" || { cat "$TMP/err"; fail "awscli encrypt for volkey"; }
AWS_ENDPOINT_URL_KMS=$EP AWS_CA_BUNDLE=$TMP/ca.pem "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/aws-blob" app=db \
	>"$TMP/vk.out" 2>&1 || { cat "$TMP/vk.out"; fail "volkey could not unwrap awscli's blob"; }
grep -q "^sha256=$(sha256sum <"$TMP/vol-secret" | cut -d' ' -f1)$" "$TMP/vk.out" || fail "volkey unwrapped another secret"
AWS_ENDPOINT_URL_KMS=$EP AWS_CA_BUNDLE=$TMP/ca.pem "$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/vk-blob" app=db \
	>"$TMP/vk.out" 2>&1 || { cat "$TMP/vk.out"; fail "volkey wrap"; }
kms decrypt --ciphertext-blob "fileb://$TMP/vk-blob" --encryption-context "volkey:luks-uuid=$UUID,app=db" \
	--output text --query Plaintext 2>"$TMP/err" | base64 -d | sha256sum | cut -d' ' -f1 >"$TMP/aws-sha" ||
	{ cat "$TMP/err"; fail "awscli decrypt of volkey's blob"; }
grep -q "^sha256=$(cat "$TMP/aws-sha")$" "$TMP/vk.out" || fail "awscli decrypted another secret than volkey wrapped"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "fake KMS ok with awscli over HTTP and HTTPS (${ms} ms)"
