#!/bin/bash
# volkeyd in the instance with 1 and 8 devices: the time from its start to
# READY, KMS calls and TLS handshakes (full and resumed) per boot (the KMS double counts
# them), systemd-analyze. The 8 volkey volumes are made on the host first
# (`volkey format` on loop devices against a plain-HTTP KMS double with the
# instance double's config, so the same key material); boot A unlocks the 8,
# boot B (a new start with one of them) unlocks 1. Emulated (QEMU/TCG): compare
# ratios, not absolute times.
source "$(dirname "$0")/../lib.bash"
[[ -n ${VOLKEY_DEB:-} && -f $VOLKEY_DEB ]] || fail "VOLKEY_DEB (make deb) is needed"
cat >"$INST_RUN/volkey.conf" <<CONF
[kms]
region = us-east-1
[nvme]
match = instance-store|QEMU NVMe Ctrl|AWS*
[instance-store]
provision = auto
key = aws-kms:alias/vol
CONF
inst_image
inst_prepare --deb "$VOLKEY_DEB" --file "$INST_RUN/volkey.conf:/etc/volkey/volkey.conf:0644"
imds_start --role volkey-role --region us-east-1
kms_start
g() { vm_ssh "$@" </dev/null; }
step "8 volkey volumes made on the host"
"$INST_PY" "$INST_SRC/tests/fakes/kms.py" --port-file "$INST_RUN/hostkms.port" --config "$INST_RUN/kms-us-east-1.config" \
	--region us-east-1 2>"$INST_RUN/hostkms.err" &
hk=$!
for _ in $(seq 1 100); do [[ -s $INST_RUN/hostkms.port ]] && break; sleep 0.1; done
disks=() args=()
for i in 1 2 3 4 5 6 7 8; do
	disks+=("$(inst_disk 48M "is$i")"); args+=(--nvme "${disks[-1]},serial=AWS0000000000000000$i")
	loop=$(losetup -f --show "${disks[-1]}")
	env AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=us-east-1 \
		AWS_ENDPOINT_URL_KMS="http://127.0.0.1:$(cat "$INST_RUN/hostkms.port")" VOLKEY_CONFIG=/dev/null \
		"$INST_SRC/${BUILD:-build}/volkey" format "$loop" --key aws-kms:alias/vol --yes >/dev/null || { losetup -d "$loop"; fail "host format of $i"; }
	losetup -d "$loop"
done
kill "$hk"; wait "$hk" 2>/dev/null || true
prev_calls=0 prev_hs=0 prev_res=0
report() { # LABEL NDEV STATE
	local times calls hs n
	# NVMe controllers are probed asynchronously: some may appear after
	# volkeyd's coldplug and reach it as udev events after READY. Wait for all.
	for _ in $(seq 1 90); do
		n=$(g "python3 -c 'import json; print(sum(d[\"state\"] == \"$3\" for d in json.load(open(\"/run/volkey/status.json\"))[\"devices\"]))'" || echo 0)
		[[ $n == "$2" ]] && break; sleep 1
	done
	[[ $n == "$2" ]] || { g 'cat /run/volkey/status.json'; fail "$1: $n of $2 devices $3"; }
	# from volkeyd's "starting": READY, and the last device's outcome
	times=$(g "journalctl -b -u volkeyd -o short-monotonic --no-pager" | awk -F'[][]' -v st="$3" '
		/volkeyd\[[0-9]+\]: starting:/ { s = $2 } /volkeyd\[[0-9]+\]: ready:/ { r = $2 }
		$0 ~ "\\): " st ":" { l = $2 }
		END { if (s == "" || r == "" || l == "") exit 1; printf "%.2f %.2f", r - s, l - s }') || fail "$1: no starting/ready/outcome lines"
	read -r ready last <<<"$times"
	read -r calls hs res < <(kms_control /_volkey/stats | "$INST_PY" -c "import json,sys; j=json.load(sys.stdin); print(sum(j['calls'].values()), j['tls_full'], j['tls_resumed'])")
	# the stats call itself is one more full handshake (its own, over TLS from the host)
	printf '   %-20s READY after %6s s, all %d %s after %6s s   KMS calls %3d   TLS handshakes: full %3d, resumed %3d   %s\n' "$1" "$ready" \
		"$2" "$3" "$last" $((calls - prev_calls)) $((hs - prev_hs - 1)) $((res - prev_res)) "$(g systemd-analyze | head -1 | sed 's/Startup finished in //')"
	echo "$1|$ready|$last|$((calls - prev_calls))|$((hs - prev_hs - 1))|$((res - prev_res))" >>"$INST_RUN/scale.txt"
	prev_calls=$calls prev_hs=$hs prev_res=$res
}
step "boot A: 8 volumes unlock"
vm_start "${args[@]}"
vm_wait_ssh 300
g 'systemctl is-system-running --wait' >/dev/null || true
report "8 devices, unlock" 8 unlocked
step "boot B: a new start with one volume"
vm_poweroff
vm_start --nvme "${disks[0]},serial=AWS00000000000000001"
vm_wait_ssh 300
g 'systemctl is-system-running --wait' >/dev/null || true
report "1 device, unlock" 1 unlocked
vm_poweroff
r1=$(awk -F'|' '/^1 device/ {print $3}' "$INST_RUN/scale.txt") r8=$(awk -F'|' '/^8 devices/ {print $3}' "$INST_RUN/scale.txt")
echo "   last outcome with 8 devices / with 1: $(awk "BEGIN{printf \"%.2f\", $r8 / $r1}")x"
echo "scale ok"
