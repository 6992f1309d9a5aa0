#!/bin/bash
# rig-args: --timeout 120
# udev in the guest runs a rule from /run/udev/rules.d for a new block device.
source "$RIG_SRC/tests/rig/lib.bash"

step "start systemd-udevd"
/lib/systemd/systemd-udevd --daemon
on_exit "udevadm control --exit"
mkdir -p /run/udev/rules.d
cat >/run/udev/rules.d/99-volkey-rig.rules <<'RULES'
ACTION=="add", SUBSYSTEM=="block", KERNEL=="nullb[0-9]*", RUN+="/bin/sh -c 'echo %k $env{ACTION} $env{DEVTYPE} >>/run/volkey-rig-fired'"
RULES
udevadm control --reload
step "add a block device (null_blk)"
[[ ! -e /run/volkey-rig-fired ]] || fail "rule fired before the device existed"
modprobe null_blk nr_devices=1 gb=1
udevadm settle --timeout=60
cat /run/volkey-rig-fired
grep -qx 'nullb0 add disk' /run/volkey-rig-fired || fail "rule did not fire for nullb0"
[[ $(wc -l </run/volkey-rig-fired) -eq 1 ]] || fail "rule fired more than once"
udevadm info --query=property --name=/dev/nullb0 >"$TMP/props"
assert_grep '^DEVNAME=/dev/nullb0$' "$TMP/props"
echo "udev rule fired for nullb0"
