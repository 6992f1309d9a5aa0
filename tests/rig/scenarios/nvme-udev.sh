#!/bin/bash
# rig-args: --nvme @64M,serial=vol0aaaabbbbccccdddd --nvme @64M,serial=AWS0000000000000001 --nvme @64M,serial=ext40000000000000001 --timeout 180
# EC2 NVMe discovery through real udev: `volkey nvme-id` classifies emulated
# namespaces (QEMU's model string is fixed, so [nvme] match rules stand in for
# AWS's), udev/70-volkey.rules gives stable /dev/disk/volkey/ links that survive
# "change" events, and a volkey volume or a provisionable disk pulls in volkeyd.
source "$RIG_SRC/tests/rig/lib.bash"

step "volkey.conf with match rules for the emulated controllers"
mkdir -p /etc/volkey
cat >/etc/volkey/volkey.conf <<'CONF'
[nvme]
match = ebs|QEMU NVMe Ctrl|vol*
match = instance-store|QEMU NVMe Ctrl|AWS*
CONF
ebs=$(nvme_by_serial vol0aaaabbbbccccdddd)
ist=$(nvme_by_serial AWS0000000000000001)
other=$(nvme_by_serial ext40000000000000001)

step "nvme-id on each: class, EBS volume id"
"$VOLKEY" nvme-id "$ebs" | tee "$TMP/ebs.props"
assert_grep '^VOLKEY_NVME_CLASS=ebs$' "$TMP/ebs.props"
assert_grep '^VOLKEY_EBS_VOLUME_ID=vol-0aaaabbbbccccdddd$' "$TMP/ebs.props"
"$VOLKEY" nvme-id "$ist" >"$TMP/ist.props"
assert_grep '^VOLKEY_NVME_CLASS=instance-store$' "$TMP/ist.props"
"$VOLKEY" nvme-id --json "$other" >"$TMP/other.json"
[[ $(json_get "$TMP/other.json" 'j["class"]') == other ]] || fail "the third namespace is not 'other'"
[[ $(json_get "$TMP/other.json" 'j["model"]') == "QEMU NVMe Ctrl" ]] || fail "model"

step "the rules under udevd: links, and they survive a change event"
mkfs.ext4 -q "$other"
sum_other=$(sha256sum <"$other")
mkdir -p /run/udev/rules.d
sed "s|@SBINDIR@|$RIG_SRC/$BUILD|g" "$RIG_SRC/udev/70-volkey.rules.in" >/run/udev/rules.d/70-volkey.rules
/lib/systemd/systemd-udevd --daemon
on_exit "udevadm control --exit"
udevadm trigger --subsystem-match=block --action=add
udevadm settle --timeout=60
ls -l /dev/disk/volkey/*/ /dev/disk/volkey/instance-store/by-serial/ 2>&1 | sed 's/^/   /'
[[ $(readlink -f /dev/disk/volkey/ebs/vol-0aaaabbbbccccdddd) == "$ebs" ]] || fail "no EBS link"
[[ $(readlink -f /dev/disk/volkey/instance-store/by-serial/AWS0000000000000001) == "$ist" ]] || fail "no instance-store link"
[[ -z $(find /dev/disk/volkey -lname "*$(basename "$other")") ]] || fail "a link points at the 'other' disk"
udevadm info --query=property --name="$ebs" >"$TMP/udev.props"
assert_grep '^SYSTEMD_WANTS=.*volkeyd.service' "$TMP/udev.props"
udevadm info --query=property --name="$other" >"$TMP/other.props"
assert_grep '^VOLKEY_NVME_CLASS=other$' "$TMP/other.props"
if grep -q volkeyd "$TMP/other.props"; then fail "the ext4 disk pulls in volkeyd"; fi
udevadm trigger --action=change "$ebs"
udevadm settle --timeout=60
[[ $(readlink -f /dev/disk/volkey/ebs/vol-0aaaabbbbccccdddd) == "$ebs" ]] || fail "EBS link lost on change"

step "a volkey volume is marked for the agent"
head -c 32 /dev/urandom >"$TMP/kek"; chmod 600 "$TMP/kek"
"$VOLKEY" format "$ebs" --key "file:$TMP/kek" --yes >/dev/null
udevadm trigger --action=change "$ebs"
udevadm settle --timeout=60
udevadm info --query=property --name="$ebs" >"$TMP/udev.props"
assert_grep '^ID_FS_SUBSYSTEM=volkey$' "$TMP/udev.props"
assert_grep '^VOLKEY_VOLUME=1$' "$TMP/udev.props"
[[ $(readlink -f /dev/disk/volkey/ebs/vol-0aaaabbbbccccdddd) == "$ebs" ]] || fail "EBS link lost after format"
[[ $(sha256sum <"$other") == "$sum_other" ]] || fail "the ext4 disk changed"
echo "nvme udev ok"
