#!/bin/bash
# rig-args: --nvme @64M,serial=vol0123456789abcdef0 --timeout 120
# An emulated NVMe namespace's serial read back through libnvme (Identify Controller).
source "$RIG_SRC/tests/rig/lib.bash"

for _ in $(seq 1 50); do [[ -b /dev/nvme0n1 ]] && break; sleep 0.1; done
[[ -c /dev/nvme0 && -b /dev/nvme0n1 ]] || fail "no /dev/nvme0 (driver not bound)"
"$RIG_SRC/$BUILD/tests/progs/nvme-serial" /dev/nvme0 | tee "$TMP/id"
assert_grep '^serial=vol0123456789abcdef0$' "$TMP/id"
assert_grep '^model=QEMU NVMe Ctrl$' "$TMP/id"
assert_grep '^vid=0x1b36$' "$TMP/id"
# Cross-check with nvme-cli, an independent reader of the same command.
nvme id-ctrl /dev/nvme0 -o json >"$TMP/idctrl.json"
[[ $(json_get "$TMP/idctrl.json" 'j["sn"].strip()') == vol0123456789abcdef0 ]] || fail "nvme-cli disagrees"
[[ $(blockdev --getsize64 /dev/nvme0n1) -eq $((64 << 20)) ]] || fail "namespace size"
echo "nvme serial ok"
