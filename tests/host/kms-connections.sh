#!/bin/bash
# One full TLS handshake per KMS endpoint per process: eight workers (threads,
# each with its own KMS client, as volkeyd's) unwrapping at once make one full
# handshake, the connections they add resume its TLS session, and a connection
# the server closed is replaced by a resumed one; with sharing off (the control)
# each worker makes its own. The trust store: [kms] ca_path (a hashed directory)
# verifies, a directory without the issuer is refused, and with nothing
# configured the system's hashed directory is what volkey trusts.
source "$(dirname "$0")/lib.bash"
kms_config "$TMP/kms.json"
test_ca_and_server
# An idle connection is closed after 1 s: the reconnect case below.
start_kms T --config "$TMP/kms.json" --tls-cert "$TMP/srv.pem" --tls-key "$TMP/srv.key" --idle-timeout 1
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
printf '[kms]\nendpoint = %s\nca_file = %s\n' "$KMS_URL_T" "$TMP/ca.pem" >"$TMP/file.conf"
export VOLKEY_CONFIG=$TMP/file.conf
PAR=$VOLKEY_SRC/${BUILD:-build}/tests/progs/kms-par
stats() { curl -sf --cacert "$TMP/ca.pem" "$KMS_URL_T/_volkey/stats"; }

# par NAME ARGS...: runs kms-par (a wrap phase on one client, then the
# workers' unwraps), counting from the double what the whole process did; sets
# full, resumed, conns, dec (the stats request's own full handshake and
# connection are not counted).
par() {
	local name=$1 s0 s1; shift
	mkfifo "$TMP/$name.go"
	s0=$(stats)
	"$PAR" "$@" <"$TMP/$name.go" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	local pid=$!
	exec 9>"$TMP/$name.go"
	for _ in $(seq 1 200); do grep -q '^phase=unwrap' "$TMP/$name.out" && break; sleep 0.05; done
	grep -q '^phase=unwrap' "$TMP/$name.out" || { cat "$TMP/$name.err"; fail "$name: kms-par did not wrap"; }
	# the server closes the wrap phase's connection (idle) before the unwraps
	sleep 1.5
	echo go >&9
	exec 9>&-
	wait "$pid" || { cat "$TMP/$name.err"; fail "$name: kms-par failed"; }
	s1=$(stats)
	read -r full resumed conns dec <<<"$("$PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2])
d=lambda k: b[k]-a[k]
print(d("tls_full")-1, d("tls_resumed"), d("connections")-1, b["calls"].get("Decrypt",0)-a["calls"].get("Decrypt",0))' "$s0" "$s1")"
	echo "  $name: Decrypt $dec, connections $conns, full handshakes $full, resumed $resumed ($(tr '\n' ' ' <"$TMP/$name.out"))"
}

echo "== 8 workers unwrap at once, starting cold (as volkeyd at boot): one full handshake"
par shared aws-kms:alias/vol 8
[[ $dec -eq 8 ]] || fail "8 unwraps should be 8 Decrypt calls, saw $dec"
# (the wrap phase's own connection is one more full handshake, not shared).
# One full handshake is the design; about one run in four has a second: with
# several resumptions of one session in flight, one now and then is refused
# (libcurl 7.88, OpenSSL 3.0; docs/agent.md). Without sharing: 8 (below).
unwrap_full=$((full - 1))
[[ $unwrap_full -ge 1 && $unwrap_full -le 2 ]] || fail "the unwraps made $unwrap_full full TLS handshakes; want 1 (2 at worst)"
[[ $conns -ge 3 && $resumed -eq $((conns - 1 - unwrap_full)) ]] ||
	fail "$conns connections, $resumed resumed: every other unwrap connection should resume its TLS session"

echo "== three unwraps 1.5 s apart (the server closes idle connections after 1 s): each reconnect resumes"
par reconnect aws-kms:alias/vol 1 3 1500
[[ $dec -eq 3 ]] || fail "3 unwraps should be 3 Decrypt calls, saw $dec"
[[ $conns -eq 4 ]] || fail "want 4 connections (the wrap's and one per unwrap), saw $conns"
[[ $full -eq 2 && $resumed -eq 2 ]] || fail "reconnecting: $full full and $resumed resumed handshakes; want 2 (the wrap's, the first unwrap's) and 2"

echo "== control: sharing off, every worker's connection is a full handshake"
par alone --no-share aws-kms:alias/vol 8
[[ $full -eq 9 && $conns -eq 9 ]] || fail "without sharing: want 9 full handshakes on 9 connections, saw $full on $conns"

echo "== the trust store"
mkdir "$TMP/hashed" "$TMP/other"
cp "$TMP/ca.pem" "$TMP/hashed/test-ca.pem"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout "$TMP/o.key" -out "$TMP/other/o.pem" 2>/dev/null
openssl rehash "$TMP/hashed" "$TMP/other"
ls "$TMP/hashed" | grep -qE '^[0-9a-f]{8}\.0$' || fail "openssl rehash made no hashed link"
printf '[kms]\nendpoint = %s\nca_path = %s\n' "$KMS_URL_T" "$TMP/hashed" >"$TMP/dir.conf"
VOLKEY_CONFIG=$TMP/dir.conf VOLKEY_LOG_LEVEL=debug expect_exit 0 "$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/b1"
assert_grep "trusts directory $TMP/hashed"
printf '[kms]\nendpoint = %s\nca_path = %s\n' "$KMS_URL_T" "$TMP/other" >"$TMP/other.conf"
VOLKEY_CONFIG=$TMP/other.conf expect_exit 2 "$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/b2"
assert_grep "TLS certificate of $KMS_URL_T not trusted"
printf '[kms]\nendpoint = %s\nca_path = %s\n' "$KMS_URL_T" "$TMP/no-such-dir" >"$TMP/bad.conf"
VOLKEY_CONFIG=$TMP/bad.conf expect_exit 1 "$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/b4"
assert_grep "\\[kms\\] ca_path $TMP/no-such-dir is not a directory"
# Nothing configured: the system's hashed directory (which does not hold the test CA).
printf '[kms]\nendpoint = %s\n' "$KMS_URL_T" >"$TMP/none.conf"
if compgen -G "/etc/ssl/certs/[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].0" >/dev/null; then
	VOLKEY_CONFIG=$TMP/none.conf VOLKEY_LOG_LEVEL=debug expect_exit 2 env -u AWS_CA_BUNDLE "$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/b3"
	assert_grep "trusts directory /etc/ssl/certs"
else
	fail "/etc/ssl/certs has no hashed certificates (ca-certificates not installed?)"
fi
echo "kms connections ok"
