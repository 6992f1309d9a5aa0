#!/bin/bash
# The CLI skeleton: help, version, per-verb help, and documented exit codes for bad usage;
# `volkey status` with a malformed agent record.
source "$(dirname "$0")/lib.bash"

expect_exit 0 "$VOLKEY" --help
assert_grep '^  doctor '
assert_grep '^Exit codes:'
assert_grep '^   7  not supported'

expect_exit 0 "$VOLKEY" --version
assert_grep "^volkey $(cat "$VOLKEY_SRC/VERSION")\$"

expect_exit 0 "$VOLKEY" doctor --help
assert_grep '^Usage: volkey doctor \[--json\]'

expect_exit 1 "$VOLKEY" frobnicate
assert_grep "^volkey: error: Unknown verb 'frobnicate'"
[[ $(wc -l <"$TMP/out") -eq 1 ]] || fail "error is not one line"

expect_exit 1 "$VOLKEY"
assert_grep 'No verb given'

expect_exit 1 "$VOLKEY" doctor --bogus
expect_exit 1 "$VOLKEY" doctor extra-arg
assert_grep "unexpected argument 'extra-arg'"
expect_exit 1 "$VOLKEY" --no-such-option

# --debug turns on debug lines; VOLKEY_LOG_LEVEL does too; a bad level is reported, not fatal.
VOLKEY_LOG_LEVEL=loud "$VOLKEY" --version >"$TMP/out" 2>&1
assert_grep "Ignoring VOLKEY_LOG_LEVEL=loud"
# volkey status reads the agent's record back: a record of another shape (found by
# tests/fuzz/fuzz_agent_record.c: json-c asserted on "devices" not an array) is
# ignored, a good one is summarized.
printf '[volkey]\nstatus_file = %s\n' "$TMP/status.json" >"$TMP/status.conf"
for rec in '{"agent":{"pid":1,"ready":true},"devices":{"device":"/dev/x"}}' '{"agent":{"pid":1},"devices":[7]}' \
	'{"agent":[1],"devices":[]}' '[]' 'not json'; do
	printf '%s' "$rec" >"$TMP/status.json"
	expect_exit 0 "$VOLKEY" --config "$TMP/status.conf" status
	assert_no_grep '^volkeyd:'
done
printf '{"agent":{"pid":812,"ready":true,"started":"2024-05-01T10:00:00Z"},"devices":[{"device":"/dev/nvme9n1","class":"ebs","state":"failed","detail":"KMS: AccessDeniedException"},{"state":"working"}]}' >"$TMP/status.json"
expect_exit 0 "$VOLKEY" --config "$TMP/status.conf" status
assert_grep '^volkeyd: ready \(pid 812, started 2024-05-01T10:00:00Z\)$'
assert_grep '^  /dev/nvme9n1 +ebs +failed +KMS: AccessDeniedException$'
assert_grep '^  n/a +n/a +working +n/a$'
echo "cli ok"
