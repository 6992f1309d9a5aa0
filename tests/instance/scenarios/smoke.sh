#!/bin/bash
# The instance tier's smoke test: the EC2-shaped guest boots to "running" with
# systemd as PID 1, reaches the IMDS and KMS doubles (TLS checked against the
# image's trust store), has no DNS, sees NVMe hot-plug both ways and
# powers off cleanly. With $VOLKEY_DEB set, that .deb is installed first and
# its binaries must run in the guest.
source "$(dirname "$0")/../lib.bash"

step "image"
t=$EPOCHREALTIME
inst_image
echo "image: $INST_IMAGE ($(_inst_elapsed "$t") s)"
prep=()
if [[ -n ${VOLKEY_DEB:-} ]]; then
	prep+=(--deb "$VOLKEY_DEB")
else
	echo "VOLKEY_DEB not set: no volkey package installed"
fi
# INST_EXTRA_DEB: any other .deb to install (the harness's own check used Debian's hello).
[[ -n ${INST_EXTRA_DEB:-} ]] && prep+=(--deb "$INST_EXTRA_DEB")
t=$EPOCHREALTIME
inst_prepare "${prep[@]+"${prep[@]}"}"
echo "run image ready in $(_inst_elapsed "$t") s"

step "doubles"
imds_start --role volkey-instance-role --region us-east-1
kms_start

step "boot"
extra=$(inst_disk 64M extra)
vm_start
vm_wait_ssh 400
state=$(vm_ssh 'systemctl is-system-running --wait' </dev/null) || true
echo "system state: $state"
if [[ $state != running ]]; then
	vm_ssh 'systemctl --failed --no-legend; journalctl -b -p warning --no-pager | tail -n 40' </dev/null || true
	fail "system state is '$state', not running"
fi
[[ $(vm_ssh 'readlink /proc/1/exe' </dev/null) == */systemd ]] || fail "PID 1 is not systemd"
[[ $(vm_ssh 'findmnt -no SOURCE /' </dev/null) == /dev/nvme0n1 ]] || fail "root is not /dev/nvme0n1"
[[ $(vm_ssh 'hostname' </dev/null) == volkey-instance ]] || fail "hostname"
vm_boot_times multi-user.target

if [[ -n ${VOLKEY_DEB:-} ]]; then
	step "volkey package"
	vm_ssh 'dpkg -s volkey | grep -E "^(Status|Version)"; volkey --version || volkey --help | head -n 3' </dev/null ||
		fail "volkey not usable in the guest"
fi
if [[ -n ${INST_EXTRA_DEB:-} ]]; then
	pkg=$(dpkg-deb -f "$INST_EXTRA_DEB" Package)
	vm_ssh "dpkg -s $pkg | grep ^Status" </dev/null || fail "$pkg not installed in the guest"
fi

step "IMDSv2 through 169.254.169.254"
vm_ssh 'set -e
tok=$(curl -sS --fail -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token)
role=$(curl -sS --fail -H "X-aws-ec2-metadata-token: $tok" http://169.254.169.254/latest/meta-data/iam/security-credentials/)
curl -sS --fail -H "X-aws-ec2-metadata-token: $tok" http://169.254.169.254/latest/meta-data/iam/security-credentials/$role | grep -q "\"AccessKeyId\": \"ASIAFAKEIMDS"
echo "role $role: credentials ok"
# several connections at once, each its own guestfwd command
pids=
for i in 1 2 3 4 5 6; do curl -sS --fail -o /dev/null -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token & pids="$pids $!"; done
for p in $pids; do wait $p || { echo "concurrent connection $p failed"; exit 1; }; done
echo "6 concurrent connections ok"
# IMDSv1 is refused, as with HttpTokens=required
[ "$(curl -s -o /dev/null -w "%{http_code}" http://169.254.169.254/latest/meta-data/instance-id)" = 401 ]' </dev/null ||
	fail "IMDS from the guest"
grep -q '"token_valid": true' "$IMDS_LOG" || fail "the IMDS double saw no valid request"

step "KMS over TLS, verified by the image's trust store"
vm_ssh 'curl -sS -o /dev/null -w "HTTP %{http_code}, TLS verify %{ssl_verify_result}\n" -X POST \
	-H "X-Amz-Target: TrentService.DescribeKey" -H "Content-Type: application/x-amz-json-1.1" \
	-d "{\"KeyId\": \"alias/vol\"}" https://kms.us-east-1.amazonaws.com/' </dev/null || fail "curl to KMS from the guest"
grep -q '"op": "DescribeKey".*MissingAuthenticationTokenException' "$KMS_LOG" ||
	{ cat "$KMS_LOG" >&2; fail "the KMS double did not log the guest's call"; }
vm_ssh 'echo | openssl s_client -connect kms.us-east-1.amazonaws.com:443 -servername kms.us-east-1.amazonaws.com \
	-verify_return_error -verify_hostname kms.us-east-1.amazonaws.com 2>&1 | grep -m1 -E "Verify return code: 0"' </dev/null ||
	fail "openssl s_client did not verify the KMS certificate"
# No region without a double: the connection is accepted and closed (EOF), never answered.
if vm_ssh 'curl -sS -m 10 https://kms.eu-west-1.amazonaws.com/' </dev/null; then fail "eu-west-1 answered without a double"; fi
step "KMS down, then back"
kms_stop
if vm_ssh 'curl -sS -m 10 -o /dev/null https://kms.us-east-1.amazonaws.com/' </dev/null; then fail "KMS answered while stopped"; fi
kms_restart
vm_ssh 'curl -sS -m 10 -o /dev/null -w "after restart: HTTP %{http_code}\n" https://kms.us-east-1.amazonaws.com/' </dev/null ||
	fail "KMS not back after restart"
kms_hang
t=$EPOCHREALTIME
if vm_ssh 'curl -sS -m 3 -o /dev/null https://kms.us-east-1.amazonaws.com/' </dev/null; then fail "KMS answered while hung"; fi
echo "hung KMS: curl gave up after $(_inst_elapsed "$t") s (its -m 3)"
kms_unhang

step "no DNS"
if vm_ssh 'getent hosts deb.debian.org || curl -sS -m 10 -o /dev/null http://example.com/' </dev/null; then
	fail "a public name resolved in the guest"
fi
vm_ssh 'getent hosts kms.us-east-1.amazonaws.com' </dev/null

step "NVMe hot-plug"
t=$EPOCHREALTIME
id=$(vm_hotadd "$extra" vol0hotplug0000001)
vm_ssh 'for i in $(seq 1 100); do
	for d in /sys/class/nvme/nvme*; do
		[ "$(tr -d " " <$d/serial)" = vol0hotplug0000001 ] && [ -b /dev/$(basename $d)n1 ] && { echo "appeared as /dev/$(basename $d)n1"; exit 0; }
	done; sleep 0.2; done; exit 1' </dev/null || fail "the hot-added disk did not appear"
echo "hot-add visible after $(_inst_elapsed "$t") s"
t=$EPOCHREALTIME
vm_hotdel "$id"
vm_ssh 'for d in /sys/class/nvme/nvme*; do [ "$(tr -d " " <$d/serial)" = vol0hotplug0000001 ] && exit 1; done; exit 0' </dev/null ||
	fail "the hot-removed disk is still there"
echo "hot-remove done after $(_inst_elapsed "$t") s"

# Reboots are the lifecycle scenario's (it checks the journal of the boot before).
step "poweroff"
vm_poweroff
grep -qE 'reboot: Power down|Powering off' "$(vm_console_log)" || { tail -n 20 "$(vm_console_log)"; fail "no clean power-off on the console"; }
grep -E 'systemd-shutdown|All filesystems.*detached|reboot: Power down' "$(vm_console_log)" | tail -n 4
echo "smoke: ok"
