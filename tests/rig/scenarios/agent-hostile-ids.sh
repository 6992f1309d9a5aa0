#!/bin/bash
# rig-args: --nvme @64M,serial=.. --nvme @64M,serial=vol/../../../run/x --nvme @64M,serial=AWS00000000000000011 --timeout 240
# Device-derived strings become mapping names and mount paths ([instance-store]
# mount = /mnt/rig-is/%s): an NVMe serial ".." or one with "/" must not make a
# mapping or a mount outside the mount root. volkeyd refuses such a device,
# untouched, with one line; a disk with a plain serial beside it is handled.
source "$RIG_SRC/tests/rig/lib.bash"
VOLKEYD=$RIG_SRC/$BUILD/volkeyd
dots=$(nvme_by_serial ..); slash=$(nvme_by_serial vol/../../../run/x); good=$(nvme_by_serial AWS00000000000000011)
mkdir -p /etc/volkey
cat >/etc/volkey/volkey.conf <<'CONF'
[nvme]
match = ebs|QEMU NVMe Ctrl|vol*
match = instance-store|QEMU NVMe Ctrl|*
[instance-store]
provision = ephemeral
mkfs = ext4
mount = /mnt/rig-is/%s
CONF
/lib/systemd/systemd-udevd --daemon
on_exit "udevadm control --exit"
on_exit "umount /mnt/rig-is/* /mnt 2>/dev/null; for m in /dev/mapper/volkey-*; do cryptsetup close \"\$(basename \"\$m\")\"; done"

"$VOLKEYD" --once >"$TMP/agent.log" 2>&1 || true
sed 's/^/   agent| /' "$TMP/agent.log"

step "serial \"..\": refused, untouched"
[[ $(agent_state "$dots") == failed ]] || fail "serial ..: $(agent_state "$dots")"
[[ $(agent_field "$dots" detail) == *'refused: the device'\''s id ".." is not a safe name'* ]] ||
	fail "serial ..: $(agent_field "$dots" detail)"
[[ -z $(blkid -p -o value -s TYPE "$dots") ]] || fail "the disk with serial .. was formatted"
! mountpoint -q /mnt || fail "something was mounted on /mnt (the mount root's parent)"
grep -qF "$dots (instance-store ..): refused" "$TMP/agent.log" || fail "no refusal line in the log"

step "serial with \"/\": refused, untouched"
[[ $(agent_state "$slash") == failed ]] || fail "serial with /: $(agent_state "$slash")"
assert_grep 'refused: the device.s id \\"vol-/\.\./\.\./\.\./run/x\\"' /run/volkey/status.json
[[ -z $(blkid -p -o value -s TYPE "$slash") ]] || fail "the disk with a / in its serial was formatted"

step "volkey nvme-id gives udev no link name from them"
"$VOLKEY" nvme-id "$dots" >"$TMP/dots.props"
assert_grep '^VOLKEY_NVME_CLASS=instance-store$' "$TMP/dots.props"
! grep -q '^VOLKEY_NVME_SERIAL=' "$TMP/dots.props" || fail "serial .. handed to udev"
"$VOLKEY" nvme-id "$slash" >"$TMP/slash.props"
! grep -qE '^VOLKEY_(NVME_SERIAL|EBS_VOLUME_ID)=' "$TMP/slash.props" || fail "a serial with / handed to udev"
"$VOLKEY" nvme-id "$good" >"$TMP/good.props"
assert_grep '^VOLKEY_NVME_SERIAL=AWS00000000000000011$' "$TMP/good.props"

step "a plain serial beside them is handled"
[[ $(agent_state "$good") == ephemeral ]] || fail "good disk: $(agent_state "$good")"
mountpoint -q /mnt/rig-is/AWS00000000000000011 || fail "good disk not mounted"
[[ $(ls /dev/mapper | grep -c '^volkey-') -eq 1 ]] || fail "mappings: $(ls /dev/mapper)"
echo "agent hostile ids ok"
