#!/bin/bash
# Crash safety of every rotation: the process kills itself (SIGKILL, via
# VOLKEY_TEST_CRASH_AT) after each step in turn. After every crash the volume
# opens through each of its keys (with the old or the new secret), the same
# rotation run again completes, and no orphan keyslot or pending token is left.
# The volume-key re-encryption is killed before, during and after libcryptsetup's
# data pass (offline, on a loop device); crypto-erase is killed between its steps.
source "$(dirname "$0")/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
: >"$TMP/empty.conf"
export VOLKEY_CONFIG=$TMP/empty.conf
k1=$(new_kek k1)
k2=$(new_kek k2)
dev=$(new_loop disk 32M)
expect_exit 0 "$VOLKEY" format "$dev" --key "$k1" --yes
expect_exit 0 "$VOLKEY" bind "$dev" --key "$k2"

crash() {
	local step=$1 rc=0; shift
	VOLKEY_TEST_CRASH_AT=$step "$VOLKEY" "$@" >"$TMP/out" 2>&1 || rc=$?
	[[ $rc -eq 137 ]] || { cat "$TMP/out"; fail "$step: expected death by SIGKILL, got exit $rc"; }
}
# each_key_opens: every KEK alone opens the volume.
each_key_opens() {
	local n o
	for n in k1 k2; do
		o=$([[ $n == k1 ]] && echo k2 || echo k1)
		mv "$TMP/$o.kek" "$TMP/$o.away"
		expect_exit 0 "$VOLKEY" open --test "$dev"
		mv "$TMP/$o.away" "$TMP/$o.kek"
	done
}
# clean: two volkey tokens (one per key), each keyslot a token's, nothing pending.
clean() {
	volume_json "$dev" >"$TMP/st.json" || fail "status"
	"$PY" - "$TMP/st.json" "$1" <<'PY' || { cat "$TMP/st.json"; fail "$1: not clean"; }
import json, sys
j = json.load(open(sys.argv[1]))
vk = [t for t in j["tokens"] if t["type"] == "volkey"]
assert len(vk) == 2, "volkey tokens: %d" % len(vk)
assert sorted(t["key_uri"] for t in vk) == sorted(set(t["key_uri"] for t in vk)), "duplicate key URI"
assert not any(t["type"] == "volkey-pending" for t in j["tokens"]), "pending token left"
assert len(j["keyslots"]) == 2, "keyslots: %s" % j["keyslots"]
assert all(k["role"].startswith("token ") for k in j["keyslots"]), "orphan keyslot: %s" % j["keyslots"]
assert not any("keyslot_new_key" in t for t in vk), "second keyslot left"
assert "reencryption" not in j, "re-encryption left in progress"
PY
}
gen() { volume_json "$dev" >"$TMP/st.json"; json_get "$TMP/st.json" 'sorted(t["generation"] for t in j["tokens"] if t["type"]=="volkey")'; }

with_token_plugin
for step in rewrap-wrapped rewrap-token; do
	echo "== rotate --rewrap, killed after $step"
	g0=$(gen)
	crash "$step" rotate "$dev" --rewrap --token 0
	each_key_opens
	expect_exit 0 "$VOLKEY" rotate "$dev" --rewrap --token 0
	each_key_opens
	clean "rewrap $step"
	[[ $(gen) != "$g0" ]] || fail "generation unchanged after rewrap"
done

for step in secret-pending secret-added secret-keyslot secret-token secret-verify secret-retire drop-keyslot; do
	echo "== rotate --secret, killed after $step"
	crash "$step" rotate "$dev" --secret
	each_key_opens
	expect_exit 0 "$VOLKEY" rotate "$dev" --secret
	each_key_opens
	clean "secret $step"
done

for step in reencrypt-pending reencrypt-added reencrypt-keyslot reencrypt-assigned reencrypt-prepared reencrypt-init reencrypt-half reencrypt-finished; do
	echo "== rotate --volume-key (offline), killed after $step"
	crash "$step" rotate "$dev" --volume-key --progress-interval 0
	each_key_opens
	"$VOLKEY" status "$dev" >"$TMP/status.txt"
	if [[ $step == reencrypt-init || $step == reencrypt-half ]]; then
		assert_grep 're-encryption +(interrupted|crashed)' "$TMP/status.txt"
		# Plain cryptsetup with volkey's token plugin opens it too, mid-way.
		plugin_cryptsetup open --token-only --test-passphrase "$dev" || fail "$step: the token plugin does not open it"
	fi
	expect_exit 0 "$VOLKEY" rotate "$dev" --volume-key --progress-interval 0
	case $step in
	reencrypt-init | reencrypt-half) assert_grep 'resuming an interrupted re-encryption' ;;
	reencrypt-finished) ;; # finished: the run again is a fresh rotation
	*) assert_grep 're-encryption under a new volume key started' ;;
	esac
	tail -1 <(grep '^{"progress"' "$TMP/out") | grep -q '"progress":1.0000' || fail "$step: no final progress line"
	each_key_opens
	clean "volume-key $step"
done

echo "== a preparation left by a crash is dropped by the next rotation of another kind (--secret)"
crash reencrypt-prepared rotate "$dev" --volume-key
expect_exit 0 "$VOLKEY" rotate "$dev" --secret
each_key_opens
clean "secret after reencrypt-prepared"

echo "== one token only: a crash while preparing its new-key keyslot does not wedge the volume"
one=$(new_loop one 32M)
expect_exit 0 "$VOLKEY" format "$one" --key "$k1" --yes
for step in reencrypt-added reencrypt-keyslot; do
	crash "$step" rotate "$one" --volume-key
	expect_exit 0 "$VOLKEY" open --test "$one"
	expect_exit 0 "$VOLKEY" rotate "$one" --volume-key --progress-interval 0
	volume_json "$one" >"$TMP/one.json"
	[[ $(json_get "$TMP/one.json" 'len(j["keyslots"])') == 1 ]] || { cat "$TMP/one.json"; fail "$step: keyslots left on a one-token volume"; }
done

echo "== Ctrl-C pauses a re-encryption at a checkpoint (exit 10, resumable); the same command finishes it"
big=$(new_loop big 768M)
expect_exit 0 "$VOLKEY" format "$big" --key "$k1" --yes
"$VOLKEY" rotate "$big" --volume-key --hotzone-size 4 --progress-interval 0 >"$TMP/p.log" 2>"$TMP/p.err" &
pid=$!
for i in $(seq 1 100); do grep -q '"progress":0\.[0-9]*[1-9]' "$TMP/p.log" 2>/dev/null && break; sleep 0.05; done
kill -INT $pid
rc=0; wait $pid || rc=$?
[[ $rc -eq 10 ]] || { cat "$TMP/p.log" "$TMP/p.err"; fail "Ctrl-C: expected exit 10 (paused), got $rc"; }
assert_grep "re-encryption paused; run 'volkey rotate $big --volume-key' to resume" "$TMP/p.err"
"$VOLKEY" status "$big" >"$TMP/st.txt"
assert_grep 're-encryption +interrupted \(resumable\)' "$TMP/st.txt"
expect_exit 0 "$VOLKEY" rotate "$big" --volume-key --progress-interval 60
assert_grep 'resuming an interrupted re-encryption \(offline\)'
expect_exit 0 "$VOLKEY" open --test "$big"

echo "== a recovery key is never silently dropped: refused without its phrase or with a wrong one, carried over with it"
"$VOLKEY" recovery-key "$dev" >"$TMP/phrase" 2>/dev/null || fail "recovery-key"
sum=$(dev_sum "$dev")
expect_exit 2 "$VOLKEY" rotate "$dev" --volume-key </dev/null
assert_grep 'is a recovery key, which cannot be carried over.*--recovery-phrase-stdin'
printf 'cbdefghi-wrong\n' >"$TMP/wrong"
expect_exit 2 "$VOLKEY" rotate "$dev" --volume-key --recovery-phrase-stdin <"$TMP/wrong"
assert_grep 'the recovery passphrase given does not open recovery keyslot'
[[ $(dev_sum "$dev") == "$sum" ]] || fail "refused re-encryption changed the device"
for step in reencrypt-recovery-added reencrypt-recovery-keyslot reencrypt-half; do
	crash "$step" rotate "$dev" --volume-key --recovery-phrase-stdin <"$TMP/phrase"
	each_key_opens
	expect_exit 0 "$VOLKEY" rotate "$dev" --volume-key --recovery-phrase-stdin --progress-interval 60 <"$TMP/phrase"
	tr -d '\n' <"$TMP/phrase" | cryptsetup open --disable-external-tokens --test-passphrase --key-file=- "$dev" ||
		fail "$step: the recovery phrase does not open the re-encrypted volume"
	each_key_opens
	volume_json "$dev" >"$TMP/st.json"
	[[ $(json_get "$TMP/st.json" 'sorted(k["role"] for k in j["keyslots"])') == "['recovery', 'token 0', 'token 1']" ||
	   $(json_get "$TMP/st.json" 'len(j["keyslots"])') == 3 ]] || { cat "$TMP/st.json"; fail "$step: keyslots after carrying the recovery key over"; }
	json_get "$TMP/st.json" '[k["role"] for k in j["keyslots"]]' | grep -q recovery || fail "$step: no recovery keyslot"
	json_get "$TMP/st.json" '[k["role"] for k in j["keyslots"]]' | grep -qE 'passphrase|pending' && fail "$step: orphan keyslot"
done

for step in erase-keyslot erase-zeroed erase-header; do
	echo "== rotate --crypto-erase, killed after $step; run again it completes"
	crash "$step" rotate "$dev" --crypto-erase --yes
	expect_exit 0 "$VOLKEY" rotate "$dev" --crypto-erase --yes
	assert_grep 'media key NOT erased: a regular file|media key NOT erased: not an NVMe'
	expect_exit 4 "$VOLKEY" open --test "$dev"
	cryptsetup isLuks "$dev" && fail "a LUKS header survived crypto-erase"
	blkid -p "$dev" >/dev/null 2>&1 && fail "blkid still finds a signature"
	head -c 64 "$dev" | grep -qa '^volkey-crypto-erased v1$' || fail "no erase marker"
	tail -c +4097 "$dev" | head -c 16M | tr -d '\0' | head -c1 | grep -q . && fail "metadata area not zero"
	# The next round needs a volume again.
	expect_exit 0 "$VOLKEY" format "$dev" --key "$k1" --yes --force
	expect_exit 0 "$VOLKEY" bind "$dev" --key "$k2"
	"$VOLKEY" recovery-key "$dev" >"$TMP/phrase" 2>/dev/null || fail "recovery-key"
done
echo "== after crypto-erase, the recovery phrase opens nothing"
phrase=$(tr -d '\n' <"$TMP/phrase")
[[ -n $phrase ]] || { cat "$TMP/phrase"; fail "no recovery phrase shown"; }
printf '%s' "$phrase" | cryptsetup open --disable-external-tokens --test-passphrase "$dev" --key-file=- || fail "recovery phrase does not open before erase"
expect_exit 0 "$VOLKEY" rotate "$dev" --crypto-erase --yes
printf '%s' "$phrase" | cryptsetup open --disable-external-tokens --test-passphrase "$dev" --key-file=- 2>/dev/null && fail "recovery phrase opens after erase"
echo "rotate-crash: ok"
