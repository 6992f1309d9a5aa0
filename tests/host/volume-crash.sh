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
	"$VOLKEY" status "$dev" --json >"$TMP/st.json" || fail "status"
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
	"$VOLKEY" status "$dev" --json >"$TMP/st.json"
	[[ $(json_get "$TMP/st.json" 'j["state"]') == "format interrupted" ]] || fail "status does not show the half-format"
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
echo "crash safety ok"
