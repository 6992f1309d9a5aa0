#!/bin/bash
# rig-args: --nvme @64M,serial=AWS0000000000raid001 --nvme @64M,serial=AWS0000000000raid002 --nvme @64M,serial=AWS0000000000raid003 --timeout 240
# [instance-store] raid0 = yes: volkeyd stripes the three blank instance-store
# disks into one md RAID0 (mdadm), formats that as one volkey volume, mkfs and
# mounts it; at the next boot (array stopped) it assembles the stripe again and
# unlocks it, files intact and nothing reformatted. First, a disk written to
# between volkeyd's look and mdadm --create (volkeyd paused there): no stripe is
# built, the written disk is left alone byte for byte, the others are handled
# one by one.
source "$RIG_SRC/tests/rig/lib.bash"
VOLKEYD=$RIG_SRC/$BUILD/volkeyd
command -v mdadm >/dev/null || fail "mdadm missing (make deps)"
modprobe raid0
for s in AWS0000000000raid001 AWS0000000000raid002 AWS0000000000raid003; do nvme_by_serial "$s" >/dev/null; done
head -c 32 /dev/urandom >/run/kek; chmod 600 /run/kek
mkdir -p /etc/volkey
cat >/etc/volkey/volkey.conf <<'CONF'
[nvme]
match = instance-store|QEMU NVMe Ctrl|AWS*
[instance-store]
provision = auto
raid0 = yes
key = file:/run/kek
mkfs = ext4
mount = /mnt/is/%s
CONF

step "boot 0: a disk changes between the look and mdadm --create: no stripe"
d1=$(nvme_by_serial AWS0000000000raid001); d2=$(nvme_by_serial AWS0000000000raid002); d3=$(nvme_by_serial AWS0000000000raid003)
VOLKEY_TEST_PAUSE_AT=raid-probed "$VOLKEYD" --once >"$TMP/agent0.log" 2>&1 &
pid=$!
for _ in $(seq 1 400); do [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == T ]] && break; sleep 0.05; done
[[ $(awk '{print $3}' "/proc/$pid/stat") == T ]] || { cat "$TMP/agent0.log"; fail "volkeyd did not pause before mdadm"; }
printf 'written meanwhile' | dd of="$d2" bs=1 seek=3000000 conv=notrunc status=none
sum2=$(sha256sum <"$d2")
kill -CONT "$pid"
wait "$pid" || true
sed 's/^/   agent| /' "$TMP/agent0.log"
assert_grep "$d2 changed since it was checked: no stripe" "$TMP/agent0.log"
[[ ! -e /dev/md/volkey-is ]] || fail "a stripe was built over a changed disk"
[[ $(sha256sum <"$d2") == "$sum2" ]] || fail "the changed disk was written to"
[[ $(agent_state "$d2") == untouched ]] || fail "changed disk: $(agent_state "$d2")"
[[ $(agent_state "$d1") == formatted && $(agent_state "$d3") == formatted ]] || fail "the others were not handled alone"
for m in /mnt/is/*; do umount "$m"; done
for m in /dev/mapper/volkey-*; do cryptsetup close "$(basename "$m")"; done
for d in "$d1" "$d2" "$d3"; do dd if=/dev/zero of="$d" bs=1M count=64 status=none; done
rm -f /run/volkey/status.json

step "boot 1: stripe, format, mount"
"$VOLKEYD" --once >"$TMP/agent.log" 2>&1 || { cat "$TMP/agent.log"; fail "volkeyd --once"; }
sed 's/^/   agent| /' "$TMP/agent.log"
md=$(readlink -f /dev/md/volkey-is)
[[ -b $md ]] || fail "no /dev/md/volkey-is"
mdadm --detail "$md" >"$TMP/md"
assert_grep 'Raid Level : raid0' "$TMP/md"
assert_grep 'Raid Devices : 3' "$TMP/md"
[[ $(agent_state "$md") == formatted ]] || fail "stripe: $(agent_state "$md")"
[[ $(json_get /run/volkey/status.json 'len(j["devices"])') == 1 ]] || fail "members handled on their own"
mountpoint -q /mnt/is/raid0 || fail "stripe not mounted"
size=$(blockdev --getsize64 /dev/mapper/volkey-is-raid0)
[[ $size -gt $((150 << 20)) ]] || fail "the stripe is not three disks wide ($size bytes)"
echo kept >/mnt/is/raid0/file
uuid=$(cryptsetup luksUUID "$md")

step "boot 2: array stopped; volkeyd assembles and unlocks it"
umount /mnt/is/raid0
cryptsetup close volkey-is-raid0
mdadm --stop /dev/md/volkey-is
rm -f /run/volkey/status.json
"$VOLKEYD" --once >"$TMP/agent2.log" 2>&1 || { cat "$TMP/agent2.log"; fail "volkeyd --once (boot 2)"; }
sed 's/^/   agent| /' "$TMP/agent2.log"
md=$(readlink -f /dev/md/volkey-is)
[[ $(agent_state "$md") == unlocked ]] || fail "boot 2 stripe: $(agent_state "$md")"
[[ $(cryptsetup luksUUID "$md") == "$uuid" ]] || fail "the stripe was reformatted"
[[ $(cat /mnt/is/raid0/file) == kept ]] || fail "file lost"
echo "instance-store stripe ok ($((size >> 20)) MiB over 3 disks)"
