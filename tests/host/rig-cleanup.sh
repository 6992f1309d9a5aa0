#!/bin/bash
# The rig runner leaves nothing behind when it is interrupted mid-run: no QEMU
# process, no results directory. (Boots the guest on the host: QEMU/TCG.)
source "$(dirname "$0")/lib.bash"
command -v qemu-system-x86_64 >/dev/null || fail "qemu missing (make deps)"
mkdir -p "$TMP/rigtmp"
TMPDIR=$TMP/rigtmp "$VOLKEY_SRC/tests/rig/run" --timeout 120 "$VOLKEY_SRC/tests/rig/selftest/times-out.sh" \
	>"$TMP/out" 2>&1 &
runner=$!
for _ in $(seq 1 300); do
	pidf=$(ls "$TMP"/rigtmp/volkey-rig.*/qemu.pid 2>/dev/null | head -1 || true)
	[[ -n $pidf && -s $pidf ]] && break
	sleep 0.1
done
[[ -n $pidf && -s $pidf ]] || { cat "$TMP/out"; fail "QEMU never started"; }
qemu=$(cat "$pidf")
kill -0 "$qemu" || fail "QEMU not running"
sleep 2
kill -TERM "$runner"
rc=0; wait "$runner" || rc=$?
[[ $rc -ne 0 ]] || fail "interrupted runner exited 0"
for _ in $(seq 1 50); do kill -0 "$qemu" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$qemu" 2>/dev/null || fail "QEMU $qemu still running after the runner was interrupted"
left=$(ls -A "$TMP/rigtmp")
[[ -z $left ]] || fail "left behind: $left"
echo "runner interrupted (exit $rc): QEMU $qemu gone, nothing left in TMPDIR"
