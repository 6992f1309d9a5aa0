#!/bin/bash
# instance-timeout: 900
# The Ansible role (tools/ansible/roles/volkey) against a booted instance, from
# the host's ansible-playbook over SSH; the image has no volkey: the role
# installs $VOLKEY_DEB. One boot, one blank NVMe disk, the IMDS and KMS doubles.
#  (a) --check first: changes reported, nothing changed (no package, no
#      config, the disk still blank);
#  (b) the real run: package installed, volkeyd enabled, volkey.conf written,
#      the disk formatted with the KMS key, a recovery key whose phrase lands
#      in volkey_recovery_dir (0600) and never in Ansible's output;
#  (c) the same run again: changed=0;
#  (d) examples/rotate.yml (serial, max_fail_percentage): --check (--dry-run)
#      changes nothing, then a rewrap with --older-than 0 advances the token's
#      generation and every volume still opens (volkey open --test); again with
#      --older-than 1: nothing due (exit 11), changed=0;
#  (e) a second key (file:) added, then removed again.
source "$(dirname "$0")/../lib.bash"
[[ -n ${VOLKEY_DEB:-} && -f $VOLKEY_DEB ]] || fail "VOLKEY_DEB (make deb) is needed"
if ! command -v ansible-playbook >/dev/null; then
	echo "ansible-playbook is not installed (tools/install-deps: the ansible group)"; exit 77
fi
VOLKEY_DEB=$(readlink -f "$VOLKEY_DEB")
SERIAL=vol0ansible0000001
DEV=/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_$SERIAL
A=$INST_RUN/ansible
mkdir -p "$A/tmp" "$A/home" "$A/cp"
g() { vm_ssh "$@" </dev/null; }

step "image (no volkey), doubles, boot with a blank disk"
inst_image
inst_prepare
imds_start --role volkey-role --region us-east-1
kms_start
disk=$(inst_disk 64M data)
vm_start --nvme "$disk,serial=$SERIAL"
vm_wait_ssh 300
g 'systemctl is-system-running --wait' >/dev/null || true
g 'test -x /usr/bin/python3' || fail "no python3 in the guest"
g "test -b $DEV" || fail "no $DEV in the guest"
g 'dpkg -s volkey' >/dev/null 2>&1 && fail "volkey is installed in the image already"

cat >"$A/inventory" <<INV
[volkey]
instance ansible_host=127.0.0.1 ansible_port=$VM_SSH_PORT ansible_user=root ansible_ssh_private_key_file=$INST_IMAGE/id_ed25519 ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'
INV
# The test's own playbook: what a user writes (examples/site.yml), with the
# doubles' region and the .deb instead of a repository.
cat >"$A/site.yml" <<YML
- name: volkey on the instance
  hosts: volkey
  gather_facts: false
  vars:
    volkey_deb: "$VOLKEY_DEB"
    volkey_config:
      kms:
        region: us-east-1
        deadline_ms: 8000
        connect_timeout_ms: 5000
      volkey:
        retry: true
    volkey_volumes:
      - device: $DEV
        keys: "{{ volkey_test_keys | default(['aws-kms:alias/vol']) }}"
        recovery_key: true
    volkey_recovery_dir: $A/recovery
  roles:
    - volkey
YML
export ANSIBLE_ROLES_PATH=$INST_SRC/tools/ansible/roles ANSIBLE_HOME=$A/home ANSIBLE_LOCAL_TEMP=$A/tmp
export ANSIBLE_SSH_CONTROL_PATH_DIR=$A/cp ANSIBLE_PIPELINING=true ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=false
export ANSIBLE_HOST_KEY_CHECKING=false ANSIBLE_SSH_ARGS='-o ControlMaster=auto -o ControlPersist=300s'
ansible-playbook --version | head -1

n=0
# play NAME PLAYBOOK [ARGS...]: runs it (log in $A/NAME.log); sets CHANGED from the PLAY RECAP.
play() {
	local name=$1 pb=$2 t=$EPOCHREALTIME rc recap; shift 2
	n=$((n + 1))
	rc=0
	ansible-playbook -i "$A/inventory" "$pb" "$@" >"$A/$name.log" 2>&1 || rc=$?
	recap=$(grep -E '^instance +:' "$A/$name.log" | tail -n 1)
	echo "   [$name] $(_inst_elapsed "$t") s: ${recap:-no recap}"
	if [[ $rc -ne 0 ]] || [[ $recap != *"failed=0"* ]] || [[ $recap != *"unreachable=0"* ]]; then
		tail -n 60 "$A/$name.log" >&2; fail "$name: ansible-playbook exit $rc"
	fi
	CHANGED=$(sed -n 's/.*changed=\([0-9]*\).*/\1/p' <<<"$recap")
}
status_json() { g "volkey status $DEV --json"; }
# jq-less JSON reading on the host: py EXPR (v: the one volume object of status_json on stdin)
py() { "$INST_PY" -c "import json,sys; j=json.load(sys.stdin); v=j['volumes'][0]; print($1)"; }

step "(a) check mode: changes reported, nothing changed"
play check "$A/site.yml" --check
(( CHANGED > 0 )) || fail "check mode reported no change on a host without volkey"
g 'dpkg -s volkey' >/dev/null 2>&1 && fail "check mode installed volkey"
g 'test ! -e /etc/volkey/volkey.conf && test ! -e /var/cache/volkey-ansible' || fail "check mode wrote files"
[[ -z $(g "blkid -p -o value -s TYPE $DEV" || true) ]] || fail "check mode touched the disk"
g "cmp -s -n 1048576 $DEV /dev/zero" || fail "the disk's first MiB is no longer zero after check mode"
grep -q 'would be examined and formatted' "$A/check.log" || fail "check mode did not say the disk would be formatted"

step "(b) the real run"
play apply "$A/site.yml"
(( CHANGED > 0 )) || fail "the first real run changed nothing"
g 'dpkg-query -W -f="\${Status} \${Version}\n" volkey' | grep -q '^install ok installed' || fail "volkey not installed"
g 'systemctl is-enabled volkeyd.service && systemctl is-active volkeyd.service' >/dev/null || fail "volkeyd not enabled and running"
[[ $(g 'stat -c "%a %U %G" /etc/volkey/volkey.conf') == "644 root root" ]] || fail "volkey.conf mode/owner"
g 'grep -qx "region = us-east-1" /etc/volkey/volkey.conf && grep -qx "retry = yes" /etc/volkey/volkey.conf' ||
	{ g 'cat /etc/volkey/volkey.conf'; fail "volkey.conf content"; }
grep -q 'RUNNING HANDLER \[volkey : Restart volkeyd\]' "$A/apply.log" || fail "a new volkey.conf did not restart volkeyd"
st=$(status_json)
[[ $(py "[t['key_uri'] for t in v['tokens'] if t['type'] == 'volkey']" <<<"$st") == "['aws-kms:alias/vol']" ]] ||
	{ echo "$st"; fail "the disk is not bound to aws-kms:alias/vol alone"; }
[[ $(py "[k['role'] for k in v['keyslots']].count('recovery')" <<<"$st") == 1 ]] || { echo "$st"; fail "no recovery keyslot"; }
uuid=$(py "v['luks_uuid']" <<<"$st")
rec=$A/recovery/instance-$uuid.recovery
[[ -f $rec && $(stat -c %a "$rec") == 600 && $(stat -c %a "$A/recovery") == 700 ]] || { ls -la "$A/recovery"; fail "recovery phrase file"; }
phrase=$(cat "$rec")
[[ $phrase =~ ^[bcdefghijklnrtuv]{8}(-[bcdefghijklnrtuv]{8}){7}$ ]] || fail "the recovery file does not hold a phrase"
vm_ssh "cryptsetup open --test-passphrase $DEV" <<<"$phrase" || fail "the stored phrase does not open the volume"
g "volkey open --test $DEV" || fail "the volume does not unlock through KMS"

step "(c) the same run again: changed=0"
play again "$A/site.yml"
[[ $CHANGED == 0 ]] || { grep -B2 -A8 '^changed:' "$A/again.log" | head -40; fail "second identical run: changed=$CHANGED"; }
[[ $(status_json | py "v['luks_uuid']") == "$uuid" ]] || fail "the volume was reformatted"

step "(d) rotation through examples/rotate.yml"
gen0=$(status_json | py "[t['generation'] for t in v['tokens'] if t['type'] == 'volkey'][0]")
play rotate-check "$INST_SRC/tools/ansible/examples/rotate.yml" --check -e volkey_rotate=rewrap -e volkey_rotate_older_than_days=0
(( CHANGED > 0 )) || fail "rotate --check (--dry-run) reported nothing due"
grep -q ': due"' "$A/rotate-check.log" || { cat "$A/rotate-check.log"; fail "the dry run listed no due volume"; }
[[ $(status_json | py "[t['generation'] for t in v['tokens'] if t['type'] == 'volkey'][0]") == "$gen0" ]] ||
	fail "rotate --check changed the token"
play rotate "$INST_SRC/tools/ansible/examples/rotate.yml" -e volkey_rotate=rewrap -e volkey_rotate_older_than_days=0
(( CHANGED > 0 )) || fail "the rewrap reported no change"
gen1=$(status_json | py "[t['generation'] for t in v['tokens'] if t['type'] == 'volkey'][0]")
(( gen1 == gen0 + 1 )) || fail "token generation $gen0 -> $gen1 after a rewrap"
# volkey status without DEVICE names the kernel's node
kdev=$(g "readlink -f $DEV")
grep -A3 'TASK \[Every volume still unlocks\]' "$A/rotate.log" | grep -q "ok: \[instance\] => (item=$kdev)" ||
	{ grep -A6 'still unlocks' "$A/rotate.log"; fail "the rotation play did not test-open the volume"; }
grep -q "\"$kdev: rotated\"" "$A/rotate.log" || { cat "$A/rotate.log"; fail "no per-volume result line in the rotation's output"; }
echo "   generation $gen0 -> $gen1; $DEV opens"
play rotate-none "$INST_SRC/tools/ansible/examples/rotate.yml" -e volkey_rotate=rewrap -e volkey_rotate_older_than_days=1
[[ $CHANGED == 0 ]] || fail "nothing due (exit 11) reported changed=$CHANGED"

step "(e) a second key, added and removed"
g 'umask 077 && head -c 32 /dev/urandom >/etc/volkey/kek2'
play add-key "$A/site.yml" -e '{"volkey_test_keys": ["aws-kms:alias/vol", "file:/etc/volkey/kek2"]}'
(( CHANGED > 0 )) || fail "adding a key changed nothing"
[[ $(status_json | py "sorted(t['key_uri'] for t in v['tokens'] if t['type'] == 'volkey')") == "['aws-kms:alias/vol', 'file:/etc/volkey/kek2']" ]] ||
	fail "the second key is not bound"
play drop-key "$A/site.yml"
(( CHANGED > 0 )) || fail "removing a key changed nothing"
[[ $(status_json | py "[t['key_uri'] for t in v['tokens'] if t['type'] == 'volkey']") == "['aws-kms:alias/vol']" ]] ||
	fail "the second key is still bound"
g "volkey open --test $DEV" | grep -q 'aws-kms:alias/vol' || fail "the volume does not unlock through KMS after the change"

step "the recovery phrase is in no Ansible output"
if grep -rlF -- "$phrase" "$A"/*.log; then fail "the recovery phrase appears in Ansible's output"; fi
if vm_ssh 'journalctl --no-pager -o cat | grep -qF -f -' <<<"$phrase"; then fail "the recovery phrase is in the guest's journal"; fi
echo "   $n playbook runs"

vm_poweroff
echo "ansible ok"
