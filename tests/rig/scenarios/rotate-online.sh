#!/bin/bash
# rig-args: --nvme @64M,serial=AWS0000000000erase01 --timeout 600
# volkey rotate --volume-key on a mounted ext4 that is being written, through
# real dm-crypt: killed half-way (SIGKILL at a checkpoint, by the test hook), the
# volume keeps serving I/O; run again, volkey says the volume must be reopened
# first (libcryptsetup 2.6 cannot take over a killed online re-encryption), and
# once reopened it resumes online and finishes; with its writes cut at an arbitrary
# moment by dm-flakey (drop_writes: a power cut as the disk sees it; nothing
# after the cut reaches the disk) it recovers at the next open, resumes and
# finishes; interrupted and closed, volkeyd resumes it by itself when it opens
# the volume at boot. Every
# file written before and during the rotation (and made durable before a cut)
# has its checksum, fsck is clean, and the mapping's key changed. Then
# --crypto-erase on emulated NVMe: the header goes, the Format NVM command is
# issued, and no key and no recovery phrase opens the device any more.
source "$RIG_SRC/tests/rig/lib.bash"
: >"$TMP/empty.conf"
export VOLKEY_CONFIG=$TMP/empty.conf
head -c 32 /dev/urandom >"$TMP/kek"; chmod 600 "$TMP/kek"
K=file:$TMP/kek
SIZE=128M
VOLKEYD=$RIG_SRC/$BUILD/volkeyd

# writer DIR LOG PREFIX: writes 256 KiB files with fsync until $TMP/stop exists; a
# file's checksum is logged only once it is durable.
writer() {
	local i=0
	while [[ ! -e $TMP/stop ]]; do
		i=$((i + 1))
		dd if=/dev/urandom of="$1/$3$i" bs=64K count=4 conv=fsync status=none 2>/dev/null || break
		(cd "$1" && sha256sum "$3$i") >>"$2"
	done
}
start_writer() { rm -f "$TMP/stop"; writer "$1" "$2" "${3:-w}" & WPID=$!; on_exit "touch $TMP/stop"; }
stop_writer() { touch "$TMP/stop"; wait "$WPID" 2>/dev/null || true; }
# wait_progress LOG FRACTION: until the JSON progress lines reach FRACTION.
wait_progress() {
	local i
	for i in $(seq 1 600); do
		tail -1 "$1" 2>/dev/null | "$PY" -c "import json,sys; sys.exit(0 if json.loads(sys.stdin.read())['progress'] >= $2 else 1)" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$1"; fail "re-encryption did not reach $2"
}
keyhash() { dmsetup table --showkeys "$1" | awk '$3 == "crypt" {print $5}' | sort -u | sha256sum | cut -c1-16; }
# check_files DIR SUMS WHAT: the files made with the volume (DIR's own list) and those in SUMS.
check_files() { (cd "$1" && sha256sum -c --quiet "$TMP/$(basename "$1").before.sums" && sha256sum -c --quiet "$2") || fail "$3: files differ"; }
new_volume() { # NAME DEV: format, open, ext4, mount on $TMP/NAME, 8 files
	"$VOLKEY" format "$2" --key "$K" --yes >/dev/null
	"$VOLKEY" open "$2" "$1" >/dev/null
	mkfs.ext4 -q "/dev/mapper/$1"
	mkdir -p "$TMP/$1"
	mount "/dev/mapper/$1" "$TMP/$1"
	for i in 1 2 3 4 5 6 7 8; do head -c $((i * 700001)) /dev/urandom >"$TMP/$1/b$i"; done
	(cd "$TMP/$1" && sha256sum b*) >"$TMP/$1.before.sums"
	sync
}

step "online: a mounted ext4 being written; re-encryption killed (SIGKILL) half-way"
truncate -s $SIZE "$TMP/a.img"
dev=$(losetup -f --show "$TMP/a.img"); on_exit "losetup -d $dev 2>/dev/null"
new_volume va "$dev"
on_exit "umount $TMP/va 2>/dev/null; cryptsetup close va 2>/dev/null"
k0=$(keyhash va)
: >"$TMP/wa.sums"
start_writer "$TMP/va" "$TMP/wa.sums"
t0=$EPOCHREALTIME
rc=0
VOLKEY_TEST_CRASH_AT=reencrypt-half "$VOLKEY" rotate "$dev" --volume-key --hotzone-size 4 --progress-interval 1 \
	>"$TMP/pa.log" 2>"$TMP/pa.err" || rc=$?
[[ $rc -eq 137 ]] || { cat "$TMP/pa.log" "$TMP/pa.err"; fail "expected death by SIGKILL half-way, got exit $rc"; }
"$VOLKEY" status "$dev" >"$TMP/st.txt"
assert_grep 're-encryption +(interrupted|crashed)' "$TMP/st.txt"
n=$(wc -l <"$TMP/wa.sums"); sleep 2
[[ $(wc -l <"$TMP/wa.sums") -gt $n ]] || fail "I/O stopped after the kill"
sum=$(head -c 32M "$dev" | sha256sum)
rc=0; "$VOLKEY" rotate "$dev" --volume-key >"$TMP/out" 2>&1 || rc=$?
[[ $rc -eq 5 ]] || { cat "$TMP/out"; fail "resume over a killed online run: exit $rc"; }
assert_grep "was killed \(left va-overlay.*unmount it, 'volkey close va', 'volkey open $dev'" "$TMP/out"
[[ $(wc -l <"$TMP/out") -eq 1 ]] || fail "not one line"

step "reopened, the same command resumes online and finishes; files and fsck clean; the key changed"
stop_writer
umount "$TMP/va"
"$VOLKEY" close va
"$VOLKEY" open "$dev" va >/dev/null
mount "/dev/mapper/va" "$TMP/va"
start_writer "$TMP/va" "$TMP/wa.sums" x
"$VOLKEY" rotate "$dev" --volume-key --progress-interval 2 >"$TMP/pa2.log" 2>"$TMP/pa2.err" || { cat "$TMP/pa2.err"; fail "resume failed"; }
secs=$(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t0}")
assert_grep 'resuming an interrupted re-encryption \(online\)' "$TMP/pa2.err"
assert_grep 're-encrypted under a new volume key \(online\)' "$TMP/pa2.err"
stop_writer
echo "   online re-encryption of $SIZE with a writer, killed and resumed: ${secs} s; $(wc -l <"$TMP/wa.sums") files written meanwhile"
tail -1 "$TMP/pa2.log" | grep -q '"progress":1.0000' || fail "no final progress line"
check_files "$TMP/va" "$TMP/wa.sums" "after online re-encryption"
umount "$TMP/va"
e2fsck -fn "/dev/mapper/va" >"$TMP/fsck.out" 2>&1 || { cat "$TMP/fsck.out"; fail "fsck after online re-encryption"; }
"$VOLKEY" close va
"$VOLKEY" open "$dev" va >/dev/null
[[ $(keyhash va) != "$k0" ]] || fail "the mapping's key did not change"
mount "/dev/mapper/va" "$TMP/va"
check_files "$TMP/va" "$TMP/wa.sums" "after reopen"
volume_json "$dev" >"$TMP/st.json"
[[ -n $(json_get "$TMP/st.json" 'j.get("volume_key_rotated","")') ]] || fail "no volume_key_rotated"
umount "$TMP/va"; "$VOLKEY" close va

step "writes cut by dm-flakey (drop_writes) part-way: recovery at open, resume, durable files intact"
truncate -s $SIZE "$TMP/b.img"
lb=$(losetup -f --show "$TMP/b.img"); on_exit "losetup -d $lb 2>/dev/null"
sectors=$(blockdev --getsz "$lb")
dmsetup create fl --table "0 $sectors linear $lb 0"
dmsetup mknodes fl
[[ -b /dev/mapper/fl ]] || fail "no /dev/mapper/fl"
on_exit "dmsetup remove fl 2>/dev/null"
new_volume vb /dev/mapper/fl
on_exit "umount -l $TMP/vb 2>/dev/null; cryptsetup close vb 2>/dev/null"
: >"$TMP/wb.sums"
start_writer "$TMP/vb" "$TMP/wb.sums"
"$VOLKEY" rotate /dev/mapper/fl --volume-key --hotzone-size 4 --progress-interval 1 >"$TMP/pb.log" 2>"$TMP/pb.err" &
rpid=$!
wait_progress "$TMP/pb.log" 0.3
# From here nothing reaches the disk: the run goes on (or fails) against a disk
# that keeps nothing, as if the power had gone; then everything is torn down.
dmsetup reload fl --table "0 $sectors flakey $lb 0 0 3600 1 drop_writes"
dmsetup resume fl
echo CUT >>"$TMP/wb.sums"
wait $rpid 2>/dev/null || true
stop_writer
umount "$TMP/vb"
cryptsetup close vb
echo 3 >/proc/sys/vm/drop_caches
dmsetup reload fl --table "0 $sectors linear $lb 0"
dmsetup resume fl
sed -n '/^CUT$/q;p' "$TMP/wb.sums" >"$TMP/wb.durable"
echo "   cut after $(wc -l <"$TMP/wb.durable") durable files; the rest was dropped"
"$VOLKEY" open /dev/mapper/fl vb >/dev/null || fail "open after the cut"
mount "/dev/mapper/vb" "$TMP/vb"
"$VOLKEY" rotate /dev/mapper/fl --volume-key --progress-interval 2 >"$TMP/pb2.log" 2>"$TMP/pb2.err" || { cat "$TMP/pb2.err"; fail "resume after the cut"; }
assert_grep 'resuming an interrupted re-encryption' "$TMP/pb2.err"
check_files "$TMP/vb" "$TMP/wb.durable" "after the cut"
umount "$TMP/vb"
e2fsck -fn "/dev/mapper/vb" >"$TMP/fsck.out" 2>&1 || { cat "$TMP/fsck.out"; fail "fsck after the cut"; }
"$VOLKEY" close vb

step "interrupted and closed: volkeyd --once opens it and resumes the re-encryption by itself"
"$VOLKEY" open "$dev" va >/dev/null
rc=0
VOLKEY_TEST_CRASH_AT=reencrypt-half "$VOLKEY" rotate "$dev" --volume-key --hotzone-size 4 --progress-interval 1 \
	>"$TMP/pc.log" 2>&1 || rc=$?
[[ $rc -eq 137 ]] || { cat "$TMP/pc.log"; fail "expected death by SIGKILL half-way, got exit $rc"; }
"$VOLKEY" close va
"$VOLKEY" status "$dev" >"$TMP/st.txt"
assert_grep 're-encryption +(interrupted|crashed)' "$TMP/st.txt"
mkdir -p /etc/volkey; : >/etc/volkey/volkey.conf
timeout 600 "$VOLKEYD" --once >"$TMP/agent.log" 2>&1 || { cat "$TMP/agent.log"; fail "volkeyd --once"; }
assert_grep "$dev: an interrupted re-encryption under a new volume key: resuming it online" "$TMP/agent.log"
assert_grep "$dev: re-encryption under a new volume key finished" "$TMP/agent.log"
"$VOLKEY" status "$dev" >"$TMP/st.txt"
grep -qE '^  re-encryption ' "$TMP/st.txt" && { cat "$TMP/st.txt"; fail "re-encryption still pending after volkeyd"; }
[[ $(agent_state "$dev") == unlocked ]] || fail "agent state: $(agent_state "$dev")"
agent_field "$dev" detail | grep -q 're-encryption finished' || fail "agent detail: $(agent_field "$dev" detail)"
m=$(agent_field "$dev" mapping)
mount "$m" "$TMP/va"
check_files "$TMP/va" "$TMP/wa.sums" "after volkeyd resumed"
umount "$TMP/va"; cryptsetup close "${m#/dev/mapper/}"

step "crypto-erase on emulated NVMe: refused while mapped; auto says what QEMU offers; Format NVM issued when asked"
nv=$(nvme_by_serial AWS0000000000erase01)
"$VOLKEY" format "$nv" --key "$K" --yes >/dev/null
"$VOLKEY" recovery-key "$nv" >"$TMP/phrase" 2>/dev/null
"$VOLKEY" open "$nv" ve >/dev/null
echo "VOLKEY-ERASE-MARKER" | dd of=/dev/mapper/ve conv=fsync status=none
rc=0; "$VOLKEY" rotate "$nv" --crypto-erase --yes >"$TMP/out" 2>&1 || rc=$?
[[ $rc -eq 5 ]] || { cat "$TMP/out"; fail "crypto-erase of a mapped device: exit $rc"; }
"$VOLKEY" close ve
"$VOLKEY" rotate "$nv" --crypto-erase --yes >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "crypto-erase (auto)"; }
assert_grep 'media key NOT erased: the controller offers no crypto erase \(FNA 0x0, SANICAP 0x0, format supported\)' "$TMP/out"
tr -d '\n' <"$TMP/phrase" | cryptsetup open --disable-external-tokens --test-passphrase --key-file=- "$nv" 2>/dev/null &&
	fail "the recovery phrase opens an erased volume"
rc=0; "$VOLKEY" open --test "$nv" >"$TMP/out" 2>&1 || rc=$?
[[ $rc -eq 4 ]] || { cat "$TMP/out"; fail "open of an erased volume: exit $rc"; }
"$VOLKEY" format "$nv" --key "$K" --yes --force >/dev/null
"$VOLKEY" open "$nv" ve >/dev/null
head -c 4M /dev/urandom | dd of=/dev/mapper/ve bs=1M conv=fsync status=none
"$VOLKEY" close ve
"$VOLKEY" rotate "$nv" --crypto-erase --yes --nvme-erase format >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "crypto-erase --nvme-erase format"; }
assert_grep 'NVMe format-crypto-erase issued on namespace 1 and completed' "$TMP/out"
blkid -p "$nv" >/dev/null 2>&1 && fail "a signature survived"
nz=$(head -c 32M "$nv" | tr -d '\0' | wc -c)
echo "   after Format NVM (SES=2): $nz non-zero bytes in the first 32 MiB (QEMU zeroes the namespace; it cannot show crypto semantics)"
echo "rotate-online: ok"
