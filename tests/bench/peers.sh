#!/bin/bash
# Unlock speed and data path of volkey against Clevis bound to Tang, both on
# real dm-crypt in the rig guest (tests/bench/peers-guest.sh: 1 volume, median of
# REPS runs; 8 sequential and 8 parallel, median of REPS8 runs; fio on one
# mapping of each). The host kernel has no device-mapper, so nothing runs here
# but the guest. QEMU TCG emulates the CPU and AES: the ratios come from an
# emulated guest. Asserts only that the runs worked. Skipped (exit 0) when
# NO_RIG is set.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
if [[ -n ${NO_RIG:-} ]]; then
	echo "bench-peers: skipped (NO_RIG is set; the comparison needs the rig guest's dm-crypt)"
	exit 0
fi
env=()
[[ -n ${REPS:-} ]] && env+=(--env "REPS=$REPS")
[[ -n ${REPS8:-} ]] && env+=(--env "REPS8=$REPS8")
[[ -n ${BUILD:-} ]] && env+=(--env "BUILD=$BUILD")
"$src/tests/rig/run" -v --timeout 900 "${env[@]+"${env[@]}"}" "$src/tests/bench/peers-guest.sh" 2>&1 |
	sed -n 's/^  peers-guest| //p; /^rig:/p'
