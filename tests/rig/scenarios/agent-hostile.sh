#!/bin/bash
# rig-args: --nvme @64M,serial=vol0good000000000001 --nvme @64M,serial=vol0evil0000endpoint --nvme @64M,serial=vol0evil00000account --nvme @64M,serial=vol0evil000000module --nvme @64M,serial=vol0evil0000000large --nvme @64M,serial=vol0evil00000binding --nvme @64M,serial=vol0unlisted00000001 --timeout 600
# Hostile disks beside a good one, as anyone who can attach a volume could make
# them: tokens naming an attacker's endpoint (an ARN whose region smuggles a
# host), a foreign account's key, a PKCS#11 module outside the allow-list, a
# 16 KiB token, a token copied from another volume; and a well-formed volume
# the policy does not list. volkeyd boots under strace: the good volume is
# unlocked and mounted nosuid,nodev; no hostile one is mounted; each gets one
# log line; volkeyd connects to nothing but the configured KMS double (every
# connect() checked), never opens the module, and a listener on 127.0.0.1:443
# sees no connection. Then a byte copy of the good volume beside it: with
# [volkey] unlock_unlisted = no only the original opens; with the default both
# race for the one LUKS UUID and exactly one mapping results.
source "$RIG_SRC/tests/rig/lib.bash"
VOLKEYD=$RIG_SRC/$BUILD/volkeyd
command -v strace >/dev/null || fail "strace missing (make deps)"
start_guest_kms --tls
port=${KMS##*:}
KEYID=1234abcd-12ab-34cd-56ef-1234567890ab
MODULE=/usr/lib/softhsm/libsofthsm2.so
[[ -e $MODULE ]] || fail "no $MODULE (make deps installs softhsm2)"
good=$(nvme_by_serial vol0good000000000001); ep=$(nvme_by_serial vol0evil0000endpoint)
acct=$(nvme_by_serial vol0evil00000account); mod=$(nvme_by_serial vol0evil000000module)
large=$(nvme_by_serial vol0evil0000000large); bind=$(nvme_by_serial vol0evil00000binding)
unl=$(nvme_by_serial vol0unlisted00000001)
mkdir -p /etc/volkey
cat >/etc/volkey/volkey.conf <<CONF
[kms]
endpoint = $KMS
ca_file = $KMS_CA
allowed_accounts = 111122223333
[volkey]
unlock_timeout_ms = 60000
[nvme]
match = ebs|QEMU NVMe Ctrl|vol*
[ebs]
volumes = vol-0good000000000001
mount = /mnt/ebs/%s
CONF
cs() { cryptsetup --disable-external-tokens "$@"; }
# set_token DEV PYTHON: token 0 of DEV edited by PYTHON (t: the token as a dict)
set_token() {
	cs token export --token-id 0 "$1" >"$TMP/tok.json"
	"$PY" -c 'import json,sys; t=json.load(open(sys.argv[1])); exec(sys.argv[2]); print(json.dumps(t))' \
		"$TMP/tok.json" "$2" >"$TMP/new.json"
	cs token import --token-id 0 --token-replace --json-file "$TMP/new.json" "$1" >/dev/null || fail "token import on $1"
}

step "the disks: one good volume, six an attacker made"
for d in "$good" "$ep" "$acct" "$mod" "$bind" "$unl"; do
	"$VOLKEY" format "$d" --key aws-kms:alias/vol --yes >/dev/null 2>"$TMP/fmt.err" || { cat "$TMP/fmt.err"; fail "format $d"; }
done
"$VOLKEY" open "$good" g >/dev/null && mkfs.ext4 -q /dev/mapper/g && mkdir -p /mnt/g && mount /dev/mapper/g /mnt/g
echo good >/mnt/g/file; umount /mnt/g; "$VOLKEY" close g
"$VOLKEY" open "$unl" u >/dev/null && mkfs.ext4 -q /dev/mapper/u && mkdir -p /mnt/u && mount /dev/mapper/u /mnt/u
cp /bin/sh /mnt/u/rootsh && chmod 4755 /mnt/u/rootsh; mknod /mnt/u/mem c 1 1
umount /mnt/u; "$VOLKEY" close u
set_token "$ep" "t['key_uri']='aws-kms:arn:aws:kms:x@127.0.0.1#:111122223333:key/$KEYID'"
set_token "$acct" "t['key_uri']='aws-kms:arn:aws:kms:eu-west-1:444455556666:key/$KEYID'"
set_token "$mod" "t['key_uri']='pkcs11:token=evil;object=evil?module-path=$MODULE&pin-source=/etc/volkey/pins/evil'"
cs token export --token-id 0 "$good" >"$TMP/good-token.json"
cs token import --token-id 0 --token-replace --json-file "$TMP/good-token.json" "$bind" >/dev/null
printf 'pw' | cryptsetup luksFormat -q --type luks2 --luks2-metadata-size 64k --luks2-keyslots-size 1m \
	--subsystem volkey --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file=- "$large"
"$PY" -c 'import json; print(json.dumps({"type": "volkey", "keyslots": ["0"], "volkey_version": 1, "generation": 1, "pad": "A" * 16384}))' >"$TMP/large.json"
cs token import --json-file "$TMP/large.json" "$large" >/dev/null || fail "import the 16 KiB token"
calls0=$(grep -c '"op": "Decrypt"' "$KMS_LOG" || true)

step "a listener on 127.0.0.1:443"
"$PY" - "$TMP/conns" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 443)); s.listen(16)
while True:
    c, a = s.accept()
    open(sys.argv[1], "a").write("connection from %s:%d\n" % a); c.close()
PY
on_exit "kill $! 2>/dev/null"
: >"$TMP/conns"

step "volkeyd boots under strace"
/lib/systemd/systemd-udevd --daemon
on_exit "udevadm control --exit"
udevadm settle
strace -f -qq -e trace=connect,openat,open -e signal=none -o "$TMP/strace" "$VOLKEYD" --once >"$TMP/agent.log" 2>&1 || true
sed 's/^/   agent| /' "$TMP/agent.log"

step "the good volume: unlocked and mounted nosuid,nodev"
[[ $(agent_state "$good") == unlocked ]] || fail "good: $(agent_state "$good")"
[[ $(cat /mnt/ebs/vol-0good000000000001/file) == good ]] || fail "good volume's file"
o=$(findmnt -n -o OPTIONS /mnt/ebs/vol-0good000000000001)
[[ ,$o, == *,nosuid,* && ,$o, == *,nodev,* ]] || fail "mounted without nosuid,nodev: $o"

step "each hostile disk: failed or not mounted, one log line"
expect() { # DEV STATE REGEX
	[[ $(agent_state "$1") == "$2" ]] || fail "$1: $(agent_state "$1") (want $2): $(agent_field "$1" detail)"
	[[ $(agent_field "$1" detail) =~ $3 ]] || fail "$1: $(agent_field "$1" detail) (want /$3/)"
	[[ $(grep -cE "^volkeyd: (error: |warning: )?$1 " "$TMP/agent.log") -eq 1 ]] || { grep "$1" "$TMP/agent.log"; fail "$1: not one log line"; }
	echo "   $1: $2: $(agent_field "$1" detail)"
}
expect "$ep" failed "key URI is malformed"
expect "$acct" failed "account 444455556666, which \[kms\] allowed_accounts does not list: not tried"
expect "$mod" failed "PKCS#11 module $MODULE is not allowed"
expect "$large" failed "token is unreadable"
expect "$bind" failed "bound to volume .*, not to this volume"
expect "$unl" unlocked "not mounted: not listed in \[ebs\] volumes"
for d in "$ep" "$acct" "$mod" "$large" "$bind" "$unl"; do
	m=$(agent_field "$d" mapping)
	[[ -z $m ]] || ! findmnt -n -S "$m" >/dev/null || fail "$d is mounted"
done
[[ -z $(findmnt -rn -o TARGET | grep -E '^/mnt/ebs/vol-0(evil|unlisted)') ]] || fail "a hostile volume is mounted"

step "traffic: only the KMS double; the module never opened"
bad=$(grep -E 'connect\(' "$TMP/strace" | grep -E 'AF_INET6?' | grep -v "sin_port=htons($port)" || true)
[[ -z $bad ]] || { echo "$bad"; fail "volkeyd connected somewhere else than the KMS double"; }
[[ $(grep -cE "connect\(.*sin_port=htons\($port\)" "$TMP/strace") -ge 1 ]] || fail "strace saw no connection at all (the check would mean nothing)"
grep -q "$MODULE" "$TMP/strace" && { grep "$MODULE" "$TMP/strace"; fail "volkeyd opened the module a token named"; }
sleep 0.3
[[ ! -s $TMP/conns ]] || { cat "$TMP/conns"; fail "a connection reached 127.0.0.1:443"; }
calls=$(( $(grep -c '"op": "Decrypt"' "$KMS_LOG" || true) - calls0 ))
[[ $calls -eq 2 ]] || fail "$calls Decrypt calls (want 2: the good volume and the unlisted one)"
echo "   connect() calls: $(grep -c 'connect(' "$TMP/strace"), all to the KMS double or local sockets; $calls Decrypt calls"

step "a copy of the good volume (same LUKS UUID) attached beside it"
umount /mnt/ebs/vol-0good000000000001
for m in /dev/mapper/volkey-*; do cryptsetup close "$(basename "$m")"; done
dd if="$good" of="$TMP/clone.img" bs=1M status=none
clone=$(losetup -f --show "$TMP/clone.img"); on_exit "losetup -d $clone 2>/dev/null"
uuid=$(cryptsetup luksUUID "$good")
udevadm settle
# unlock_unlisted = no: the copy (on no device the policy owns) stays locked, the original always wins
sed -i 's/^\[volkey\]$/[volkey]\nunlock_unlisted = no/' /etc/volkey/volkey.conf
rm -f /run/volkey/status.json
"$VOLKEYD" --once >"$TMP/agent2.log" 2>&1 || true
sed 's/^/   agent| /' "$TMP/agent2.log"
[[ $(agent_state "$good") == unlocked ]] || fail "good with a copy beside it: $(agent_state "$good")"
mountpoint -q /mnt/ebs/vol-0good000000000001 || fail "good volume not mounted"
[[ $(agent_state "$clone") == untouched ]] || fail "the copy: $(agent_state "$clone") (want left locked)"
umount /mnt/ebs/vol-0good000000000001
for m in /dev/mapper/volkey-*; do cryptsetup close "$(basename "$m")"; done
# unlock_unlisted = yes: both race for the UUID; exactly one is opened, the other fails in one line
sed -i '/^unlock_unlisted = no$/d' /etc/volkey/volkey.conf
rm -f /run/volkey/status.json
"$VOLKEYD" --once >"$TMP/agent3.log" 2>&1 || true
sed 's/^/   agent| /' "$TMP/agent3.log"
n=$(dmsetup info -c --noheadings -o uuid | grep -c "^CRYPT-LUKS2-${uuid//-/}-" || true)
[[ $n -eq 1 ]] || fail "$n mappings of LUKS UUID $uuid (want exactly 1)"
st="$(agent_state "$good") $(agent_state "$clone")"
[[ $st == "unlocked failed" || $st == "failed unlocked" ]] || fail "original and copy: $st"
assert_grep "not opened: its LUKS UUID $uuid is already open" "$TMP/agent3.log"
echo "   a copy beside the original: with unlock_unlisted = no the original wins; otherwise one of the two ($st)"
echo "hostile disks ok"
