#!/bin/bash
# A small boot storm against the KMS double's request quota (tests/progs/storm.c,
# the real unwrap and retry code): every instance unlocks and none gives up; the
# retry delays of kms_call and of volkeyd's device retry stay within their caps
# and are spread by full jitter; with every call throttled, each instance keeps
# trying until its unlock deadline and gives up then, as "KMS busy" (exit 6),
# and each kms_call stops by [kms] deadline_ms, not long before or after.
source "$(dirname "$0")/lib.bash"
STORM=$VOLKEY_SRC/${BUILD:-build}/tests/progs/storm
kms_config "$TMP/kms.json"
start_kms Q --config "$TMP/kms.json" --quota 50
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
export VOLKEY_CONFIG=$TMP/volkey.conf
quota() { curl -sf "$KMS_URL_Q/_volkey/quota"; }
# summary KEY: a value of the storm's last line (storm: key=value ...).
summary() { tail -n1 "$TMP/storm.out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# check_delays LOG KMS_BASE KMS_CAP DEV_BASE DEV_CAP: the storm's --debug lines
# announce each delay: kms_call's attempt a waits in [0, min(cap, base * 2^(a-1))],
# the device's retry k in [100 ms, min(cap, base * 2^k)]; full jitter spreads
# them uniformly over that range (a mean near half of it, both ends used).
check_delays() {
	"$PY" - "$@" <<'PY' || fail "retry delays"
import re, sys
log, kbase, kcap, dbase, dcap = sys.argv[1], *map(int, sys.argv[2:6])
kms, dev = [], []
for line in open(log):
    m = re.search(r"KMS Decrypt attempt (\d+) failed \(.*\); retrying in (\d+) ms\b", line)
    if m:
        a, d = int(m.group(1)), int(m.group(2))
        kms.append((d, min(kcap, kbase << min(a - 1, 20))))
    m = re.search(r"device retry (\d+) in (\d+) ms\b", line)
    if m:
        k, d = int(m.group(1)), int(m.group(2))
        dev.append((d, min(dcap, dbase << min(k, 20))))
for name, ds, floor, cap in (("kms_call", kms, 0, kcap), ("device", dev, 100, dcap)):
    over = [(d, b) for d, b in ds if d > b or d < floor]
    # the spread is judged where the 100 ms floor of device delays distorts it little
    j = [(d, b) for d, b in ds if b >= 4 * floor]
    ratio = sum(d / b for d, b in j) / max(len(j), 1)
    low = sum(d <= b / 4 for d, b in j)
    high = sum(d > 3 * b / 4 for d, b in j)
    print("%s retries: %d (%d at the cap), outside [%d ms, bound]: %d; of %d judged: mean delay / bound "
          "%.2f, in the lowest quarter %d, in the highest %d"
          % (name, len(ds), sum(b == cap for d, b in ds), floor, len(over), len(j), ratio, low, high))
    assert len(j) >= 30, "too few %s retries to judge" % name
    assert not over, "%s delays outside their bounds: %s" % (name, over[:5])
    assert 0.3 <= ratio <= 0.7, "%s delays are not full jitter (mean %.2f of the bound)" % (name, ratio)
    assert low >= len(j) // 20 and high >= len(j) // 20, "%s delays are not spread over [0, bound]" % name
PY
}

echo "== 150 instances within 1 s at 50 requests/s: all unlock, none gives up"
cat >"$TMP/volkey.conf" <<CONF
[kms]
endpoint = $KMS_URL_Q
max_attempts = 2
retry_base_ms = 250
retry_cap_ms = 1000
deadline_ms = 3000
[volkey]
retry_base_ms = 250
retry_cap_ms = 900
unlock_timeout_ms = 15000
CONF
# the blob first (one GenerateDataKey), so the storm's counts are its own
"$STORM" --instances 1 --blob "$TMP/blob" aws-kms:alias/vol >/dev/null 2>&1 || fail "storm setup"
sleep 1.1
q0=$(quota)
rc=0
"$STORM" --instances 150 --quota 50 --blob "$TMP/blob" --debug aws-kms:alias/vol >"$TMP/storm.out" \
	2>"$TMP/storm.err" || rc=$?
q1=$(quota)
cat "$TMP/storm.out"
[[ $rc -eq 0 ]] || { tail -n 20 "$TMP/storm.err"; fail "storm exit $rc"; }
[[ $(summary unlocked) -eq 150 && $(summary gave_up) -eq 0 && $(summary late) -eq 0 ]] ||
	fail "not every instance unlocked"
"$PY" - "$q0" "$q1" "$(summary throttled)" "$(summary requests)" "$(summary ratio)" <<'PY' || fail "quota or total"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
thr, req, ratio = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
served, throttled = b["served"] - a["served"], b["throttled"] - a["throttled"]
print("double: served %d, throttled %d; storm: requests %d, throttled %d, total %.2f x ideal"
      % (served, throttled, req, thr, ratio))
assert served == 150, "the double served %d Decrypts, not 150" % served
assert throttled == thr and served + throttled == req, "the storm's counts differ from the double's"
assert thr >= 50, "the quota was hardly hit (%d throttled): the test proves nothing" % thr
assert ratio <= 1.5, "total %.2f x N / quota" % ratio
PY

echo "== retry delays: within the caps, spread by full jitter"
check_delays "$TMP/storm.err" 250 1000 250 900

echo "== every call throttled: each instance gives up at its unlock deadline, as KMS busy"
cat >"$TMP/volkey.conf" <<CONF
[kms]
endpoint = $KMS_URL_Q
max_attempts = 10
retry_base_ms = 200
retry_cap_ms = 800
deadline_ms = 2000
[volkey]
retry_base_ms = 200
retry_cap_ms = 700
unlock_timeout_ms = 5000
CONF
kms_ctl "$KMS_URL_Q" /_volkey/quota '{"rps": 0}'
t0=$EPOCHREALTIME
rc=0
"$STORM" --instances 40 --quota 50 --blob "$TMP/blob" --debug aws-kms:alias/vol >"$TMP/storm.out" \
	2>"$TMP/storm.err" || rc=$?
secs=$(awk "BEGIN{print $EPOCHREALTIME - $t0}")
cat "$TMP/storm.out"
[[ $rc -eq 6 ]] || { tail -n 20 "$TMP/storm.err"; fail "storm exit $rc, not 6 (unavailable)"; }
assert_grep 'KMS busy or unavailable: ThrottlingException' "$TMP/storm.out"
[[ $(summary unlocked) -eq 0 && $(summary missed) -eq 40 && $(summary fatal) -eq 0 && $(summary retry_max) -eq 0 ]] ||
	fail "every instance should have run into its deadline"
# here kms_call makes up to 10 attempts, so its later delays meet its cap (800 ms);
# the device cap (700 ms) is not base x 2^k, so a clamp not applied shows there too
check_delays "$TMP/storm.err" 200 800 200 700
"$PY" - "$(tail -n1 "$TMP/storm.out")" "$secs" <<'PY' || fail "deadlines"
import sys
kv = dict(w.split("=", 1) for w in sys.argv[1].split()[1:])
secs = float(sys.argv[2])
call_max, call_min = int(kv["max_call_ms"]), int(kv["min_fail_call_ms"])
gap, total, rounds = int(kv["last_try_before_deadline_ms"]), float(kv["total_s"]), int(kv["rounds_max"])
print("unlock attempts %d..%d ms long, last try at most %d ms before the deadline, total %.2f s (wall %.2f s)"
      % (call_min, call_max, gap, total, secs))
# kms_call: never past deadline_ms (2000); it stops early only when its next
# delay (at most retry_cap_ms, 800) would cross it
assert call_max <= 2000 + 250, "a kms_call ran past its deadline: %d ms" % call_max
assert call_min >= 2000 - 800 - 100, "a kms_call gave up early: %d ms" % call_min
# the device: still trying within one attempt and one device delay of its deadline
assert 0 <= gap <= 2000 + 700 + 250, "an instance stopped trying %d ms before its deadline" % gap
assert rounds >= 2, "the device was never retried"
# deadlines are start + 5 s, starts within 1 s; the attempt running at the deadline ends within 2 s
assert 5.0 <= total <= 6.1, "the last instance gave up at %.2f s" % total
assert secs <= 6.1 + 2.5 + 1.5, "the storm took %.1f s" % secs
PY
echo "ok"
