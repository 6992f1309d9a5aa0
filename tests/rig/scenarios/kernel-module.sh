#!/bin/bash
# rig-args: --timeout 400
# The kernel module (kernel/volkey_xts.c), built by `make module` against the
# guest kernel's headers, in the guest:
# - it loads; this kernel runs the crypto self-tests (CONFIG_CRYPTO_MANAGER_DISABLE_TESTS
#   is not set), and /proc/crypto says they passed for xts-aes-volkey, which is
#   synchronous and outranks xts-aes-aesni;
# - a new dm-crypt mapping uses it (its tfm count in /proc/crypto and the
#   module's use count go up); rmmod is refused while the mapping exists and the
#   mapping keeps working; its fallback (where the FPU is not usable) is XTS over
#   the fixed-time AES, never aes-generic;
# - data written through dm-crypt without the module reads back identical with
#   it and the reverse, and the ciphertext on disk is bit-identical for the same
#   key and data;
# - random keys and random lengths through AF_ALG: xts-aes-volkey against the
#   generic xts(ecb(aes-generic)), encryption and decryption, and the same
#   refusals (bad key sizes, messages shorter than a block);
# - volkey bench offers crypt-aesni, crypt-module and crypt-module-nowq once the
#   module is loaded, measures each, and records the module's gain;
# - volkeyd loads it with kernel_module = on, not with off, and with auto only
#   when the recorded gain for this kernel is large enough.
source "$RIG_SRC/tests/rig/lib.bash"
KO=$RIG_SRC/$BUILD/module/kernel/volkey_xts.ko
[[ -f $KO ]] || fail "$KO not built (make module)"
grep -q '^# CONFIG_CRYPTO_MANAGER_DISABLE_TESTS is not set' "/boot/config-$(uname -r)" ||
	fail "this kernel does not run the crypto self-tests: 'passed' in /proc/crypto would mean nothing"
modprobe aesni_intel 2>/dev/null || true
modprobe algif_skcipher
# field DRIVER KEY: a /proc/crypto field of one driver.
field() { awk -v d="$1" -v k="$2" '$1 == "driver" {cur = $3} cur == d && $1 == k {print $3; exit}' /proc/crypto; }

step "load: self-tests passed, synchronous, priority above xts-aes-aesni"
[[ $(field xts-aes-aesni async) == yes ]] || fail "xts-aes-aesni is not asynchronous on this kernel"
insmod "$KO" || { dmesg | tail -5; fail "insmod"; }
dmesg | grep -q 'volkey_xts: xts-aes-volkey registered' || { dmesg | tail; fail "no registration message"; }
[[ $(field xts-aes-volkey selftest) == passed ]] || { grep -A12 xts-aes-volkey /proc/crypto; fail "self-test did not pass"; }
[[ $(field xts-aes-volkey async) == no ]] || fail "xts-aes-volkey is asynchronous"
(( $(field xts-aes-volkey priority) > $(field xts-aes-aesni priority) )) || fail "priority"
"$VOLKEY" doctor >"$TMP/doc" || true
assert_grep '^xts\(aes\) +xts-aes-volkey \(module volkey_xts, priority 410, sync, self-test passed\)' "$TMP/doc"
assert_grep '^volkey_xts +loaded; xts-aes-volkey not in use' "$TMP/doc"

step "a new dm-crypt mapping uses it; rmmod refused while it does"
truncate -s 64M "$TMP/d.img"
dev=$(losetup -f --show "$TMP/d.img"); on_exit "losetup -d $dev 2>/dev/null"
head -c 64 /dev/urandom >"$TMP/key"
plain() { # NAME: a plain dm-crypt mapping of $dev with $TMP/key
	dmsetup create "$1" --table "0 $((64 * 2048)) crypt aes-xts-plain64 $(xxd -p -c 64 "$TMP/key") 0 $dev 0 1 sector_size:4096"
	dmsetup mknodes "$1"
}
refs0=$(field xts-aes-volkey refcnt)
use0=$(awk '$1 == "volkey_xts" {print $3}' /proc/modules)
plain m1; on_exit "dmsetup remove m1 2>/dev/null"
(( $(field xts-aes-volkey refcnt) > refs0 )) || fail "the mapping did not take a tfm of xts-aes-volkey"
(( $(awk '$1 == "volkey_xts" {print $3}' /proc/modules) > use0 )) || fail "module use count did not go up"
# Its fallback where the FPU is not usable is XTS over the fixed-time AES, never
# the table-based aes-generic (cache timing); nothing has asked for generic yet.
[[ $(field 'xts(ecb(aes-fixed-time))' refcnt) -ge 1 ]] || { grep '^driver' /proc/crypto; fail "no fixed-time fallback in use"; }
[[ -z $(field 'xts(ecb(aes-generic))' driver) ]] || fail "xts(ecb(aes-generic)) instantiated: the module's fallback is table-based"
"$VOLKEY" doctor --json >"$TMP/doc.json" || true
[[ $(json_get "$TMP/doc.json" 'j["volkey_xts"]["in_use"]') == True ]] || fail "doctor does not see the module in use"
! rmmod volkey_xts 2>"$TMP/rmmod.err" || fail "rmmod worked while a mapping uses the module"
cat "$TMP/rmmod.err"
head -c 16M /dev/urandom >"$TMP/data"
dd if="$TMP/data" of=/dev/mapper/m1 bs=1M oflag=direct status=none
cmp <(dd if=/dev/mapper/m1 bs=1M count=16 iflag=direct status=none) "$TMP/data" || fail "read back through the module"
sha_with=$(dd if="$dev" bs=1M count=16 iflag=direct status=none | sha256sum)
dmsetup remove m1

step "without the module: same key, same data, same ciphertext; and each reads the other's"
rmmod volkey_xts || fail "rmmod with no user"
"$VOLKEY" doctor >"$TMP/doc" || true
assert_grep '^volkey_xts +not loaded \(not installed for this kernel\)' "$TMP/doc"
[[ -z $(field xts-aes-volkey driver) ]] || true
plain m2
(( $(field xts-aes-aesni refcnt) >= 1 )) || fail "xts-aes-aesni not in use without the module"
cmp <(dd if=/dev/mapper/m2 bs=1M count=16 iflag=direct status=none) "$TMP/data" || fail "written with the module, read without"
dd if=/dev/zero of="$dev" bs=1M count=16 oflag=direct status=none
dd if="$TMP/data" of=/dev/mapper/m2 bs=1M oflag=direct status=none
sha_without=$(dd if="$dev" bs=1M count=16 iflag=direct status=none | sha256sum)
[[ $sha_with == "$sha_without" ]] || fail "ciphertext differs with and without the module"
dmsetup remove m2
insmod "$KO"
plain m3; on_exit "dmsetup remove m3 2>/dev/null"
cmp <(dd if=/dev/mapper/m3 bs=1M count=16 iflag=direct status=none) "$TMP/data" || fail "written without the module, read with"
dmsetup remove m3

step "AF_ALG: random keys and lengths, xts-aes-volkey against xts(ecb(aes-generic))"
"$PY" - <<'PY' || fail "AF_ALG comparison"
import os, random, socket
def op(driver, key, iv, data, enc):
    with socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0) as s:
        s.bind(("skcipher", driver))
        s.setsockopt(socket.SOL_ALG, socket.ALG_SET_KEY, key)
        c, _ = s.accept()
        with c:
            c.sendmsg_afalg([data], op=socket.ALG_OP_ENCRYPT if enc else socket.ALG_OP_DECRYPT, iv=iv)
            return c.recv(len(data))
def refused(driver, key, data):
    try:
        op(driver, key, b"\0" * 16, data, True)
    except OSError as e:
        return e.errno
    return 0
rng = random.Random(int.from_bytes(os.urandom(8), "big"))
n = 0
for i in range(400):
    key = os.urandom(rng.choice([32, 48, 64]))
    length = rng.choice([16, 17, 31, 32, 512, 4096]) if i % 4 == 0 else rng.randint(16, 9000)
    data, iv = os.urandom(length), os.urandom(16)
    for enc in (True, False):
        a = op("xts-aes-volkey", key, iv, data, enc)
        b = op("xts(ecb(aes-generic))", key, iv, data, enc)
        assert a == b, (len(key), length, enc)
        n += 1
    assert op("xts-aes-volkey", key, iv, op("xts-aes-volkey", key, iv, data, True), False) == data
for bad_key in (16, 40, 80):
    k = os.urandom(bad_key)
    assert refused("xts-aes-volkey", k, b"x" * 32) == refused("xts(ecb(aes-generic))", k, b"x" * 32) != 0, bad_key
short = refused("xts-aes-volkey", os.urandom(64), b"x" * 15)
assert short == refused("xts(ecb(aes-generic))", os.urandom(64), b"x" * 15) != 0, short
print("AF_ALG: %d random vectors equal; bad key sizes and short messages refused alike" % n)
PY
step "volkey bench: with and without the module, side by side; the gain recorded for kernel_module = auto"
: >"$TMP/empty.conf"
printf '[volkey]\nmodule_record = %s\n' "$TMP/rec.json" >"$TMP/rec.conf"
VOLKEY_CONFIG=$TMP/rec.conf "$VOLKEY" bench --dir "$TMP" --size 32M --runtime 2 \
	--jobs randread-4k-qd32,randwrite-4k-qd32,seqwrite-1m --configs crypt-aesni,crypt-module,crypt-module-nowq \
	--save "$TMP/m.json" >"$TMP/m.txt" 2>"$TMP/m.err" ||
	{ cat "$TMP/m.err"; fail "volkey bench with the module loaded"; }
cat "$TMP/m.txt"
"$PY" - "$TMP/m.json" "$TMP/rec.json" <<'PY' || fail "bench rows with and without the module"
import json, sys
j = json.load(open(sys.argv[1]))
cfgs = {c["name"] for c in j["configs"]}
assert cfgs == {"raw", "crypt-aesni", "crypt-module", "crypt-module-nowq"}, cfgs
assert j["machine"]["xts_aes_driver"] == "xts-aes-volkey" and not j["machine"]["xts_aes_async"], j["machine"]
rows = {(r["job"], r["config"]): r for r in j["results"]}
for job in ("randread-4k-qd32", "randwrite-4k-qd32", "seqwrite-1m"):
    for c in ("raw", "crypt-aesni", "crypt-module", "crypt-module-nowq"):
        assert rows[(job, c)]["iops"] > 0, (job, c)
rec = json.load(open(sys.argv[2]))
s = {x["config"]: x["geomean_ratio"] for x in j["summary"]}
assert rec["kernel"] == j["machine"]["kernel"], rec
assert abs(rec["gain"] - s["crypt-module"] / s["crypt-aesni"]) < 0.01, (rec, s)
print("recorded: volkey_xts / aesni = %.3f" % rec["gain"])
PY
# Without --configs, the module's configurations join the default set while it is loaded.
VOLKEY_CONFIG=$TMP/empty.conf "$VOLKEY" bench --dir "$TMP" --size 16M --runtime 1 --jobs randread-4k-qd1 --json \
	>"$TMP/d.json" 2>"$TMP/d.err" || { cat "$TMP/d.err"; fail "default set with the module"; }
[[ $(json_get "$TMP/d.json" 'len(j["configs"])') -eq 10 ]] || fail "the default set lacks the module's configurations"
rmmod volkey_xts

step "volkeyd and kernel_module = off | auto | on"
VOLKEYD=$RIG_SRC/$BUILD/volkeyd
agent() { # MODE GAIN: volkeyd --once with that setting and that recorded gain
	printf '{"kernel": "%s", "gain": %s}\n' "$(uname -r)" "$2" >"$TMP/rec2.json"
	printf '[volkey]\nkernel_module = %s\nkernel_module_file = %s\nmodule_record = %s\nstatus_file = %s\n' \
		"$1" "$KO" "$TMP/rec2.json" "$TMP/status.json" >"$TMP/agent.conf"
	"$VOLKEYD" --once --config "$TMP/agent.conf" >"$TMP/agent.log" 2>&1 || true
	grep 'kernel module' "$TMP/agent.log"
}
loaded() { grep -q '^volkey_xts ' /proc/modules; }
agent auto 0.97
loaded && fail "auto loaded the module with a measured 0.97x"
assert_grep 'not loaded: auto: volkey bench measured 0.97x from it on kernel' "$TMP/agent.log"
agent auto 1.30
loaded || fail "auto did not load the module with a measured 1.30x"
assert_grep 'volkey_xts loaded' "$TMP/agent.log"
rmmod volkey_xts
agent off 2.0
loaded && fail "off loaded the module"
agent on 0
loaded || fail "on did not load the module"
rmmod volkey_xts
set +e
VOLKEY_CONFIG=$TMP/empty.conf "$VOLKEY" bench --configs crypt-module >/dev/null 2>"$TMP/n.err"; rc=$?
set -e
[[ $rc -eq 4 ]] && grep -q 'the kernel has no xts-aes-volkey (load volkey_xts first)' "$TMP/n.err" ||
	{ cat "$TMP/n.err"; fail "crypt-module without the module: exit $rc"; }
echo "kernel module: all checks passed"
