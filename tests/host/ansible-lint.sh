#!/bin/bash
# The Ansible role (tools/ansible/roles/volkey) without a guest: the examples
# pass --syntax-check; argument_specs refuses a bad state; validate.yml refuses
# a recovery key with nowhere to go; and the role's volume steps, run with a
# local connection on loop devices with file: keys: check mode changes nothing,
# format, a second run changed=0, bind, unbind, a device holding ext4 refused
# (no --force), absent refused without a recovery key, then done with one, the
# phrase stored 0600 and in no output. (ansible.sh in the instance tier runs the
# whole role, package and rotation included, against a booted Debian 12.)
source "$(dirname "$0")/lib.bash"
command -v ansible-playbook >/dev/null || skip "ansible-playbook not installed (tools/install-deps: ansible-core)"
export ANSIBLE_ROLES_PATH=$VOLKEY_SRC/tools/ansible/roles ANSIBLE_HOME=$TMP/ansible ANSIBLE_LOCAL_TEMP=$TMP/ansible/tmp
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=false ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
# The module finds volkey through PATH: the build under test.
export PATH=$(dirname "$VOLKEY"):$PATH
ex=$VOLKEY_SRC/tools/ansible/examples

echo "--- syntax of the examples"
for pb in "$ex"/*.yml; do
	ansible-playbook -i localhost, --syntax-check "$pb" >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "syntax: $pb"; }
done

# pb NAME YAML-VARS: a play of the role's validate and volume steps on localhost.
pb() {
	cat >"$TMP/$1.yml" <<YML
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
$2
  tasks:
    - ansible.builtin.include_role: {name: volkey, tasks_from: validate}
    - ansible.builtin.include_role: {name: volkey, tasks_from: volume}
      loop: "{{ volkey_volumes }}"
      loop_control: {loop_var: __volkey_vol}
YML
	echo "$TMP/$1.yml"
}
# run PLAYBOOK [ARGS]: sets RC, CHANGED; output in $TMP/out
run() {
	RC=0
	ansible-playbook -i localhost, -c local "$@" >"$TMP/out" 2>&1 || RC=$?
	CHANGED=$(sed -n 's/^localhost *:.*changed=\([0-9]*\).*/\1/p' "$TMP/out")
}

echo "--- argument_specs: a state that does not exist"
cat >"$TMP/bad.yml" <<'YML'
- hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: volkey
      volkey_volumes: [{device: /dev/null, state: gone, keys: ["file:/nonexistent"]}]
YML
run "$TMP/bad.yml" --check
[[ $RC -ne 0 ]] || fail "state: gone passed validation"
assert_grep 'value of state must be one of: present, absent, got: gone'
assert_no_grep 'TASK \[volkey : (Check|Install|Write|Enable|Declare)'
echo "--- validate.yml: recovery_key without volkey_recovery_dir"
run "$(pb norec '    volkey_volumes: [{device: /dev/null, keys: ["file:/x"], recovery_key: true}]')" --check
[[ $RC -ne 0 ]] || fail "recovery_key without volkey_recovery_dir passed"
assert_grep 'volkey_recovery_dir is not set'

dev=$(new_loop vol 32M)
k1=$(new_kek k1) k2=$(new_kek k2)
vol() { # KEYS-JSON [STATE] [RECOVERY]
	pb vol "    volkey_recovery_dir: $TMP/rec
    volkey_volumes: [{device: $dev, keys: $1, state: ${2:-present}, recovery_key: ${3:-false}}]"
}
st() { "$VOLKEY" status "$dev" --json >"$TMP/st.json" && json_get "$TMP/st.json" "$1"; }
toks="sorted(t['key_uri'] for t in j['volumes'][0]['tokens'] if t['type'] == 'volkey')"

echo "--- check mode on a blank device: a change reported, nothing written"
sum0=$(dev_sum "$dev")
run "$(vol "[\"$k1\"]")" --check
[[ $RC -eq 0 && $CHANGED -gt 0 ]] || { cat "$TMP/out"; fail "check mode: rc $RC changed $CHANGED"; }
assert_grep "\"format $dev with $k1\""
[[ $(dev_sum "$dev") == "$sum0" ]] || fail "check mode wrote to the device"
echo "--- format, then the same run again: changed=0"
run "$(vol "[\"$k1\"]")"
[[ $RC -eq 0 && $CHANGED -gt 0 ]] || { cat "$TMP/out"; fail "format: rc $RC changed $CHANGED"; }
[[ $(st "$toks") == "['$k1']" ]] || fail "not formatted with $k1"
uuid=$(st "j['volumes'][0]['luks_uuid']")
run "$(vol "[\"$k1\"]")"
[[ $RC -eq 0 && $CHANGED -eq 0 ]] || { cat "$TMP/out"; fail "second run: rc $RC changed $CHANGED"; }
echo "--- a second key: bind; check mode of removing the first changes nothing; unbind"
run "$(vol "[\"$k1\", \"$k2\"]")"
[[ $RC -eq 0 && $CHANGED -gt 0 && $(st "$toks") == "['$k1', '$k2']" ]] || { cat "$TMP/out"; fail "bind"; }
run "$(vol "[\"$k2\"]")" --check
[[ $RC -eq 0 && $CHANGED -gt 0 ]] || fail "check mode of an unbind reported no change"
assert_grep '"unbind token 0 '
[[ $(st "$toks") == "['$k1', '$k2']" ]] || fail "check mode unbound a key"
run "$(vol "[\"$k2\"]")"
[[ $RC -eq 0 && $(st "$toks") == "['$k2']" && $(st "j['volumes'][0]['luks_uuid']") == "$uuid" ]] || { cat "$TMP/out"; fail "unbind"; }
echo "--- absent without a recovery key: refused, nothing changed"
run "$(vol "[]" absent)"
[[ $RC -ne 0 ]] || fail "absent without a recovery key passed"
assert_grep 'needs a recovery keyslot to stay'
[[ $(st "$toks") == "['$k2']" ]] || fail "absent unbound a key while refusing"
echo "--- a recovery key: phrase stored 0600, in no output, and it opens the volume"
run "$(vol "[\"$k2\"]" present true)" -vvv
[[ $RC -eq 0 ]] || { tail -n 30 "$TMP/out"; fail "recovery key"; }
rec=$TMP/rec/localhost-$uuid.recovery
[[ -f $rec && $(stat -c %a "$rec") == 600 && $(stat -c %a "$TMP/rec") == 700 ]] || fail "recovery file or its mode"
phrase=$(cat "$rec")
[[ $phrase =~ ^[bcdefghijklnrtuv]{8}(-[bcdefghijklnrtuv]{8}){7}$ ]] || fail "no phrase in $rec"
! grep -qF -- "$phrase" "$TMP/out" || fail "the phrase is in Ansible's -vvv output"
cryptsetup open --disable-external-tokens --test-passphrase "$dev" <<<"$phrase" || fail "the stored phrase does not open the volume"
run "$(vol "[\"$k2\"]" present true)"
[[ $RC -eq 0 && $CHANGED -eq 0 ]] || fail "recovery key again: changed=$CHANGED"
echo "--- absent with a recovery key: every volkey token gone, the recovery keyslot and the data stay"
run "$(vol "[]" absent)"
[[ $RC -eq 0 && $CHANGED -gt 0 && $(st "$toks") == "[]" ]] || { cat "$TMP/out"; fail "absent"; }
[[ $(st "[k['role'] for k in j['volumes'][0]['keyslots']]") == "['recovery']" ]] || fail "the recovery keyslot went"
run "$(vol "[]" absent)"
[[ $RC -eq 0 && $CHANGED -eq 0 ]] || fail "absent again: changed=$CHANGED"
cryptsetup open --disable-external-tokens --test-passphrase "$dev" <<<"$phrase" || fail "the phrase no longer opens the volume"

echo "--- a device holding ext4 is refused, never forced"
dev2=$(new_loop fs 32M)
mkfs.ext4 -q "$dev2"
sum=$(dev_sum "$dev2")
sed "s#device: $dev#device: $dev2#" "$(vol "[\"$k1\"]")" >"$TMP/fs.yml"
run "$TMP/fs.yml"
[[ $RC -ne 0 ]] || fail "a device with ext4 was formatted"
assert_grep 'format failed \(exit 5\): .*holds a ext4 signature'
assert_no_grep '"--force"'
[[ $(dev_sum "$dev2") == "$sum" ]] || fail "the ext4 device changed"
echo "ansible ok"
