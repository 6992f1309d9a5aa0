#!/bin/bash
# Secrets stay in the secret allocator: the core of a process holding an
# unwrapped secret (after its KMS client is gone) contains neither the secret nor
# its base64, nor the AWS secret key, whether that came from the environment or
# from the shared credentials file; the environment no longer holds the AWS
# secret; no debug log line carries a secret.
source "$(dirname "$0")/lib.bash"
command -v gcore >/dev/null || fail "gcore (gdb) missing: make deps"
kms_config "$TMP/kms.json"
start_kms A --config "$TMP/kms.json"
SK='sekrit/abc+def'
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=eu-west-1 AWS_ENDPOINT_URL_KMS=$KMS_URL_A
export VOLKEY_LOG_LEVEL=debug

"$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/blob" app=db >"$TMP/wrap.out" 2>"$TMP/wrap.err" || fail "wrap"
# The test learns the plaintext on its own, from the double, with botocore.
"$PY" - "$KMS_URL_A" "$TMP/blob" "$UUID" >"$TMP/pt.hex" <<'PY'
import sys, botocore.session
s = botocore.session.get_session()
c = s.create_client("kms", region_name="eu-west-1", endpoint_url=sys.argv[1],
                    aws_access_key_id="AKIDTEST1", aws_secret_access_key="sekrit/abc+def")
r = c.decrypt(CiphertextBlob=open(sys.argv[2], "rb").read(),
              EncryptionContext={"volkey:luks-uuid": sys.argv[3], "app": "db"})
print(r["Plaintext"].hex())
PY
pt_hex=$(cat "$TMP/pt.hex")
pt_b64=$(xxd -r -p "$TMP/pt.hex" | base64 -w0)
[[ ${#pt_hex} -eq 64 ]] || fail "could not learn the plaintext"
grep -q "sha256=$(xxd -r -p "$TMP/pt.hex" | sha256sum | cut -d' ' -f1)" "$TMP/wrap.out" || fail "double and volkey disagree"

# An ASan process maps terabytes of shadow memory: its core is not searchable. In the
# ASan tier the holder is the regular build of the same code (built first by make check).
HOLD_VK=$VK
# (Not `ldd | grep -q`: with pipefail, grep quitting early can fail the pipeline.)
if [[ $(ldd "$VK") == *libasan* ]]; then
	HOLD_VK=$VOLKEY_SRC/build/tests/progs/vk-key
	[[ -x $HOLD_VK ]] || fail "ASan tier: $HOLD_VK (the regular build) is needed for the core-dump check"
	echo "(ASan build: the core-dump check uses $HOLD_VK)"
fi
"$HOLD_VK" unwrap-hold aws-kms:alias/vol "$UUID" "$TMP/blob" app=db >"$TMP/hold.out" 2>"$TMP/hold.err" &
pid=$!
on_exit "kill $pid 2>/dev/null"
for _ in $(seq 1 100); do grep -q '^ready' "$TMP/hold.out" && break; sleep 0.05; done
grep -q '^ready' "$TMP/hold.out" || { cat "$TMP/hold.err"; fail "holder not ready"; }

echo "== the environment of the process no longer has the AWS secret"
# (/proc/PID/environ shows the original block: the name stays, the value is wiped)
grep -qaF -- "$SK" /proc/$pid/environ && fail "the AWS secret key is still in /proc/$pid/environ"
tr '\0' '\n' </proc/$pid/environ | grep -q '^AWS_ACCESS_KEY_ID=AKIDTEST1$' || fail "control: the key id should stay"

echo "== secret memory is locked and marked not-to-dump"
grep -qE '^VmLck:\s+[1-9]' /proc/$pid/status || fail "no locked memory in the holder"

echo "== core dump"
gcore -o "$TMP/core" "$pid" >/dev/null 2>&1 || fail "gcore failed"
core=$TMP/core.$pid
[[ -s $core ]] || fail "no core written"
# Control: the dump is real (it holds strings we know are in the process).
grep -qa 'arn:aws:kms:eu-west-1:111122223333:key/' "$core" || fail "control string not in the core: dump unusable"
# no_secret_in CORE: neither the plaintext (raw, base64, hex) nor the AWS secret key.
no_secret_in() {
	"$PY" - "$1" "$pt_hex" "$pt_b64" "$SK" <<'PY' || fail "a secret is in the core dump"
import sys
core = open(sys.argv[1], "rb").read()
pt = bytes.fromhex(sys.argv[2])
bad = []
for name, needle in (("plaintext", pt), ("plaintext base64", sys.argv[3].encode()),
                     ("plaintext hex", sys.argv[2].encode()), ("AWS secret key", sys.argv[4].encode())):
    if needle in core:
        bad.append("%s at offset %d" % (name, core.index(needle)))
print("core: %d MiB searched; %s" % (len(core) >> 20, "; ".join(bad) if bad else "no secret found"))
sys.exit(1 if bad else 0)
PY
}
no_secret_in "$core"
kill "$pid"
wait "$pid" 2>/dev/null || true

echo "== core dump while the process keeps its KMS connection (TLS) and TLS session alive"
# The KMS clients share one connection cache and TLS session cache per process
# (kms_share.c): after the client is gone the connection stays open. Neither it
# nor the session cache may keep the AWS secret key (volkey signs its requests
# itself, libcurl never sees it) or the answer's plaintext (OpenSSL wipes
# records once read: SSL_OP_CLEANSE_PLAINTEXT).
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/tls.key" -out "$TMP/tls.pem" 2>/dev/null
start_kms S --config "$TMP/kms.json" --tls-cert "$TMP/tls.pem" --tls-key "$TMP/tls.key"
printf '[kms]\nendpoint = %s\nca_file = %s\n' "$KMS_URL_S" "$TMP/tls.pem" >"$TMP/tls.conf"
VOLKEY_CONFIG=$TMP/tls.conf env -u AWS_ENDPOINT_URL_KMS "$HOLD_VK" unwrap-hold aws-kms:alias/vol "$UUID" "$TMP/blob" app=db \
	>"$TMP/hold3.out" 2>"$TMP/hold3.err" &
pid=$!
on_exit "kill $pid 2>/dev/null"
for _ in $(seq 1 100); do grep -q '^ready' "$TMP/hold3.out" && break; sleep 0.05; done
grep -q '^ready' "$TMP/hold3.out" || { cat "$TMP/hold3.err"; fail "holder (TLS) not ready"; }
grep -q "sha256=$(xxd -r -p "$TMP/pt.hex" | sha256sum | cut -d' ' -f1)" "$TMP/hold3.out" || fail "TLS holder: wrong secret"
port=${KMS_URL_S##*:}
ss -tnpH state established >"$TMP/ss.out"
grep -qE "127\.0\.0\.1:$port .*pid=$pid," "$TMP/ss.out" ||
	{ cat "$TMP/ss.out"; fail "control: the holder should still keep its KMS connection open (the shared connection cache)"; }
gcore -o "$TMP/core3" "$pid" >/dev/null 2>&1 || fail "gcore failed"
grep -qa 'arn:aws:kms:eu-west-1:111122223333:key/' "$TMP/core3.$pid" || fail "control string not in the core: dump unusable"
no_secret_in "$TMP/core3.$pid"

echo "== core dump of a process whose AWS secret came from the shared credentials file"
# The file is read into secret memory and parsed there: no stdio buffer, no
# parser line buffer (heap or stack) keeps the secret access key.
mkdir -m 700 "$TMP/aws"
{
	printf '# profiles\n[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = other-secret-xyz\n\n'
	printf '[default]\naws_access_key_id = AKIDTEST1\naws_secret_access_key = %s\nregion = eu-west-1\n' "$SK"
} >"$TMP/aws/credentials"
chmod 600 "$TMP/aws/credentials"
(
	unset AWS_SECRET_ACCESS_KEY AWS_ACCESS_KEY_ID
	export AWS_SHARED_CREDENTIALS_FILE=$TMP/aws/credentials
	exec "$HOLD_VK" unwrap-hold aws-kms:alias/vol "$UUID" "$TMP/blob" app=db >"$TMP/hold2.out" 2>"$TMP/hold2.err"
) &
pid=$!
on_exit "kill $pid 2>/dev/null"
for _ in $(seq 1 100); do grep -q '^ready' "$TMP/hold2.out" && break; sleep 0.05; done
grep -q '^ready' "$TMP/hold2.out" || { cat "$TMP/hold2.err"; fail "holder (credentials file) not ready"; }
grep -qaF -- "$SK" /proc/$pid/environ && fail "control: the secret must not come from the environment here"
gcore -o "$TMP/core2" "$pid" >/dev/null 2>&1 || fail "gcore failed"
core=$TMP/core2.$pid
grep -qa 'arn:aws:kms:eu-west-1:111122223333:key/' "$core" || fail "control string not in the core: dump unusable"
"$PY" - "$core" "$SK" other-secret-xyz <<'PY' || fail "the credentials file's secret is in the core dump"
import sys
core = open(sys.argv[1], "rb").read()
bad = ["%s at offset %d" % (n, core.index(n.encode())) for n in sys.argv[2:] if n.encode() in core]
print("core: %d MiB searched; %s" % (len(core) >> 20, "; ".join(bad) if bad else "no secret found"))
sys.exit(1 if bad else 0)
PY
kill "$pid"
cat "$TMP/hold2.err" >>"$TMP/hold.err"

echo "== no secret in debug logs"
"$VOLKEY" --debug doctor --key aws-kms:alias/vol >"$TMP/doc.out" 2>"$TMP/doc.err" || true
cat "$TMP/wrap.err" "$TMP/hold.err" "$TMP/doc.err" >"$TMP/all.log"
grep -c . "$TMP/all.log" >/dev/null || true
for needle in "$pt_b64" "$pt_hex" "$SK"; do
	grep -qF -- "$needle" "$TMP/all.log" "$TMP/doc.out" && fail "a secret reached a log"
done
grep -q 'debug' "$TMP/all.log" || echo "(no debug lines were emitted)"
echo "secret hygiene ok"
