#!/bin/bash
# Runs in the rig guest for `make bench` (tests/bench/fio.sh): `volkey bench`
# with BENCH_ARGS on a temporary loop device in the guest's tmpfs; the table,
# the JSON and the plot of that one run go to the results directory the host keeps.
source "$RIG_SRC/tests/rig/lib.bash"
: >"$TMP/empty.conf"
export VOLKEY_CONFIG=$TMP/empty.conf
# shellcheck disable=SC2086 # BENCH_ARGS is a list of options
"$VOLKEY" bench --dir "$TMP" $BENCH_ARGS --save "$RIG_RESULTS/bench.json" --plot "$RIG_RESULTS/bench.svg" \
	>"$RIG_RESULTS/bench.txt" 2>"$RIG_RESULTS/progress.log" || { cat "$RIG_RESULTS/progress.log"; fail "volkey bench"; }
