#!/bin/bash
# Unlock speed: `volkey open --test` on 1 volume and on 8 volumes at once, each
# with one aws-kms token, against the local KMS double over TLS. Prints wall
# time, KMS Decrypt calls, and the share of time spent in the keyslot (PBKDF2 +
# anti-forensic merge + digest) against the key backend and the rest (process
# start, header read). Asserts only that the runs worked. Run: make bench-unlock.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
export VOLKEY=$src/${BUILD:-build}/volkey VOLKEY_SRC=$src
source "$src/tests/host/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
N=8 REPS=${REPS:-5}
kms_config "$TMP/kms.json"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/k.pem" -out "$TMP/c.pem" 2>/dev/null
start_kms B --config "$TMP/kms.json" --tls-cert "$TMP/c.pem" --tls-key "$TMP/k.pem"
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
printf '[kms]\nendpoint = %s\nca_file = %s\n' "$KMS_URL_B" "$TMP/c.pem" >"$TMP/volkey.conf"
export VOLKEY_CONFIG=$TMP/volkey.conf
decrypts() { count_calls "$KMS_LOG_B" Decrypt; }
devs=()
for i in $(seq 1 $N); do
	devs+=("$(new_loop v$i 20M)")
	"$VOLKEY" format "${devs[-1]}" --key aws-kms:alias/vol --yes >/dev/null 2>&1 || fail "format ${devs[-1]}"
done
# one DEV LOG: open --test with debug timings into LOG.
one() { "$VOLKEY" --debug open --test "$1" >"$2" 2>&1; }
ms_since() { awk "BEGIN{printf \"%.1f\", ($EPOCHREALTIME - $1) * 1000}"; }
# shares LOGS...: "backend_ms keyslot_ms" summed from the debug lines.
shares() { cat "$@" | sed -n 's/.*: unwrap \([0-9.]*\) ms, keyslot [0-9]* check \([0-9.]*\) ms.*/\1 \2/p' |
	awk '{u+=$1; k+=$2} END {printf "%.1f %.1f", u, k}'; }

one_wall=() ; d0=$(decrypts)
for r in $(seq 1 "$REPS"); do
	t0=$EPOCHREALTIME
	one "${devs[0]}" "$TMP/one.$r.log" || { cat "$TMP/one.$r.log"; fail "open --test"; }
	one_wall+=("$(ms_since "$t0")")
done
d1=$(decrypts)
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
read -r u k <<<"$(shares "$TMP"/one.*.log)"
one_med=$(med "${one_wall[@]}")
tot1=$(awk "BEGIN{s=0; split(\"${one_wall[*]}\", a, \" \"); for (i in a) s+=a[i]; print s}")

many_wall=()
for r in $(seq 1 "$REPS"); do
	t0=$EPOCHREALTIME; pids=()
	for i in $(seq 0 $((N - 1))); do one "${devs[$i]}" "$TMP/many.$r.$i.log" & pids+=($!); done
	for p in "${pids[@]}"; do wait "$p" || fail "parallel open --test"; done
	many_wall+=("$(ms_since "$t0")")
done
d2=$(decrypts)
read -r u8 k8 <<<"$(shares "$TMP"/many.*.log)"
many_med=$(med "${many_wall[@]}")

echo "unlock benchmark (open --test, one aws-kms token per volume, KMS double on loopback over TLS, $REPS runs, median):"
echo "  1 volume:   wall ${one_med} ms, KMS Decrypt calls per unlock $(( (d1 - d0) / REPS ))"
awk -v u="$u" -v k="$k" -v t="$tot1" 'BEGIN{printf "              per unlock: backend %.1f ms, keyslot/PBKDF %.1f ms = %.0f%% of wall (rest: process start, header read)\n", u/'"$REPS"', k/'"$REPS"', 100*k/t}'
echo "  $N volumes at once ($N processes): wall ${many_med} ms, KMS Decrypt calls $(( (d2 - d1) / REPS ))"
awk -v u="$u8" -v k="$k8" 'BEGIN{printf "              summed over the %d unlocks: backend %.1f ms, keyslot/PBKDF %.1f ms per run\n", '"$N"', u/'"$REPS"', k/'"$REPS"'}'
[[ $(( (d1 - d0) / REPS )) -eq 1 ]] || fail "one unlock should be one Decrypt"
[[ $(( (d2 - d1) / REPS )) -eq $N ]] || fail "$N unlocks should be $N Decrypts"
