#!/bin/bash
# The root volume: an image whose root file system is a volkey volume, built as
# an image pipeline would (tests/instance/root.bash: a builder instance formats
# it through KMS with --image and copies a root tree in), unlocked in the
# initramfs through KMS with IMDS role credentials, and re-keyed on first boot.
#  build: nothing secret in either initrd (files and bytes checked).
#  A (initramfs-tools): boot 1 reaches multi-user with / on /dev/mapper/root; the
#    first-boot re-key runs online (new volume key, UUID, secret); the admin adds
#    the instance's own recovery key and rebuilds the initramfs (update-initramfs,
#    as a kernel update does); boot 2 with the rebuilt initramfs; boot 3 with KMS
#    unreachable: console lines, the bound, the recovery passphrase typed on the
#    serial console; boot 4 with the key disabled: one line, no waiting, passphrase.
#  B (initramfs-tools): power cut half-way through the re-key; the next boot
#    unlocks in the initramfs and the re-key resumes and ends; a reboot.
#    A and B end with different volume keys (dm table) and LUKS UUIDs.
#  C (dracut): boot with dracut's initrd (systemd in the initrd) through KMS;
#    KMS unreachable: console lines, the recovery passphrase through
#    systemd-ask-password on the serial console.
source "$(dirname "$0")/../lib.bash"
source "$(dirname "$0")/../root.bash"
WAIT=20 # volkey.wait= for the unreachable boots, in s

g() { vm_ssh "$@" </dev/null; }
running() {
	local s; s=$(g 'systemctl is-system-running --wait' || true)
	[[ $s == running ]] || { g 'systemctl --failed --no-legend; journalctl -b -p err --no-pager | tail -30'; fail "system is $s"; }
}
root_on_volkey() { # the root file system comes from /dev/mapper/root on a LUKS2 volume with a volkey token
	local src
	src=$(g 'findmnt -n -o SOURCE /')
	[[ $src == /dev/mapper/root ]] || fail "/ is mounted from $src"
	g 'cryptsetup status root | grep -q "type:  *LUKS2"' || fail "root is not a LUKS2 mapping"
}
keyhash() { g 'dmsetup table --showkeys root | awk "{print \$5}" | sha256sum | cut -c1-16'; }
luks_uuid() { g 'cryptsetup luksUUID /dev/nvme0n1'; }
analyze() { g 'systemd-analyze' | head -1 | sed 's/^Startup finished in //'; }
to_root() { root_to_switch; }
rekey_wait() { # waits for volkey-rekey.service to end; prints its run time in s
	local i st
	for i in $(seq 1 900); do
		st=$(g 'systemctl show -P ActiveState volkey-rekey.service')
		[[ $st == active || $st == activating ]] || break
		sleep 2
	done
	[[ $(g 'systemctl show -P Result volkey-rekey.service') == success ]] ||
		{ g 'journalctl -b -u volkey-rekey --no-pager | tail -30'; fail "volkey-rekey.service: $st"; }
	g 'systemctl show -P ExecMainStartTimestampMonotonic,ExecMainExitTimestampMonotonic volkey-rekey.service' |
		paste -sd' ' | awk '{ printf "%.1f\n", ($2 - $1) / 1e6 }'
}

step "build the encrypted-root image"
root_build
base_to_root=$(cat "$ROOT_DIR/builder.to_root")
echo "   plain root (the builder, same image): $(cat "$ROOT_DIR/builder.analyze")"
image_key=$(cat "$ROOT_DIR/image.keyhash")
image_uuid=$(cat "$ROOT_DIR/image.uuid")

step "nothing secret in the initrds"
for l in "$ROOT_DIR/initrd-itools.list" "$ROOT_DIR/initrd-dracut.list"; do
	grep -Eq 'usr/sbin/volkey$' "$l" || fail "$l: no volkey"
	grep -Eq 'etc/ssl/certs/ca-certificates.crt$' "$l" || fail "$l: no CA bundle"
	! grep -Eq '(etc/volkey/pins|\.aws/|credentials|\.kek$|\.key$|etc/volkey/.*\.(pem|key))' "$l" ||
		{ grep -E '(pins|\.aws/|credentials|\.kek$|\.key$)' "$l"; fail "$l: a secret-looking file"; }
done
mkdir -p "$INST_RUN/unpacked"
unmkinitramfs "$ROOT_ITOOLS" "$INST_RUN/unpacked/itools" 2>/dev/null || fail "unmkinitramfs failed"
(cd "$INST_RUN/unpacked" && mkdir dracut && cd dracut && /usr/lib/dracut/skipcpio "$ROOT_DRACUT" 2>/dev/null | cpio -idm --quiet 2>/dev/null ||
	{ zcat -f "$ROOT_DRACUT" | cpio -idm --quiet; }) || true
[[ -n $(ls -A "$INST_RUN/unpacked/dracut" 2>/dev/null) ]] || { cd "$INST_RUN/unpacked/dracut" && zcat -f "$ROOT_DRACUT" | cpio -idm --quiet; cd - >/dev/null; }
for secret in "$(cat "$ROOT_PHRASE")" imds-secret- imds-session-token- sekrit/abc+def; do
	if grep -rqaF -- "$secret" "$INST_RUN/unpacked"; then fail "a secret ($secret...) is in an initrd"; fi
done
echo "   initrd files: $(wc -l <"$ROOT_DIR/initrd-itools.list") (initramfs-tools), $(wc -l <"$ROOT_DIR/initrd-dracut.list") (dracut); no key file, credential or phrase"
read -r _ sz_it < <(grep '^itools ' "$ROOT_DIR/initrd.sizes")
read -r _ sz_nv < <(grep '^itools-without-volkey ' "$ROOT_DIR/initrd.sizes")
read -r _ sz_dr < <(grep '^dracut ' "$ROOT_DIR/initrd.sizes")
echo "   initramfs-tools initrd $((sz_it / 1024)) KiB, $(((sz_it - sz_nv) / 1024)) KiB of it volkey's (compressed); dracut initrd $((sz_dr / 1024)) KiB"

a=$(root_copy a) b=$(root_copy b) c=$(root_copy c)

step "A boot 1 (initramfs-tools): root through KMS in the initramfs, first-boot re-key"
root_boot "$a" "$ROOT_ITOOLS"
vm_wait_ssh 300
running
root_on_volkey
grep -aq 'volkey: .*unlocked through token' "$(vm_console_log)" || fail "no volkey unlock line on the console"
grep -aq 'root: set up successfully' "$(vm_console_log)" || fail "cryptroot did not report the root mapping"
grep -q '"access_key": "ASIAFAKEIMDS' "$KMS_LOG" || grep -q 'ASIAFAKEIMDS' "$KMS_LOG" || fail "KMS saw no IMDS role credentials"
a_to_root=$(to_root)
echo "   boot: $(analyze); to switch-root ${a_to_root} s against ${base_to_root} s with a plain root"
g 'volkey status /dev/nvme0n1' | grep -Eq 'image +(template|re-key in progress)' ||
	{ g 'volkey status /dev/nvme0n1'; fail "the image's root does not say it is not re-keyed yet"; }
rekey_s=$(rekey_wait)
echo "   first-boot re-key: ${rekey_s} s for ${ROOT_SIZE_MB} MiB online ($(awk "BEGIN{printf \"%.1f\", $rekey_s * 1024 / $ROOT_SIZE_MB}") s/GiB)"
! g 'volkey status /dev/nvme0n1' | grep -Eq '^ *image ' || { g 'volkey status /dev/nvme0n1'; fail "still an image after the re-key"; }
a_key=$(keyhash) a_uuid=$(luks_uuid)
[[ $a_key != "$image_key" ]] || fail "A's volume key is the image's"
[[ $a_uuid != "$image_uuid" ]] || fail "A's LUKS UUID is the image's"
g 'journalctl -b -u volkey-rekey --no-pager' | grep -q "recovery" || true
g 'volkey recovery-key /dev/nvme0n1' >"$INST_RUN/phrase-a" 2>/dev/null || fail "volkey recovery-key on A"
chmod 600 "$INST_RUN/phrase-a"
step "A: the initramfs rebuilt on the instance (what a kernel update does)"
t0=$EPOCHREALTIME
g 'update-initramfs -u -k all' >"$INST_RUN/a-update.log" 2>&1 || { cat "$INST_RUN/a-update.log"; fail "update-initramfs on A"; }
echo "   update-initramfs on the instance: $(_inst_elapsed "$t0") s"
g 'lsinitramfs /boot/initrd.img-$(uname -r)' | grep -q 'usr/sbin/volkey$' || fail "the rebuilt initramfs lost volkey"
vm_scp ":/boot/initrd.img-$(cat "$INST_IMAGE/kver")" "$INST_RUN/a-initrd.img"
vm_poweroff

step "A boot 2: the rebuilt initramfs unlocks the re-keyed root"
root_boot "$a" "$INST_RUN/a-initrd.img"
vm_wait_ssh 300
running
root_on_volkey
[[ $(luks_uuid) == "$a_uuid" && $(keyhash) == "$a_key" ]] || fail "A changed across a reboot"
a2_to_root=$(to_root)
echo "   boot: $(analyze)"
vm_poweroff

step "A boot 3: KMS unreachable: console lines, the ${WAIT} s bound, the recovery passphrase on the serial console"
kms_stop
root_boot "$a" "$INST_RUN/a-initrd.img" --append " volkey.wait=$WAIT"
vm_console_wait 'waiting for the key service \(0 s of '"$WAIT" 300 >/dev/null
t_prompt=$(vm_console_wait 'Recovery passphrase:' $((WAIT + 60)))
n=$(grep -ac 'waiting for the key service' "$(vm_console_log)")
grep -a 'waiting for the key service' "$(vm_console_log)" | tail -n 1 | sed 's/^/   console: /'
grep -a 'key service unreachable for' "$(vm_console_log)" | tail -n 1 | sed 's/^/   console: /'
[[ $n -ge $((WAIT / 5)) ]] || fail "only $n waiting lines in $WAIT s"
awk "BEGIN{exit !($t_prompt >= $WAIT - 3 && $t_prompt <= $WAIT + 30)}" || fail "the prompt came $t_prompt s after the first line (bound $WAIT s)"
vm_console_type - <"$INST_RUN/phrase-a"
vm_wait_ssh 300
root_on_volkey
echo "   $n console lines, the prompt ${t_prompt} s after the first; the passphrase typed on the console booted it"
vm_poweroff
kms_restart

step "A boot 4: the key disabled in KMS: one line, no waiting, the passphrase"
kms_control /_volkey/key-state '{"key": "alias/vol", "state": "Disabled"}' >/dev/null
root_boot "$a" "$INST_RUN/a-initrd.img"
vm_console_wait 'DisabledException' 300 >/dev/null
t_prompt=$(vm_console_wait 'Recovery passphrase:' 30)
! grep -aq 'waiting for the key service' "$(vm_console_log)" || fail "a disabled key made the initramfs wait"
grep -a 'DisabledException' "$(vm_console_log)" | head -n 1 | cut -c1-160 | sed 's/^/   console: /'
vm_console_type - <"$INST_RUN/phrase-a"
vm_wait_ssh 300
root_on_volkey
vm_poweroff
kms_control /_volkey/key-state '{"key": "alias/vol", "state": "Enabled"}' >/dev/null

step "B boot 1: power cut half-way through the first-boot re-key"
scratch=$(inst_disk 512M scratch)
root_boot "$b" "$ROOT_ITOOLS"
vm_wait_ssh 300
root_on_volkey
for i in $(seq 1 120); do g 'dmsetup ls' | grep -q 'root-hotzone\|root-overlay' && break; sleep 1; done
g 'dmsetup ls' | grep -q 'root-hotzone\|root-overlay' || { g 'journalctl -b -u volkey-rekey --no-pager | tail'; fail "B's re-encryption did not start"; }
half=$(awk "BEGIN{printf \"%d\", $rekey_s / 2}")
sleep "$half"
g 'dmsetup ls' | grep -q 'root-hotzone\|root-overlay' || fail "B's re-encryption ended before the power cut (${half} s)"
vm_kill
echo "   power cut ${half} s into the re-encryption"
step "B boot 2: the initramfs unlocks the half re-encrypted root; the re-key resumes"
root_boot "$b" "$ROOT_ITOOLS" --nvme "$scratch,serial=scratch"
vm_wait_ssh 300
root_on_volkey
rekey2_s=$(rekey_wait)
g 'journalctl -b -u volkey-rekey --no-pager' | grep -qi 'resum' || { g 'journalctl -b -u volkey-rekey --no-pager | tail'; fail "B's re-key did not resume"; }
b_key=$(keyhash) b_uuid=$(luks_uuid)
echo "   resumed and finished in ${rekey2_s} s"
[[ $b_key != "$image_key" && $b_key != "$a_key" ]] || fail "B's volume key equals the image's or A's"
[[ $b_uuid != "$image_uuid" && $b_uuid != "$a_uuid" ]] || fail "B's LUKS UUID equals the image's or A's"
echo "   A: key $a_key uuid $a_uuid; B: key $b_key uuid $b_uuid; image: key $image_key uuid $image_uuid"
step "B: cryptsetup reencrypt (online) of a scratch disk on the same instance, for the per-GiB comparison"
sd=/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_scratch
cs_s=$(g "set -e; head -c 32 /dev/urandom >/run/k; cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file /run/k $sd
	cryptsetup open --key-file /run/k $sd scratch; t0=\$(date +%s%N)
	cryptsetup reencrypt -q --key-file /run/k --active-name scratch >/dev/null
	echo \$(( (\$(date +%s%N) - t0) / 1000000 )); cryptsetup close scratch; rm -f /run/k")
cs_mib=$(g "blockdev --getsize64 $sd" | awk '{print int($1 / 1048576) - 16}')
echo "   cryptsetup reencrypt: $(awk "BEGIN{printf \"%.1f\", $cs_s / 1000}") s for ${cs_mib} MiB ($(awk "BEGIN{printf \"%.1f\", $cs_s / 1000 * 1024 / $cs_mib}") s/GiB); volkey's first-boot re-key $(awk "BEGIN{printf \"%.1f\", $rekey_s * 1024 / $ROOT_SIZE_MB}") s/GiB"
step "B: a reboot after the re-key"
vm_reboot 300
root_on_volkey
[[ $(luks_uuid) == "$b_uuid" && $(keyhash) == "$b_key" ]] || fail "B changed across a reboot"
vm_poweroff

step "C boot 1 (dracut, systemd in the initrd): root through KMS"
root_boot "$c" "$ROOT_DRACUT" --append " systemd.mask=volkey-rekey.service"
vm_wait_ssh 300
running
root_on_volkey
grep -aq 'volkey: .*unlocked through token' "$(vm_console_log)" || fail "no volkey unlock line on the console (dracut)"
c_to_root=$(to_root)
echo "   boot: $(analyze); to switch-root ${c_to_root} s"
vm_poweroff
step "C boot 2 (dracut): KMS unreachable: console lines, then the passphrase through systemd-ask-password"
kms_stop
root_boot "$c" "$ROOT_DRACUT" --append " systemd.mask=volkey-rekey.service volkey.wait=$WAIT"
vm_console_wait 'waiting for the key service' 300 >/dev/null
t_prompt=$(vm_console_wait 'Recovery passphrase:' $((WAIT + 60)))
sleep 2
vm_console_type - <"$ROOT_PHRASE"
vm_wait_ssh 300
root_on_volkey
echo "   the prompt came ${t_prompt} s after the first waiting line; the image's passphrase booted it"
vm_poweroff
kms_restart

step "measurements"
echo "   to switch-root (kernel + initramfs, systemd-analyze): plain root ${base_to_root} s;" \
	"initramfs-tools + volkey ${a_to_root} s ($(awk "BEGIN{printf \"%.2f\", $a_to_root / $base_to_root}")x)," \
	"rebuilt ${a2_to_root} s; dracut + volkey ${c_to_root} s ($(awk "BEGIN{printf \"%.2f\", $c_to_root / $base_to_root}")x)"
echo "   build: $(tr '\n' ' ' <"$ROOT_DIR/build.times")"
