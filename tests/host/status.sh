#!/bin/bash
# The status document and the metrics: `volkey status --json` validates against
# docs/status-schema.json on real volumes (KMS and file keys) in every state the
# host can make (locked, rotation-due, key-unreachable, failed from the agent's
# record, rekey-pending, format-interrupted); the [rotation] policy moves a
# volume in and out of rotation-due; `rotate --all --dry-run` changes nothing;
# `volkey status --prometheus` passes `promtool check metrics` and its values
# are the document's; the KMS double's CloudTrail-shaped record of each call
# names the volume's LUKS UUID in its encryption context.
source "$(dirname "$0")/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
command -v promtool >/dev/null || skip "promtool missing (Debian package prometheus: make deps)"
"$PY" -c 'import jsonschema' 2>/dev/null || skip "python3-jsonschema missing (make deps)"
SCHEMA=$VOLKEY_SRC/docs/status-schema.json
KEYID=1234abcd-12ab-34cd-56ef-1234567890ab
kms_config "$TMP/kms.json"
start_kms A --config "$TMP/kms.json" --cloudtrail "$TMP/trail.jsonl"
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
conf() { # conf [LINES...]: volkey.conf with the KMS double, the agent record in $TMP, and LINES
	printf '[kms]\nendpoint = %s\n[volkey]\nstatus_file = %s\n' "$KMS_URL_A" "$TMP/agent.json" >"$TMP/volkey.conf"
	local l; for l in "$@"; do printf '%s\n' "$l" >>"$TMP/volkey.conf"; done
}
conf
export VOLKEY_CONFIG=$TMP/volkey.conf
k1=$(new_kek k1)
a=$(new_loop a 32M) b=$(new_loop b 32M)
expect_exit 0 "$VOLKEY" format "$a" --key aws-kms:alias/vol --yes
expect_exit 0 "$VOLKEY" format "$b" --key "$k1" --yes
ua=$(cryptsetup luksUUID "$a") ub=$(cryptsetup luksUUID "$b")

# doc FILE: the status document of a and b, validated against the schema; the
# other volkey volumes a host may have are dropped from it.
doc() {
	"$VOLKEY" status --json >"$TMP/all.json" || fail "status --json"
	"$PY" - "$SCHEMA" "$TMP/all.json" "$a" "$b" >"$1" <<'PY' || { cat "$TMP/all.json" >&2; fail "status --json does not validate"; }
import json, sys, jsonschema
schema, doc = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
jsonschema.Draft202012Validator.check_schema(schema)
jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
doc["volumes"] = [v for v in doc["volumes"] if v["device"] in sys.argv[3:5]]
assert len(doc["volumes"]) == 2, [v["device"] for v in doc["volumes"]]
print(json.dumps(doc))
PY
}
vol() { json_get "$TMP/doc.json" "[v for v in j['volumes'] if v['device'] == '$1'][0]$2"; }
# the time N days ago in the tokens' format
ago() { date -u -d "@$(( $(date +%s) - $1 * 86400 ))" +%Y-%m-%dT%H:%M:%SZ; }
set_token_field() { # DEV FIELD VALUE (token 0)
	cryptsetup --disable-external-tokens token export --token-id 0 "$1" >"$TMP/tok.json" || fail "token export"
	"$PY" -c 'import json,sys; t=json.load(open(sys.argv[1])); t[sys.argv[2]]=sys.argv[3]; print(json.dumps(t))' \
		"$TMP/tok.json" "$2" "$3" >"$TMP/tok.new.json"
	cryptsetup --disable-external-tokens token import --token-id 0 --token-replace --json-file "$TMP/tok.new.json" "$1" ||
		fail "token import"
}

echo "== fresh volumes: locked, nothing due, the KMS key's ARN; the schema holds"
doc "$TMP/doc.json"
[[ $(vol "$a" '["state"]') == locked && $(vol "$b" '["state"]') == locked ]] || fail "fresh volumes are not locked"
[[ $(vol "$a" '["key_arns"]') == "['arn:aws:kms:eu-west-1:111122223333:key/$KEYID']" ]] || fail "key_arns: $(vol "$a" '["key_arns"]')"
[[ $(vol "$a" '["tokens"][0]["key_arn"]') == "arn:aws:kms:eu-west-1:111122223333:key/$KEYID" ]] || fail "token key_arn"
[[ $(vol "$b" '["key_arns"]') == "['$k1']" ]] || fail "file key in key_arns"
[[ $(vol "$a" '["secret_age_days"]') == 0.0 && $(vol "$a" '["last_rewrap"]') == None ]] || fail "fresh ages"
[[ $(json_get "$TMP/doc.json" 'j["agent"]') == None ]] || fail "agent without a record"

echo "== a secret 400 days old: rotation-due (secret) under the default 365; [rotation] moves it"
set_token_field "$b" created "$(ago 400)"
doc "$TMP/doc.json"
[[ $(vol "$b" '["state"]') == rotation-due && $(vol "$b" '["rotation_due"]') == "['secret']" ]] ||
	fail "400-day secret: $(vol "$b" '["state"]') $(vol "$b" '["rotation_due"]')"
[[ $(vol "$b" '["secret_age_days"]') == 400.0 ]] || fail "secret_age_days $(vol "$b" '["secret_age_days"]')"
vol "$b" '["state_detail"]' | grep -q 'secret is 400 days old (limit 365)' || fail "state_detail: $(vol "$b" '["state_detail"]')"
[[ $(vol "$a" '["state"]') == locked ]] || fail "the other volume became due"
conf '[rotation]' 'secret_max_age_days = 0' 'volume_key_max_age_days = 399'
doc "$TMP/doc.json"
[[ $(vol "$b" '["rotation_due"]') == "['volume-key']" ]] || fail "volume key due at 399 days: $(vol "$b" '["rotation_due"]')"
conf '[rotation]' 'secret_max_age_days = 0'
doc "$TMP/doc.json"
[[ $(vol "$b" '["state"]') == locked ]] || fail "secret_max_age_days = 0 still due"
conf '[rotation]' 'secret_max_age_days = nine'
expect_exit 1 "$VOLKEY" status --json
assert_grep "volkey.conf: line 6"
conf

echo "== rotate --all --dry-run: reports, changes nothing"
before=$(dev_sum "$b")
# --all looks at every volkey volume of the host: not with someone else's there.
others=$(json_get "$TMP/all.json" '" ".join(v["device"] for v in j["volumes"] if v["device"] not in ("'"$a"'", "'"$b"'"))')
if [[ -n $others ]]; then
	echo "   skipped: other volkey volumes on this host ($others)"
else
expect_exit 0 "$VOLKEY" rotate --all --secret --older-than 100 --dry-run --json
grep "\"device\":\"$b\"" "$TMP/out" | grep -q '"outcome":"due"' || fail "dry run: b not due"
grep "\"device\":\"$a\"" "$TMP/out" | grep -q '"outcome":"not-due"' || fail "dry run: a due"
[[ $(dev_sum "$b") == "$before" ]] || fail "a dry run changed the device"
expect_exit 11 "$VOLKEY" rotate --all --secret --older-than 1000 --dry-run
fi
expect_exit 1 "$VOLKEY" rotate "$b" --secret --dry-run
assert_grep 'dry-run goes with --all'

echo "== the agent's record: a transient failure is key-unreachable, a refusal failed"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat >"$TMP/agent.json" <<JSON
{"agent": {"pid": $$, "ready": true, "started": "$now",
  "kms": {"Decrypt": {"requests": 5, "errors": {"ThrottlingException": 2, "unreachable": 1}}}},
 "devices": [{"device": "$a", "luks_uuid": "$ua", "state": "failed", "detail": "KMS unreachable", "seconds": 2.25,
              "at": "$now", "exit_code": 6, "transient": true},
             {"device": "/dev/elsewhere", "luks_uuid": "$ub", "state": "failed", "detail": "AccessDeniedException",
              "seconds": 0.5, "at": "$now", "exit_code": 2, "transient": false}]}
JSON
doc "$TMP/doc.json"
[[ $(vol "$a" '["state"]') == key-unreachable ]] || fail "transient failure: $(vol "$a" '["state"]')"
[[ $(vol "$b" '["state"]') == failed ]] || fail "refusal (matched by LUKS UUID): $(vol "$b" '["state"]')"
[[ $(vol "$a" '["last_unlock"]["seconds"]') == 2.25 ]] || fail "last_unlock seconds"
[[ $(json_get "$TMP/doc.json" 'j["agent"]["running"]') == False ]] || fail "this shell is not volkeyd"
[[ $(json_get "$TMP/doc.json" 'j["agent"]["kms"]["Decrypt"]["requests"]') == 5 ]] || fail "agent kms counters"

echo "== status --prometheus: promtool passes; the values are the document's"
expect_exit 0 "$VOLKEY" status --prometheus
cp "$TMP/out" "$TMP/m.prom"
promtool check metrics <"$TMP/m.prom" >"$TMP/promtool.out" 2>&1 || { cat "$TMP/promtool.out"; fail "promtool check metrics"; }
m() { grep -v '^#' "$TMP/m.prom" | grep -F "$1" | awk '{print $NF}'; }
[[ $(m "volkey_volume_state{device=\"$a\",luks_uuid=\"$ua\",state=\"key-unreachable\"}") == 1 ]] || fail "state metric of a"
[[ $(m "volkey_volume_state{device=\"$a\",luks_uuid=\"$ua\",state=\"locked\"}") == 0 ]] || fail "a is not also locked"
[[ $(m "volkey_volume_state{device=\"$b\",luks_uuid=\"$ub\",state=\"failed\"}") == 1 ]] || fail "state metric of b"
[[ $(grep -c "^volkey_volume_state{device=\"$b\"" "$TMP/m.prom") == 8 ]] || fail "not one series per state"
created=$(cryptsetup --disable-external-tokens token export --token-id 0 "$b" | json_get /dev/stdin 'j["created"]')
[[ $(m "volkey_secret_created_timestamp_seconds{device=\"$b\",luks_uuid=\"$ub\",token=\"0\"}") == "$(date -u -d "$created" +%s)" ]] ||
	fail "secret creation time"
[[ $(m "volkey_unlock_duration_seconds{device=\"$a\",luks_uuid=\"$ua\"}") == 2.25 ]] || fail "unlock duration"
[[ $(m "volkey_unlock_success{device=\"$a\",luks_uuid=\"$ua\"}") == 0 ]] || fail "unlock success"
[[ $(m 'volkey_kms_requests_total{operation="Decrypt"}') == 5 ]] || fail "KMS requests"
[[ $(m 'volkey_kms_errors_total{operation="Decrypt",error="ThrottlingException"}') == 2 ]] || fail "KMS errors"
[[ $(m "volkey_token_info{device=\"$a\",luks_uuid=\"$ua\",token=\"0\",backend=\"aws-kms\",key=\"arn:aws:kms:eu-west-1:111122223333:key/$KEYID\"}") == 1 ]] ||
	fail "token_info with the key ARN"
expect_exit 1 "$VOLKEY" status --json --prometheus
# the alert rules shipped for these metrics: valid, and each fires (and only
# then) on the series of its unit test
promtool check rules "$VOLKEY_SRC/tools/prometheus/volkey-alerts.yml" >"$TMP/rules.out" 2>&1 || { cat "$TMP/rules.out"; fail "promtool check rules"; }
promtool test rules "$VOLKEY_SRC/tools/prometheus/volkey-alerts.test.yml" >"$TMP/rules.out" 2>&1 || { cat "$TMP/rules.out"; fail "promtool test rules"; }
# every metric an alert names is one volkey writes (or node_exporter's own)
for name in $(grep -o 'volkey_[a-z_]*' "$VOLKEY_SRC/tools/prometheus/volkey-alerts.yml" | sort -u); do
	grep -q "^# TYPE $name " "$TMP/m.prom" || fail "an alert uses $name, which volkey does not write"
done

echo "== rekey-pending and format-interrupted"
c=$(new_loop c 32M)
expect_exit 0 "$VOLKEY" format "$c" --key "$k1" --image --yes
"$VOLKEY" status "$c" --json >"$TMP/c.json" || fail "status c"
"$PY" -c 'import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])), cls=jsonschema.Draft202012Validator)' \
	"$SCHEMA" "$TMP/c.json" || fail "status DEVICE --json does not validate"
[[ $(json_get "$TMP/c.json" 'j["volumes"][0]["state"]') == rekey-pending ]] || fail "image: $(json_get "$TMP/c.json" 'j["volumes"][0]["state"]')"
d=$(new_loop d 32M)
rc=0; VOLKEY_TEST_CRASH_AT=format-header "$VOLKEY" format "$d" --key "$k1" --yes >/dev/null 2>&1 || rc=$?
[[ $rc == 137 ]] || fail "format not killed ($rc)"
"$VOLKEY" status "$d" --json >"$TMP/d.json" || fail "status d"
[[ $(json_get "$TMP/d.json" 'j["volumes"][0]["state"]') == format-interrupted ]] || fail "half format: $(json_get "$TMP/d.json" 'j["volumes"][0]["state"]')"

echo "== audit: the KMS double's CloudTrail-shaped records name the volume"
expect_exit 0 "$VOLKEY" open --test "$a"
"$PY" - "$TMP/trail.jsonl" "$ua" ${TRAIL_SAMPLE:-} <<'PY' || fail "CloudTrail record"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
dec = [r for r in recs if r["eventName"] == "Decrypt" and
       r["requestParameters"].get("encryptionContext", {}).get("volkey:luks-uuid") == sys.argv[2]]
assert dec, "no Decrypt naming the volume"
r = dec[-1]
assert r["eventSource"] == "kms.amazonaws.com" and r["userIdentity"]["accessKeyId"] == "AKIDTEST1", r
assert r["userAgent"].startswith("volkey/"), r["userAgent"]
assert r["resources"][0]["ARN"].startswith("arn:aws:kms:eu-west-1:111122223333:key/"), r["resources"]
assert "errorCode" not in r
print("   " + json.dumps(r)[:300])
if len(sys.argv) > 3: json.dump(r, open(sys.argv[3], "w"), indent=2)
PY
echo "status ok"
