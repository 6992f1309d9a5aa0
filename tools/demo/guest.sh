#!/bin/bash
# The demo's guest half: runs inside the rig with a blank 128 MiB virtio disk.
set -euo pipefail
cd "$RIG_SRC"
VOLKEY=$RIG_SRC/build/volkey
export AWS_EC2_METADATA_DISABLED=true
say() { printf '\n== %s\n' "$*"; }
t() { local s=$EPOCHREALTIME; "$@"; printf '   (%.2f s)\n' "$(awk "BEGIN{print $EPOCHREALTIME - $s}")"; }

say "1. What this machine offers (volkey doctor)"
"$VOLKEY" doctor

dev=/dev/vda
say "2. A blank disk: $dev ($(blockdev --getsize64 $dev) bytes, serial $(cat /sys/block/vda/serial))"
blkid -p "$dev" && { echo "disk is not blank: refusing"; exit 1; } || echo "   no signature on $dev: safe to format"

# Until the key backends land, the demo's volume secret is a random key held in
# this shell only and fed to cryptsetup on stdin: never on argv or in a file.
key=$(head -c 32 /dev/urandom | base64)
say "3. Create a LUKS2 volume (aes-xts-plain64, 512-bit key, 4096-byte sectors)"
t bash -c 'cryptsetup luksFormat -q --type luks2 --cipher aes-xts-plain64 --key-size 512 --sector-size 4096 \
	--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file=- '"$dev" <<<"$key"
cryptsetup luksDump "$dev" | grep -E '^(Version|UUID)|cipher:|sector:' | sed 's/^/   /'

say "4. Open it through dm-crypt, make a filesystem, write a file"
t cryptsetup open --key-file=- "$dev" demo <<<"$key"
dmsetup table demo | sed 's/^/   table: /'
mkfs.ext4 -q -F /dev/mapper/demo
mkdir -p /mnt/demo && mount /dev/mapper/demo /mnt/demo
head -c 16M /dev/urandom >/mnt/demo/data.bin
echo "volkey demo secret document $(date -u +%FT%TZ)" >/mnt/demo/note.txt
sum=$(sha256sum /mnt/demo/data.bin | cut -d' ' -f1)
echo "   wrote /mnt/demo/data.bin (16 MiB, sha256 ${sum:0:16}...) and note.txt"

say "5. Close it: the mapping is gone, the disk holds only ciphertext"
umount /mnt/demo
t cryptsetup close demo
[[ -e /dev/mapper/demo ]] && { echo "mapping still there"; exit 1; }
if grep -qa "volkey demo secret document" "$dev"; then echo "   PLAINTEXT FOUND ON DISK"; exit 1; fi
echo "   'volkey demo secret document' is nowhere on $dev"

say "6. Reopen and verify"
t cryptsetup open --key-file=- "$dev" demo <<<"$key"
mount /dev/mapper/demo /mnt/demo
sum2=$(sha256sum /mnt/demo/data.bin | cut -d' ' -f1)
cat /mnt/demo/note.txt | sed 's/^/   note.txt: /'
[[ $sum2 == "$sum" ]] && echo "   data.bin sha256 matches after reopen" || { echo "   MISMATCH"; exit 1; }
umount /mnt/demo
cryptsetup close demo

say "Done. Next in volkey: keys from AWS KMS / CloudHSM in a LUKS2 token, unlocked by the agent at boot."
