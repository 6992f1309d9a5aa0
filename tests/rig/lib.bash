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
