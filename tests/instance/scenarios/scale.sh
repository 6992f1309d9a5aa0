#!/bin/bash
# volkeyd in the instance with 1 and 8 devices: the time from its start to
# READY, KMS calls and full TLS handshakes per boot (the KMS double counts
# them), systemd-analyze. Boot A provisions 8 blank instance-store disks, boot B
# (reboot) unlocks the 8, boot C (stop/start with one disk kept) unlocks 1.
# Emulated (QEMU/TCG): compare ratios, not absolute times.
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
disks=() args=()
for i in 1 2 3 4 5 6 7 8; do
	disks+=("$(inst_disk 48M "is$i")"); args+=(--nvme "${disks[-1]},serial=AWS0000000000000000$i")
done
prev_calls=0 prev_hs=0
report() { # LABEL NDEV STATE
	local ready calls hs n
	ready=$(g "journalctl -b -u volkeyd -o short-monotonic --no-pager" | awk -F'[][]' '
		/volkeyd\[[0-9]+\]: starting:/ { s = $2 } /volkeyd\[[0-9]+\]: ready:/ { r = $2 }
		END { if (s == "" || r == "") exit 1; printf "%.2f", r - s }') || fail "$1: no starting/ready lines"
	n=$(g "python3 -c 'import json; print(sum(d[\"state\"] == \"$3\" for d in json.load(open(\"/run/volkey/status.json\"))[\"devices\"]))'")
	[[ $n == "$2" ]] || { g 'cat /run/volkey/status.json'; fail "$1: $n of $2 devices $3"; }
	read -r calls hs < <(kms_control /_volkey/stats | "$INST_PY" -c "import json,sys; j=json.load(sys.stdin); print(sum(j['calls'].values()), j['tls_handshakes'])")
	printf '   %-34s READY after %6s s   KMS calls %3d   full TLS handshakes %3d   %s\n' "$1" "$ready" \
		$((calls - prev_calls)) $((hs - prev_hs)) "$(g systemd-analyze | head -1 | sed 's/Startup finished in //')"
	echo "$1|$ready|$((calls - prev_calls))|$((hs - prev_hs))" >>"$INST_RUN/scale.txt"
	prev_calls=$calls prev_hs=$hs
}
step "boot A: 8 blank instance-store disks"
vm_start "${args[@]}"
vm_wait_ssh 300
g 'systemctl is-system-running --wait' >/dev/null || true
report "8 devices, first boot (format)" 8 formatted
step "boot B: reboot, 8 volumes unlock"
vm_reboot 300
g 'systemctl is-system-running --wait' >/dev/null || true
report "8 devices, unlock" 8 unlocked
step "boot C: stop/start with one volume"
vm_poweroff
vm_start --nvme "${disks[0]},serial=AWS00000000000000001"
vm_wait_ssh 300
g 'systemctl is-system-running --wait' >/dev/null || true
report "1 device, unlock" 1 unlocked
vm_poweroff
r1=$(awk -F'|' '/^1 device/ {print $2}' "$INST_RUN/scale.txt") r8=$(awk -F'|' '/^8 devices, unlock/ {print $2}' "$INST_RUN/scale.txt")
echo "   READY with 8 devices / with 1: $(awk "BEGIN{printf \"%.2f\", $r8 / $r1}")x"
echo "scale ok"
