#!/bin/bash
# dracut module "volkey" (/usr/lib/dracut/modules.d/90volkey): unlocks, in a
# systemd initrd, the volkey volumes that /etc/crypttab gives volkey's keyscript
# (the same lines initramfs-tools uses), through their token: the network comes
# up by dracut's network module (DHCP, DNS), credentials from IMDS, the secret
# from KMS; a bounded wait with console lines, then the [initramfs] fallback
# (the recovery passphrase through systemd-ask-password). docs/root.md.
# Nothing secret goes in: volkey.conf, the CA bundle and /etc/hosts only.

KEYSCRIPT=/usr/lib/volkey/volkey-keyscript

# The crypttab lines that name volkey's keyscript: NAME SOURCE OPTIONS.
volkey_lines() {
	[[ -f $dracutsysrootdir/etc/crypttab ]] || return 0
	awk -v ks="keyscript=$KEYSCRIPT" '$0 !~ /^[[:space:]]*#/ && NF >= 4 {
		n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] == ks) { print $1, $2, $4; break } }' \
		"$dracutsysrootdir/etc/crypttab"
}

check() {
	require_binaries /usr/sbin/volkey cryptsetup systemd-ask-password || return 1
	[[ -n $(volkey_lines) ]] && return 0
	return 255
}

depends() {
	echo crypt network systemd
	return 0
}

installkernel() {
	instmods dm_crypt
	hostonly='' instmods ena virtio_net
}

install() {
	local lines
	lines=$(volkey_lines)
	inst_multiple /usr/sbin/volkey cryptsetup systemd-ask-password blkid udevadm awk sleep
	# volkey loads libcurl with dlopen when it first talks to KMS or IMDS: dracut's
	# dependency resolution (ldd) does not see it. With its own libraries:
	inst_libdir_file "libcurl.so.4" || dfatal "volkey: no libcurl.so.4 to reach KMS with"
	# The trust store libcurl reads: Debian's, or RHEL's and Amazon Linux's.
	inst_multiple -o /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt \
		/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem
	inst_multiple -o /etc/hosts /etc/volkey/volkey.conf
	# Which volumes to open, from the host's crypttab at build time (a rebuild
	# after crypttab changes picks up the change, as for every crypttab entry).
	mkdir -p "$initdir/etc/volkey"
	printf '%s\n' "$lines" >"$initdir/etc/volkey/root-volumes"
	# systemd-cryptsetup ignores keyscript= and would ask for a passphrase for the
	# same device: the volkey lines leave the initrd's crypttab (90crypt put it
	# there in host-only mode).
	if [[ -f $initdir/etc/crypttab ]]; then
		grep -v -F "keyscript=$KEYSCRIPT" "$initdir/etc/crypttab" >"$initdir/etc/crypttab.volkey" || :
		mv "$initdir/etc/crypttab.volkey" "$initdir/etc/crypttab"
	fi
	# DHCP on the first NIC and DNS from the lease (dracut's network module).
	printf 'rd.neednet=1 ip=dhcp\n' >"$initdir/etc/cmdline.d/65volkey.conf"
	inst_script "$moddir/volkey-unlock.sh" /usr/lib/volkey/volkey-unlock
	inst_simple "$moddir/volkey-unlock.service" "$systemdsystemunitdir/volkey-unlock.service"
	$SYSTEMCTL -q --root "$initdir" add-wants cryptsetup.target volkey-unlock.service
	dracut_need_initqueue
}
