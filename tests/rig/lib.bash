# Helpers for rig scenarios (sourced inside the guest). A scenario exits 0 on
# success and anything else on failure; its output comes back to the host.
set -euo pipefail
: "${RIG_SRC:?run through tests/rig/run}"
BUILD=${BUILD:-build}
VOLKEY=$RIG_SRC/$BUILD/volkey
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/rig.XXXXXX)
_cleanups=()
on_exit() { _cleanups+=("$1"); }
_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[i]}" || true; done
}
trap _run_cleanups EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
assert_grep() { grep -qE -- "$1" "$2" || { cat "$2" >&2; fail "no match for /$1/ in $2"; }; }
json_get() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# volume_json DEVICE: the volume's object of `volkey status DEVICE --json` (the
# status document holds it as volumes[0]); fails with status.
volume_json() {
	"$VOLKEY" status "$1" --json >"$TMP/.status-doc.json" || return
	"$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["volumes"][0]))' "$TMP/.status-doc.json"
}

# nvme_by_serial SERIAL: the namespace node (/dev/nvmeXn1) of the emulated controller
# with that serial (rig-args --nvme PATH,serial=S); waits for the driver first.
nvme_by_serial() {
	local d i
	for i in $(seq 1 50); do
		for d in /sys/class/nvme/nvme*; do
			[[ -e $d/serial && $(tr -d ' ' <"$d/serial") == "$1" && -b /dev/$(basename "$d")n1 ]] &&
				{ echo "/dev/$(basename "$d")n1"; return 0; }
		done
		sleep 0.1
	done
	fail "no NVMe controller with serial $1"
}

# start_guest_kms [--tls] [kms.py options...]: the KMS double on the guest's loopback with one key
# (alias/vol) and static credentials exported to the environment; sets KMS (its
# URL), KMS_LOG and, with --tls, KMS_CA (a self-signed certificate for 127.0.0.1).
start_guest_kms() {
	local args=() scheme=http pid
	ip link set lo up
	cat >"$TMP/kms.json" <<JSON
{"region": "eu-west-1", "account": "111122223333", "seed": "volkey-rig-seed",
 "credentials": [{"access_key": "AKIDTEST1", "secret_key": "sekrit/abc+def", "session_token": null}],
 "keys": [{"id": "1234abcd-12ab-34cd-56ef-1234567890ab", "aliases": ["alias/vol"], "state": "Enabled"}]}
JSON
	if [[ ${1:-} == --tls ]]; then
		shift
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
			-addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/kms-key.pem" -out "$TMP/kms-ca.pem" 2>/dev/null
		args=(--tls-cert "$TMP/kms-ca.pem" --tls-key "$TMP/kms-key.pem")
		scheme=https
		KMS_CA=$TMP/kms-ca.pem
	fi
	KMS_LOG=$TMP/kms.log
	"$PY" "$RIG_SRC/tests/fakes/kms.py" --port-file "$TMP/kms.port" --log "$KMS_LOG" --config "$TMP/kms.json" \
		"${args[@]}" "$@" 2>"$TMP/kms.err" &
	pid=$!
	on_exit "kill $pid 2>/dev/null"
	for _ in $(seq 1 100); do [[ -s $TMP/kms.port ]] && break; sleep 0.1; done
	[[ -s $TMP/kms.port ]] || { cat "$TMP/kms.err"; fail "KMS double did not start"; }
	KMS=$scheme://127.0.0.1:$(cat "$TMP/kms.port")
	export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
	export AWS_EC2_METADATA_DISABLED=true
}

# agent_field DEVICE FIELD: one field of volkeyd's record of DEVICE (empty if none).
agent_field() {
	json_get /run/volkey/status.json "([d.get('$2', '') for d in j['devices'] if d['device'] == '$1'] + [''])[0]" 2>/dev/null
}
agent_state() { agent_field "$1" state; }

# agent_backtraces BIN: the backtraces of the core files volkeyd left in $TMP (core_pattern set by the caller).
agent_backtraces() {
	local c
	for c in "$TMP"/core.*; do [[ -e $c ]] && gdb -q -batch -c "$c" "$1" -ex "thread apply all bt 20" 2>&1 | tail -80; done
	return 0
}

# wait_agent_ready PID BIN LOG T0 LIMIT: waits until the agent PID (started at
# T0 from BIN, logging to LOG) says ready in /run/volkey/status.json; fails with
# its log, and a backtrace if it crashed, when it exits first or LIMIT seconds pass.
wait_agent_ready() {
	local pid=$1 bin=$2 log=$3 t0=$4 limit=$5 rc
	while ! grep -q '"ready": *true' /run/volkey/status.json 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" && rc=0 || rc=$?
			cat "$log" >&2
			agent_backtraces "$bin" >&2
			fail "volkeyd exited with status $rc before it was ready"
		fi
		[[ $(awk "BEGIN{print (($EPOCHREALTIME - $t0) > $limit)}") == 1 ]] && { cat "$log" >&2; fail "volkeyd not ready after $limit s"; }
		sleep 0.05
	done
}
