#!/bin/bash
# Guest half of `make bench-agent` (run by tests/bench/agent-boot.sh inside the rig):
# N volkey volumes with an aws-kms token each (loop devices), the KMS double over
# TLS on loopback, volkeyd started as at boot. Prints, for N = 1, 8 and 16: time
# from start to every device unlocked, KMS Decrypt calls and TLS handshakes for
# the boot (the stats request's own handshake not counted), and volkeyd's peak resident memory. Numbers only; fails only if the
# run itself fails.
source "$RIG_SRC/tests/rig/lib.bash"
VOLKEYD=$RIG_SRC/$BUILD/volkeyd
start_guest_kms --tls
mkdir -p /etc/volkey
printf '[kms]\nendpoint = %s\nca_file = %s\n[volkey]\nunlock_timeout_ms = 120000\n' "$KMS" "$KMS_CA" >/etc/volkey/volkey.conf
stats() { curl -sf --cacert "$KMS_CA" "$KMS/_volkey/stats"; }
/lib/systemd/systemd-udevd --daemon
# A crash leaves a core for the backtrace below.
ulimit -c unlimited
echo "$TMP/core.%p" >/proc/sys/kernel/core_pattern
on_exit "udevadm control --exit"

echo "agent boot benchmark (guest: QEMU/TCG, loop devices, one aws-kms token each, KMS double over TLS):"
for n in 1 8 16; do
	devs=()
	for i in $(seq 1 "$n"); do
		truncate -s 20M "$TMP/v$n-$i.img"
		devs+=("$(losetup -f --show "$TMP/v$n-$i.img")")
		"$VOLKEY" format "${devs[-1]}" --key aws-kms:alias/vol --yes >/dev/null 2>&1 || fail "format"
	done
	rm -f /run/volkey/status.json
	s0=$(stats)
	t0=$EPOCHREALTIME
	"$VOLKEYD" >"$TMP/agent.$n.log" 2>&1 &
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
	read -r dec hs <<<"$("$PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print(b["calls"].get("Decrypt",0)-a["calls"].get("Decrypt",0), b["tls_handshakes"]-a["tls_handshakes"]-1)' "$s0" "$s1")"
	slowest=$(json_get /run/volkey/status.json 'max(d["seconds"] for d in j["devices"])')
	printf '  %d device(s): all unlocked %s s after start (slowest device %.2f s); KMS Decrypt calls %s, TLS handshakes %s; volkeyd peak RSS %s MiB\n' \
		"$n" "$wall" "$slowest" "$dec" "$hs" "$hwm"
	[[ $ok -eq $n ]] || { cat "$TMP/agent.$n.log"; fail "$ok of $n unlocked"; }
	for d in /dev/mapper/volkey-*; do cryptsetup close "$(basename "$d")"; done
	for d in "${devs[@]}"; do losetup -d "$d"; done
done
