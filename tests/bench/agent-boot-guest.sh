#!/bin/bash
# Guest half of the agent-boot benchmark (run by tests/bench/agent-boot.sh inside
# the rig): N volkey volumes with an aws-kms token each (loop devices), the KMS
# double over TLS on loopback answering each call RTT_MS later (default 15 ms,
# a round trip within a region), volkeyd started as at boot. For each N of
# AGENT_NS (default 1 8 16 32): time from start to READY (every device
# unlocked), the slowest device, KMS Decrypt calls, the TLS handshakes the
# double saw (full and resumed; the stats request's own not counted), and
# volkeyd's peak resident memory. Ends with the goals of issue 21 these
# numbers judge (lines "GOAL ..."). Fails only if the run itself fails.
source "$RIG_SRC/tests/rig/lib.bash"
VOLKEYD=$RIG_SRC/$BUILD/volkeyd
RTT=${RTT_MS:-15}
NS=${AGENT_NS:-1 8 16 32}
start_guest_kms --tls --rtt-ms "$RTT"
mkdir -p /etc/volkey
printf '[kms]\nendpoint = %s\nca_file = %s\n[volkey]\nunlock_timeout_ms = 120000\n' "$KMS" "$KMS_CA" >/etc/volkey/volkey.conf
stats() { curl -sf --cacert "$KMS_CA" "$KMS/_volkey/stats"; }
/lib/systemd/systemd-udevd --daemon
# A crash leaves a core for the backtrace below.
ulimit -c unlimited
echo "$TMP/core.%p" >/proc/sys/kernel/core_pattern
on_exit "udevadm control --exit"

# Warm up: the first dm-crypt activation of a boot loads the kernel modules
# (dm_crypt, the cipher) and costs seconds under emulation; N = 1 would carry it.
truncate -s 20M "$TMP/warm.img"
warm=$(losetup -f --show "$TMP/warm.img")
"$VOLKEY" format "$warm" --key aws-kms:alias/vol --yes >/dev/null 2>&1 || fail "format (warm-up)"
"$VOLKEY" open "$warm" warmup >/dev/null 2>&1 || fail "open (warm-up)"
cryptsetup close warmup
losetup -d "$warm"

echo "agent boot benchmark (guest: QEMU/TCG, loop devices, one aws-kms token each, KMS double over TLS, ${RTT} ms per call):"
printf '  %7s %9s %9s %8s %5s %9s %8s\n' devices ready_s slowest_s decrypt full resumed rss_mib
declare -A READY FULL RSS
for n in $NS; do
	devs=()
	for i in $(seq 1 "$n"); do
		truncate -s 20M "$TMP/v$n-$i.img"
		devs+=("$(losetup -f --show "$TMP/v$n-$i.img")")
		"$VOLKEY" format "${devs[-1]}" --key aws-kms:alias/vol --yes >/dev/null 2>&1 || fail "format"
	done
	rm -f /run/volkey/status.json
	s0=$(stats)
	t0=$EPOCHREALTIME
	"$VOLKEYD" --debug >"$TMP/agent.$n.log" 2>&1 &
	pid=$!
	# Ready within 120 s, or its log (and, if it crashed, a backtrace) says why not.
	wait_agent_ready "$pid" "$VOLKEYD" "$TMP/agent.$n.log" "$t0" 120
	wall=$(awk "BEGIN{printf \"%.2f\", $EPOCHREALTIME - $t0}")
	hwm=$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
	s1=$(stats)
	ok=$(json_get /run/volkey/status.json 'sum(d["state"] == "unlocked" for d in j["devices"])')
	kill "$pid"
	wait "$pid" && rc=0 || rc=$?
	if [[ $rc -ne 0 && $rc -ne 143 ]]; then # 143: the SIGTERM it was sent, if it had no time to handle it
		cat "$TMP/agent.$n.log"
		agent_backtraces "$VOLKEYD"
		fail "volkeyd exited with status $rc when stopped ($n devices)"
	fi
	read -r dec full res <<<"$("$PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print(b["calls"].get("Decrypt",0)-a["calls"].get("Decrypt",0), b["tls_full"]-a["tls_full"]-1, b["tls_resumed"]-a["tls_resumed"])' "$s0" "$s1")"
	slowest=$(json_get /run/volkey/status.json 'max(d["seconds"] for d in j["devices"])')
	printf '  %7d %9s %9.2f %8s %5s %9s %8s\n' "$n" "$wall" "$slowest" "$dec" "$full" "$res" "$hwm"
	echo "agent-boot devices=$n ready_s=$wall slowest_s=$slowest decrypt=$dec tls_full=$full tls_resumed=$res rss_mib=$hwm"
	# Where the devices' time went, from volkeyd's debug lines: each KMS request
	# (TLS handshake of a new connection, request and answer) and each keyslot
	# activation (PBKDF2 and device-mapper, one at a time under the library lock).
	"$PY" - "$TMP/agent.$n.log" <<'PY'
import re, statistics, sys
log = open(sys.argv[1]).read()
tls = [float(x) for x in re.findall(r"new connection, tcp [0-9.]+ ms, tls ([0-9.]+) ms", log)]
ans = [float(x) for x in re.findall(r"request and answer ([0-9.]+) ms", log)]
act = [float(x) for x in re.findall(r"keyslot \d+ activation ([0-9.]+) ms", log)]
unw = [float(x) for x in re.findall(r"unwrap ([0-9.]+) ms, keyslot", log)]
f = lambda v: "n=%d median %.0f max %.0f sum %.0f ms" % (len(v), statistics.median(v), max(v), sum(v)) if v else "none"
print("          TLS handshakes: %s" % f(tls))
print("          KMS request and answer: %s" % f(ans))
print("          unwrap (credentials, connection, KMS): %s" % f(unw))
print("          keyslot activation (PBKDF2 + dm-crypt, serialised): %s" % f(act))
PY
	READY[$n]=$wall FULL[$n]=$full RSS[$n]=$hwm
	[[ $ok -eq $n ]] || { cat "$TMP/agent.$n.log"; fail "$ok of $n unlocked"; }
	for d in /dev/mapper/volkey-*; do cryptsetup close "$(basename "$d")"; done
	for d in "${devs[@]}"; do losetup -d "$d"; done
done
# One unlock, phase by phase (the CLI, one volume): process start and library
# init (a run that does nothing), credentials, TLS, the KMS round trip, the
# keyslot (PBKDF2: open --test) and device-mapper (activation less the check).
echo "one unlock, phase by phase (volkey open, 1 volume, median of 5):"
truncate -s 20M "$TMP/p.img"
dev=$(losetup -f --show "$TMP/p.img")
"$VOLKEY" format "$dev" --key aws-kms:alias/vol --yes >/dev/null 2>&1 || fail "format $dev"
for r in 1 2 3 4 5; do
	t0=$EPOCHREALTIME; "$VOLKEY" --version >/dev/null; echo "start $(awk "BEGIN{print ($EPOCHREALTIME - $t0) * 1000}")"
	t0=$EPOCHREALTIME; "$VOLKEY" --debug open --test "$dev" >"$TMP/ph.t.$r" 2>&1 || fail "open --test"
	echo "test_wall $(awk "BEGIN{print ($EPOCHREALTIME - $t0) * 1000}")"
	t0=$EPOCHREALTIME; "$VOLKEY" --debug open "$dev" phase0 >"$TMP/ph.o.$r" 2>&1 || { cat "$TMP/ph.o.$r"; fail "open"; }
	echo "open_wall $(awk "BEGIN{print ($EPOCHREALTIME - $t0) * 1000}")"
	cryptsetup close phase0
	cat "$TMP/ph.t.$r" "$TMP/ph.o.$r" | sed -n 's/.*AWS credentials from .* in \([0-9]*\) ms.*/creds \1/p
		s/.*new connection, tcp \([0-9.]*\) ms, tls \([0-9.]*\) ms, request and answer \([0-9.]*\) ms.*/tcp \1\ntls \2\nkms \3/p
		s/.*keyslot [0-9]* check \([0-9.]*\) ms.*/check \1/p
		s/.*keyslot [0-9]* activation \([0-9.]*\) ms.*/activation \1/p'
done >"$TMP/phases.txt"
losetup -d "$dev"
"$PY" - "$TMP/phases.txt" <<'PY'
import statistics, sys
v = {}
for line in open(sys.argv[1]):
    k, x = line.split()
    v.setdefault(k, []).append(float(x))
m = lambda k: statistics.median(v[k]) if k in v else float("nan")
rows = [("process start and library init (volkey --version)", m("start")),
        ("AWS credentials", m("creds")), ("TCP connect", m("tcp")), ("TLS handshake (full: a new process)", m("tls")),
        ("KMS request and answer (Decrypt)", m("kms")), ("keyslot: PBKDF2 and digest (open --test)", m("check")),
        ("device-mapper: activation less the check", m("activation") - m("check"))]
for name, ms in rows:
    print("  %-52s %8.1f ms" % (name, ms))
print("  %-52s %8.1f ms" % ("volkey open --test, whole process", m("test_wall")))
print("  %-52s %8.1f ms" % ("volkey open, whole process", m("open_wall")))
PY

held() { [[ $(awk "BEGIN{print ($1) ? 1 : 0}") == 1 ]] && echo held || echo "not held"; }
maxfull=0; for n in $NS; do (( FULL[$n] > maxfull )) && maxfull=${FULL[$n]}; done
echo "GOAL 1 connections: volkeyd's full TLS handshakes per boot, most over N = $NS: $maxfull (goal 1) $(held "$maxfull == 1")"
[[ -n ${RSS[8]:-} ]] && echo "GOAL 3 memory: volkeyd peak RSS with 8 devices: ${RSS[8]} MiB (goal <= 12) $(held "${RSS[8]} <= 12")"
[[ -n ${RSS[32]:-} ]] && echo "GOAL 3 memory: volkeyd peak RSS with 32 devices: ${RSS[32]} MiB (goal <= 16) $(held "${RSS[32]} <= 16")"
if [[ -n ${READY[1]:-} && -n ${READY[32]:-} ]]; then
	r=$(awk "BEGIN{printf \"%.2f\", ${READY[32]} / ${READY[1]}}")
	echo "GOAL 5 scaling: start to READY, 32 devices against 1: ${READY[32]} s / ${READY[1]} s = ${r}x (goal <= 2) $(held "$r <= 2")"
fi
