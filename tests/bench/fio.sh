#!/bin/bash
# `make bench`: a quick `volkey bench` in the rig guest (QEMU TCG: the CPU and
# its AES are emulated), the results table, JSON and plot written to
# $BUILD/bench/ on the host. The numbers judge the harness, not dm-crypt: see
# docs/bench.md for what they mean and for the run to do on a real instance.
# ARGS (environment) replaces the default options. Skipped when NO_RIG is set.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
out=$src/$BUILD/bench
if [[ -n ${NO_RIG:-} ]]; then
	echo "bench: skipped (NO_RIG is set; the encrypted configurations need the rig guest's dm-crypt)"
	exit 0
fi
mkdir -p "$out"
"$src/tests/rig/run" --keep --timeout 900 --env "BUILD=$BUILD" --env "BENCH_ARGS=${ARGS:---quick --size 256M}" \
	"$src/tests/bench/fio-guest.sh" 2>"$out/rig.log" || { cat "$out/rig.log" >&2; exit 1; }
kept=$(sed -n 's/^rig: results kept in //p' "$out/rig.log")
[[ -d $kept ]] || { cat "$out/rig.log" >&2; echo "bench: no results directory" >&2; exit 1; }
cp "$kept/bench.txt" "$kept/bench.json" "$kept/bench.svg" "$out/"
sed 's/^/  /' "$kept/progress.log" | tail -n 3
rm -rf "$kept"
cat "$out/bench.txt"
echo
echo "written: $out/bench.txt, $out/bench.json, $out/bench.svg"
echo "guest: QEMU TCG with emulated AES; run 'volkey bench' on the instance itself for real numbers (docs/bench.md)"
