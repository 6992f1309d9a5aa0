#!/bin/bash
# rig-args: --nvme @64M,serial=AWS00000000000000011 --nvme @64M,serial=AWS00000000000000022 --nvme @64M,serial=vol0ebs00000000token --nvme @64M,serial=vol0ebs00000000blank --nvme @64M,serial=ext40000000000000001 --timeout 400
# A simulated instance boot: two instance-store disks and two EBS volumes (one
# carrying a volkey token, one blank and not in the policy) as emulated NVMe,
# plus an NVMe disk holding ext4. udevd and volkeyd start, and then:
# instance store formatted, opened and mounted; the EBS volume with a token
# unlocked and mounted with its files intact; the blank EBS volume and the ext4
# disk untouched (checksums); READY=1 sent to the notify socket. A second boot
# unlocks everything and reformats nothing; a hot-added disk is unlocked; the
# agent killed in the middle of provisioning finishes the device on restart.
source "$RIG_SRC/tests/rig/lib.bash"
VOLKEYD=$RIG_SRC/$BUILD/volkeyd

step "the instance's disks"
is1=$(nvme_by_serial AWS00000000000000011); is2=$(nvme_by_serial AWS00000000000000022)
ebs=$(nvme_by_serial vol0ebs00000000token); blank=$(nvme_by_serial vol0ebs00000000blank)
ext4=$(nvme_by_serial ext40000000000000001)
head -c 32 /dev/urandom >/run/kek; chmod 600 /run/kek

step "before boot: the EBS volume already carries a volkey volume with files; the ext4 disk has data"
"$VOLKEY" format "$ebs" --key file:/run/kek --yes >/dev/null
"$VOLKEY" open "$ebs" pre >/dev/null
mkfs.ext4 -q /dev/mapper/pre
mkdir -p /mnt/pre && mount /dev/mapper/pre /mnt/pre
head -c 3000000 /dev/urandom >/mnt/pre/data.bin
want=$(sha256sum </mnt/pre/data.bin)
umount /mnt/pre && "$VOLKEY" close pre
ebs_uuid=$(cryptsetup luksUUID "$ebs")
mkfs.ext4 -q "$ext4"
sum_ext4=$(sha256sum <"$ext4"); sum_blank=$(sha256sum <"$blank")

mkdir -p /etc/volkey
cat >/etc/volkey/volkey.conf <<'CONF'
[volkey]
unlock_timeout_ms = 120000
[nvme]
match = ebs|QEMU NVMe Ctrl|vol*
match = instance-store|QEMU NVMe Ctrl|AWS*
[instance-store]
provision = auto
key = file:/run/kek
mkfs = ext4
mount = /mnt/instance-store/%s
[ebs]
volumes = vol-0ebs00000000token
mount = /mnt/ebs/%s
CONF
mkdir -p /run/udev/rules.d
sed "s|@SBINDIR@|$RIG_SRC/$BUILD|g" "$RIG_SRC/udev/70-volkey.rules.in" >/run/udev/rules.d/70-volkey.rules
/lib/systemd/systemd-udevd --daemon
on_exit "udevadm control --exit"

# A notify socket standing in for systemd: collects what volkeyd sends.
"$PY" - "$TMP/notify.sock" "$TMP/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode() + "\n")
PY
notify_pid=$!
on_exit "kill $notify_pid 2>/dev/null"
for _ in $(seq 1 50); do [[ -S $TMP/notify.sock ]] && break; sleep 0.1; done

start_agent() { # [ENV=VALUE...]
	env NOTIFY_SOCKET="$TMP/notify.sock" "$@" "$VOLKEYD" >>"$TMP/agent.log" 2>&1 &
	agent_pid=$!
}
wait_ready() {
	local i
	for i in $(seq 1 600); do
		[[ -s /run/volkey/status.json ]] && [[ $(json_get /run/volkey/status.json 'j["agent"]["ready"] and j["agent"]["pid"]') == "$agent_pid" ]] && return 0
		kill -0 "$agent_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

step "boot 1: udev trigger, volkeyd"
t0=$EPOCHREALTIME
udevadm trigger --subsystem-match=block --action=add
udevadm settle --timeout=60
start_agent
wait_ready || { cat "$TMP/agent.log"; fail "volkeyd not ready"; }
boot1=$(awk "BEGIN{printf \"%.2f\", $EPOCHREALTIME - $t0}")
cat "$TMP/agent.log" | sed 's/^/   agent| /'
grep -q '^READY=1' "$TMP/notify.log" || fail "no READY=1 on the notify socket"
for d in "$is1" "$is2"; do
	[[ $(agent_state "$d") == formatted ]] || fail "$d: $(agent_state "$d") (want formatted)"
	mountpoint -q "/mnt/instance-store/$(agent_field "$d" id)" || fail "$d not mounted"
	[[ -b $(agent_field "$d" mapping) ]] || fail "$d: no mapping"
done
[[ $(agent_state "$ebs") == unlocked ]] || fail "EBS with token: $(agent_state "$ebs")"
[[ $(sha256sum </mnt/ebs/vol-0ebs00000000token/data.bin) == "$want" ]] || fail "EBS files differ"
for m in /mnt/ebs/vol-0ebs00000000token "/mnt/instance-store/$(agent_field "$is1" id)"; do
	o=$(findmnt -n -o OPTIONS "$m")
	[[ ,$o, == *,nosuid,* && ,$o, == *,nodev,* ]] || fail "$m mounted without nosuid,nodev: $o"
done
[[ $(agent_field "$ebs" mapping) == /dev/mapper/volkey-ebs-vol-0ebs00000000token ]] || fail "EBS mapping name"
[[ $(agent_state "$blank") == untouched ]] || fail "blank EBS: $(agent_state "$blank")"
[[ $(agent_state "$ext4") == untouched ]] || fail "ext4 disk: $(agent_state "$ext4")"
[[ $(sha256sum <"$blank") == "$sum_blank" ]] || fail "the blank EBS volume changed"
[[ $(sha256sum <"$ext4") == "$sum_ext4" ]] || fail "the ext4 disk changed"
[[ $(readlink -f /dev/disk/volkey/ebs/vol-0ebs00000000token) == "$ebs" ]] || fail "EBS link"
echo "   boot 1: all devices settled ${boot1} s after the trigger"
"$VOLKEY" status >"$TMP/status.txt"
assert_grep '^volkeyd: ready' "$TMP/status.txt"
assert_grep "^  $blank +ebs +untouched +blank" "$TMP/status.txt"
volume_json "$ebs" >"$TMP/st.json"
[[ $(json_get "$TMP/st.json" 'j["last_unlock"]["outcome"]') == unlocked ]] || fail "volkey status does not show the agent's outcome"
[[ $(json_get "$TMP/st.json" 'j["mappings"][0]["name"]') == volkey-ebs-vol-0ebs00000000token ]] || fail "status mapping"
is_uuids="$(cryptsetup luksUUID "$is1") $(cryptsetup luksUUID "$is2")"
echo data >"/mnt/instance-store/$(agent_field "$is1" id)/kept.txt"

step "hot-attached disk (a loop device carrying a volkey volume) is unlocked"
truncate -s 40M "$TMP/hot.img"
hot=$(losetup -f --show "$TMP/hot.img")
on_exit "losetup -d $hot 2>/dev/null"
# formatted while the agent runs: the format's own change events must not make it act half-way
"$VOLKEY" format "$hot" --key file:/run/kek --yes >/dev/null
udevadm trigger --action=change "$hot"
for _ in $(seq 1 300); do [[ $(agent_state "$hot" 2>/dev/null) == unlocked ]] && break; sleep 0.1; done
[[ $(agent_state "$hot") == unlocked ]] || { cat "$TMP/agent.log"; fail "hot-added $hot: $(agent_state "$hot" 2>/dev/null)"; }
[[ -b /dev/mapper/volkey-$(cryptsetup luksUUID "$hot") ]] || fail "no mapping for the hot-added disk"

step "boot 2: same disks, agent restarted: everything unlocks, nothing is reformatted"
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
for m in /mnt/instance-store/* /mnt/ebs/*; do umount "$m"; done
for m in /dev/mapper/volkey-*; do cryptsetup close "$(basename "$m")"; done
rm -f /run/volkey/status.json
t0=$EPOCHREALTIME
start_agent
wait_ready || { cat "$TMP/agent.log"; fail "volkeyd not ready (boot 2)"; }
boot2=$(awk "BEGIN{printf \"%.2f\", $EPOCHREALTIME - $t0}")
for d in "$is1" "$is2" "$ebs" "$hot"; do [[ $(agent_state "$d") == unlocked ]] || fail "boot 2: $d $(agent_state "$d")"; done
[[ "$(cryptsetup luksUUID "$is1") $(cryptsetup luksUUID "$is2")" == "$is_uuids" ]] || fail "instance store reformatted"
[[ $(cat "/mnt/instance-store/$(agent_field "$is1" id)/kept.txt") == data ]] || fail "instance-store file lost on boot 2"
[[ $(sha256sum <"$ext4") == "$sum_ext4" ]] || fail "the ext4 disk changed"
echo "   boot 2: all devices unlocked ${boot2} s after start"

step "agent killed mid-provisioning (after the first token is written), then restarted"
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
umount "/mnt/instance-store/$(agent_field "$is2" id)"
cryptsetup close "$(basename "$(agent_field "$is2" mapping)")"
dd if=/dev/zero of="$is2" bs=1M count=64 status=none   # a fresh instance-store disk again
rm -f /run/volkey/status.json
start_agent VOLKEY_TEST_CRASH_AT=format-token
wait "$agent_pid" 2>/dev/null && fail "the agent was meant to die at format-token"
[[ $(blkid -p -o value -s SUBSYSTEM "$is2") == volkey-provisioning ]] || fail "expected a half-format on $is2"
start_agent
wait_ready || { cat "$TMP/agent.log"; fail "volkeyd not ready (after crash)"; }
[[ $(agent_state "$is2") == formatted ]] || fail "after the crash: $is2 $(agent_state "$is2") ($(agent_field "$is2" detail))"
assert_grep 'finished an interrupted format' /run/volkey/status.json
"$VOLKEY" open --test "$is2" >/dev/null || fail "$is2 does not unlock after the restart"
mountpoint -q "/mnt/instance-store/$(agent_field "$is2" id)" || fail "$is2 not mounted after the restart"
step "agent killed after unlocking a new volume, before its mkfs: the restart makes the filesystem"
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
umount "/mnt/instance-store/$(agent_field "$is2" id)"
cryptsetup close "$(basename "$(agent_field "$is2" mapping)")"
dd if=/dev/zero of="$is2" bs=1M count=64 status=none
rm -f /run/volkey/status.json
start_agent VOLKEY_TEST_CRASH_AT=provision-opened
wait "$agent_pid" 2>/dev/null && fail "the agent was meant to die at provision-opened"
start_agent
wait_ready || { cat "$TMP/agent.log"; fail "volkeyd not ready (after the second crash)"; }
[[ $(agent_state "$is2") == already-open ]] || fail "after the crash: $is2 $(agent_state "$is2")"
mountpoint -q "/mnt/instance-store/$(agent_field "$is2" id)" || { cat "$TMP/agent.log"; fail "$is2 not mounted after the restart"; }
[[ $(blkid -p -o value -s TYPE "$(agent_field "$is2" mapping)") == ext4 ]] || fail "no ext4 made after the restart"
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
echo "agent boot ok: boot 1 ${boot1} s, boot 2 ${boot2} s (5 NVMe disks, file key)"
