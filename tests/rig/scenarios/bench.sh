#!/bin/bash
# rig-args: --timeout 600
# volkey bench through real dm-crypt and fio. The harness is under test, not the
# (emulated) machine:
# - a run on a small temporary loop device has a row for every job and
#   configuration with positive numbers; each ratio is the encrypted row's IOPS
#   over the raw row's of the same job; summaries and the best configuration
#   follow from the rows; the plot file is an SVG; the table shows the same rows;
# - --check fails (exit 13) with an impossible ratio and passes with 0;
# - a device with a filesystem (or any device) needs --destructive, and is left
#   untouched without it; with it the run works on that device;
# - SIGINT mid-run: exit 10, no mapping, loop device or fio left; SIGKILL
#   mid-run: the next run removes the killed run's mappings and its loop device
#   detaches by itself;
# - --apply VOLUME stores the chosen configuration's workqueue flags in the
#   LUKS2 header (volkey status shows them), reloads the open mapping with
#   them, and later opens use them; applying a configuration without the flags
#   clears them.
source "$RIG_SRC/tests/rig/lib.bash"
: >"$TMP/empty.conf"
export VOLKEY_CONFIG=$TMP/empty.conf
ALL_JOBS="randread-4k-qd1 randread-4k-qd32 randrw70-4k-qd32 randwrite-4k-qd1 randwrite-4k-qd32 seqread-1m seqwrite-1m"
ALL_CONFIGS="raw crypt crypt-512 crypt-noread crypt-nowrite crypt-nowq crypt-512-nowq"
loops() { losetup -a | wc -l; }
bench_maps() { dmsetup ls 2>/dev/null | grep -c '^volkey-bench-' || true; }
no_leftovers() { # BASE_LOOPS
	[[ $(bench_maps) -eq 0 ]] || { dmsetup ls; fail "bench mappings left behind"; }
	[[ $(loops) -eq $1 ]] || { losetup -a; fail "loop devices left behind ($(loops), expected $1)"; }
	! pgrep -x fio >/dev/null || fail "fio still running"
}
base=$(loops)

step "full matrix on a temporary 64 MiB loop device, 1 s per job: JSON, plot, table"
"$VOLKEY" bench --dir "$TMP" --size 64M --runtime 1 --json --plot "$TMP/ratios.svg" >"$TMP/full.json" 2>"$TMP/full.err" ||
	{ cat "$TMP/full.err"; fail "bench run"; }
no_leftovers "$base"
"$PY" - "$TMP/full.json" "$ALL_JOBS" "$ALL_CONFIGS" <<'PY' || fail "bench JSON"
import json, math, sys
j = json.load(open(sys.argv[1]))
jobs, configs = sys.argv[2].split(), sys.argv[3].split()
rows = {(r["job"], r["config"]): r for r in j["results"]}
assert sorted(rows) == sorted((a, b) for a in jobs for b in configs), sorted(rows)
for (job, cfg), r in rows.items():
    for k in ("iops", "mib_s", "lat_mean_us", "lat_p99_us", "cpu_us_per_io"):
        assert r[k] > 0, (job, cfg, k, r[k])
    if cfg == "raw":
        assert r["ratio"] is None, r
    else:
        want = r["iops"] / rows[(job, "raw")]["iops"]
        assert abs(r["ratio"] - want) <= 1e-3 * want + 1e-4, (job, cfg, r["ratio"], want)
summ = {s["config"]: s for s in j["summary"]}
assert sorted(summ) == sorted(configs[1:]), summ
for cfg, s in summ.items():
    ratios = [rows[(job, cfg)]["ratio"] for job in jobs]
    g = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
    assert abs(s["geomean_ratio"] - g) <= 1e-3 * g, (cfg, s, g)
    assert abs(s["min_ratio"] - min(ratios)) <= 1e-3, (cfg, s)
    assert rows[(s["min_job"], cfg)]["ratio"] == min(ratios)
best = max(summ, key=lambda c: summ[c]["geomean_ratio"])
# the best is the highest geometric mean; two within rounding of each other are a tie either may win
assert j["best"] in summ and summ[j["best"]]["geomean_ratio"] >= summ[best]["geomean_ratio"] * (1 - 1e-3), (j["best"], best)
cf = {c["name"]: c for c in j["configs"]}
assert cf["crypt"]["sector_size"] == 4096 and cf["crypt"]["flags"] == []
assert cf["crypt-512"]["sector_size"] == 512
assert cf["crypt-nowq"]["flags"] == ["no_read_workqueue", "no_write_workqueue"]
assert j["size_bytes"] == 64 << 20 and j["runtime_s"] == 1 and not j["interrupted"]
assert j["machine"]["xts_aes_driver"], j["machine"]
print("rows %d, best %s (geomean %.3f)" % (len(rows), best, summ[best]["geomean_ratio"]))
PY
head -c 200 "$TMP/ratios.svg" | grep -q '<svg' || fail "the plot is not an SVG"
grep -q 'randwrite-4k-qd32' "$TMP/ratios.svg" || fail "the plot does not name the jobs"
grep -q 'crypt-nowq' "$TMP/ratios.svg" || fail "the plot does not name the configurations"
grep -q '\[49/49\] seqwrite-1m' "$TMP/full.err" || { cat "$TMP/full.err"; fail "progress lines"; }

step "table output: the same matrix, PNG plot"
"$VOLKEY" bench --dir "$TMP" --size 32M --runtime 1 --jobs randread-4k-qd32,seqwrite-1m --configs crypt,crypt-nowq \
	--plot "$TMP/ratios.png" >"$TMP/table" 2>"$TMP/table.err" || { cat "$TMP/table.err"; fail "table run"; }
cat "$TMP/table"
for c in raw crypt crypt-nowq; do grep -Eq "^ *(randread-4k-qd32|seqwrite-1m)? +$c +[0-9]" "$TMP/table" || fail "no $c row"; done
[[ $(grep -Ec '^ *(randread-4k-qd32|seqwrite-1m)? +(raw|crypt|crypt-nowq) +[0-9]+ ' "$TMP/table") -eq 6 ]] || fail "expected 6 rows"
assert_grep '^best: crypt' "$TMP/table"
[[ $(head -c 8 "$TMP/ratios.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "the plot is not a PNG"
no_leftovers "$base"

step "--check: an impossible ratio fails with exit 13, 0 passes"
set +e
"$VOLKEY" bench --dir "$TMP" --size 32M --runtime 1 --jobs randread-4k-qd1 --configs crypt --check 100 >/dev/null 2>"$TMP/chk"
rc=$?
set -e
[[ $rc -eq 13 ]] || { cat "$TMP/chk"; fail "--check 100 exited $rc, not 13"; }
assert_grep 'check FAILED: crypt, encrypted/raw below 100.00 on 1 job: randread-4k-qd1 0\.' "$TMP/chk"
"$VOLKEY" bench --dir "$TMP" --size 32M --runtime 1 --jobs randread-4k-qd1 --configs crypt --check 0 >/dev/null 2>"$TMP/chk" ||
	{ cat "$TMP/chk"; fail "--check 0 failed"; }
assert_grep 'check passed: crypt' "$TMP/chk"
no_leftovers "$base"

step "a device with a filesystem needs --destructive, and is untouched without it"
truncate -s 48M "$TMP/fs.img"
fsdev=$(losetup -f --show "$TMP/fs.img"); on_exit "losetup -d $fsdev 2>/dev/null"
base=$(loops)
mkfs.ext4 -q "$fsdev"
sum=$(sha256sum <"$fsdev")
set +e
"$VOLKEY" bench "$fsdev" --runtime 1 --jobs randread-4k-qd1 --configs crypt >/dev/null 2>"$TMP/d.err"; rc=$?
set -e
[[ $rc -eq 5 ]] || { cat "$TMP/d.err"; fail "bench on an ext4 device exited $rc, not 5"; }
[[ $(wc -l <"$TMP/d.err") -eq 1 ]] || { cat "$TMP/d.err"; fail "not one line"; }
assert_grep "^volkey: error: $fsdev: holds a ext4 signature; .*--destructive" "$TMP/d.err"
[[ $(sha256sum <"$fsdev") == "$sum" ]] || fail "the device changed"
dd if=/dev/zero of="$fsdev" bs=1M count=48 conv=fsync status=none
set +e
"$VOLKEY" bench "$fsdev" --runtime 1 --jobs randread-4k-qd1 --configs crypt >/dev/null 2>"$TMP/d.err"; rc=$?
set -e
[[ $rc -eq 1 ]] || { cat "$TMP/d.err"; fail "bench on a blank device without --destructive exited $rc, not 1"; }
assert_grep 'overwrites the device; give --destructive to confirm' "$TMP/d.err"
mkfs.ext4 -q "$fsdev"
"$VOLKEY" bench "$fsdev" --destructive --runtime 1 --jobs randwrite-4k-qd1 --configs crypt --json >"$TMP/d.json" 2>"$TMP/d.err" ||
	{ cat "$TMP/d.err"; fail "--destructive run"; }
[[ $(json_get "$TMP/d.json" 'j["device"]') == "$fsdev" ]] || fail "the run was not on $fsdev"
[[ $(json_get "$TMP/d.json" 'j["size_bytes"]') -eq $((48 << 20)) ]] || fail "size of $fsdev"
no_leftovers "$base"

step "SIGINT mid-run: exit 10, nothing left behind"
base=$(loops)
"$VOLKEY" bench --dir "$TMP" --size 32M --runtime 4 --jobs randread-4k-qd1,seqread-1m >"$TMP/int.out" 2>"$TMP/int.err" &
bpid=$!
for _ in $(seq 1 300); do grep -q '\[2/' "$TMP/int.err" 2>/dev/null && break; sleep 0.1; done
[[ $(bench_maps) -eq 6 ]] || { cat "$TMP/int.err"; dmsetup ls; fail "expected 6 bench mappings mid-run"; }
pgrep -x fio >/dev/null || fail "no fio running mid-run"
kill -INT "$bpid"
set +e; wait "$bpid"; rc=$?; set -e
[[ $rc -eq 10 ]] || { cat "$TMP/int.err"; fail "interrupted bench exited $rc, not 10"; }
assert_grep 'interrupted by signal 2: every mapping and loop device the run made is removed' "$TMP/int.err"
assert_grep 'INTERRUPTED: partial results' "$TMP/int.out"
no_leftovers "$base"

step "SIGKILL mid-run: the next run removes what the killed one left"
"$VOLKEY" bench --dir "$TMP" --size 32M --runtime 4 --jobs randread-4k-qd1 --configs crypt,crypt-nowq >/dev/null 2>"$TMP/kill.err" &
bpid=$!
for _ in $(seq 1 300); do grep -q '\[1/' "$TMP/kill.err" 2>/dev/null && break; sleep 0.1; done
kill -KILL "$bpid"; wait "$bpid" 2>/dev/null || true
for _ in $(seq 1 100); do pgrep -x fio >/dev/null || break; sleep 0.1; done
[[ $(bench_maps) -eq 2 ]] || { dmsetup ls; fail "expected the killed run's 2 mappings"; }
[[ $(loops) -eq $((base + 1)) ]] || { losetup -a; fail "expected the killed run's loop device"; }
"$VOLKEY" bench --dir "$TMP" --size 32M --runtime 1 --jobs randread-4k-qd1 --configs crypt >/dev/null 2>"$TMP/next.err" ||
	{ cat "$TMP/next.err"; fail "the next run"; }
[[ $(grep -c "removed volkey-bench-$bpid-crypt.*, left by an interrupted bench run" "$TMP/next.err") -eq 2 ]] ||
	{ cat "$TMP/next.err"; fail "stale mappings not reported"; }
no_leftovers "$base"

step "--apply: the best configuration's flags go into the header and the open mapping"
head -c 32 /dev/urandom >"$TMP/kek"; chmod 600 "$TMP/kek"
truncate -s 48M "$TMP/vol.img"
vol=$(losetup -f --show "$TMP/vol.img"); on_exit "losetup -d $vol 2>/dev/null"
"$VOLKEY" format "$vol" --key "file:$TMP/kek" --yes >/dev/null 2>&1 || fail "format"
"$VOLKEY" open "$vol" tuned >/dev/null 2>&1 || fail "open"
on_exit "cryptsetup close tuned 2>/dev/null"
base=$(loops)
"$VOLKEY" bench --dir "$TMP" --size 32M --runtime 1 --jobs randread-4k-qd32 --configs crypt-nowq --apply "$vol" --json \
	>"$TMP/apply.json" 2>"$TMP/apply.err" || { cat "$TMP/apply.err"; fail "--apply"; }
cat "$TMP/apply.err"
[[ $(json_get "$TMP/apply.json" 'j["applied"]["config"]') == crypt-nowq ]] || fail "applied config"
[[ $(json_get "$TMP/apply.json" '",".join(j["applied"]["persistent_flags"])') == no_read_workqueue,no_write_workqueue ]] ||
	fail "applied flags"
"$VOLKEY" status "$vol" >"$TMP/st"
assert_grep '^  persistent flags +no_read_workqueue,no_write_workqueue$' "$TMP/st"
assert_grep '^  live flags +no_read_workqueue,no_write_workqueue$' "$TMP/st"
dmsetup table tuned >"$TMP/tbl"
assert_grep ' no_read_workqueue' "$TMP/tbl"
assert_grep ' no_write_workqueue' "$TMP/tbl"
assert_grep ' sector_size:4096' "$TMP/tbl"
no_leftovers "$base"
"$VOLKEY" close tuned
"$VOLKEY" open "$vol" tuned >/dev/null 2>&1 || fail "reopen"
dmsetup table tuned | grep -q 'no_read_workqueue no_write_workqueue' || { dmsetup table tuned; fail "reopened without the flags"; }

step "--apply with both configurations measured: whichever wins, header and mapping agree with it"
"$VOLKEY" bench --dir "$TMP" --size 32M --runtime 1 --jobs randread-4k-qd32 --configs crypt,crypt-noread --apply "$vol" --json \
	>"$TMP/apply2.json" 2>"$TMP/apply2.err" || { cat "$TMP/apply2.err"; fail "--apply 2"; }
won=$(json_get "$TMP/apply2.json" 'j["best"]')
[[ $(json_get "$TMP/apply2.json" 'j["applied"]["config"]') == "$won" ]] || fail "applied is not the best"
dmsetup table tuned >"$TMP/tbl"
volume_json "$vol" >"$TMP/st.json"
pf=$(json_get "$TMP/st.json" '",".join(j["persistent_flags"]) if "persistent_flags" in j else ",".join(j["volumes"][0]["persistent_flags"])')
echo "best of crypt and crypt-noread here: $won; persistent flags now '$pf'"
if [[ $won == crypt ]]; then
	[[ -z $pf ]] || fail "crypt won but flags '$pf' remain"
	! grep -q workqueue "$TMP/tbl" || fail "the mapping still bypasses a workqueue"
else
	[[ $pf == no_read_workqueue ]] || fail "crypt-noread won but flags are '$pf'"
	grep -q ' no_read_workqueue' "$TMP/tbl" && ! grep -q no_write_workqueue "$TMP/tbl" || fail "mapping flags: $(cat "$TMP/tbl")"
fi

step "--apply refuses the device the benchmark would overwrite, and a non-LUKS volume, before running"
set +e
"$VOLKEY" bench "$fsdev" --destructive --apply "$fsdev" >/dev/null 2>"$TMP/a.err"; rc=$?
set -e
[[ $rc -eq 1 ]] || { cat "$TMP/a.err"; fail "--apply on the bench device exited $rc"; }
set +e
"$VOLKEY" bench --dir "$TMP" --size 32M --apply "$fsdev" >/dev/null 2>"$TMP/a.err"; rc=$?
set -e
[[ $rc -eq 4 ]] || { cat "$TMP/a.err"; fail "--apply on a non-LUKS device exited $rc, not 4"; }
no_leftovers "$base"
echo "bench harness: all checks passed"
