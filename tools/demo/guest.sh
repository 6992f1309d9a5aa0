#!/bin/bash
# The demo's guest half: runs inside the rig with a blank 128 MiB virtio disk.
# Embedded defaults: a local file key (file: backend), since no AWS account or
# HSM is reachable here; with KMS the only change is --key aws-kms:alias/NAME.
set -euo pipefail
cd "$RIG_SRC"
VOLKEY=$RIG_SRC/build/volkey
export AWS_EC2_METADATA_DISABLED=true VOLKEY_CONFIG=/dev/null
say() { printf '\n== %s\n' "$*"; }
t() { local s=$EPOCHREALTIME; "$@"; printf '   (%.2f s)\n' "$(awk "BEGIN{print $EPOCHREALTIME - $s}")"; }

say "1. What this machine offers (volkey doctor)"
"$VOLKEY" doctor

dev=/dev/vda
say "2. A blank disk: $dev ($(blockdev --getsize64 $dev) bytes, serial $(cat /sys/block/vda/serial))"
mkdir -p -m 700 /run/volkey-demo
head -c 32 /dev/urandom >/run/volkey-demo/kek && chmod 600 /run/volkey-demo/kek
key=file:/run/volkey-demo/kek
echo "   key: $key (a root-only 256-bit key-encryption key standing in for a KMS key)"

say "3. volkey format: a LUKS2 volume whose keyslot secret is wrapped in a volkey token"
t "$VOLKEY" format "$dev" --key "$key" --context demo=yes --yes
"$VOLKEY" status "$dev" | sed 's/^/   /'

say "4. volkey open: unwrap through the token, map through dm-crypt, write files"
t "$VOLKEY" open "$dev" demo
dmsetup table demo | sed 's/ [0-9a-f]\{128\} / <key> /; s/^/   table: /'
mkfs.ext4 -q -F /dev/mapper/demo
mkdir -p /mnt/demo && mount /dev/mapper/demo /mnt/demo
head -c 16M /dev/urandom >/mnt/demo/data.bin
echo "volkey demo secret document $(date -u +%FT%TZ)" >/mnt/demo/note.txt
sum=$(sha256sum /mnt/demo/data.bin | cut -d' ' -f1)
echo "   wrote /mnt/demo/data.bin (16 MiB, sha256 ${sum:0:16}...) and note.txt"

say "5. Safety: format refuses a device that is in use"
"$VOLKEY" format "$dev" --key "$key" --yes --force 2>&1 | sed 's/^/   /' || true

say "6. volkey close: the mapping is gone, the disk holds only ciphertext"
umount /mnt/demo
t "$VOLKEY" close demo
[[ -e /dev/mapper/demo ]] && { echo "mapping still there"; exit 1; }
if grep -qa "volkey demo secret document" "$dev"; then echo "   PLAINTEXT FOUND ON DISK"; exit 1; fi
echo "   'volkey demo secret document' is nowhere on $dev"

say "7. Reopen with volkey and verify"
t "$VOLKEY" open "$dev" demo
mount /dev/mapper/demo /mnt/demo
sum2=$(sha256sum /mnt/demo/data.bin | cut -d' ' -f1)
sed 's/^/   note.txt: /' /mnt/demo/note.txt
[[ $sum2 == "$sum" ]] && echo "   data.bin sha256 matches after reopen" || { echo "   MISMATCH"; exit 1; }

say "8. Key rotation while the volume is mounted: rewrap, new secret, then the data under a new volume key"
t "$VOLKEY" rotate "$dev" --rewrap
t "$VOLKEY" rotate "$dev" --secret
key0=$(dmsetup table --showkeys demo | awk '{print $5}' | sha256sum | cut -c1-12)
t "$VOLKEY" rotate "$dev" --volume-key --hotzone-size 16 --progress-interval 2 | sed 's/^/   /'
key1=$(dmsetup table --showkeys demo | awk '{print $5}' | sha256sum | cut -c1-12)
echo "   mapping key fingerprint before $key0, after $key1 (the data was re-encrypted online)"
[[ $(sha256sum /mnt/demo/data.bin | cut -d' ' -f1) == "$sum" ]] && echo "   data.bin sha256 still matches" || { echo "   MISMATCH"; exit 1; }
"$VOLKEY" status "$dev" | grep -E 'token|keyslot|volume key' | sed 's/^/   /'
umount /mnt/demo
"$VOLKEY" close demo

say "9. Standard tools: cryptsetup opens it through volkey's token plugin, no volkey process"
tokdir=$(pkg-config --variable=libdir libcryptsetup 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)/cryptsetup
mkdir -p "$tokdir" && install -m 0644 build/libcryptsetup-token-volkey.so "$tokdir/"
t cryptsetup open --token-only "$dev" demo
mount /dev/mapper/demo /mnt/demo
[[ $(sha256sum /mnt/demo/data.bin | cut -d' ' -f1) == "$sum" ]] && echo "   data.bin matches through cryptsetup --token-only"
umount /mnt/demo
cryptsetup close demo
cryptsetup luksDump "$dev" | sed -n '/^Tokens:/,/^Digests:/p' | grep -v '^Digests' | sed 's/^/   /'

say "10. A boot: udev and the volkey agent take over every disk"
mkdir -p /etc/volkey   # the guest's /etc is a throwaway overlay
cat >/etc/volkey/volkey.conf <<'CONF'
[nvme]
; QEMU's controllers say "QEMU NVMe Ctrl"; on EC2 the built-in model strings match.
match = ebs|QEMU NVMe Ctrl|vol*
match = instance-store|QEMU NVMe Ctrl|AWS*
[instance-store]
provision = auto
key = file:/run/volkey-demo/kek
mkfs = ext4
mount = /mnt/instance-store/%s
[ebs]
volumes = vol-0demo00000000002
provision = auto
key = file:/run/volkey-demo/kek
mkfs = ext4
mount = /mnt/ebs/%s
CONF
sed 's/^/   /' /etc/volkey/volkey.conf
unset VOLKEY_CONFIG
mkdir -p /run/udev/rules.d
sed "s|@SBINDIR@|$RIG_SRC/build|g" udev/70-volkey.rules.in >/run/udev/rules.d/70-volkey.rules
/lib/systemd/systemd-udevd --daemon
udevadm trigger --subsystem-match=block --action=add && udevadm settle --timeout=60
t build/volkeyd --once || true
say "11. What the agent did (volkey status) and the stable names udev made"
"$VOLKEY" status | sed -n '/^volkeyd:/,$p' | sed 's/^/   /'
find /dev/disk/volkey -type l -printf '   %p -> %l\n' | sort
df -h /mnt/instance-store/* /mnt/ebs/* | sed 's/^/   /'
udevadm control --exit

say "Done. Next in volkey: the fio benchmark and the kernel module."
