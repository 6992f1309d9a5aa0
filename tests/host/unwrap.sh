#!/bin/bash
# volkey unwrap, the initramfs keyscript's worker: the secret reaches a pipe and
# cryptsetup opens the keyslot with it (--test-passphrase); a terminal or a file
# is refused; KMS down: a console line every interval, then the fallback after
# the bound (passphrase through the askpass program, fail, or retry until KMS
# comes back); a disabled key: one line at once, no waiting; kernel command
# line overrides; [initramfs] keys in the config file.
source "$(dirname "$0")/lib.bash"
[[ -e /dev/loop-control ]] || skip "no loop devices on this kernel"
DIS=9999aaaa-12ab-34cd-56ef-1234567890ab
cat >"$TMP/kms.json" <<JSON
{"region": "eu-west-1", "account": "111122223333", "seed": "volkey-test-seed",
 "credentials": [{"access_key": "AKIDTEST1", "secret_key": "sekrit/abc+def", "session_token": null}],
 "keys": [{"id": "$KEYID", "aliases": ["alias/vol"]}, {"id": "$DIS", "aliases": ["alias/dis"]}]}
JSON
start_kms A --config "$TMP/kms.json"
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
printf '[kms]\nendpoint = %s\nretry_base_ms = 20\ndeadline_ms = 1500\nconnect_timeout_ms = 300\nmax_attempts = 1\n' "$KMS_URL_A" >"$TMP/volkey.conf"
export VOLKEY_CONFIG=$TMP/volkey.conf
: >"$TMP/cmdline"
export VOLKEY_CMDLINE=$TMP/cmdline
dev=$(new_loop disk 32M)
expect_exit 0 "$VOLKEY" format "$dev" --key aws-kms:alias/vol --yes
# A recovery passphrase the fake askpass will type.
phrase=$("$VOLKEY" recovery-key "$dev" 2>"$TMP/rk.err") || { cat "$TMP/rk.err"; fail "recovery-key"; }
printf '#!/bin/sh\necho "$1" >>%s/askpass.prompts\nprintf "%%s\\n" "%s"\n' "$TMP" "$phrase" >"$TMP/askpass"
chmod +x "$TMP/askpass"
printf '%s' "$phrase" | cryptsetup open --disable-external-tokens --test-passphrase --key-file=- "$dev" ||
	fail "could not find the recovery phrase in recovery-key's output (test setup)"

# unwrap_open ARGS...: volkey unwrap DEV ARGS | cryptsetup --test-passphrase, as cryptroot
# pipes a keyscript; output in $TMP/out, exit statuses of both in $u_rc $c_rc.
unwrap_open() {
	set +e
	"$VOLKEY" unwrap "$dev" "$@" 2>"$TMP/out" | cryptsetup open --disable-external-tokens --test-passphrase --key-file=- "$dev" 2>>"$TMP/out.cs"
	local st=("${PIPESTATUS[@]}")
	set -e
	u_rc=${st[0]} c_rc=${st[1]}
}

echo "== the secret opens the keyslot through a pipe"
unwrap_open
[[ $u_rc -eq 0 && $c_rc -eq 0 ]] || { cat "$TMP/out"; fail "unwrap | cryptsetup: $u_rc $c_rc"; }
assert_grep "unlocked through token 0"
echo "== never onto a terminal or into a file"
expect_exit 1 script -qec "$VOLKEY unwrap $dev" /dev/null
assert_grep "not a pipe"
rc=0; "$VOLKEY" unwrap "$dev" >"$TMP/secret.file" 2>"$TMP/out" || rc=$?
[[ $rc -eq 1 && ! -s $TMP/secret.file ]] || fail "unwrap into a file: exit $rc, $(stat -c %s "$TMP/secret.file") bytes"
assert_grep "not a pipe"

echo "== KMS down, fallback fail: a line every interval, exit 6 after the bound"
kms_ctl "$KMS_URL_A" /_volkey/fault '{"drop": 1000}'
t0=$EPOCHREALTIME
unwrap_open --wait 4 --interval 2 --fallback fail
t=$(awk "BEGIN{print $EPOCHREALTIME - $t0}")
[[ $u_rc -eq 6 && $c_rc -ne 0 ]] || { cat "$TMP/out"; fail "KMS down, fail: exit $u_rc (want 6)"; }
n=$(grep -c "waiting for the key service" "$TMP/out" || true)
[[ $n -ge 2 && $n -le 3 ]] || { cat "$TMP/out"; fail "$n waiting lines for 4 s at 2 s intervals"; }
assert_grep "waiting for the key service \(0 s of 4, then fail\)"
assert_grep "key service unreachable for [4-9] s"
awk "BEGIN{exit !($t >= 4 && $t < 12)}" || fail "bound of 4 s took $t s"
echo "   4 s bound held: $t s, $n console lines"

echo "== KMS down, fallback passphrase: the askpass program's phrase opens the recovery keyslot"
: >"$TMP/askpass.prompts"
unwrap_open --wait 2 --interval 1 --askpass "$TMP/askpass"
[[ $u_rc -eq 0 && $c_rc -eq 0 ]] || { cat "$TMP/out" "$TMP/out.cs"; fail "passphrase fallback: $u_rc $c_rc"; }
assert_grep "key service is unreachable. Recovery passphrase" "$TMP/askpass.prompts"
echo "== the same from the config file and the kernel command line"
printf '[initramfs]\nwait = 1\ninterval = 1\nfallback = fail\n' >>"$TMP/volkey.conf"
unwrap_open
[[ $u_rc -eq 6 ]] || { cat "$TMP/out"; fail "config fallback=fail: exit $u_rc"; }
assert_grep "then fail"
echo "volkey.fallback=passphrase volkey.wait=1 quiet" >"$TMP/cmdline"
: >"$TMP/askpass.prompts"
unwrap_open --askpass "$TMP/askpass"
[[ $u_rc -eq 0 && $c_rc -eq 0 && -s $TMP/askpass.prompts ]] || { cat "$TMP/out"; fail "cmdline fallback=passphrase: $u_rc $c_rc"; }
echo "volkey.fallback=bogus" >"$TMP/cmdline"
unwrap_open
assert_grep "kernel command line: ignoring volkey.fallback=bogus"
: >"$TMP/cmdline"
printf '[initramfs]\nfallback = sometimes\n' >"$TMP/bad.conf"
expect_exit 1 env VOLKEY_CONFIG="$TMP/bad.conf" "$VOLKEY" unwrap "$dev"
assert_grep "bad.conf"

echo "== KMS down, fallback retry: waits past the bound and unlocks when KMS returns"
(sleep 4; kms_ctl "$KMS_URL_A" /_volkey/fault '{"drop": 0}') &
back=$!
unwrap_open --wait 1 --interval 1 --fallback retry
wait "$back"
[[ $u_rc -eq 0 && $c_rc -eq 0 ]] || { cat "$TMP/out"; fail "retry: $u_rc $c_rc"; }
assert_grep "after waiting"
assert_no_grep "unreachable for"

echo "== a disabled key: one line at once, no waiting, then the fallback"
kms_ctl "$KMS_URL_A" /_volkey/key-state '{"key": "alias/vol", "state": "Disabled"}'
t0=$EPOCHREALTIME
unwrap_open --wait 30 --fallback fail
t=$(awk "BEGIN{print $EPOCHREALTIME - $t0}")
[[ $u_rc -eq 2 ]] || { cat "$TMP/out"; fail "disabled key: exit $u_rc (want 2)"; }
[[ $(grep -c . "$TMP/out") -eq 1 ]] || { cat "$TMP/out"; fail "disabled key: not one line"; }
assert_grep "token 0 .*DisabledException: .* is disabled"
awk "BEGIN{exit !($t < 5)}" || fail "a refusal waited $t s"
: >"$TMP/askpass.prompts"
unwrap_open --wait 30 --fallback passphrase --askpass "$TMP/askpass"
[[ $u_rc -eq 0 && $c_rc -eq 0 ]] || { cat "$TMP/out"; fail "disabled key, passphrase fallback: $u_rc $c_rc"; }
assert_grep "key was refused" "$TMP/askpass.prompts"
echo "== no askpass program: fails naming the device"
unwrap_open --wait 0 --fallback passphrase --askpass /nonexistent
[[ $u_rc -eq 4 ]] || { cat "$TMP/out"; fail "no askpass: exit $u_rc"; }
assert_grep "$dev: .*no askpass program"
echo "OK"
