#!/bin/bash
# instance-timeout: 1500
# The root volume: an image whose root file system is a volkey volume, built as
# an image pipeline would (tests/instance/root.bash: a builder instance formats
# it through KMS with --image and copies a root tree in), unlocked in the
# initramfs through KMS with IMDS role credentials, and re-keyed on first boot.
#  build: nothing secret in either initrd (files and bytes checked).
#  A (initramfs-tools): boot 1 reaches multi-user with / on /dev/mapper/root;
#    the first-boot re-key starts online and the power is cut half-way; boot 2
#    unlocks the half re-encrypted root in the initramfs and the re-key resumes
#    and ends (new volume key, UUID, secrets); the admin adds the instance's own
#    recovery key and rebuilds the initramfs (update-initramfs, as a kernel
#    update does; MODULES=dep, so the hook's own drivers count); boot 3 with the
#    rebuilt initramfs; boot 4 with KMS unreachable: console lines, the bound,
#    the recovery passphrase typed on the serial console.
#  Two copies of one image ending with different keys and UUIDs, and a refusal
#    (a disabled key) going to the passphrase at once, are the host tier's
#    (tests/host/rekey.sh, unwrap.sh): a second instance here cost 10 minutes.
#  The dracut initrd is built and searched for secrets, not booted: its one boot
#    did not reach KMS from the initrd (docs/root.md, Limits).
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
keyhash() { # the volume key's fingerprint (root_keyhash_cmd); fails on an empty dump
	local h
	h=$(g "$(root_keyhash_cmd /dev/nvme0n1)")
	[[ -n $h && $h != e3b0c44298fc1c14 ]] || fail "no volume key fingerprint (unwrap or luksDump failed)"
	echo "$h"
}
luks_uuid() { g 'cryptsetup luksUUID /dev/nvme0n1'; }
analyze() { g 'systemd-analyze' | head -1 | sed 's/^Startup finished in //'; }
to_root() { root_to_switch; }
# intact LABEL: the image's programs and libraries read back (page cache dropped)
# equal to the base image's: a re-encryption that went wrong shows here.
intact() {
	vm_scp "$INST_RUN/manifest" :/run/manifest
	local bad
	bad=$(g 'sync; echo 3 >/proc/sys/vm/drop_caches; cd / && sha256sum -c --quiet /run/manifest 2>&1 | grep -c FAILED || true')
	[[ $bad == 0 ]] || { g 'cd / && sha256sum -c --quiet /run/manifest 2>&1 | head -5'; fail "$1: $bad files differ from the image"; }
	echo "   $1: $(wc -l <"$INST_RUN/manifest") files equal to the image's"
}
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
	# volkey loads libcurl with dlopen (ldd does not show it): the hooks add it
	grep -Eq 'libcurl\.so\.4' "$l" || fail "$l: no libcurl.so.4 (volkey loads it on first use)"
	! grep -Eq '(etc/volkey/pins|\.aws/|credentials|\.kek$|\.key$|etc/volkey/.*\.(pem|key))' "$l" ||
		{ grep -E '(pins|\.aws/|credentials|\.kek$|\.key$)' "$l"; fail "$l: a secret-looking file"; }
done
mkdir -p "$INST_RUN/unpacked/dracut"
unmkinitramfs "$ROOT_ITOOLS" "$INST_RUN/unpacked/itools" 2>/dev/null || fail "unmkinitramfs failed"
(cd "$INST_RUN/unpacked/dracut" && zcat -f "$ROOT_DRACUT" | cpio -idm --quiet 2>/dev/null) || true
[[ -x $INST_RUN/unpacked/dracut/usr/sbin/volkey ]] || fail "could not unpack the dracut initrd"
for secret in "$(cat "$ROOT_PHRASE")" imds-secret- imds-session-token- sekrit/abc+def; do
	if grep -rqaF -- "$secret" "$INST_RUN/unpacked"; then fail "a secret ($secret...) is in an initrd"; fi
done
rm -rf "$INST_RUN/unpacked"
echo "   initrd files: $(wc -l <"$ROOT_DIR/initrd-itools.list") (initramfs-tools), $(wc -l <"$ROOT_DIR/initrd-dracut.list") (dracut); no key file, credential or phrase"
read -r _ sz_it < <(grep '^itools ' "$ROOT_DIR/initrd.sizes")
read -r _ sz_nv < <(grep '^itools-without-volkey ' "$ROOT_DIR/initrd.sizes")
read -r _ sz_dr < <(grep '^dracut ' "$ROOT_DIR/initrd.sizes")
echo "   initramfs-tools initrd $((sz_it / 1024)) KiB, $(((sz_it - sz_nv) / 1024)) KiB of it volkey's (compressed); dracut initrd $((sz_dr / 1024)) KiB"

a=$(root_copy a)
mkdir -p "$INST_RUN/basemnt"
mount -o ro,loop "$INST_IMAGE/root.img" "$INST_RUN/basemnt"
(cd "$INST_RUN/basemnt" && find usr/bin usr/sbin usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -size +20k | LC_ALL=C sort |
	xargs sha256sum) >"$INST_RUN/manifest"
umount "$INST_RUN/basemnt"

step "A boot 1 (initramfs-tools): root through KMS in the initramfs; a power cut half-way through the first-boot re-key"
root_boot "$a" "$ROOT_ITOOLS"
vm_wait_ssh 300
running
root_on_volkey
grep -aq 'volkey: .*unlocked through token' "$(vm_console_log)" || fail "no volkey unlock line on the console"
grep -aq 'root: set up successfully' "$(vm_console_log)" || fail "cryptroot did not report the root mapping"
grep -q 'ASIAFAKEIMDS' "$KMS_LOG" || fail "KMS saw no IMDS role credentials"
a_to_root=$(to_root)
echo "   boot: $(analyze); to switch-root ${a_to_root} s against ${base_to_root} s with a plain root"
g 'volkey status /dev/nvme0n1' | grep -Eq 'image +(template|re-key in progress)' ||
	{ g 'volkey status /dev/nvme0n1'; fail "the image's root does not say it is not re-keyed yet"; }
for i in $(seq 1 120); do g 'dmsetup ls' | grep -q 'root-hotzone\|root-overlay' && break; sleep 1; done
g 'dmsetup ls' | grep -q 'root-hotzone\|root-overlay' || { g 'journalctl -b -u volkey-rekey --no-pager | tail'; fail "A's re-encryption did not start"; }
sleep 35
g 'dmsetup ls' | grep -q 'root-hotzone\|root-overlay' || fail "A's re-encryption ended before the power cut"
g 'volkey status /dev/nvme0n1' | grep -E 'image|re-encryption' | sed 's/^/   before the cut: /'
vm_kill
echo "   power cut 35 s into the re-encryption"

step "A boot 2: the initramfs unlocks the half re-encrypted root; the re-key resumes and ends"
root_boot "$a" "$ROOT_ITOOLS"
vm_wait_ssh 300
root_on_volkey
rekey2_s=$(rekey_wait)
g 'journalctl -b -u volkey-rekey --no-pager' | grep -qi 'resum' || { g 'journalctl -b -u volkey-rekey --no-pager | tail'; fail "A's re-key did not resume"; }
! g 'volkey status /dev/nvme0n1' | grep -Eq '^ *image ' || { g 'volkey status /dev/nvme0n1'; fail "still an image after the re-key"; }
a_key=$(keyhash) a_uuid=$(luks_uuid)
[[ $a_key != "$image_key" ]] || fail "A's volume key is the image's"
[[ $a_uuid != "$image_uuid" ]] || fail "A's LUKS UUID is the image's"
echo "   resumed and finished in ${rekey2_s} s; key $a_key, UUID $a_uuid (image: $image_key, $image_uuid)"
intact "A after the power cut and the resumed re-key"
g 'volkey recovery-key /dev/nvme0n1' >"$INST_RUN/phrase-a" 2>/dev/null || fail "volkey recovery-key on A"
chmod 600 "$INST_RUN/phrase-a"
step "A: the initramfs rebuilt on the instance (what a kernel update does)"
t0=$EPOCHREALTIME
g 'echo MODULES=dep >/etc/initramfs-tools/conf.d/volkey-test-modules && update-initramfs -u -k all' >"$INST_RUN/a-update.log" 2>&1 ||
	{ cat "$INST_RUN/a-update.log"; fail "update-initramfs on A"; }
echo "   update-initramfs (MODULES=dep) on the instance: $(_inst_elapsed "$t0") s"
g 'lsinitramfs /boot/initrd.img-$(uname -r)' | grep -q 'usr/sbin/volkey$' || fail "the rebuilt initramfs lost volkey"
vm_scp ":/boot/initrd.img-$(cat "$INST_IMAGE/kver")" "$INST_RUN/a-initrd.img"
vm_poweroff

step "A boot 3: the rebuilt initramfs unlocks the re-keyed root"
root_boot "$a" "$INST_RUN/a-initrd.img"
vm_wait_ssh 300
running
root_on_volkey
[[ $(luks_uuid) == "$a_uuid" && $(keyhash) == "$a_key" ]] || fail "A changed across a reboot"
a3_to_root=$(to_root)
echo "   boot: $(analyze)"
vm_poweroff

step "A boot 4: KMS unreachable: console lines, the ${WAIT} s bound, the recovery passphrase on the serial console"
kms_stop
root_boot "$a" "$INST_RUN/a-initrd.img" --append " volkey.wait=$WAIT"
vm_console_wait 'waiting for the key service \(0 s of '"$WAIT" 300 >/dev/null
t_prompt=$(vm_console_wait 'Recovery passphrase:' $((WAIT + 60)))
n=$(grep -ac 'waiting for the key service' "$(vm_console_log)")
grep -a 'waiting for the key service' "$(vm_console_log)" | tail -n 1 | cut -c1-200 | sed 's/^/   console: /'
grep -a 'key service unreachable for' "$(vm_console_log)" | tail -n 1 | cut -c1-200 | sed 's/^/   console: /'
[[ $n -ge $((WAIT / 5)) ]] || fail "only $n waiting lines in $WAIT s"
awk "BEGIN{exit !($t_prompt >= $WAIT - 3 && $t_prompt <= $WAIT + 30)}" || fail "the prompt came $t_prompt s after the first line (bound $WAIT s)"
vm_console_type - <"$INST_RUN/phrase-a"
vm_wait_ssh 300
root_on_volkey
echo "   $n console lines, the prompt ${t_prompt} s after the first; the passphrase typed on the console booted it"
vm_poweroff
kms_restart

step "measurements"
echo "   to switch-root (kernel + initramfs, systemd-analyze): plain root ${base_to_root} s;" \
	"initramfs-tools + volkey ${a_to_root} s ($(awk "BEGIN{printf \"%.2f\", $a_to_root / $base_to_root}")x)," \
	"rebuilt (MODULES=dep) ${a3_to_root} s"
echo "   build: $(tr '\n' ' ' <"$ROOT_DIR/build.times")"
