#!/bin/bash
# Crash safety of format, bind, unbind and recovery-key: the process kills
# itself (SIGKILL, via VOLKEY_TEST_CRASH_AT) after each step in turn. After
# every crash the volume either unlocks or is a half-format that open refuses
# and `format` (without --force) redoes; running the verb again completes it,
# and no orphan keyslot or pending token is left. Never data with no way in.
source "$(dirname "$0")/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
: >"$TMP/empty.conf"
export VOLKEY_CONFIG=$TMP/empty.conf
k1=$(new_kek k1)
k2=$(new_kek k2)
dev=$(new_loop disk 32M)

# crash STEP VERB ARGS...: run the verb with the crash point; it must die of SIGKILL.
crash() {
	local step=$1 rc=0; shift
	VOLKEY_TEST_CRASH_AT=$step "$VOLKEY" "$@" >"$TMP/out" 2>&1 || rc=$?
	[[ $rc -eq 137 ]] || { cat "$TMP/out"; fail "$step: expected death by SIGKILL, got exit $rc"; }
}
# clean: no pending token, every keyslot belongs to a token or the recovery key.
clean() {
	volume_json "$dev" >"$TMP/st.json" || fail "status"
	[[ $(json_get "$TMP/st.json" 'sum(t["type"]=="volkey-pending" for t in j["tokens"])') == 0 ]] || fail "$1: pending token left"
	[[ $(json_get "$TMP/st.json" 'sum(k["role"] in ("passphrase","pending") for k in j["keyslots"])') == 0 ]] ||
		{ cat "$TMP/st.json"; fail "$1: orphan keyslot left"; }
}
# unlocks_with KEK-NAME...: only these KEKs present, open --test succeeds.
unlocks_only_with() {
	local n
	for n in k1 k2; do [[ -e $TMP/$n.kek ]] && mv "$TMP/$n.kek" "$TMP/$n.away"; done
	for n in "$@"; do mv "$TMP/$n.away" "$TMP/$n.kek"; done
	expect_exit 0 "$VOLKEY" open --test "$dev"
	for n in k1 k2; do [[ -e $TMP/$n.away ]] && mv "$TMP/$n.away" "$TMP/$n.kek"; done
	return 0
}

with_token_plugin
for step in format-header format-keyslot format-token format-verify format-done; do
	echo "== format, killed after $step"
	wipefs -qa "$dev" >/dev/null 2>&1; dd if=/dev/zero of="$dev" bs=1M count=32 status=none
	crash "$step" format "$dev" --key "$k1" --key "$k2" --yes
	if [[ $step == format-done ]]; then
		expect_exit 0 "$VOLKEY" open --test "$dev"
		expect_exit 5 "$VOLKEY" format "$dev" --key "$k1" --yes
		continue
	fi
	expect_exit 8 "$VOLKEY" open --test "$dev"
	assert_grep "its format was interrupted; run 'volkey format $dev' again"
	if [[ $step != format-header ]]; then
		rc=0; plugin_cryptsetup open --test-passphrase --token-only "$dev" >"$TMP/out" 2>&1 || rc=$?
		[[ $rc -ne 0 ]] || fail "the token plugin unlocked an interrupted format"
		[[ $step == format-keyslot ]] || assert_grep "format was interrupted"
	fi
	volume_json "$dev" >"$TMP/st.json"
	[[ $(json_get "$TMP/st.json" 'j["state"]') == format-interrupted ]] || fail "status does not show the half-format"
	expect_exit 0 "$VOLKEY" format "$dev" --key "$k1" --key "$k2" --yes
	assert_grep 'redoing a volkey format that was interrupted'
	unlocks_only_with k1
	unlocks_only_with k2
	clean "format after $step"
done

for step in bind-pending bind-keyslot bind-token bind-verify; do
	echo "== bind, killed after $step"
	"$VOLKEY" format "$dev" --key "$k1" --yes --force >/dev/null 2>&1 || fail "format"
	crash "$step" bind "$dev" --key "$k2"
	unlocks_only_with k1
	rc=0; "$VOLKEY" bind "$dev" --key "$k2" >"$TMP/out" 2>&1 || rc=$?
	[[ $rc -eq 0 || ( $rc -eq 5 && $step != bind-pending && $step != bind-keyslot ) ]] || { cat "$TMP/out"; fail "bind again: exit $rc"; }
	unlocks_only_with k1
	unlocks_only_with k2
	clean "bind after $step"
	[[ $(json_get "$TMP/st.json" 'len(j["keyslots"])') == 2 ]] || fail "bind after $step: keyslots"
done

for step in unbind-pending drop-keyslot; do
	echo "== unbind, killed after $step"
	"$VOLKEY" format "$dev" --key "$k1" --yes --force >/dev/null 2>&1 || fail "format"
	"$VOLKEY" bind "$dev" --key "$k2" >/dev/null 2>&1 || fail "bind"
	crash "$step" unbind "$dev" --token 0
	unlocks_only_with k2
	expect_exit 0 "$VOLKEY" unbind "$dev" --token 0
	unlocks_only_with k2
	clean "unbind after $step"
	[[ $(json_get "$TMP/st.json" 'len(j["keyslots"])') == 1 ]] || fail "unbind after $step: keyslots"
done

for step in recovery-pending recovery-keyslot; do
	echo "== recovery-key, killed after $step"
	"$VOLKEY" format "$dev" --key "$k1" --yes --force >/dev/null 2>&1 || fail "format"
	crash "$step" recovery-key "$dev"
	unlocks_only_with k1
	"$VOLKEY" recovery-key "$dev" >"$TMP/phrase" 2>/dev/null || fail "recovery-key again"
	tr -d '\n' <"$TMP/phrase" | cryptsetup open --disable-external-tokens --test-passphrase --key-file=- "$dev" ||
		fail "recovery passphrase after $step"
	clean "recovery-key after $step"
	[[ $(json_get "$TMP/st.json" 'len(j["keyslots"])') == 2 ]] || fail "recovery after $step: keyslots"
done
echo "== killed between adding a keyslot and claiming it: the keyslot is kept (unprovable), never a user's"
"$VOLKEY" format "$dev" --key "$k1" --yes --force >/dev/null 2>&1 || fail "format"
crash bind-added bind "$dev" --key "$k2"
expect_exit 0 "$VOLKEY" bind "$dev" --key "$k2"
assert_grep 'keyslot 1 may be left over from an interrupted change'
unlocks_only_with k1
unlocks_only_with k2
volume_json "$dev" >"$TMP/st.json"
[[ $(json_get "$TMP/st.json" '[k["role"] for k in j["keyslots"]]') == "['token 0', 'passphrase', 'token 1']" ]] ||
	{ cat "$TMP/st.json"; fail "bind after bind-added"; }

echo "== a passphrase added by hand after a crash survives the cleanup"
"$VOLKEY" format "$dev" --key "$k1" --yes --force >/dev/null 2>&1 || fail "format"
"$VOLKEY" recovery-key "$dev" 2>/dev/null | tr -d '\n' >"$TMP/rk" || fail "recovery-key"
crash bind-pending bind "$dev" --key "$k2"
printf 'user-pass' >"$TMP/up"
cryptsetup luksAddKey -q --disable-external-tokens --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-slot 2 \
	--key-file "$TMP/rk" "$dev" "$TMP/up" || fail "luksAddKey into the slot the crash had announced"
expect_exit 0 "$VOLKEY" bind "$dev" --key "$k2"
assert_grep 'keyslot 2 may be left over'
cryptsetup open --disable-external-tokens --test-passphrase --key-file "$TMP/up" "$dev" ||
	fail "volkey's cleanup removed a passphrase it did not add"
unlocks_only_with k2

echo "== recovery-key killed after showing the phrase: it never counts; the next change removes it"
"$VOLKEY" format "$dev" --key "$k1" --yes --force >/dev/null 2>&1 || fail "format"
crash recovery-shown recovery-key "$dev"
expect_exit 2 "$VOLKEY" unbind "$dev" --token 0
assert_grep 'last way in'
volume_json "$dev" >"$TMP/st.json"
[[ $(json_get "$TMP/st.json" 'len(j["keyslots"])') == 1 ]] || fail "the unconfirmed recovery keyslot stayed"
echo "== recovery-key whose phrase cannot be written: keyslot removed, exit non-zero"
rc=0; "$VOLKEY" recovery-key "$dev" >/dev/full 2>"$TMP/err" || rc=$?
[[ $rc -ne 0 ]] || fail "recovery-key to /dev/full succeeded"
assert_grep 'could not be shown .*its keyslot was removed' "$TMP/err"
clean "recovery-key to /dev/full"
[[ $(json_get "$TMP/st.json" 'len(j["keyslots"])') == 1 ]] || fail "keyslot left after a failed delivery"
echo "crash safety ok"
