#!/bin/bash
# instance-timeout: 900
# volkey through AWS Systems Manager, on one booted instance without an SSM
# agent or account: the Distributor package (make ssm's zip) installed by its
# install.sh as AWS-ConfigureAWSPackage runs it (twice: idempotent; then an
# in-place update when VOLKEY_DEB_UPGRADE is given), and the Command documents
# run through tests/fakes/ssm_run.py, which substitutes parameters and runs the
# script as the agent's aws:runShellScript does (sh -c, as root, over SSH):
# Volkey-Provision on a blank NVMe disk with the KMS double's key, and again on
# the same disk (refused, unchanged); Volkey-Status (table, Custom:Volkey
# inventory file, instance id from IMDSv2); Volkey-Rotate as a dry run
# (nothing changes), for real (the token's generation moves) and with nothing
# due (exit 0); uninstall.sh (removed, the volume untouched). docs/ssm.md.
source "$(dirname "$0")/../lib.bash"
[[ -n ${VOLKEY_DEB:-} && -f $VOLKEY_DEB ]] || fail "VOLKEY_DEB (make deb) is needed"
SERIAL=vol0ssm0000000000001
DEV=/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_$SERIAL
IID=i-0fa4e5e1c0ffee123   # the IMDS double's instance id
PKGROOT=/var/lib/amazon/ssm/packages/Volkey

step "Distributor package from the .deb"
ver=$(dpkg-deb -f "$VOLKEY_DEB" Version)
"$INST_SRC/tools/ssm/mkpackage" --deb-dir "$(dirname "$VOLKEY_DEB")" --version "$ver" --out "$INST_RUN/ssm"
"$INST_PY" "$INST_SRC/tools/ssm/validate.py" manifest "$INST_RUN/ssm"
json() { "$INST_PY" -c 'import json,sys; print(eval(sys.argv[2], {"j": json.load(open(sys.argv[1]))}))' "$@"; }
ZIP=$INST_RUN/ssm/$(json "$INST_RUN/ssm/manifest.json" 'j["packages"]["debian"]["12"]["x86_64"]["file"]')
if [[ -n ${VOLKEY_DEB_UPGRADE:-} && -f $VOLKEY_DEB_UPGRADE ]]; then
	ver2=$(dpkg-deb -f "$VOLKEY_DEB_UPGRADE" Version)
	"$INST_SRC/tools/ssm/mkpackage" --deb-dir "$(dirname "$VOLKEY_DEB_UPGRADE")" --version "$ver2" --out "$INST_RUN/ssm2" >/dev/null
fi

cat >"$INST_RUN/volkey.conf" <<'CONF'
# the ssm scenario: KMS through the doubles, slow TLS under emulation
[kms]
region = us-east-1
deadline_ms = 8000
connect_timeout_ms = 5000
CONF

step "image (no volkey), doubles, boot with a blank NVMe disk"
inst_image
inst_prepare --file "$INST_RUN/volkey.conf:/etc/volkey/volkey.conf:0644"
imds_start --role volkey-role --region us-east-1
kms_start
disk=$(inst_disk 64M data)
vm_start --nvme "$disk,serial=$SERIAL"
vm_wait_ssh 300
g() { vm_ssh "$@" </dev/null; }
g 'dpkg-query -W volkey' >/dev/null 2>&1 && fail "volkey is installed before the package"
# the SSM agent's state directory (its presence is what Volkey-Status looks for)
g 'mkdir -p /var/lib/amazon/ssm && chmod 0700 /var/lib/amazon/ssm'
REMOTE="ssh $(printf '%q ' "${_inst_ssh_opts[@]}") -i $INST_IMAGE/id_ed25519 -p $VM_SSH_PORT root@127.0.0.1"
run() { # DOCUMENT [ssm_run.py args]: as the agent would; output kept in $INST_RUN/last
	local t=$EPOCHREALTIME rc=0
	"$INST_PY" "$INST_SRC/tests/fakes/ssm_run.py" "$@" --remote "$REMOTE" --result "$INST_RUN/last.json" \
		>"$INST_RUN/last" 2>&1 || rc=$?
	sed 's/^/      | /' "$INST_RUN/last"
	echo "   -> exit $rc in $(_inst_elapsed "$t") s ($(json "$INST_RUN/last.json" 'j[0]["Status"]' 2>/dev/null || echo no result))"
	return $rc
}
doc() { echo "$INST_SRC/tools/ssm/Volkey-$1.json"; }
# What AWS-ConfigureAWSPackage runs for an action of a package in PKGROOT/VERSION:
# a runShellScript step ["echo Running sh ACTION.sh", "sh ACTION.sh"] there, with BWS_* variables.
action() { # ACTION VERSION
	cat >"$INST_RUN/$1.json" <<JSON
{"schemaVersion": "2.2", "description": "Distributor's $1 action, as the agent builds it",
 "mainSteps": [{"action": "aws:runShellScript", "name": "$1",
   "inputs": {"workingDirectory": "$PKGROOT/$2", "runCommand": ["echo Running sh $1.sh", "sh $1.sh"]}}]}
JSON
	run "$INST_RUN/$1.json" --instance-id $IID --env "BWS_ACTION_NAME=$1" --env BWS_PLATFORM_NAME=debian \
		--env BWS_PLATFORM_VERSION=12 --env BWS_ARCHITECTURE=x86_64 --env BWS_PACKAGE_MANAGER=apt --env "BWS_INSTANCE_ID=$IID"
}
unpack() { # ZIP VERSION: the agent downloads the zip (its sha256 checked against the manifest) and extracts it
	vm_scp "$1" :/var/tmp/pkg.zip
	g "rm -rf $PKGROOT/$2 && mkdir -p $PKGROOT/$2 && python3 -m zipfile -e /var/tmp/pkg.zip $PKGROOT/$2 && rm /var/tmp/pkg.zip && ls $PKGROOT/$2"
}
gen() { # the volume's token generations, from volkey status --json
	g "volkey status --json" | "$INST_PY" -c 'import json,sys; d=json.load(sys.stdin)
print(" ".join("%s:%s" % (t["id"], t.get("generation")) for v in d["volumes"] for t in v["tokens"] if t["type"] == "volkey"))'
}

step "install through the Distributor package (install.sh), twice"
unpack "$ZIP" "$ver"
action install "$ver" || fail "install.sh failed"
[[ $(g "dpkg-query -W -f='\${db:Status-Abbrev}\${Version}' volkey") == "ii $ver" ]] || fail "volkey $ver not installed"
g 'systemctl is-enabled volkeyd.service' >/dev/null || fail "volkeyd not enabled"
g 'grep -q "^connect_timeout_ms = 5000" /etc/volkey/volkey.conf' || fail "the install replaced the existing configuration"
for d in Status Rotate Provision; do # the package carries the documents
	g "cat /usr/share/volkey/ssm/Volkey-$d.json" | cmp -s - "$(doc $d)" || fail "/usr/share/volkey/ssm/Volkey-$d.json differs from the tree's"
done
action install "$ver" || fail "install.sh again failed"
grep -q 'already the newest version' "$INST_RUN/last" || fail "the second install did something"
if [[ -n ${ver2:-} ]]; then
	step "in-place update to $ver2 (update.sh)"
	unpack "$INST_RUN/ssm2/$(json "$INST_RUN/ssm2/manifest.json" 'j["packages"]["debian"]["12"]["x86_64"]["file"]')" "$ver2"
	action update "$ver2" || fail "update.sh failed"
	[[ $(g "dpkg-query -W -f='\${Version}' volkey") == "$ver2" ]] || fail "not updated to $ver2"
	g 'systemctl is-active volkeyd.service' >/dev/null || fail "volkeyd not running after the update"
	ver=$ver2
fi

step "Volkey-Provision on the blank disk"
g "test -b $DEV" || fail "no $DEV"
run "$(doc Provision)" --instance-id $IID -p "Device=$DEV" -p KeyUri=aws-kms:alias/vol || fail "Volkey-Provision failed"
uuid=$(sed -n 's/.*: formatted, LUKS UUID \([0-9a-f-]*\), key aws-kms:.*/\1/p' "$INST_RUN/last")
[[ -n $uuid && $(g "cryptsetup luksUUID $DEV") == "$uuid" ]] || fail "no volkey volume with the printed UUID ($uuid)"
grep -q '"op": "GenerateDataKey"' "$KMS_LOG" || fail "KMS was not asked"
hdr=$(g "head -c 16M $DEV | sha256sum")

step "Volkey-Provision again on the same disk: refused, unchanged"
rc=0; run "$(doc Provision)" --instance-id $IID -p "Device=$DEV" -p KeyUri=aws-kms:alias/vol || rc=$?
[[ $rc -eq 5 ]] || fail "a second Provision on a volkey volume: exit $rc, not 5"
grep -q 'refused' "$INST_RUN/last" || fail "no refusal line"
[[ $(g "head -c 16M $DEV | sha256sum") == "$hdr" && $(g "cryptsetup luksUUID $DEV") == "$uuid" ]] || fail "the disk changed"
rc=0; run "$(doc Provision)" --instance-id $IID -p 'Device=/dev/nvme1n1;reboot' -p KeyUri=aws-kms:alias/vol || rc=$?
[[ $rc -eq 64 ]] || fail "a hostile Device reached the instance (exit $rc)"

step "Volkey-Status: table and the Custom:Volkey inventory item (instance id from IMDSv2)"
run "$(doc Status)" || fail "Volkey-Status failed"
grep -qE "^/dev/nvme[0-9]+n1 .* $uuid\$" "$INST_RUN/last" || fail "no table row for the volume"
g "cat /var/lib/amazon/ssm/$IID/inventory/custom/Volkey.json" >"$INST_RUN/Volkey.json" || fail "no inventory file for $IID"
"$INST_PY" - "$INST_RUN/Volkey.json" "$uuid" <<'PY' || { cat "$INST_RUN/Volkey.json"; fail "inventory item"; }
import json, sys
j = json.load(open(sys.argv[1]))
assert j["SchemaVersion"] == "1.0" and j["TypeName"] == "Custom:Volkey", j
assert len(j["Content"]) == 1, j["Content"]
e = j["Content"][0]
assert all(isinstance(v, str) for v in e.values()), e
assert e["LuksUuid"] == sys.argv[2] and e["Device"].startswith("/dev/nvme"), e
assert "1234abcd-12ab-34cd-56ef-1234567890ab" in e["KeyArns"] or "alias/vol" in e["KeyArns"], e
print("   inventory: %s %s state=%s keys=%s" % (e["Device"], e["LuksUuid"], e["State"], e["KeyArns"]))
PY
grep -q '"path": "/latest/meta-data/instance-id", "token_valid": true' "$IMDS_LOG" ||
	grep -q 'instance-id.*"token_valid": true' "$IMDS_LOG" || fail "the instance id was not read with an IMDSv2 token"

step "Volkey-Rotate: dry run, rewrap, nothing due"
g0=$(gen); echo "   generations: $g0"
run "$(doc Rotate)" --instance-id $IID -p Kind=rewrap -p OlderThanDays=0 -p DryRun=true || fail "dry run failed"
grep -q '"outcome": *"due"' "$INST_RUN/last" || fail "the dry run did not report the volume as due"
[[ $(gen) == "$g0" ]] || fail "the dry run changed the token: $(gen)"
run "$(doc Rotate)" --instance-id $IID -p Kind=rewrap -p OlderThanDays=0 || fail "rewrap failed"
grep -q '"outcome": *"rotated"' "$INST_RUN/last" || fail "no rotated result"
g1=$(gen); echo "   generations after the rewrap: $g1"
[[ $g1 != "$g0" ]] || fail "the rewrap did not change the generation"
grep -q '"op": "ReEncrypt"' "$KMS_LOG" || fail "no ReEncrypt at KMS"
run "$(doc Rotate)" --instance-id $IID -p Kind=rewrap -p OlderThanDays=3650 || fail "nothing due must exit 0"
grep -q 'nothing was due' "$INST_RUN/last" || fail "no 'nothing was due' line"
[[ $(gen) == "$g1" ]] || fail "changed with nothing due"
g 'volkey open --test '"$DEV" >/dev/null || fail "the volume no longer unlocks"

step "uninstall.sh: removed, volume untouched"
action uninstall "$ver" || fail "uninstall.sh failed"
st=$(g "dpkg-query -W -f='\${db:Status-Abbrev}' volkey" || true)
[[ $st == rc* ]] || fail "volkey after uninstall: '$st' (want removed, configuration kept)"
g 'test -f /etc/volkey/volkey.conf' || fail "uninstall purged the configuration"
[[ $(g "cryptsetup luksUUID $DEV") == "$uuid" ]] || fail "the volume changed at uninstall"
action uninstall "$ver" || fail "uninstall.sh again failed"
grep -q 'not installed: nothing to remove' "$INST_RUN/last" || fail "second uninstall"
vm_poweroff
echo "ssm ok"
