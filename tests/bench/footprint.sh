#!/bin/bash
# make bench-footprint (issue 21, goals 3 and 4): start-up time and peak RSS of
# `volkey open --test` against `cryptsetup open --test-passphrase` on a volume
# with the same keyslot (LUKS2, pbkdf2 sha512, 1000 iterations, aes-xts-plain64
# 512-bit), side by side: RUNS (default 15) alternating runs of each, medians;
# the same for a volume bound to KMS (the KMS double on loopback over TLS, as
# make bench-unlock). Then where it goes: per phase (medians of PHASE_RUNS, 5),
# ld.so's relocations, and RSS at the peak broken down from /proc/PID/smaps
# (tests/progs/vk-footprint.c). Prints each goal beside its number and whether
# it holds. Exit 0 whatever the numbers; non-zero only when a run fails.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
export VOLKEY=$src/${BUILD:-build}/volkey VOLKEY_SRC=$src
source "$src/tests/host/lib.bash"
FP=$src/${BUILD:-build}/tests/progs/vk-footprint
RUNS=${RUNS:-15} PHASE_RUNS=${PHASE_RUNS:-5}
GOAL_RSS_KIB=8192 GOAL_RATIO=1.10
[[ -x $FP ]] || fail "$FP is missing (make tests-build)"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
command -v cryptsetup >/dev/null || skip "cryptsetup is not installed (make deps)"
CRYPTSETUP=$(command -v cryptsetup)

# ---- the volumes ----
vdev=$(new_loop vfile 20M)
kek=$(new_kek file)
"$VOLKEY" format "$vdev" --key "$kek" --yes >/dev/null 2>"$TMP/format.log" || { cat "$TMP/format.log"; fail "format (file key)"; }
cdev=$(new_loop cs 20M)
head -c 64 /dev/urandom >"$TMP/cs.key"; chmod 600 "$TMP/cs.key"
cryptsetup luksFormat -q --type luks2 --cipher aes-xts-plain64 --key-size 512 --pbkdf pbkdf2 --hash sha512 \
	--pbkdf-force-iterations 1000 --key-file "$TMP/cs.key" "$cdev" || fail "cryptsetup luksFormat"
# keyslot 0's PBKDF as each header says, to show they are the same
kdf() { cryptsetup luksDump --dump-json-metadata "$1" | "$PY" -c 'import json,sys
k=json.load(sys.stdin)["keyslots"]["0"]; p=k["kdf"]
print(p["type"], p.get("hash"), p.get("iterations"), k["area"]["encryption"], k["key_size"] * 8)'; }

kms_config "$TMP/kms.json"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/k.pem" -out "$TMP/c.pem" 2>/dev/null
start_kms B --config "$TMP/kms.json" --tls-cert "$TMP/c.pem" --tls-key "$TMP/k.pem"
printf '[kms]\nendpoint = %s\nca_file = %s\n' "$KMS_URL_B" "$TMP/c.pem" >"$TMP/kms.conf"
: >"$TMP/empty.conf"
kdev=$(new_loop vkms 20M)
VOLKEY_CONFIG=$TMP/kms.conf AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1 \
	"$VOLKEY" format "$kdev" --key aws-kms:alias/vol --yes >/dev/null 2>"$TMP/format.log" ||
	{ cat "$TMP/format.log"; fail "format (aws-kms)"; }

# The three commands; each runs with its own environment (no KMS settings for the file key).
run_file() { VOLKEY_CONFIG=$TMP/empty.conf "$FP" "$@" -- "$VOLKEY" open --test "$vdev"; }
run_cs() { "$FP" "$@" -- "$CRYPTSETUP" open --test-passphrase --key-file "$TMP/cs.key" "$cdev"; }
run_kms() {
	VOLKEY_CONFIG=$TMP/kms.conf AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1 \
		"$FP" "$@" -- "$VOLKEY" open --test "$kdev"
}
# one NAME SET ARGS...: a run of NAME (vk-footprint ARGS); its line goes to $TMP/NAME.SET;
# the benchmark fails when the command does.
one() {
	local name=$1 set=$2 line rc; shift 2
	: >"$TMP/$name.log"
	line=$("run_$name" "$@" -o "$TMP/$name.log") || true
	rc=$(awk '{print $3}' <<<"$line")
	[[ $rc == 0 ]] || { cat "$TMP/$name.log"; fail "$name: run failed (exit ${rc:-?})"; }
	echo "$line" >>"$TMP/$name.$set"
}
med() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else printf "%g\n", (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v c="$2" '$c != "-" {print $c}' "$TMP/$1" | med; }

for _ in $(seq 1 "$RUNS"); do
	one file t time; one cs t time; one kms t time
done
for _ in $(seq 1 "$PHASE_RUNS"); do
	one file p time --phases; one cs p time --phases; one kms p time --phases
done
tsc=$("$FP" tsc 2>/dev/null || echo 0)

vt=$(col file.t 1) ct=$(col cs.t 1) kt=$(col kms.t 1)
vr=$(col file.t 2) cr=$(col cs.t 2) kr=$(col kms.t 2)
holds() { if awk "BEGIN{exit !($1)}"; then echo holds; else echo "does not hold"; fi; }
echo "footprint benchmark: $RUNS alternating runs each, medians (host $(uname -r), $(nproc) CPUs)"
echo "  keyslot 0: volkey ($(kdf "$vdev")), cryptsetup ($(kdf "$cdev"))"
printf '  %-44s %9s %12s   %s\n' "" "wall ms" "peak RSS KiB" "goal"
printf '  %-44s %9s %12s\n' "cryptsetup open --test-passphrase (key file)" "$ct" "$cr"
printf '  %-44s %9s %12s   time <= %.2fx cryptsetup: %.2fx, %s\n' "volkey open --test (file key)" "$vt" "$vr" \
	"$GOAL_RATIO" "$(awk "BEGIN{print $vt/$ct}")" "$(holds "$vt <= $GOAL_RATIO * $ct")"
printf '  %-44s %9s %12s   RSS <= %d KiB: %s; <= 110%% of cryptsetup (%.0f%%): %s\n' "" "" "" "$GOAL_RSS_KIB" \
	"$(holds "$vr <= $GOAL_RSS_KIB")" "$(awk "BEGIN{print 100*$vr/$cr}")" "$(holds "$vr <= 1.1 * $cr")"
printf '  %-44s %9s %12s   RSS <= %d KiB: %s; %.0f%% of cryptsetup\n' "volkey open --test (aws-kms, TLS, loopback)" \
	"$kt" "$kr" "$GOAL_RSS_KIB" "$(holds "$kr <= $GOAL_RSS_KIB")" "$(awk "BEGIN{print 100*$kr/$cr}")"
# The lines make bench-agent gathers into its table.
gh() { if awk "BEGIN{exit !($1)}"; then echo held; else echo "not held"; fi; }
echo "GOAL 3 memory: volkey open --test, file key, peak RSS: $vr KiB, cryptsetup $cr KiB (goal <= $GOAL_RSS_KIB KiB, within 10% of cryptsetup's) $(gh "$vr <= $GOAL_RSS_KIB && $vr <= 1.1 * $cr")"
echo "GOAL 3 memory: volkey open --test, aws-kms over TLS, peak RSS: $kr KiB (goal <= $GOAL_RSS_KIB KiB) $(gh "$kr <= $GOAL_RSS_KIB")"
echo "GOAL 4 latency: volkey open --test, file key, against cryptsetup: $vt ms / $ct ms = $(awk "BEGIN{printf \"%.2f\", $vt/$ct}")x (goal <= ${GOAL_RATIO}x) $(gh "$vt <= $GOAL_RATIO * $ct")"

echo
echo "per phase, ms (medians of $PHASE_RUNS runs under vk-footprint-preload.so and LD_DEBUG=statistics):"
printf '  %-52s %10s %10s %10s\n' "" "volkey" "cryptsetup" "volkey KMS"
phase() { printf '  %-52s %10s %10s %10s\n' "$1" "$(col file.p "$2")" "$(col cs.p "$2")" "$(col kms.p "$2")"; }
phase "start: fork, exec, ld.so, library constructors" 4
cyc() { awk -v c="$2" -v t="$tsc" '$c >= 0 && t > 0 {printf "%.2f\n", $c / t}' "$TMP/$1" | med; }  # TSC cycles to ms
printf '  %-52s %10s %10s %10s\n' "  of which ld.so loading and relocating" "$(cyc file.p 8)" "$(cyc cs.p 8)" \
	"$(cyc kms.p 8)"
printf '  %-52s %10s %10s %10s\n' "  of which relocating" "$(cyc file.p 9)" "$(cyc cs.p 9)" "$(cyc kms.p 9)"
printf '  %-52s %10s %10s %10s\n' "  symbol relocations / relative relocations" \
	"$(col file.p 10)/$(col file.p 11)" "$(col cs.p 10)/$(col cs.p 11)" \
	"$(col kms.p 10)/$(col kms.p 11)"
phase "main to the first crypt_init (arguments, config)" 5
phase "the work (header, key, keyslot; KMS: TLS + Decrypt)" 6
phase "exit (handlers, destructors, unmapping)" 7
phase "wall" 1

echo
for n in file cs kms; do
	case $n in
	file) title="volkey open --test, file key" ;;
	cs) title="cryptsetup open --test-passphrase, key file" ;;
	kms) title="volkey open --test, aws-kms over TLS" ;;
	esac
	echo "== $title: RSS at the peak"
	"run_$n" smaps -o "$TMP/$n.log" -s "$TMP/$n.smaps" >"$TMP/$n.breakdown" || { cat "$TMP/$n.log"; fail "$n: smaps run failed"; }
	sed 's/^/  /' "$TMP/$n.breakdown"
done

# What loading libcurl costs: the files the KMS run maps that the file-key run does not.
files_rss() { awk '/^[0-9a-f]+-[0-9a-f]+ /{f = ($6 ~ /^\//) ? $6 : ""} /^Rss:/ && f != "" {r[f] += $2} END {for (f in r) print r[f], f}' "$1"; }
files_rss "$TMP/file.smaps" | awk '{print $2}' | sort >"$TMP/file.files"
files_rss "$TMP/kms.smaps" | sort -k2 >"$TMP/kms.files"
join -1 2 -2 1 -v 1 <(sort -k2 "$TMP/kms.files") "$TMP/file.files" | awk '{print $2, $1}' | sort -rn >"$TMP/curl.files"
echo "== what the KMS run maps beyond the file-key run (libcurl and the libraries it brings, on this distribution):"
awk '{s += $1; n++} END {printf "  %d files, %d KiB of RSS at the peak; the largest:\n", n, s}' "$TMP/curl.files"
head -n 8 "$TMP/curl.files" | awk '{n = split($2, p, "/"); printf "    %-50s %8d\n", p[n], $1}'
