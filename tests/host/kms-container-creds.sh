#!/bin/bash
# Container credentials (ECS/EKS style): AWS_CONTAINER_CREDENTIALS_FULL_URI with
# an authorization token from a file; a wrong token is refused; a non-loopback
# http URI is refused before any request.
source "$(dirname "$0")/lib.bash"
kms_config "$TMP/kms.json"
start_kms A --config "$TMP/kms.json"
printf 'ctr-token-42\n' >"$TMP/token"
"$PY" - "$TMP/ctr.port" "$TMP/ctr.log" <<'PY' &
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        ok = self.headers.get("Authorization") == "ctr-token-42" and self.path == "/v2/credentials/abc"
        open(sys.argv[2], "a").write("%s %s\n" % (self.path, "ok" if ok else "denied"))
        body = json.dumps({"AccessKeyId": "AKIDTOKEN", "SecretAccessKey": "tok-secret", "Token": "tok-session-1",
                           "Expiration": "2099-01-01T00:00:00Z"}).encode() if ok else b'{"code":"denied"}'
        self.send_response(200 if ok else 403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
on_exit "kill $! 2>/dev/null"
for _ in $(seq 1 100); do [[ -s $TMP/ctr.port ]] && break; sleep 0.05; done
export AWS_REGION=eu-west-1 AWS_ENDPOINT_URL_KMS=$KMS_URL_A
export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$(cat "$TMP/ctr.port")/v2/credentials/abc
AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$TMP/token expect_exit 0 "$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/b"
assert_grep '^cred_source=container'
grep -q '"access_key": "AKIDTOKEN"' "$KMS_LOG_A" || fail "KMS did not see the container credentials"
AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong expect_exit 2 "$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/b"
assert_grep 'container credentials at .*: HTTP 403'
n=$(wc -l <"$TMP/ctr.log")
AWS_CONTAINER_CREDENTIALS_FULL_URI=http://198.51.100.7/creds expect_exit 1 "$VK" wrap aws-kms:alias/vol "$UUID" "$TMP/b"
assert_grep 'container credentials URI http://198.51.100.7/creds refused: plain http only to a loopback host or the ECS/EKS credential address'
[[ $(wc -l <"$TMP/ctr.log") -eq $n ]] || fail "a request was made"
echo "container credentials ok"
