#!/bin/bash
# volkey rekey: a volume made from an image gets its own volume key, secrets and
# LUKS UUID (offline, on loop devices; the online path with data checked is the
# rig's). Marker and status before/after, --if-image on an unmarked volume,
# the image's recovery keyslot dropped or carried over, a kill after every step
# followed by a rerun, two copies of one image ending different.
source "$(dirname "$0")/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
: >"$TMP/empty.conf"
export VOLKEY_CONFIG=$TMP/empty.conf
k1=$(new_kek k1)
k2=$(new_kek k2)

# The volume key's identity without printing it: the LUKS2 digest (salt and digest).
vk_digest() { cryptsetup luksDump "$1" | sed -n '/^Digests:/,$p' | grep -A3 -E '^\s+(Salt|Digest):' | tr -d ' \t\n'; }
luks_uuid() { cryptsetup luksUUID "$1"; }
status_json() { volume_json "$1" >"$TMP/st.json" || fail "status $1"; }
crash() {
	local step=$1 rc=0; shift
	VOLKEY_TEST_CRASH_AT=$step "$VOLKEY" "$@" >"$TMP/out" 2>&1 </dev/null || rc=$?
	[[ $rc -eq 137 ]] || { cat "$TMP/out"; fail "$step: expected death by SIGKILL, got exit $rc"; }
}
# each_key_opens DEV: each KEK alone opens it.
each_key_opens() {
	local n o
	for n in k1 k2; do
		o=$([[ $n == k1 ]] && echo k2 || echo k1)
		mv "$TMP/$o.kek" "$TMP/$o.away"
		"$VOLKEY" open --test "$1" >"$TMP/open.out" 2>&1 || { mv "$TMP/$o.away" "$TMP/$o.kek"; cat "$TMP/open.out"; fail "$1 does not open with $n alone"; }
		mv "$TMP/$o.away" "$TMP/$o.kek"
	done
}
# rekeyed DEV OLD_UUID OLD_DIGEST: the volume is its own now, and clean.
rekeyed() {
	local dev=$1 what=$4
	[[ $(luks_uuid "$dev") != "$2" ]] || fail "$what: LUKS UUID unchanged"
	[[ $(vk_digest "$dev") != "$3" ]] || fail "$what: volume key unchanged"
	each_key_opens "$dev"
	status_json "$dev"
	"$PY" - "$TMP/st.json" "$what" <<'PY' || { cat "$TMP/st.json"; fail "$what: not clean"; }
import json, sys
j = json.load(open(sys.argv[1]))
vk = [t for t in j["tokens"] if t["type"] == "volkey"]
assert len(vk) == 2, "volkey tokens: %d" % len(vk)
assert all(t["context"]["volkey:luks-uuid"] == j["luks_uuid"] for t in vk), "a token bound to another UUID"
assert len(set(t["key_uri"] for t in vk)) == 2, "duplicate key URI"
assert not any(t["type"] in ("volkey-pending", "volkey-image") for t in j["tokens"]), "pending or marker left"
assert len(j["keyslots"]) == 2 and all(k["role"].startswith("token ") for k in j["keyslots"]), j["keyslots"]
assert "image" not in j and "reencryption" not in j, "marker or re-encryption left"
assert j.get("volume_key_rotated"), "no volume-key time"
PY
}
# image NAME: a two-key volume formatted --image, as an AMI would carry it.
image() {
	local dev
	dev=$(new_loop "$1" 40M)
	"$VOLKEY" format "$dev" --key "$k1" --yes --image >/dev/null 2>&1 || fail "format --image"
	"$VOLKEY" bind "$dev" --key "$k2" >/dev/null 2>&1 || fail "bind"
	echo "$dev"
}

echo "== format --image marks the volume; status shows it"
dev=$(image a)
"$VOLKEY" status "$dev" >"$TMP/st.txt"
assert_grep '^  image +template, not re-keyed \(first-boot re-key pending\)$' "$TMP/st.txt"
status_json "$dev"
[[ $(json_get "$TMP/st.json" 'j["image"]["state"]') == template ]] || fail "status --json: image.state"
cryptsetup token export --token-id 1 "$dev" | grep -q '"type":"volkey-image"' || fail "no volkey-image token"

echo "== rekey (offline): new volume key, new UUID, tokens bound to it, marker removed"
u0=$(luks_uuid "$dev"); d0=$(vk_digest "$dev")
t0=$EPOCHREALTIME
expect_exit 0 "$VOLKEY" rekey "$dev" --progress-interval 0
echo "rekey of a 40 MiB volume (24 MiB data): $(awk "BEGIN{printf \"%.2f\", $EPOCHREALTIME - $t0}") s"
new=$(grep -E '^[0-9a-f-]{36}$' "$TMP/out")
rekeyed "$dev" "$u0" "$d0" "rekey"
[[ $new == "$(luks_uuid "$dev")" ]] || fail "rekey printed $new, header says $(luks_uuid "$dev")"
"$VOLKEY" status "$dev" >"$TMP/st.txt"
assert_no_grep '^  image' "$TMP/st.txt"
echo "== --if-image on an unmarked volume: exit 0, one line, nothing written"
sum=$(dev_sum "$dev")
expect_exit 0 "$VOLKEY" rekey "$dev" --if-image
assert_grep 'not a template from an image \(no volkey-image marker\); nothing to do'
[[ $(wc -l <"$TMP/out") -eq 1 ]] || { cat "$TMP/out"; fail "--if-image: more than one line"; }
[[ $(dev_sum "$dev") == "$sum" ]] || fail "--if-image changed an unmarked volume"

echo "== --mark-image marks an existing volume; --if-image then re-keys it"
expect_exit 0 "$VOLKEY" rekey "$dev" --mark-image
assert_grep 'marked as an image template'
expect_exit 0 "$VOLKEY" rekey "$dev" --mark-image
assert_grep 'already marked'
u0=$(luks_uuid "$dev"); d0=$(vk_digest "$dev")
expect_exit 0 "$VOLKEY" rekey "$dev" --if-image --progress-interval 60
rekeyed "$dev" "$u0" "$d0" "--mark-image, --if-image"

echo "== bad use"
expect_exit 1 "$VOLKEY" rekey
expect_exit 1 "$VOLKEY" rekey "$dev" --root
expect_exit 1 "$VOLKEY" rekey "$dev" --mark-image --if-image
expect_exit 4 "$VOLKEY" rekey "$TMP/nonexistent"
plain=$(new_loop plain 20M)
expect_exit 4 "$VOLKEY" rekey "$plain"
assert_grep 'not a LUKS2 volume'
# / on the host is not on a LUKS2 mapping: refused, except for the unit's --if-image
if ! findmnt -no SOURCE / | grep -q '^/dev/mapper/'; then
	rc=0; "$VOLKEY" rekey --root >"$TMP/out" 2>&1 || rc=$?
	[[ $rc -ne 0 ]] || fail "rekey --root on an unencrypted root succeeded"
	assert_grep '/ is (not on a block device|on device [0-9]+:[0-9]+, which is not a device-mapper|on /dev/mapper/.*not a LUKS2)'
	expect_exit 0 "$VOLKEY" rekey --root --if-image
	assert_grep 'nothing to re-key'
fi

echo "== the image's recovery keyslot: dropped with one line, or carried over with its phrase"
dev=$(image rec)
"$VOLKEY" recovery-key "$dev" >"$TMP/phrase" 2>/dev/null || fail "recovery-key"
u0=$(luks_uuid "$dev"); d0=$(vk_digest "$dev")
expect_exit 0 "$VOLKEY" rekey "$dev" --progress-interval 60 </dev/null
assert_grep "the image's recovery keyslot was dropped .*volkey recovery-key $dev"
rekeyed "$dev" "$u0" "$d0" "recovery dropped"
tr -d '\n' <"$TMP/phrase" | cryptsetup open --disable-external-tokens --test-passphrase --key-file=- "$dev" 2>/dev/null &&
	fail "the image's recovery phrase still opens the re-keyed volume"
dev=$(image rec2)
"$VOLKEY" recovery-key "$dev" >"$TMP/phrase" 2>/dev/null || fail "recovery-key"
expect_exit 0 "$VOLKEY" rekey "$dev" --recovery-phrase-stdin --progress-interval 60 <"$TMP/phrase"
assert_no_grep 'recovery keyslot was dropped'
tr -d '\n' <"$TMP/phrase" | cryptsetup open --disable-external-tokens --test-passphrase --key-file=- "$dev" ||
	fail "--recovery-phrase-stdin: the recovery phrase does not open the re-keyed volume"
each_key_opens "$dev"

echo "== a rotation waits for a re-key in progress"
dev=$(image busy)
crash rekey-new-secrets rekey "$dev"
expect_exit 5 "$VOLKEY" rotate "$dev" --secret
assert_grep 'a first-boot re-key is in progress; finish it first \(volkey rekey'
"$VOLKEY" status "$dev" >"$TMP/st.txt"
assert_grep '^  image +re-key in progress \(step: new-secrets\)' "$TMP/st.txt"
expect_exit 0 "$VOLKEY" rekey "$dev"

steps=(image-marked rekey-reencrypting reencrypt-pending reencrypt-added reencrypt-keyslot reencrypt-assigned
       reencrypt-prepared reencrypt-init reencrypt-half reencrypt-finished rekey-reencrypted rekey-new-secrets
       rekey-pending rekey-added rekey-keyslot rekey-token rekey-uuid secret-retire drop-keyslot rekey-retired
       rekey-done)
for step in "${steps[@]}"; do
	echo "== killed after $step; the volume opens, the rerun completes"
	if [[ $step == image-marked ]]; then
		dev=$(new_loop "c-$step" 40M)
		"$VOLKEY" format "$dev" --key "$k1" --yes >/dev/null 2>&1 || fail "format"
		"$VOLKEY" bind "$dev" --key "$k2" >/dev/null 2>&1 || fail "bind"
	else
		dev=$(image "c-$step")
	fi
	u0=$(luks_uuid "$dev"); d0=$(vk_digest "$dev")
	crash "$step" rekey "$dev" --progress-interval 0
	each_key_opens "$dev"
	"$VOLKEY" status "$dev" >"$TMP/st.txt" || fail "$step: status"
	if [[ $step != rekey-done ]]; then assert_grep '^  image +' "$TMP/st.txt"; fi
	expect_exit 0 "$VOLKEY" rekey "$dev" --if-image --progress-interval 60
	if [[ $step == rekey-done ]]; then assert_grep 'nothing to do'; fi
	rekeyed "$dev" "$u0" "$d0" "after $step"
done

echo "== two copies of one image end with different UUIDs and volume keys"
dev=$(image orig)
cp --sparse=always "$TMP/orig.img" "$TMP/copy.img"
copy=$(losetup -f --show "$TMP/copy.img"); on_exit "losetup -d $copy"
[[ $(luks_uuid "$dev") == "$(luks_uuid "$copy")" && $(vk_digest "$dev") == "$(vk_digest "$copy")" ]] || fail "copies differ before"
expect_exit 0 "$VOLKEY" rekey "$dev" --if-image --progress-interval 60
expect_exit 0 "$VOLKEY" rekey "$copy" --if-image --progress-interval 60
[[ $(luks_uuid "$dev") != "$(luks_uuid "$copy")" ]] || fail "two copies share a UUID after rekey"
[[ $(vk_digest "$dev") != "$(vk_digest "$copy")" ]] || fail "two copies share a volume key after rekey"
each_key_opens "$dev"
each_key_opens "$copy"
# A token copied from one to the other does not unlock it (bound to the first one's UUID).
echo "rekey: ok"
