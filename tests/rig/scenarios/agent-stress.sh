#!/bin/bash
# rig-args: --timeout 900
# libcryptsetup and libdevmapper are not thread-safe and volkeyd handles each
# device in its own thread: every call into them holds one lock
# (agent/base/cslock.h), while the unwraps (here: KMS over TLS) stay parallel.
# 16 volkey volumes with an aws-kms token each, the KMS double over TLS:
# volkeyd boots 12 times (STRESS_BOOTS); every boot must unlock all 16 and stop cleanly (no
# crash, no hang, exit 0). Then 8 volumes under the ThreadSanitizer build of
# volkeyd (make tsan; its lock check also aborts on any libcryptsetup or
# libdevmapper call made without the lock): no report. Prints the time to READY
# of each boot and what the lock cost (time waited for it, time held).
# volkeyd keeps its metrics textfile meanwhile ([metrics], every 10 s and
# after each outcome), so the metrics thread reads every header while the
# workers unlock (under TSan too); at each stop the file shows every volume open.
source "$RIG_SRC/tests/rig/lib.bash"
VOLKEYD=$RIG_SRC/$BUILD/volkeyd
TSAN_VOLKEYD=$RIG_SRC/build-tsan/volkeyd
[[ -x $TSAN_VOLKEYD ]] || fail "no $TSAN_VOLKEYD: run make tsan first"
BOOTS=${STRESS_BOOTS:-12}
start_guest_kms --tls
mkdir -p /etc/volkey
mkdir -p "$TMP/prom"
printf '[kms]\nendpoint = %s\nca_file = %s\n[volkey]\nunlock_timeout_ms = 120000\n[metrics]\ntextfile = %s\ninterval = 10\n' \
	"$KMS" "$KMS_CA" "$TMP/prom/volkey.prom" >/etc/volkey/volkey.conf
/lib/systemd/systemd-udevd --daemon
on_exit "udevadm control --exit"
ulimit -c unlimited
echo "$TMP/core.%p" >/proc/sys/kernel/core_pattern

step "16 volkey volumes, each with an aws-kms token"
devs=()
for i in $(seq 1 16); do
	truncate -s 20M "$TMP/v$i.img"
	devs+=("$(losetup -f --show "$TMP/v$i.img")")
	"$VOLKEY" format "${devs[-1]}" --key aws-kms:alias/vol --yes >/dev/null 2>"$TMP/fmt.err" || { cat "$TMP/fmt.err"; fail "format"; }
done
on_exit "losetup -d ${devs[*]} 2>/dev/null"
close_all() { for m in /dev/mapper/volkey-*; do [[ -e $m ]] && cryptsetup close "$(basename "$m")"; done; return 0; }

# boot BIN N LOG: volkeyd BIN over the first N volumes until ready; prints seconds to READY.
boot() {
	local bin=$1 n=$2 log=$3 pid t0 rc ok
	rm -f /run/volkey/status.json
	t0=$EPOCHREALTIME
	"$bin" >"$log" 2>&1 &
	pid=$!
	wait_agent_ready "$pid" "$bin" "$log" "$t0" 300
	awk "BEGIN{printf \"%.2f\n\", $EPOCHREALTIME - $t0}"
	ok=$(json_get /run/volkey/status.json 'sum(d["state"] == "unlocked" for d in j["devices"])')
	kill "$pid"
	wait "$pid" && rc=0 || rc=$?
	if [[ $rc -ne 0 ]]; then
		cat "$log" >&2
		agent_backtraces "$bin" >&2
		fail "volkeyd exited with status $rc when stopped"
	fi
	[[ $ok -eq $n ]] || { cat "$log" >&2; fail "$ok of $n volumes unlocked"; }
	ok=$(grep -c '^volkey_volume_state{.*state="open"} 1$' "$TMP/prom/volkey.prom" || true)
	[[ $ok -eq $n ]] || { cat "$TMP/prom/volkey.prom" >&2; fail "the metrics show $ok of $n volumes open"; }
	rm -f "$TMP/prom/volkey.prom"
}

step "volkeyd boots $BOOTS times over 16 volumes"
times=()
for b in $(seq 1 "$BOOTS"); do
	t=$(boot "$VOLKEYD" 16 "$TMP/boot$b.log")
	times+=("$t")
	lock=$(sed -n 's/.*libcryptsetup lock: //p' "$TMP/boot$b.log")
	[[ -n $lock ]] || { cat "$TMP/boot$b.log"; fail "no lock statistics in the log"; }
	echo "   boot $b: 16 unlocked, READY after $t s; lock: $lock"
	close_all
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "   16 devices x %d boots: READY median %.2f s, min %.2f s, max %.2f s; no crash\n", NR, a[int((NR+1)/2)], a[1], a[NR]}'

step "8 volumes under ThreadSanitizer"
for i in $(seq 9 16); do losetup -d "${devs[$((i - 1))]}"; done
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 log_path=$TMP/tsan"
t=$(boot "$TSAN_VOLKEYD" 8 "$TMP/tsan-boot.log")
unset TSAN_OPTIONS
close_all
echo "   8 devices under ThreadSanitizer: READY after $t s"
if ls "$TMP"/tsan.* >/dev/null 2>&1; then
	cat "$TMP"/tsan.* | head -150
	fail "ThreadSanitizer reported (above)"
fi
grep -q "called without the libcryptsetup/libdevmapper lock" "$TMP/tsan-boot.log" && fail "a call without the lock"
echo "   ThreadSanitizer: no report; every libcryptsetup/libdevmapper call held the lock"
echo "agent stress ok"
