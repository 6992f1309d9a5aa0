#!/bin/bash
# rig-args: --cpu qemu64 --timeout 200
# On a CPU without AES-NI (QEMU's qemu64 model) the module refuses to load,
# with a message that says why, and leaves nothing registered.
source "$RIG_SRC/tests/rig/lib.bash"
KO=$RIG_SRC/$BUILD/module/kernel/volkey_xts.ko
[[ -f $KO ]] || fail "$KO not built (make module)"
! grep -qw aes /proc/cpuinfo || fail "this CPU model has AES-NI; the test needs one without"
if insmod "$KO" 2>"$TMP/err"; then fail "insmod worked on a CPU without AES-NI"; fi
cat "$TMP/err"
grep -q 'No such device' "$TMP/err" || fail "insmod error is not ENODEV"
dmesg | grep -q 'volkey_xts: not loaded: this CPU has no AES-NI' || { dmesg | tail -5; fail "no reason in the kernel log"; }
! grep -q xts-aes-volkey /proc/crypto || fail "xts-aes-volkey registered"
! grep -q '^volkey_xts ' /proc/modules || fail "module left loaded"
echo "no AES-NI: refused cleanly"
