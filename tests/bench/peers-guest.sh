#!/bin/bash
# Runs in the rig guest (tests/bench/peers.sh starts it; or
# `tests/rig/run -v --timeout 900 tests/bench/peers-guest.sh`): volkey against
# Clevis bound to Tang, both on real dm-crypt, in the same run on the same guest.
# - Unlock wall time for 1 volume (median of REPS runs, default 5), 8 volumes
#   one after the other and 8 volumes at once (8 processes; median of REPS8
#   runs, default 2: a Clevis unlock takes 5-7 s here, so 5 runs of 8 would take
#   the guest to about 10 minutes): `volkey open` with one aws-kms token (KMS
#   double over TLS on loopback) against `clevis luks unlock` with one tang pin
#   (tangd on loopback, plain HTTP as Tang is deployed). The Clevis volumes get
#   the cipher, key size, sector size and digest read from volkey's own header;
#   each tool's keyslot KDF is printed.
# - The data path once unlocked: the same fio jobs on one mapping of each tool,
#   with both `dmsetup table` lines (keys live in the kernel keyring: no key is
#   shown) so the reader sees the mappings are the same.
# Asserts only that the runs worked: fails if a format, bind, unlock or fio run
# fails or an opened mapping is missing. QEMU TCG emulates the CPU and AES, and
# process start is slow there: the ratios come from an emulated guest.
source "$RIG_SRC/tests/rig/lib.bash"
REPS=${REPS:-5} REPS8=${REPS8:-2} N=8 SIZE=32M FIO_SECONDS=${FIO_SECONDS:-5} TANG_PORT=7500
t_start=$EPOCHREALTIME
ms_since() { awk "BEGIN{printf \"%.0f\", ($EPOCHREALTIME - $1) * 1000}"; }
# med N...: the median (the mean of the middle two for an even count).
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.0f", (a[int((NR+1)/2)] + a[int(NR/2)+1]) / 2}'; }
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }

# The backends: the KMS double over TLS for volkey, tangd (inetd-style, one
# process per connection) behind systemd-socket-activate for Clevis.
start_guest_kms --tls
printf '[kms]\nendpoint = %s\nca_file = %s\n' "$KMS" "$KMS_CA" >"$TMP/volkey.conf"
export VOLKEY_CONFIG=$TMP/volkey.conf
mkdir -p "$TMP/tang"
/usr/libexec/tangd-keygen "$TMP/tang" 2>"$TMP/tang-keygen.err" || { cat "$TMP/tang-keygen.err"; fail "tangd-keygen"; }
systemd-socket-activate -l "127.0.0.1:$TANG_PORT" --inetd -a /usr/libexec/tangd "$TMP/tang" 2>"$TMP/tang.log" &
tang_pid=$!
on_exit "kill $tang_pid 2>/dev/null"
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$TANG_PORT/adv" >"$TMP/adv" 2>/dev/null && break; sleep 0.1; done
[[ -s $TMP/adv ]] || { cat "$TMP/tang.log"; fail "tang does not answer on 127.0.0.1:$TANG_PORT/adv"; }

# 8 + 8 loop devices on files in the guest's tmpfs. Cleanups run in reverse
# order: each mapping's close is registered after its loop device's detach.
vdev=() cdev=()
for t in v c; do
	for i in $(seq 0 $((N - 1))); do
		truncate -s $SIZE "$TMP/$t$i.img"
		d=$(losetup -f --show "$TMP/$t$i.img") || fail "losetup $TMP/$t$i.img"
		on_exit "losetup -d $d 2>/dev/null"
		if [[ $t == v ]]; then vdev+=("$d"); else cdev+=("$d"); fi
	done
done
for i in $(seq 0 $((N - 1))); do on_exit "cryptsetup close vk$i 2>/dev/null; cryptsetup close cl$i 2>/dev/null"; done

# wait_all WHAT PID...: wait for every PID, fail naming WHAT if one failed.
wait_all() {
	local what=$1 p bad=0
	shift
	for p in "$@"; do wait "$p" || bad=1; done
	[[ $bad -eq 0 ]] || { tail -n 5 "$TMP"/log.* 2>/dev/null; fail "$what"; }
}

# volkey format, all 8 at once.
pids=()
for d in "${vdev[@]}"; do
	"$VOLKEY" format "$d" --key aws-kms:alias/vol --yes >"$TMP/log.fmt${d##*/}" 2>&1 </dev/null & pids+=($!)
done
wait_all "volkey format" "${pids[@]}"
rm -f "$TMP"/log.*

# The Clevis volumes copy volkey's header geometry, read from its luksDump.
cryptsetup luksDump "${vdev[0]}" >"$TMP/vk.dump"
field() { awk -v sec="$2" -v key="$3" '/^[A-Z][a-z ]*:/ {s = $1} s == sec && $1 == key {print $2; exit}' "$1"; }
cipher=$(field "$TMP/vk.dump" "Data" cipher:) sector=$(field "$TMP/vk.dump" "Data" sector:)
keybits=$(field "$TMP/vk.dump" "Keyslots:" Key:) dhash=$(field "$TMP/vk.dump" "Digests:" Hash:)
[[ -n $cipher && -n $sector && -n $keybits && -n $dhash ]] ||
	{ cat "$TMP/vk.dump"; fail "cannot read cipher/sector/key size/digest hash from volkey's header"; }
# LUKS2 passphrase keyslot (removed after binding) from a throwaway random key file.
head -c 32 /dev/urandom | base64 -w0 >"$TMP/pass"
chmod 600 "$TMP/pass"
# Clevis's bind takes its options before the pin and its config (getopts stops at
# the first operand); -y trusts the Tang advertisement without asking.
clevis_setup() {
	cryptsetup luksFormat -q --type luks2 --cipher "$cipher" --key-size "$keybits" --sector-size "$sector" \
		--hash "$dhash" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$TMP/pass" "$1" &&
		clevis luks bind -y -k "$TMP/pass" -d "$1" tang "{\"url\":\"http://127.0.0.1:$TANG_PORT\"}" &&
		cryptsetup luksRemoveKey -q --key-file "$TMP/pass" "$1"
}
t0=$EPOCHREALTIME pids=()
for d in "${cdev[@]}"; do clevis_setup "$d" >"$TMP/log.bind${d##*/}" 2>&1 </dev/null & pids+=($!); done
wait_all "luksFormat + clevis luks bind" "${pids[@]}"
rm -f "$TMP"/log.* "$TMP/pass"
bind_ms=$(ms_since "$t0")
cryptsetup luksDump "${cdev[0]}" >"$TMP/cl.dump"
for f in cipher:/Data sector:/Data Key:/Keyslots: Hash:/Digests:; do
	[[ $(field "$TMP/cl.dump" "${f#*/}" "${f%/*}") == "$(field "$TMP/vk.dump" "${f#*/}" "${f%/*}")" ]] ||
		{ cat "$TMP/cl.dump"; fail "the Clevis volume's ${f%/*} differs from volkey's"; }
done
[[ $(grep -c '^  [0-9]*: luks2' "$TMP/cl.dump") -eq 1 ]] || { cat "$TMP/cl.dump"; fail "Clevis volume: expected one keyslot (the clevis one)"; }
grep -q '^  [0-9]*: clevis' "$TMP/cl.dump" || { cat "$TMP/cl.dump"; fail "Clevis volume: no clevis token"; }

# kdf DUMP: the keyslots' KDFs, e.g. "pbkdf2-sha512 1000 it" or "argon2id t=4 m=1048576 KiB p=4".
kdf() {
	awk '/^Keyslots:/ {k = 1; next} /^[A-Z]/ {k = 0}
		k && $1 == "PBKDF:" {p = $2} k && $1 == "Hash:" {h = $2}
		k && $1 == "Iterations:" {print p "-" h " " $2 " it"}
		k && $1 == "Time" {t = $3} k && $1 == "Memory:" {m = $2}
		k && $1 == "Threads:" {print p " t=" t " m=" m " KiB p=" $2}' "$1" | sort -u | paste -sd, -
}
vkdf=$(kdf "$TMP/vk.dump") ckdf=$(kdf "$TMP/cl.dump")

# Openers: DEV NAME, output to $TMP/log.NAME. mapped NAME: the mapping is there.
open_v() { "$VOLKEY" open "$1" "$2" >"$TMP/log.$2" 2>&1 </dev/null; }
open_c() { clevis luks unlock -d "$1" -n "$2" >"$TMP/log.$2" 2>&1 </dev/null; }
mapped() {
	[[ -b /dev/mapper/$1 && $(dmsetup table "$1" 2>/dev/null) == *" crypt $cipher "* ]] ||
		{ cat "$TMP/log.$1" 2>/dev/null; fail "$1: opened, but no dm-crypt mapping /dev/mapper/$1"; }
}
close_all() {
	local n p pids=()
	for n in "$@"; do cryptsetup close "$n" & pids+=($!); done
	for p in "${pids[@]}"; do wait "$p" || fail "cryptsetup close"; done
}

# bench TOOL(v|c) PREFIX DEVS...: sets cold, one, seq, par (ms).
bench() {
	local t=$1 pre=$2 i r t0 p pids names=() ws=()
	shift 2
	local devs=("$@")
	for i in "${!devs[@]}"; do names+=("$pre$i"); done
	# The first unlock of each tool reads its binaries and libraries through 9p
	# for the first time: timed apart, not counted.
	t0=$EPOCHREALTIME
	"open_$t" "${devs[0]}" "${names[0]}" || { cat "$TMP/log.${names[0]}"; fail "$pre: first unlock"; }
	cold=$(ms_since "$t0")
	mapped "${names[0]}"; close_all "${names[0]}"
	for r in $(seq 1 "$REPS"); do
		t0=$EPOCHREALTIME
		"open_$t" "${devs[0]}" "${names[0]}" || { cat "$TMP/log.${names[0]}"; fail "${names[0]}: unlock"; }
		ws+=("$(ms_since "$t0")")
		mapped "${names[0]}"; close_all "${names[0]}"
	done
	one=$(med "${ws[@]}") ws=()
	for r in $(seq 1 "$REPS8"); do
		t0=$EPOCHREALTIME
		for i in "${!devs[@]}"; do
			"open_$t" "${devs[i]}" "${names[i]}" || { cat "$TMP/log.${names[i]}"; fail "${names[i]}: unlock"; }
		done
		ws+=("$(ms_since "$t0")")
		for i in "${!names[@]}"; do mapped "${names[i]}"; done
		close_all "${names[@]}"
	done
	seq=$(med "${ws[@]}") ws=()
	for r in $(seq 1 "$REPS8"); do
		t0=$EPOCHREALTIME pids=()
		for i in "${!devs[@]}"; do "open_$t" "${devs[i]}" "${names[i]}" & pids+=($!); done
		for i in "${!pids[@]}"; do
			wait "${pids[i]}" || { cat "$TMP/log.${names[i]}"; fail "${names[i]}: parallel unlock"; }
		done
		ws+=("$(ms_since "$t0")")
		for i in "${!names[@]}"; do mapped "${names[i]}"; done
		close_all "${names[@]}"
	done
	par=$(med "${ws[@]}")
}
bench v vk "${vdev[@]}"
v_cold=$cold v_one=$one v_seq=$seq v_par=$par
bench c cl "${cdev[@]}"
c_cold=$cold c_one=$one c_seq=$seq c_par=$par
tang_conns=$(grep -c '^Spawned' "$TMP/tang.log" || true)

echo "volkey vs Clevis+Tang: unlock and data path, real dm-crypt in the rig guest"
echo "  guest: QEMU TCG, emulated CPU and AES, 2 vCPUs. clevis is a shell script that"
echo "  spawns many processes (cryptsetup, jose, curl) and process start is slow under"
echo "  emulation: the ratios come from an emulated guest, not from real hardware."
echo "  volumes: $N + $N loop devices of $SIZE on tmpfs; LUKS2 $cipher, $keybits-bit key, $sector-byte sectors,"
echo "  digest pbkdf2-$dhash on both (the Clevis volumes copy volkey's header geometry)"
echo "  volkey: one aws-kms token, KMS double over TLS on loopback (python); open = \`volkey open DEV NAME\`"
echo "  clevis: one tang pin, tangd per connection on loopback over HTTP; open = \`clevis luks unlock -d DEV -n NAME\`"
if [[ $vkdf == "$ckdf" ]]; then
	echo "  keyslot KDF: volkey $vkdf; clevis $ckdf (the same)"
else
	echo "  keyslot KDF: volkey $vkdf; clevis $ckdf (they differ; clevis fixes its own: luksAddKey --pbkdf pbkdf2 --pbkdf-force-iterations 1000)"
fi
echo "  first (cold) unlock, not counted: volkey $v_cold ms, clevis $c_cold ms; 8 clevis binds took $bind_ms ms"
printf '  unlock wall ms (median of runs)            %8s %8s %14s\n' volkey clevis clevis/volkey
printf '    1 volume, %d runs                          %8s %8s %14s\n' "$REPS" "$v_one" "$c_one" "$(ratio "$c_one" "$v_one")"
printf '    %d volumes one after the other, %d runs    %8s %8s %14s\n' "$N" "$REPS8" "$v_seq" "$c_seq" "$(ratio "$c_seq" "$v_seq")"
printf '    %d volumes at once (%d procs), %d runs      %8s %8s %14s\n' "$N" "$N" "$REPS8" "$v_par" "$c_par" "$(ratio "$c_par" "$v_par")"
echo "  (tangd served $tang_conns connections in all, binds included)"
goal4() { # label clevis_ms volkey_ms
	local r
	r=$(awk "BEGIN{printf \"%.1f\", $2 / $3}")
	echo "GOAL 4 latency: unlock through KMS against Clevis+Tang, $1: clevis $2 ms / volkey $3 ms = ${r}x (goal >= 20) $(awk "BEGIN{print ($r >= 20) ? \"held\" : \"not held\"}")"
}
goal4 "1 volume" "$c_one" "$v_one"
goal4 "$N volumes at once" "$c_par" "$v_par"

# The data path: one mapping of each tool, the same fio jobs, alternating tool
# order over two rounds so a drift of the host does not favour one side.
"$VOLKEY" open "${vdev[0]}" vk0 >"$TMP/log.vk0" 2>&1 </dev/null || { cat "$TMP/log.vk0"; fail "vk0: unlock for fio"; }
mapped vk0
clevis luks unlock -d "${cdev[0]}" -n cl0 >"$TMP/log.cl0" 2>&1 </dev/null || { cat "$TMP/log.cl0"; fail "cl0: unlock for fio"; }
mapped cl0
vt=$(dmsetup table vk0) ct=$(dmsetup table cl0)
# What may differ: the keyring key's name (holds the LUKS UUID) and the backing device.
norm() { sed -E 's/:logon:cryptsetup:[^ ]*/:logon:KEY/; s/ [0-9]+:[0-9]+ / MAJ:MIN /' <<<"$1"; }
# fiorun NAME JOB: MiB/s of one run.
fiorun() {
	local args=(--name="$2" --filename="/dev/mapper/$1" --direct=1 --ioengine=libaio --time_based
		--runtime="$FIO_SECONDS" --output-format=json --output="$TMP/fio.json")
	case $2 in
	randread) args+=(--rw=randread --bs=4k --iodepth=32) ;;
	seqwrite) args+=(--rw=write --bs=1M --iodepth=8) ;;
	esac
	fio "${args[@]}" >"$TMP/fio.out" 2>&1 || { cat "$TMP/fio.out"; fail "fio $2 on $1"; }
	"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; d=j["read" if sys.argv[2]=="randread" else "write"]
if d["io_bytes"] <= 0: sys.exit("no I/O")
print("%.1f" % (d["bw_bytes"] / 1048576))' "$TMP/fio.json" "$2" || fail "fio $2 on $1: no result"
}
echo "data path: fio, direct=1, libaio, ${FIO_SECONDS} s per run, on /dev/mapper/NAME, 2 runs per tool (alternating order)"
echo "  dmsetup table vk0 (volkey): $vt"
echo "  dmsetup table cl0 (clevis): $ct"
if [[ $(norm "$vt") == "$(norm "$ct")" ]]; then
	same=1
	echo "  tables: identical but for the keyring key's name and the backing device (same cipher, key size, sector size, flags)"
else
	same=0
	echo "  tables DIFFER beyond the key name and backing device:"
	echo "    volkey: $(norm "$vt")"
	echo "    clevis: $(norm "$ct")"
fi
printf '  %-24s %18s %18s %14s\n' "MiB/s (run 1, run 2)" volkey clevis clevis/volkey
for job in randread seqwrite; do
	v1=$(fiorun vk0 $job) c1=$(fiorun cl0 $job) c2=$(fiorun cl0 $job) v2=$(fiorun vk0 $job)
	read -r vm cm r noise <<<"$(awk "BEGIN{v = ($v1 + $v2) / 2; c = ($c1 + $c2) / 2
		nv = ($v1 > $v2 ? $v1 - $v2 : $v2 - $v1) / v; nc = ($c1 > $c2 ? $c1 - $c2 : $c2 - $c1) / c
		printf \"%.1f %.1f %.2f %.2f\", v, c, c / v, (nv > nc ? nv : nc)}")"
	[[ $job == randread ]] && label="randread 4 KiB qd32" || label="seqwrite 1 MiB qd8"
	printf '  %-24s %18s %18s %14s\n' "$label" "$vm ($v1, $v2)" "$cm ($c1, $c2)" "$r"
	# Noise: the larger spread between one tool's two runs, at least 5 %.
	if awk "BEGIN{d = $r - 1; if (d < 0) d = -d; n = ($noise > 0.05 ? $noise : 0.05); exit !(d > n)}"; then
		if [[ $same -eq 1 ]]; then
			echo "    ratio differs from 1 by more than the run-to-run spread ($noise): the mappings are identical and"
			echo "    neither tool is in the data path once dm-crypt is set up, so this is the emulated guest's"
			echo "    variance (TCG threads and the host's load), not a difference between the tools"
		else
			echo "    ratio differs from 1 by more than the run-to-run spread ($noise): the tables above differ"
		fi
	fi
done
close_all vk0 cl0
echo "guest script wall time: $(awk "BEGIN{printf \"%.0f\", $EPOCHREALTIME - $t_start}") s"
