#!/bin/bash
# Cost of each rotation, printed as numbers (asserts only that the runs worked):
# - rewrap and new secret against the KMS double over TLS: wall time (median of
#   REPS) and the KMS calls each makes;
# - volume-key re-encryption throughput, offline on a loop device (the host has
#   no device-mapper): `volkey rotate --volume-key` against `cryptsetup
#   reencrypt` on the same device, same size, same resilience, in the same run.
# The online comparison runs in the rig guest (tests/bench/rotate-guest.sh).
# Run: make bench-rotate.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
export VOLKEY=$src/${BUILD:-build}/volkey VOLKEY_SRC=$src
source "$src/tests/host/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
REPS=${REPS:-5} SIZE_MIB=${SIZE_MIB:-256}
kms_config "$TMP/kms.json"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/k.pem" -out "$TMP/c.pem" 2>/dev/null
start_kms B --config "$TMP/kms.json" --tls-cert "$TMP/c.pem" --tls-key "$TMP/k.pem"
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
printf '[kms]\nendpoint = %s\nca_file = %s\n' "$KMS_URL_B" "$TMP/c.pem" >"$TMP/volkey.conf"
export VOLKEY_CONFIG=$TMP/volkey.conf
L=$KMS_LOG_B
ms_since() { awk "BEGIN{printf \"%.1f\", ($EPOCHREALTIME - $1) * 1000}"; }
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ops() { "$PY" -c 'import json,sys,collections; c=collections.Counter(json.loads(l)["op"] for l in open(sys.argv[1]).readlines()[int(sys.argv[2]):]); print(", ".join("%d %s" % (n, op) for op, n in sorted(c.items())) or "none")' "$L" "$1"; }

dev=$(new_loop kms 32M)
"$VOLKEY" format "$dev" --key aws-kms:alias/vol --yes >/dev/null 2>&1 || fail "format"
echo "rotation cost (KMS double over TLS on loopback, median of $REPS)"
for kind in rewrap secret; do
	walls=()
	n0=$(wc -l <"$L")
	for r in $(seq 1 "$REPS"); do
		t0=$EPOCHREALTIME
		"$VOLKEY" rotate "$dev" --$kind >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "rotate --$kind"; }
		walls+=("$(ms_since "$t0")")
	done
	n1=$(wc -l <"$L")
	per=$(( (n1 - n0) / REPS ))
	printf '  %-8s %8s ms   KMS calls per rotation: %s (%s over %d runs)\n' "--$kind" "$(med "${walls[@]}")" "$per" "$(ops "$n0")" "$REPS"
done

echo "volume-key re-encryption, offline, ${SIZE_MIB} MiB loop device, resilience checksum (median of 3)"
k=$(new_kek bench)
big=$(new_loop big ${SIZE_MIB}M)
data_mib() { echo $(( ($(blockdev --getsize64 "$big") - $(cryptsetup luksDump "$big" | awk '/offset:/ {print $2; exit}')) / 1048576 )); }
vk=() cs=()
for r in 1 2 3; do
	"$VOLKEY" format "$big" --key "$k" --yes --force >/dev/null 2>&1 || fail "format big"
	t0=$EPOCHREALTIME
	"$VOLKEY" rotate "$big" --volume-key --progress-interval 3600 >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "volkey rotate --volume-key"; }
	vk+=("$(ms_since "$t0")")
	# cryptsetup on the same device: a passphrase keyslot, as its users have.
	printf 'bench-pass' | cryptsetup luksFormat -q --type luks2 --sector-size 4096 --pbkdf pbkdf2 \
		--pbkdf-force-iterations 1000 "$big" - || fail "luksFormat"
	t0=$EPOCHREALTIME
	printf 'bench-pass' | cryptsetup reencrypt -q --resilience checksum --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--key-file - "$big" >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "cryptsetup reencrypt"; }
	cs+=("$(ms_since "$t0")")
done
mib=$(data_mib)
v=$(med "${vk[@]}") c=$(med "${cs[@]}")
printf '  volkey rotate --volume-key   %8.0f ms  %7.1f MiB/s (whole command: unwrap, keyslots, re-encryption, verification)\n' "$v" "$(awk "BEGIN{print $mib / ($v / 1000)}")"
printf '  cryptsetup reencrypt         %8.0f ms  %7.1f MiB/s\n' "$c" "$(awk "BEGIN{print $mib / ($c / 1000)}")"
printf '  volkey / cryptsetup time     %8.2f\n' "$(awk "BEGIN{print $v / $c}")"

# The online half, in the rig guest (skipped when the rig cannot run here).
if [[ -z ${NO_RIG:-} ]]; then
	"$src/tests/rig/run" -v --timeout 600 "$src/tests/bench/rotate-guest.sh" 2>&1 | sed -n 's/^  rotate-guest| //p; /^rig:/p'
fi
