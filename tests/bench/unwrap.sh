#!/bin/bash
# Unwrap cost against the local KMS double over TLS: wall and CPU time per
# unwrap, and the KMS calls and TLS handshakes it takes to unwrap 8 secrets
# through one context (the agent's boot path). Prints numbers; asserts only that
# the run worked. Run: make bench-unwrap (also part of make check).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
export VOLKEY=$src/${BUILD:-build}/volkey VOLKEY_SRC=$src
source "$src/tests/host/lib.bash"
N=${N:-8}
kms_config "$TMP/kms.json"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/k.pem" -out "$TMP/c.pem" 2>/dev/null
start_kms B --config "$TMP/kms.json" --tls-cert "$TMP/c.pem" --tls-key "$TMP/k.pem"
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
export AWS_ENDPOINT_URL_KMS=$KMS_URL_B AWS_CA_BUNDLE=$TMP/c.pem
stats() { curl -sf --cacert "$TMP/c.pem" "$KMS_URL_B/_volkey/stats"; }
bench=$VOLKEY_SRC/${BUILD:-build}/tests/progs/kms-bench
mkfifo "$TMP/go"
"$bench" aws-kms:alias/vol "$N" <"$TMP/go" >"$TMP/bench.out" &
pid=$!
exec 9>"$TMP/go"
for _ in $(seq 1 200); do grep -q '^phase=unwrap' "$TMP/bench.out" && break; sleep 0.05; done
s0=$(stats)
echo go >&9; exec 9>&-
wait "$pid" || fail "kms-bench failed"
s1=$(stats)
out=$(grep -v '^phase=' "$TMP/bench.out")
calls=$("$PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print(b["calls"].get("Decrypt",0)-a["calls"].get("Decrypt",0), b["tls_handshakes"]-a["tls_handshakes"]-1)' "$s0" "$s1")
read -r dec hs <<<"$calls"
echo "unwrap benchmark (KMS double on loopback, TLS, $N secrets, one context):"
echo "$out" | sed 's/^/  /'
echo "  kms_decrypt_calls=$dec"
echo "  tls_handshakes=$hs"
[[ $dec -eq $N ]] || fail "expected $N Decrypt calls, saw $dec"
