#!/bin/bash
# Trust store cost (issue 21, goal 2): one KMS unwrap over TLS (one full
# handshake) verified against a CA bundle of every system root plus the test CA
# ([kms] ca_file, as a bundle is used) against a hashed directory of the same
# certificates ([kms] ca_path, what volkey uses by default where the system
# keeps one). Alternating runs, medians of REPS (15): wall time and peak RSS of
# the process. Prints the numbers and a "GOAL 2" line; fails only if a run fails.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
export VOLKEY=$src/${BUILD:-build}/volkey VOLKEY_SRC=$src
source "$src/tests/host/lib.bash"
REPS=${REPS:-15}
kms_config "$TMP/kms.json"
test_ca_and_server
start_kms T --config "$TMP/kms.json" --tls-cert "$TMP/srv.pem" --tls-key "$TMP/srv.key"
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
unset AWS_CA_BUNDLE
# The same certificates both ways: the system's roots and the test CA.
mkdir "$TMP/dir"
n=0
for f in /etc/ssl/certs/*.pem; do cp -L "$f" "$TMP/dir/" && n=$((n + 1)); done
cp "$TMP/ca.pem" "$TMP/dir/volkey-bench-ca.pem"
openssl rehash "$TMP/dir"
cat "$TMP"/dir/*.pem >"$TMP/bundle.pem"
printf '[kms]\nendpoint = %s\nca_file = %s\n' "$KMS_URL_T" "$TMP/bundle.pem" >"$TMP/file.conf"
printf '[kms]\nendpoint = %s\nca_path = %s\n' "$KMS_URL_T" "$TMP/dir" >"$TMP/dir.conf"
VOLKEY_CONFIG=$TMP/file.conf "$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/blob" >/dev/null 2>&1 || fail "wrap"

# one CONF: "wall_ms rss_kib" of one unwrap
one() {
	local t0 rss
	t0=$EPOCHREALTIME
	rss=$(VOLKEY_CONFIG=$1 /usr/bin/time -f %M "$VK" unwrap aws-kms:alias/vol "$UUID" "$TMP/blob" 2>&1 >/dev/null | tail -n1) ||
		fail "unwrap with $1"
	echo "$(awk "BEGIN{printf \"%.2f\", ($EPOCHREALTIME - $t0) * 1000}") $rss"
}
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$TMP/file.txt"; : >"$TMP/dir.txt"
for _ in $(seq 1 "$REPS"); do
	one "$TMP/file.conf" >>"$TMP/file.txt"
	one "$TMP/dir.conf" >>"$TMP/dir.txt"
done
fw=$(cut -d' ' -f1 "$TMP/file.txt" | med) fr=$(cut -d' ' -f2 "$TMP/file.txt" | med)
dw=$(cut -d' ' -f1 "$TMP/dir.txt" | med) dr=$(cut -d' ' -f2 "$TMP/dir.txt" | med)
echo "trust store benchmark (one unwrap over TLS, $((n + 1)) certificates, $REPS alternating runs, medians):"
printf '  %-40s %8s ms %8.1f MiB\n' "bundle ([kms] ca_file)" "$fw" "$(awk "BEGIN{print $fr / 1024}")" \
	"hashed directory ([kms] ca_path)" "$dw" "$(awk "BEGIN{print $dr / 1024}")"
held=$(awk "BEGIN{print ($dw <= $fw && $dr <= $fr) ? \"held\" : \"not held\"}")
echo "GOAL 2 trust store: one unwrap, hashed directory against bundle: $dw ms, $(awk "BEGIN{printf \"%.1f\", $dr / 1024}") MiB against $fw ms, $(awk "BEGIN{printf \"%.1f\", $fr / 1024}") MiB (goal: less of both) $held"
