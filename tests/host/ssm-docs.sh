#!/bin/bash
# The SSM documents and the Distributor package (docs/ssm.md), without an
# instance: each Command document against the 2.2 schema and volkey's rules
# (every parameter constrained, used only as a single-quoted assignment,
# hostile values refused by the agent's regexp semantics), the validator shown
# to fail on broken copies; the documents run through the agent emulation
# (tests/fakes/ssm_run.py) against a fake volkey: the exit-code mapping, the
# arguments, the inventory file, and the scripts' own checks when the
# patterns are bypassed; the Distributor manifest, its checksums and zips.
source "$(dirname "$0")/lib.bash"
"$PY" -c 'import jsonschema' 2>/dev/null || skip "python3-jsonschema is not installed (make deps)"
[[ ${BUILD:-build} != build-asan ]] || skip "the documents run against a fake volkey: nothing of the ASan build is exercised (checked in the plain tier)"
cd "$VOLKEY_SRC"
V=tools/ssm/validate.py
RUN=tests/fakes/ssm_run.py
DOCS=(tools/ssm/Volkey-Status.json tools/ssm/Volkey-Rotate.json tools/ssm/Volkey-Provision.json)

echo "--- the documents pass"
expect_exit 0 "$PY" "$V" docs "${DOCS[@]}"
assert_grep '^docs: ok'

echo "--- and broken copies do not"
broken() { # NAME DOC PYTHON-STATEMENT (d = the document) EXPECTED-REGEX
	"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); exec(sys.argv[2]); json.dump(d, open(sys.argv[3], "w"))' \
		"$2" "$3" "$TMP/$1.json"
	expect_exit 1 "$PY" "$V" docs "$TMP/$1.json"
	assert_grep "$4"
	echo "  $1: refused ($(head -n1 "$TMP/out" | cut -c1-110))"
}
R=tools/ssm/Volkey-Rotate.json
broken unconstrained "$R" 'del d["parameters"]["OlderThanDays"]["allowedPattern"]' 'OlderThanDays has neither allowedValues nor allowedPattern'
broken open-pattern "$R" 'd["parameters"]["OlderThanDays"]["allowedPattern"] = "^.*$"' 'accepts the hostile value'
broken unanchored "$R" 'd["parameters"]["OlderThanDays"]["allowedPattern"] = "[0-9]{1,5}"' 'not anchored|accepts the hostile value'
broken semicolon "$R" 'd["parameters"]["OlderThanDays"]["allowedPattern"] = "^[0-9; a-z/-]{1,20}$"' "accepts the hostile value '; rm -rf /'"
broken unquoted "$R" 'rc=d["mainSteps"][0]["inputs"]["runCommand"]; rc.append("volkey rotate --older-than {{ OlderThanDays }}")' 'not a single-quoted assignment'
broken double-quoted "$R" 'rc=d["mainSteps"][0]["inputs"]["runCommand"]; i=rc.index("older='"'"'{{ OlderThanDays }}'"'"'"); rc[i]="older=\"{{ OlderThanDays }}\""' 'not a single-quoted assignment'
broken undeclared "$R" 'd["mainSteps"][0]["inputs"]["runCommand"].append("x='"'"'{{ Force }}'"'"'")' 'Force }} is not a declared parameter'
broken unused "$R" 'd["parameters"]["Force"] = {"type": "String", "description": "x", "default": "false", "allowedValues": ["true", "false"]}' 'parameter Force is never used'
broken bad-default "$R" 'd["parameters"]["OlderThanDays"]["default"] = "ninety"' "default 'ninety' is refused"
broken schema-version "$R" 'd["schemaVersion"] = "2.0"' "schema: schemaVersion"
broken no-steps "$R" 'd["mainSteps"] = []' 'schema: mainSteps'
broken bad-type "$R" 'd["parameters"]["DryRun"]["type"] = "Text"' "schema: parameters/DryRun/type"
broken no-runcommand "$R" 'del d["mainSteps"][0]["inputs"]["runCommand"]' "schema: mainSteps/0/inputs"
broken no-precondition "$R" 'del d["mainSteps"][0]["precondition"]' 'no precondition on platformType Linux'
broken windows "$R" 'd["mainSteps"][0]["precondition"]["StringEquals"][1] = "Windows"' 'no precondition on platformType Linux'
broken stray-member "$R" 'd["mainSteps"][0]["inputs"]["shell"] = "bash"' "Additional properties are not allowed \('shell'"
P=tools/ssm/Volkey-Provision.json
broken device-any "$P" 'd["parameters"]["Device"]["allowedPattern"] = "^/dev/[^ ]+$"' 'Device accepts the hostile value'
broken key-file "$P" 'd["parameters"]["KeyUri"]["allowedPattern"] = "^[a-z0-9-]+:[^;]*$"' 'KeyUri accepts the hostile value'

echo "--- Provision offers no force option and never prints a recovery passphrase"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("\n".join(d["mainSteps"][0]["inputs"]["runCommand"]))' "$P" >"$TMP/prov.sh"
assert_grep '^uuid=\$\(volkey format "\$device" --key "\$key" --yes\)' "$TMP/prov.sh"
assert_no_grep '--force|recovery-key' <(grep -v '^#' "$TMP/prov.sh")
[[ $(json_get "$P" 'sorted(j["parameters"])') == "['Device', 'KeyUri']" ]] || fail "Provision's parameters: $(json_get "$P" 'sorted(j["parameters"])')"

echo "--- the runner refuses what the agent (and the service) would"
mkdir -p "$TMP/bin" "$TMP/agent"
cat >"$TMP/bin/volkey" <<'FAKE'
#!/bin/sh
# fake volkey: records its arguments, answers status from a file, exits as told
printf '%s\n' "$*" >>"$FAKE_LOG"
case $1 in
status) [ -n "${FAKE_STATUS_RC:-}" ] && exit "$FAKE_STATUS_RC"; cat "$FAKE_STATUS" ;;
format) echo 6b2d237d-2aa4-400d-ac36-d583efc0b07c ;;
esac
exit "${FAKE_RC:-0}"
FAKE
chmod +x "$TMP/bin/volkey"
: >"$TMP/fake.log"
ssm() { # DOC [runner args...]: the document through the runner, fake volkey first in PATH
	local doc=$1; shift
	"$PY" "$RUN" "$doc" --orchestration "$TMP/orch" --env "PATH=$TMP/bin:/usr/bin:/bin" --env "FAKE_LOG=$TMP/fake.log" \
		--env "FAKE_STATUS=$TMP/status.json" --env "VOLKEY_SSM_AGENT_DIR=$TMP/agent" "$@"
}
hostile=('; touch '"$TMP"'/pwned' '$(touch '"$TMP"'/pwned)' '`touch '"$TMP"'/pwned`' $'0\ntouch '"$TMP"'/pwned'
	"0'; touch $TMP/pwned; '" '{{ssm:/volkey/x}}' '--force')
for h in "${hostile[@]}"; do
	for p in Kind OlderThanDays DryRun ExecutionTimeout; do
		expect_exit 64 ssm "$R" -p Kind=rewrap -p "$p=$h"
	done
	for p in Device KeyUri; do
		expect_exit 64 ssm "$P" -p Device=/dev/nvme1n1 -p KeyUri=aws-kms:alias/vol -p "$p=$h"
	done
	expect_exit 64 ssm tools/ssm/Volkey-Status.json --instance-id i-0123456789abcdef0 -p "WriteInventory=$h"
done
expect_exit 64 ssm "$R" -p Kind=rewrap -p Force=true
assert_grep 'Force is not a parameter'
expect_exit 64 ssm "$R"
assert_grep 'Kind is required'
# A final newline passes a pattern read with Java's or Python's `$`, not Go's (the agent's).
expect_exit 64 ssm "$R" -p Kind=rewrap -p $'OlderThanDays=30\n'
echo "  ${#hostile[@]} hostile values x 7 parameters refused before anything ran"

echo "--- with the patterns bypassed, the scripts' own checks refuse them (but a quote: only the patterns stop that)"
for h in "${hostile[@]}" $'30\n' '30 --dry-run'; do
	[[ $h == *"'"* ]] && continue
	expect_exit 1 ssm "$R" --skip-validation -p Kind=rewrap -p "OlderThanDays=$h"
	assert_grep 'OlderThanDays must be a number'
	expect_exit 1 ssm "$R" --skip-validation -p "Kind=$h"
	# (a trailing "--force" is one quoted argument, a device name that does not exist: exit 4)
	x=1; [[ $h == --force ]] && x=4
	expect_exit $x ssm "$P" --skip-validation -p "Device=/dev/nvme1n1$h" -p KeyUri=aws-kms:alias/vol
	expect_exit $x ssm "$P" --skip-validation -p Device=/dev/nvme1n1 -p "KeyUri=aws-kms:alias/vol$h"
	expect_exit 1 ssm tools/ssm/Volkey-Status.json --skip-validation -p "WriteInventory=$h"
done
[[ ! -e $TMP/pwned ]] || fail "a hostile value ran a command"
[[ ! -s $TMP/fake.log ]] || { cat "$TMP/fake.log"; fail "volkey ran with a refused value"; }
expect_exit 1 ssm "$P" --skip-validation -p Device=/dev/disk/by-id/../../sda -p KeyUri=aws-kms:alias/vol
echo "  nothing ran, nothing was created"

echo "--- Volkey-Rotate: arguments and exit codes"
rot() { : >"$TMP/fake.log"; expect_exit "$1" ssm "$R" --env "FAKE_RC=$2" "${@:3}"; }
rot 0 0 -p Kind=rewrap -p OlderThanDays=30
assert_grep '^rotate: done'
[[ $(cat "$TMP/fake.log") == "rotate --all --rewrap --older-than 30 --json" ]] || fail "argv: $(cat "$TMP/fake.log")"
rot 0 11 -p Kind=secret
assert_grep '^rotate: nothing was due \(no volume.s secret older than 90 days\)'
[[ $(cat "$TMP/fake.log") == "rotate --all --secret --older-than 90 --json" ]] || fail "argv: $(cat "$TMP/fake.log")"
rot 12 12 -p Kind=volume-key -p OlderThanDays=0 -p DryRun=true
assert_grep 'some volumes failed'
[[ $(cat "$TMP/fake.log") == "rotate --all --volume-key --older-than 0 --json --dry-run" ]] || fail "argv: $(cat "$TMP/fake.log")"
rot 6 6 -p Kind=rewrap
assert_grep 'volkey failed \(exit 6\)'
# the deadline: SIGTERM to volkey before the agent's SIGKILL
cat >"$TMP/bin/volkey" <<'FAKE'
#!/bin/sh
trap 'kill $!; echo paused; exit 10' TERM
sleep 30 & wait $!
FAKE
chmod +x "$TMP/bin/volkey"
t=$EPOCHREALTIME
expect_exit 124 ssm "$R" -p Kind=volume-key -p ExecutionTimeout=5
assert_grep 'stopped at the deadline \(3 s\)'
assert_grep '^paused'
echo "  0, 11 -> 0, 12, 6; a 5 s ExecutionTimeout stopped volkey with SIGTERM after $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t}") s (exit 124)"
# the runner's own timeout: the agent's SIGKILL, reported as TimedOut
printf '#!/bin/sh\nexec sleep 30\n' >"$TMP/bin/volkey"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["mainSteps"][0]["inputs"]["timeoutSeconds"]="2"
d["mainSteps"][0]["inputs"]["runCommand"]=[l.replace("timeout --foreground -s TERM \"$deadline\" ", "") for l in d["mainSteps"][0]["inputs"]["runCommand"]]
json.dump(d, open(sys.argv[2], "w"))' "$R" "$TMP/rotate-nodeadline.json"
expect_exit 137 ssm "$TMP/rotate-nodeadline.json" -p Kind=rewrap --result "$TMP/res.json"
[[ $(json_get "$TMP/res.json" 'j[0]["Status"]') == TimedOut ]] || fail "status: $(cat "$TMP/res.json")"

echo "--- Volkey-Status: table, inventory, exit codes"
cat >"$TMP/bin/volkey" <<'FAKE'
#!/bin/sh
printf '%s\n' "$*" >>"$FAKE_LOG"
[ -n "${FAKE_STATUS_RC:-}" ] && { echo "volkey: error: cannot read" >&2; exit "$FAKE_STATUS_RC"; }
cat "$FAKE_STATUS"
FAKE
chmod +x "$TMP/bin/volkey"
cat >"$TMP/status.json" <<'JSON'
{"schema_version": 1, "generated": "2026-01-01T00:00:00Z", "agent": null, "volumes": [
 {"device": "/dev/nvme1n1", "luks_uuid": "6b2d237d-2aa4-400d-ac36-d583efc0b07c", "state": "rotation-due", "state_detail": "secret 120 days old",
  "mapped": true, "key_arns": ["arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "aws-kms:alias/dr"],
  "secret_age_days": 120.44, "last_rewrap": null, "volume_key_rotated": "2025-09-01T00:00:00Z", "volume_key_age_days": 122,
  "last_unlock": {"outcome": "unlocked", "at": "2026-01-01T00:00:00Z", "seconds": 0.8, "detail": "token 0"},
  "tokens": [{"id": 0, "type": "volkey", "key_uri": "aws-kms:alias/vol", "generation": 1}, {"id": 1, "type": "volkey", "key_uri": "aws-kms:alias/dr", "generation": 1}]},
 {"device": "/dev/nvme2n1", "luks_uuid": "0a3c6f2e-1111-4222-8333-944455556666", "state": "failed", "state_detail": "KMS unreachable",
  "mapped": false, "key_arns": [], "secret_age_days": null, "last_rewrap": null, "volume_key_rotated": null, "volume_key_age_days": null,
  "last_unlock": null, "tokens": []}]}
JSON
INV=$TMP/agent/i-0123456789abcdef0/inventory/custom/Volkey.json
expect_exit 0 ssm tools/ssm/Volkey-Status.json --instance-id i-0123456789abcdef0
assert_grep '^/dev/nvme1n1 +rotation-due +120\.4 +- +unlocked +6b2d237d'
assert_grep '^/dev/nvme2n1 +failed '
assert_grep 'inventory: 2 volume\(s\) written'
"$PY" - "$INV" <<'PY' || fail "inventory item"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["SchemaVersion"] == "1.0" and j["TypeName"] == "Custom:Volkey", j
c = j["Content"]
assert len(c) == 2, c
assert all(isinstance(v, str) for e in c for v in e.values()), "a value is not a string"
assert all(len(e) <= 50 and all(1 <= len(k) <= 64 for k in e) for e in c)
a, b = c
assert a["Device"] == "/dev/nvme1n1" and a["LuksUuid"] == "6b2d237d-2aa4-400d-ac36-d583efc0b07c", a
assert a["KeyArns"] == "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab,aws-kms:alias/dr", a
assert a["State"] == "rotation-due" and a["SecretAgeDays"] == "120.4" and a["LastRewrap"] == "" and a["Mapped"] == "true", a
assert a["VolumeKeyRotated"] == "2025-09-01T00:00:00Z" and a["LastUnlock"] == "unlocked" and a["Tokens"] == "2", a
assert b["State"] == "failed" and b["LastUnlock"] == "" and b["KeyArns"] == "" and b["Mapped"] == "false", b
PY
ls -A "$(dirname "$INV")" | grep -vx Volkey.json && fail "a file beside Volkey.json (the agent reads every *.json there)"
echo "  due and failed volumes: exit 0, 2 entries, all values strings"
# an older volkey's array, and no volumes at all
echo '[{"device": "/dev/vdb", "luks_uuid": "f9f6a20e-4a4d-4f61-b2ea-7c031168ea09", "state": "ready", "tokens": [{"id": 1, "type": "volkey", "key_uri": "file:/etc/volkey/kek2"}]}]' >"$TMP/status.json"
expect_exit 0 ssm tools/ssm/Volkey-Status.json --instance-id i-0123456789abcdef0
[[ $(json_get "$INV" 'j["Content"][0]["KeyArns"]') == file:/etc/volkey/kek2 ]] || fail "array form: $(cat "$INV")"
echo '{"schema_version": 1, "generated": "2026-01-01T00:00:00Z", "volumes": [], "agent": null}' >"$TMP/status.json"
expect_exit 0 ssm tools/ssm/Volkey-Status.json --instance-id mi-0123456789abcdef0
assert_grep 'No volkey volumes found'
[[ $(json_get "$TMP/agent/mi-0123456789abcdef0/inventory/custom/Volkey.json" 'j["Content"]') == "[]" ]] ||
	fail "no volumes: the item must still be written (empty), so that old entries go"
expect_exit 0 ssm tools/ssm/Volkey-Status.json --instance-id i-0123456789abcdef1 -p WriteInventory=false
assert_grep 'not written \(WriteInventory=false\)'
[[ ! -e $TMP/agent/i-0123456789abcdef1 ]] || fail "WriteInventory=false wrote"
expect_exit 0 ssm tools/ssm/Volkey-Status.json --instance-id i-0123456789abcdef0 --env "VOLKEY_SSM_AGENT_DIR=$TMP/no-agent"
assert_grep 'does not exist \(no SSM agent here\): not written'
[[ ! -e $TMP/no-agent ]] || fail "made the agent's directory"
expect_exit 10 ssm tools/ssm/Volkey-Status.json --instance-id '../../etc'
assert_grep 'unexpected instance id'
expect_exit 10 ssm tools/ssm/Volkey-Status.json --env FAKE_STATUS_RC=10 --instance-id i-0123456789abcdef0
assert_grep 'volkey status --json failed \(exit 10\)'
# no AWS_SSM_INSTANCE_ID (the agent always sets it): IMDSv2, which the host tier cannot
# reach (the instance tier reads it from the IMDS double): the failure path
expect_exit 10 ssm tools/ssm/Volkey-Status.json
assert_grep 'no AWS_SSM_INSTANCE_ID and IMDS did not answer'
rm -f "$TMP/bin/volkey"
expect_exit 127 ssm tools/ssm/Volkey-Status.json --instance-id i-0123456789abcdef0
assert_grep 'volkey is not installed'
expect_exit 127 ssm "$P" -p Device=/dev/nvme99n9 -p KeyUri=aws-kms:alias/vol
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"$FAKE_LOG"\n' >"$TMP/bin/volkey"; chmod +x "$TMP/bin/volkey"; : >"$TMP/fake.log"
expect_exit 4 ssm "$P" -p Device=/dev/nvme99n9 -p KeyUri=aws-kms:alias/vol
assert_grep '/dev/nvme99n9: no such block device'
[[ ! -s $TMP/fake.log ]] || fail "volkey ran for a missing device"

echo "--- the Distributor package"
mkdir -p "$TMP/debs"
for p in volkey_0.1.0-7_amd64 volkey-initramfs_0.1.0-7_all volkey-dracut_0.1.0-7_all volkey-xts-dkms_0.1.0-7_all volkey_0.1.0-6_amd64; do
	echo "$p" >"$TMP/debs/$p.deb"
done
expect_exit 0 tools/ssm/mkpackage --deb-dir "$TMP/debs" --version 0.1.0-7 --out "$TMP/ssm"
expect_exit 0 "$PY" "$V" manifest "$TMP/ssm"
[[ $(json_get "$TMP/ssm/manifest.json" 'j["packages"]["debian"]["12"]["x86_64"]["file"]') == volkey-debian-12-x86_64.zip ]] || fail "platform entry"
[[ $(json_get "$TMP/ssm/manifest.json" 'j["version"]') == 0.1.0-7 ]] || fail "version"
unzip -Z1 "$TMP/ssm/volkey-debian-12-x86_64.zip" | sort >"$TMP/members"
diff <(printf '%s\n' install.sh uninstall.sh update.sh volkey-dracut_0.1.0-7_all.deb volkey-initramfs_0.1.0-7_all.deb \
	volkey-xts-dkms_0.1.0-7_all.deb volkey_0.1.0-7_amd64.deb | sort) "$TMP/members" || fail "zip members"
ls "$TMP/ssm/documents" | diff - <(printf '%s\n' Volkey-Provision.json Volkey-Rotate.json Volkey-Status.json) || fail "documents/"
sum1=$(sha256sum <"$TMP/ssm/volkey-debian-12-x86_64.zip")
tools/ssm/mkpackage --deb-dir "$TMP/debs" --version 0.1.0-7 --out "$TMP/ssm2" >/dev/null
[[ $(sha256sum <"$TMP/ssm2/volkey-debian-12-x86_64.zip") == "$sum1" ]] || fail "two builds of the same inputs differ"
expect_exit 1 tools/ssm/mkpackage --deb-dir "$TMP/debs" --version 0.1.0-8 --out "$TMP/ssm3"
cp -r "$TMP/ssm" "$TMP/bad"; printf x >>"$TMP/bad/volkey-debian-12-x86_64.zip"
expect_exit 1 "$PY" "$V" manifest "$TMP/bad"
assert_grep 'sha256 differs'
cp -r "$TMP/ssm" "$TMP/bad2"
"$PY" -c 'import json,sys; p=sys.argv[1]; j=json.load(open(p)); j["schemaVersion"]="1.0"; j["packages"]["debian"]["12"]["x86_64"]["file"]="x.tar"; json.dump(j, open(p,"w"))' "$TMP/bad2/manifest.json"
expect_exit 1 "$PY" "$V" manifest "$TMP/bad2"
assert_grep 'schema: schemaVersion'
cp -r "$TMP/ssm" "$TMP/bad3"; (cd "$TMP/bad3" && zip -qd volkey-debian-12-x86_64.zip install.sh)
"$PY" -c 'import json,sys,hashlib; d=sys.argv[1]; j=json.load(open(d+"/manifest.json")); f="volkey-debian-12-x86_64.zip"
j["files"][f]["checksums"]["sha256"]=hashlib.sha256(open(d+"/"+f,"rb").read()).hexdigest(); json.dump(j, open(d+"/manifest.json","w"))' "$TMP/bad3"
expect_exit 1 "$PY" "$V" manifest "$TMP/bad3"
assert_grep 'no install.sh'
for s in tools/ssm/package/*.sh; do sh -n "$s" || fail "$s: syntax"; done
assert_no_grep 'purge|--force-(depends|overwrite|all)|rm -r' <(grep -hv '^ *#' tools/ssm/package/*.sh)
echo "  manifest, checksums, members, reproducible; broken copies refused"
echo "ssm-docs ok"
