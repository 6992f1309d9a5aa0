#!/bin/bash
# rig-args: --nvme @64M,serial=AWS00000000000000099 --nvme @64M,serial=vol0listed0000000000 --nvme @64M,serial=vol0listeddata000000 --timeout 240
# The policy's other branches under volkeyd --once: an instance-store disk with
# provision=ephemeral gets a random key kept nowhere (and a fresh one, with its
# data gone, at the next boot); a blank EBS volume named in [ebs] volumes is
# formatted with the [ebs] key and mounted; a named EBS volume that holds data
# is never touched.
source "$RIG_SRC/tests/rig/lib.bash"
VOLKEYD=$RIG_SRC/$BUILD/volkeyd
is=$(nvme_by_serial AWS00000000000000099); listed=$(nvme_by_serial vol0listed0000000000); data=$(nvme_by_serial vol0listeddata000000)
printf 'precious' | dd of="$data" bs=1 seek=5000000 conv=notrunc status=none
sum_data=$(sha256sum <"$data")
head -c 32 /dev/urandom >/run/kek; chmod 600 /run/kek
mkdir -p /etc/volkey
cat >/etc/volkey/volkey.conf <<'CONF'
[nvme]
match = ebs|QEMU NVMe Ctrl|vol*
match = instance-store|QEMU NVMe Ctrl|AWS*
[instance-store]
provision = ephemeral
mkfs = ext4
mount = /mnt/scratch
[ebs]
volumes = vol-0listed0000000000 vol-0listeddata000000
provision = auto
key = file:/run/kek
mkfs = ext4
mount = /mnt/ebs/%s
CONF
/lib/systemd/systemd-udevd --daemon
on_exit "udevadm control --exit"

step "another tool's LUKS volume, opened by hand, is left alone"
truncate -s 40M "$TMP/mine.img"
mine=$(losetup -f --show "$TMP/mine.img"); on_exit "losetup -d $mine 2>/dev/null"
printf 'pw' | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file=- "$mine"
printf 'pw' | cryptsetup open --key-file=- "$mine" mine
on_exit "cryptsetup close mine 2>/dev/null"

step "boot 1"
"$VOLKEYD" --once >"$TMP/agent.log" 2>&1 || true
sed 's/^/   agent| /' "$TMP/agent.log"
[[ $(agent_state "$is") == ephemeral ]] || fail "instance store: $(agent_state "$is")"
[[ $(blkid -p -o value -s SUBSYSTEM "$is") == volkey-ephemeral ]] || fail "no ephemeral marker"
cryptsetup luksDump --disable-external-tokens "$is" | grep -q '^Keyslots:$' || fail "luksDump"
[[ $(cryptsetup luksDump --disable-external-tokens "$is" | sed -n '/^Keyslots:/,/^Tokens:/p' | grep -c 'luks2') -eq 0 ]] ||
	fail "an ephemeral volume must have no keyslot (its key is nowhere but in the kernel)"
mountpoint -q /mnt/scratch || fail "scratch not mounted"
echo scratch >/mnt/scratch/file
[[ $(agent_state "$listed") == formatted ]] || fail "listed blank EBS: $(agent_state "$listed")"
mountpoint -q /mnt/ebs/vol-0listed0000000000 || fail "listed EBS not mounted"
volume_json "$listed" >"$TMP/st.json"
[[ $(json_get "$TMP/st.json" 'j["tokens"][0]["context"]["device"]') == vol-0listed0000000000 ]] || fail "binding lacks the volume id"
[[ $(agent_state "$data") == untouched ]] || fail "listed EBS with data: $(agent_state "$data")"
[[ $(sha256sum <"$data") == "$sum_data" ]] || fail "the EBS volume with data changed"
[[ $(agent_state "$mine") == untouched ]] || fail "someone else's LUKS volume: $(agent_state "$mine")"
assert_grep "not volkey's" /run/volkey/status.json
[[ -z $(blkid -p -o value -s TYPE /dev/mapper/mine) ]] || fail "volkeyd touched someone else's mapping"
uuid1=$(cryptsetup luksUUID "$is")

step "boot 2: the ephemeral disk gets a new key, the EBS volume unlocks"
umount /mnt/scratch /mnt/ebs/vol-0listed0000000000
for m in /dev/mapper/volkey-*; do cryptsetup close "$(basename "$m")"; done
rm -f /run/volkey/status.json
"$VOLKEYD" --once >"$TMP/agent2.log" 2>&1 || true
sed 's/^/   agent| /' "$TMP/agent2.log"
[[ $(agent_state "$is") == ephemeral ]] || fail "boot 2 instance store: $(agent_state "$is")"
[[ $(cryptsetup luksUUID "$is") != "$uuid1" ]] || fail "the ephemeral disk kept its header"
[[ ! -e /mnt/scratch/file ]] || fail "scratch data survived a new ephemeral key"
[[ $(agent_state "$listed") == unlocked ]] || fail "boot 2 listed EBS: $(agent_state "$listed")"
[[ $(sha256sum <"$data") == "$sum_data" ]] || fail "the EBS volume with data changed"
echo "agent policy ok"
