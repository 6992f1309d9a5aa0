#!/bin/bash
# make demo, second part: an EC2-shaped instance (Debian 12, systemd as PID 1)
# with volkey installed from its .deb, booted twice: at first boot volkeyd
# encrypts a blank instance-store disk and a listed blank EBS volume through the
# KMS double (IMDS role credentials, TLS to kms.us-east-1.amazonaws.com) and
# fstab mounts them; after a reboot they unlock and mount again by themselves.
source "$(dirname "$0")/../../tests/instance/lib.bash"
deb=${VOLKEY_DEB:?VOLKEY_DEB: the volkey .deb (make deb)}
cat >"$INST_RUN/volkey.conf" <<'CONF'
[kms]
region = us-east-1
[nvme]
match = ebs|QEMU NVMe Ctrl|vol*
match = instance-store|QEMU NVMe Ctrl|AWS*
[instance-store]
provision = auto
key = aws-kms:alias/vol
mkfs = ext4
[ebs]
volumes = vol-0demo00000000002
provision = auto
key = aws-kms:alias/vol
mkfs = ext4
CONF
o=_netdev,nofail,x-systemd.device-timeout=60s
echo "volkey demo: an instance image (Debian 12; built once, about 2 min, then cached) ..."
inst_image
inst_prepare --deb "$deb" --file "$INST_RUN/volkey.conf:/etc/volkey/volkey.conf" \
	--fstab "/dev/mapper/volkey-is-AWS0000000000demo01 /data/scratch ext4 $o 0 2" \
	--fstab "/dev/mapper/volkey-ebs-vol-0demo00000000002 /data/ebs ext4 $o 0 2"
imds_start --role demo-role --region us-east-1
kms_start
is=$(inst_disk 96M is) ebs=$(inst_disk 96M ebs)
g() { vm_ssh "$@" </dev/null; }
show() {
	g 'echo "# systemctl is-system-running: $(systemctl is-system-running)"; echo "# volkey status"; volkey status;
	   echo "# findmnt"; for m in /data/scratch /data/ebs; do findmnt -n -o TARGET,SOURCE,FSTYPE,OPTIONS $m || echo "$m: not mounted"; done;
	   echo "# journalctl -u volkeyd"; journalctl -b -u volkeyd -o cat --no-pager | grep -v "^Started\|^Starting"' | sed 's/^/  /'
}
echo "volkey demo: first boot (QEMU/TCG, about 40 s) ..."
vm_start --nvme "$is,serial=AWS0000000000demo01" --nvme "$ebs,serial=vol0demo00000000002"
vm_wait_ssh 300
g 'systemctl is-system-running --wait' >/dev/null || true
echo "  # dpkg -l volkey: $(g "dpkg-query -W -f='\${Version}' volkey")"
show
g 'echo hello >/data/ebs/hello && sync'
echo "volkey demo: reboot ..."
vm_reboot 300
g 'systemctl is-system-running --wait' >/dev/null || true
show
echo "  # cat /data/ebs/hello: $(g 'cat /data/ebs/hello')"
echo "  KMS calls seen by the double: $(kms_control /_volkey/stats | "$INST_PY" -c 'import json,sys; print(json.load(sys.stdin)["calls"])')"
vm_poweroff
