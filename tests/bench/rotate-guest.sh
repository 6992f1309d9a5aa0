#!/bin/bash
# Runs in the rig guest (tests/bench/rotate.sh starts it; or
# `tests/rig/run -v tests/bench/rotate-guest.sh`): online re-encryption of a
# mapped, mounted 128 MiB volume with `volkey rotate --volume-key`, against
# `cryptsetup reencrypt --active-name` on the same device with the same
# resilience and hotzone size, three runs each, medians printed. QEMU emulates
# AES: the rates judge the harness (is volkey's path as fast as cryptsetup's on
# the same machine?), not dm-crypt on EC2.
source "$RIG_SRC/tests/rig/lib.bash"
: >"$TMP/empty.conf"
export VOLKEY_CONFIG=$TMP/empty.conf
head -c 32 /dev/urandom >"$TMP/kek"; chmod 600 "$TMP/kek"
truncate -s 128M "$TMP/d.img"
dev=$(losetup -f --show "$TMP/d.img"); on_exit "losetup -d $dev 2>/dev/null"
mkdir -p "$TMP/mnt"
ms_since() { awk "BEGIN{printf \"%.0f\", ($EPOCHREALTIME - $1) * 1000}"; }
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mounted() { mkfs.ext4 -q "/dev/mapper/$1"; mount "/dev/mapper/$1" "$TMP/mnt"; head -c 32M /dev/urandom >"$TMP/mnt/f"; sync; }
vk=() cs=()
for r in 1 2 3; do
	"$VOLKEY" format "$dev" --key "file:$TMP/kek" --yes --force >/dev/null 2>&1 || fail "format"
	"$VOLKEY" open "$dev" b >/dev/null || fail "open"
	mounted b
	t0=$EPOCHREALTIME
	"$VOLKEY" rotate "$dev" --volume-key --hotzone-size 8 --progress-interval 3600 >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "volkey rotate"; }
	vk+=("$(ms_since "$t0")")
	umount "$TMP/mnt"; "$VOLKEY" close b
	printf 'bench-pass' | cryptsetup luksFormat -q --type luks2 --sector-size 4096 --pbkdf pbkdf2 \
		--pbkdf-force-iterations 1000 "$dev" - || fail "luksFormat"
	printf 'bench-pass' | cryptsetup open --key-file - "$dev" b || fail "cryptsetup open"
	mounted b
	t0=$EPOCHREALTIME
	printf 'bench-pass' | cryptsetup reencrypt -q --active-name b --resilience checksum --hotzone-size 8M \
		--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file - >"$TMP/err" 2>&1 || { cat "$TMP/err"; fail "cryptsetup reencrypt"; }
	cs+=("$(ms_since "$t0")")
	umount "$TMP/mnt"; cryptsetup close b
done
mib=$(( ($(blockdev --getsize64 "$dev") - 16 * 1048576) / 1048576 ))
v=$(med "${vk[@]}") c=$(med "${cs[@]}")
echo "online re-encryption in the guest (QEMU TCG, emulated AES), ${mib} MiB data area, mounted ext4, checksum resilience, 8 MiB hotzones, median of 3"
printf '  volkey rotate --volume-key   %7s ms  %6.1f MiB/s\n' "$v" "$(awk "BEGIN{print $mib / ($v / 1000)}")"
printf '  cryptsetup reencrypt         %7s ms  %6.1f MiB/s\n' "$c" "$(awk "BEGIN{print $mib / ($c / 1000)}")"
printf '  volkey / cryptsetup time     %7.2f\n' "$(awk "BEGIN{print $v / $c}")"
