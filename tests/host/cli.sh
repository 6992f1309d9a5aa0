#!/bin/bash
# The CLI skeleton: help, version, per-verb help, and documented exit codes for bad usage.
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
echo "cli ok"
