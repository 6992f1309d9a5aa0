# Shared helpers for host-tier tests (sourced). Each test is a bash script that
# exits 0 on success, 77 to skip (last line says why), anything else on failure.
set -euo pipefail
: "${VOLKEY:?run through tests/run-tier}"
: "${VOLKEY_SRC:?run through tests/run-tier}"
PY=/usr/bin/python3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/volkey-test.XXXXXX")
_cleanups=()
on_exit() { _cleanups+=("$1"); }
_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[i]}" || true; done
	rm -rf "$TMP"
}
trap _run_cleanups EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }
# expect_exit CODE CMD...: run CMD, require exit CODE; its output goes to $TMP/out.
expect_exit() {
	local want=$1 rc=0; shift
	"$@" >"$TMP/out" 2>&1 || rc=$?
	[[ $rc -eq $want ]] || { cat "$TMP/out" >&2; fail "expected exit $want, got $rc: $*"; }
}
assert_grep() { grep -qE -- "$1" "${2:-$TMP/out}" || { cat "${2:-$TMP/out}" >&2; fail "no match for /$1/"; }; }
assert_no_grep() { ! grep -qE -- "$1" "${2:-$TMP/out}" || { cat "${2:-$TMP/out}" >&2; fail "unexpected match for /$1/"; }; }
# json_get FILE PYEXPR: evaluate PYEXPR with j = the parsed JSON document.
json_get() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# start_imds [ARGS...]: run the fake IMDS on loopback; sets IMDS_URL and IMDS_LOG.
start_imds() {
	IMDS_LOG=$TMP/imds.log
	: >"$IMDS_LOG"
	"$PY" "$VOLKEY_SRC/tests/fakes/imds.py" --port-file "$TMP/imds.port" --log "$IMDS_LOG" "$@" &
	local pid=$! i
	on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	for i in $(seq 1 100); do [[ -s $TMP/imds.port ]] && break; sleep 0.05; done
	[[ -s $TMP/imds.port ]] || fail "fake IMDS did not start"
	IMDS_URL=http://127.0.0.1:$(cat "$TMP/imds.port")
}
