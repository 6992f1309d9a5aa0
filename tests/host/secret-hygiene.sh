#!/bin/bash
# Secrets stay in the secret allocator: the core of a process holding an
# unwrapped secret (after its KMS client is gone) contains neither the secret nor
# its base64, nor the AWS secret key; the environment no longer holds the AWS
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
"$PY" - "$core" "$pt_hex" "$pt_b64" "$SK" <<'PY' || fail "a secret is in the core dump"
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
kill "$pid"

echo "== no secret in debug logs"
"$VOLKEY" --debug doctor --key aws-kms:alias/vol >"$TMP/doc.out" 2>"$TMP/doc.err" || true
cat "$TMP/wrap.err" "$TMP/hold.err" "$TMP/doc.err" >"$TMP/all.log"
grep -c . "$TMP/all.log" >/dev/null || true
for needle in "$pt_b64" "$pt_hex" "$SK"; do
	grep -qF -- "$needle" "$TMP/all.log" "$TMP/doc.out" && fail "a secret reached a log"
done
grep -q 'debug' "$TMP/all.log" || echo "(no debug lines were emitted)"
echo "secret hygiene ok"
