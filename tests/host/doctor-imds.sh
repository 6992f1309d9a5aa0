#!/bin/bash
# doctor's EC2 check against the fake IMDS: IMDSv2 token flow, unreachable
# endpoint bounded in time, and AWS_EC2_METADATA_DISABLED honoured.
source "$(dirname "$0")/lib.bash"
unset AWS_EC2_METADATA_DISABLED  # lib.bash sets it; this test talks to the fake
start_imds --instance-id i-0abc1234def567890 --region ap-southeast-2 --instance-type c6id.xlarge

AWS_EC2_METADATA_SERVICE_ENDPOINT=$IMDS_URL "$VOLKEY" doctor --json >"$TMP/json" 2>"$TMP/err" || true
[[ $(json_get "$TMP/json" 'j["ec2"]["imds"]') == reachable ]] || { cat "$TMP/err"; fail "IMDS not reachable"; }
[[ $(json_get "$TMP/json" 'j["ec2"]["instance_id"]') == i-0abc1234def567890 ]] || fail "instance id"
[[ $(json_get "$TMP/json" 'j["ec2"]["region"]') == ap-southeast-2 ]] || fail "region"
[[ $(json_get "$TMP/json" 'j["ec2"]["instance_type"]') == c6id.xlarge ]] || fail "instance type"
# IMDSv2: one token PUT with a TTL, then GETs that all carried a valid token.
"$PY" - "$IMDS_LOG" <<'PY' || fail "IMDSv2 protocol not followed"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
puts = [r for r in reqs if r["method"] == "PUT"]
gets = [r for r in reqs if r["method"] == "GET"]
assert len(puts) == 1 and puts[0]["ttl"] and not puts[0]["forwarded"], puts
assert len(gets) == 3 and all(r["token_valid"] for r in gets), gets
PY
AWS_EC2_METADATA_SERVICE_ENDPOINT=$IMDS_URL "$VOLKEY" doctor >"$TMP/text" 2>&1 || true
assert_grep '^ec2 +yes: instance i-0abc1234def567890, c6id.xlarge, region ap-southeast-2' "$TMP/text"

# Nothing listens on this port: reported unreachable, quickly.
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start=$(date +%s%N)
AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$port "$VOLKEY" doctor --json >"$TMP/json2" 2>/dev/null || true
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[[ $(json_get "$TMP/json2" 'j["ec2"]["imds"]') == unreachable ]] || fail "closed port not unreachable"
[[ $ms -lt 5000 ]] || fail "unreachable IMDS took ${ms} ms"

# Disabled: no request at all reaches the service.
before=$(wc -l <"$IMDS_LOG")
AWS_EC2_METADATA_DISABLED=true AWS_EC2_METADATA_SERVICE_ENDPOINT=$IMDS_URL "$VOLKEY" doctor --json >"$TMP/json3" 2>/dev/null || true
[[ $(json_get "$TMP/json3" 'j["ec2"]["imds"]') == disabled ]] || fail "not disabled"
[[ $(wc -l <"$IMDS_LOG") -eq $before ]] || fail "IMDS contacted although disabled"

# A non-http endpoint is refused, not contacted.
AWS_EC2_METADATA_SERVICE_ENDPOINT=ftp://127.0.0.1:1 "$VOLKEY" doctor --json >"$TMP/json4" 2>/dev/null || true
[[ $(json_get "$TMP/json4" 'j["ec2"]["imds"]') == unreachable ]] || fail "bad scheme accepted"
assert_grep 'bad endpoint' "$TMP/json4"
echo "doctor IMDS ok (unreachable answered in ${ms} ms)"
