#!/bin/bash
# volkey bench on the host, whose kernel has no device-mapper: bad input gets one
# line and its documented code before anything is made; the encrypted
# configurations are refused with the reason and the way out (--configs raw);
# fio JSON of another shape (a fake fio) is refused with the reason;
# a raw-only run on a temporary loop device parses fio's results into rows with
# positive numbers and leaves no loop device; SIGINT stops it (exit 10) with
# nothing left; a device with a filesystem is refused without --destructive and
# left untouched; VOLKEY_BENCH_DIR supplies other job files. The encrypted
# configurations, ratios, plot, --check and --apply are tested through real
# dm-crypt in the rig (tests/rig/scenarios/bench.sh).
source "$(dirname "$0")/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
command -v fio >/dev/null || skip "fio not installed"
loops() { losetup -a | wc -l; }
one_line() { [[ $(wc -l <"$TMP/out") -eq 1 ]] || { cat "$TMP/out"; fail "not one line: $*"; }; }

bad() { # CODE PATTERN ARGS...
	local code=$1 pat=$2; shift 2
	expect_exit "$code" "$VOLKEY" bench "$@"
	one_line "$*"
	assert_grep "^volkey: error: .*$pat"
}
bad 1 "--size 0: not a size" --size 0
bad 1 "--size 1.5G: not a size" --size 1.5G
bad 1 "--size 100K: not a size" --size 100K
bad 1 "--runtime 0: not a number of seconds" --runtime 0
bad 1 "--check abc: not a ratio" --check abc
bad 1 "--check -1: not a ratio" --check -1
bad 1 "--configs: unknown configuration 'fast' \(known: raw, crypt, crypt-512" --configs crypt,fast
bad 1 "--jobs: 'x/y' is not a job name" --jobs x/y
bad 4 "nosuch.fio: no such job file" --jobs randread-4k-qd1,nosuch
bad 1 "--destructive needs a DEVICE" --destructive
bad 1 "--plot r.pdf: the file name must end in .svg or .png" --plot r.pdf
bad 4 "--save /nonexistent/r.json: cannot write in /nonexistent" --save /nonexistent/r.json
bad 1 "unexpected argument 'two'" one two
bad 1 "--check, --apply and --plot need an encrypted configuration" --configs raw --check 0.5
bad 4 "/nonexistent-dev: No such file" /nonexistent-dev --destructive
printf 'not luks' >"$TMP/plain"
bad 4 "$TMP/plain: .*LUKS2" --apply "$TMP/plain"

base=$(loops)
if ! grep -q device-mapper /proc/misc; then
	bad 7 "this kernel cannot make dm-crypt mappings \(.*\); \`--configs raw\` measures the raw device only" --size 32M
	[[ $(loops) -eq $base ]] || fail "a refused run left a loop device"
fi

# A raw-only run: fio's JSON becomes one row per job, numbers positive, no ratio.
"$VOLKEY" bench --configs raw --dir "$TMP" --size 32M --runtime 1 --json >"$TMP/raw.json" 2>"$TMP/raw.err" ||
	{ cat "$TMP/raw.err"; fail "raw-only bench"; }
[[ $(loops) -eq $base ]] || { losetup -a; fail "the run left a loop device"; }
"$PY" - "$TMP/raw.json" "$VOLKEY_SRC/tools/bench" <<'PY' || fail "raw-only JSON"
import glob, json, os, sys
j = json.load(open(sys.argv[1]))
jobs = sorted(os.path.basename(p)[:-4] for p in glob.glob(sys.argv[2] + "/*.fio"))
assert len(jobs) == 7, jobs
assert [r["job"] for r in j["results"]] == jobs, j["results"]
for r in j["results"]:
    assert r["config"] == "raw" and r["ratio"] is None, r
    for k in ("iops", "mib_s", "lat_mean_us", "lat_p99_us", "cpu_us_per_io"):
        assert r[k] > 0, (r["job"], k, r[k])
    if r["job"].endswith("-1m"):  # 1 MiB requests: MiB/s equals IOPS
        assert abs(r["mib_s"] - r["iops"]) <= 0.01 * r["iops"] + 0.1, r
    else:  # 4 KiB requests
        assert abs(r["mib_s"] * 256 - r["iops"]) <= 0.01 * r["iops"] + 1, r
assert j["summary"] == [] and j["best"] is None and j["size_bytes"] == 32 << 20
assert j["origin"].startswith("temporary loop device on a file in "), j["origin"]
print("raw-only rows:", len(j["results"]))
PY
grep -q "^volkey: \[7/7\] seqwrite-1m *raw" "$TMP/raw.err" || { cat "$TMP/raw.err"; fail "progress lines"; }

# Table output names each job once, then its configurations.
expect_exit 0 "$VOLKEY" bench --configs raw --dir "$TMP" --size 16M --runtime 1 --jobs seqread-1m,randread-4k-qd1
assert_grep '^randread-4k-qd1 +raw +[0-9]+ '
assert_grep '^seqread-1m +raw +[0-9]+ '
assert_grep '^job +configuration +IOPS +MiB/s +mean us +p99 us +CPU us/IO +enc/raw$'

# SIGINT: fio is stopped, the loop device goes, exit 10, partial results printed.
"$VOLKEY" bench --configs raw --dir "$TMP" --size 16M --runtime 5 --jobs randread-4k-qd1,randread-4k-qd32 \
	>"$TMP/int.out" 2>"$TMP/int.err" &
pid=$!
for _ in $(seq 1 100); do pgrep -P "$pid" -x fio >/dev/null && grep -q '\[1/' "$TMP/int.err" && break; sleep 0.1; done
pgrep -P "$pid" -x fio >/dev/null || { cat "$TMP/int.err"; fail "fio did not start"; }
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[[ $rc -eq 10 ]] || { cat "$TMP/int.err"; fail "interrupted run exited $rc, not 10"; }
assert_grep 'interrupted by signal 2' "$TMP/int.err"
assert_grep 'INTERRUPTED: partial results' "$TMP/int.out"
assert_grep '^randread-4k-qd1 +raw +[0-9]+ ' "$TMP/int.out"
! pgrep -x fio >/dev/null || fail "fio still running"
[[ $(loops) -eq $base ]] || { losetup -a; fail "the interrupted run left a loop device"; }

# A device with a filesystem: refused without --destructive, and untouched.
dev=$(new_loop fs 32M)
mkfs.ext4 -q "$dev"
sum=$(dev_sum "$dev")
bad 5 "$dev: holds a ext4 signature; volkey bench overwrites the device: give --destructive" "$dev" --configs raw
[[ $(dev_sum "$dev") == "$sum" ]] || fail "$dev changed"
# With it, the raw run measures that device.
"$VOLKEY" bench "$dev" --destructive --configs raw --runtime 1 --jobs randwrite-4k-qd1 --json >"$TMP/d.json" 2>"$TMP/d.err" ||
	{ cat "$TMP/d.err"; fail "--destructive run"; }
[[ $(json_get "$TMP/d.json" 'j["device"]') == "$dev" ]] || fail "not run on $dev"

# Other job files through VOLKEY_BENCH_DIR.
mkdir "$TMP/jobs"
cp "$VOLKEY_SRC/tools/bench/common.fioinc" "$TMP/jobs/"
printf '[global]\ninclude common.fioinc\n\n[tiny]\nrw=randread\nbs=8k\niodepth=2\n' >"$TMP/jobs/tiny.fio"
VOLKEY_BENCH_DIR=$TMP/jobs "$VOLKEY" bench --configs raw --dir "$TMP" --size 16M --runtime 1 --json >"$TMP/c.json" \
	2>"$TMP/c.err" || { cat "$TMP/c.err"; fail "custom job dir"; }
[[ $(json_get "$TMP/c.json" '[r["job"] for r in j["results"]]') == "['tiny']" ]] || fail "custom job not run"
# fio's JSON without a jobs array (found by tests/fuzz/fuzz_bench_record.c: json-c
# asserted and volkey bench aborted): refused with the reason, nothing left behind.
mkdir "$TMP/fakefio"
cat >"$TMP/fakefio/fio" <<'SH'
#!/bin/bash
for a; do [[ $a == --output=* ]] && printf '%s\n' "$FAKE_FIO_JSON" >"${a#--output=}"; done
exit 0
SH
chmod +x "$TMP/fakefio/fio"
base=$(loops)
for json in '{"jobs":{}}' '{"fio version":"fio-3.33"}' '{"jobs":[{"read":[],"write":{}}]}'; do
	expect_exit 8 env FAKE_FIO_JSON="$json" PATH="$TMP/fakefio:$PATH" "$VOLKEY" bench --configs raw --dir "$TMP" \
		--size 16M --runtime 1 --jobs randread-4k-qd1
	assert_grep "fio.json: fio's JSON has no job result"
done
[[ $(loops) -eq $base ]] || { losetup -a; fail "the refused run left a loop device"; }
echo "bench host ok"
