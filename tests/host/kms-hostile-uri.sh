#!/bin/bash
# A LUKS2 token is written by whoever had the disk: what it names must decide
# nothing about where traffic goes. A key ARN whose region smuggles a host
# ("x@127.0.0.1#") is refused before any connection (a listener on
# 127.0.0.1:443 sees none); so are bad regions from AWS_REGION; endpoint URLs are
# parsed, not prefix-matched (userinfo and look-alike hosts refused, for KMS and
# for the container-credentials endpoint); and [kms] allowed_accounts /
# allowed_keys keep a token naming another account's key from being tried.
source "$(dirname "$0")/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
kms_config "$TMP/kms.json"
start_kms A --config "$TMP/kms.json"
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KMS AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
printf '[kms]\nendpoint = %s\nretry_base_ms = 50\nconnect_timeout_ms = 500\n' "$KMS_URL_A" >"$TMP/ok.conf"
export VOLKEY_CONFIG=$TMP/ok.conf
L=$KMS_LOG_A
d=$(new_loop d 32M)
"$VOLKEY" format "$d" --key aws-kms:alias/vol --yes >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "format"; }
set_uri() { set_token_uri "$d" "$1"; }
one_line() { [[ $(wc -l <"$TMP/out") -eq 1 ]] || { cat "$TMP/out"; fail "not a one-line error"; }; }
expect_exit 0 "$VOLKEY" open --test "$d"

echo "== a listener on 127.0.0.1:443 records every connection"
"$PY" - "$TMP/conns" "$TMP/l443.ready" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 443)); s.listen(16)
open(sys.argv[2], "w").close()
while True:
    c, a = s.accept()
    with open(sys.argv[1], "a") as f: f.write("connection from %s:%d\n" % a)
    c.close()
PY
lpid=$!
on_exit "kill $lpid 2>/dev/null; wait $lpid 2>/dev/null"
for i in $(seq 1 100); do [[ -e $TMP/l443.ready ]] && break; sleep 0.05; done
[[ -e $TMP/l443.ready ]] || fail "cannot listen on 127.0.0.1:443"
: >"$TMP/conns"
: >"$TMP/noep.conf"
# the listener works: a connection to it is seen (so "no connection" below means something)
curl -s -m 2 https://127.0.0.1/ >/dev/null 2>&1 || true
sleep 0.2
[[ $(wc -l <"$TMP/conns") -eq 1 ]] || fail "the listener did not see a test connection"
: >"$TMP/conns"

echo "== a token whose ARN region names a host: one line, no connection"
for uri in "aws-kms:arn:aws:kms:x@127.0.0.1#:111122223333:key/$KEYID" \
	"aws-kms:arn:aws:kms:127.0.0.1#:111122223333:key/$KEYID" \
	"aws-kms:arn:aws:kms:evil.example#:111122223333:key/$KEYID"; do
	set_uri "$uri"
	VOLKEY_CONFIG=$TMP/noep.conf expect_exit 1 "$VOLKEY" open --test "$d"
	assert_grep "^volkey: error: $d: .*key URI is malformed"
	one_line
done
echo "== AWS_REGION naming a host: one line, no connection"
set_uri "aws-kms:$KEYID"
AWS_REGION='x@127.0.0.1#' VOLKEY_CONFIG=$TMP/noep.conf expect_exit 1 "$VOLKEY" open --test "$d"
assert_grep "AWS_REGION x@127.0.0.1# is not an AWS region name"
one_line
sleep 0.3
[[ ! -s $TMP/conns ]] || { cat "$TMP/conns"; fail "a hostile key URI or region made a connection"; }

echo "== endpoint URLs are parsed: userinfo and look-alike hosts are refused"
for ep in "http://127.0.0.1@evil.example/" "http://localhost.evil.example/" "http://127.0.0.1.evil.example/" \
	"https://user:pw@kms.example/"; do
	printf '[kms]\nendpoint = %s\n' "$ep" >"$TMP/ep.conf"
	VOLKEY_CONFIG=$TMP/ep.conf expect_exit 1 "$VOLKEY" open --test "$d"
	assert_grep "KMS endpoint .* refused"
	one_line
done
for ep in "http://127.0.0.1@evil.example/creds" "http://169.254.170.2.evil.example/creds" \
	"http://localhost.evil.example/creds"; do
	expect_exit 1 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_CONTAINER_CREDENTIALS_FULL_URI="$ep" \
		AWS_EC2_METADATA_DISABLED=true "$VOLKEY" open --test "$d"
	assert_grep "container credentials URI .* refused"
done

echo "== [kms] allowed_accounts and allowed_keys: another account's key is not tried"
set_uri "aws-kms:arn:aws:kms:eu-west-1:111122223333:key/$KEYID"
cp "$TMP/ok.conf" "$TMP/acct.conf"; echo "allowed_accounts = 444455556666, 555566667777" >>"$TMP/acct.conf"
before=$(count_calls "$L" Decrypt)
VOLKEY_CONFIG=$TMP/acct.conf expect_exit 2 "$VOLKEY" open --test "$d"
assert_grep "account 111122223333, which \[kms\] allowed_accounts does not list: not tried"
one_line
[[ $(count_calls "$L" Decrypt) -eq $before ]] || fail "a key outside allowed_accounts was tried"
cp "$TMP/ok.conf" "$TMP/acct.conf"; echo "allowed_accounts = 444455556666 111122223333" >>"$TMP/acct.conf"
VOLKEY_CONFIG=$TMP/acct.conf expect_exit 0 "$VOLKEY" open --test "$d"
cp "$TMP/ok.conf" "$TMP/keys.conf"; echo "allowed_keys = aws-kms:alias/other" >>"$TMP/keys.conf"
VOLKEY_CONFIG=$TMP/keys.conf expect_exit 2 "$VOLKEY" open --test "$d"
assert_grep "not in \[kms\] allowed_keys: not tried"
cp "$TMP/ok.conf" "$TMP/keys.conf"; echo "allowed_keys = arn:aws:kms:eu-west-1:111122223333:key/$KEYID" >>"$TMP/keys.conf"
VOLKEY_CONFIG=$TMP/keys.conf expect_exit 0 "$VOLKEY" open --test "$d"
echo "== a bad account list is a config error naming the line"
cp "$TMP/ok.conf" "$TMP/bad.conf"; echo "allowed_accounts = 1111" >>"$TMP/bad.conf"
VOLKEY_CONFIG=$TMP/bad.conf expect_exit 1 "$VOLKEY" open --test "$d"
assert_grep "line 5"
echo "ok"
