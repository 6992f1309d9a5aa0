#!/bin/sh
# dracut's systemd initrd: opens each volume of /etc/volkey/root-volumes (NAME
# SOURCE OPTIONS, from crypttab lines with volkey's keyscript) as
# /dev/mapper/NAME: `volkey unwrap` (bounded wait, console lines, fallback to
# the recovery passphrase through systemd-ask-password) into
# `cryptsetup open --key-file=-`. Exit non-zero leaves root missing: dracut's
# emergency shell says so.
rc=0
while read -r name source options; do
	[ -n "$name" ] || continue
	[ -b "/dev/mapper/$name" ] && continue
	# The device: LABEL=, UUID=, PARTUUID=, PARTLABEL= or a path; wait for udev.
	n=0 dev=
	while :; do
		case $source in
		*=*) dev=$(blkid -l -t "$source" -o device 2>/dev/null) ;;
		*) [ -b "$source" ] && dev=$source ;;
		esac
		[ -n "$dev" ] && break
		[ $((n % 10)) -eq 0 ] && echo "volkey: waiting for $source ($n s)" >&2
		n=$((n + 1))
		[ $n -gt 180 ] && break
		sleep 1
		udevadm settle -t 5 2>/dev/null
	done
	if [ -z "$dev" ]; then
		echo "volkey: $name: no device $source" >&2
		rc=1
		continue
	fi
	flags=
	case ",$options," in *,discard,*) flags=--allow-discards ;; esac
	case ",$options," in *,readonly,* | *,read-only,*) flags="$flags --readonly" ;; esac
	tries=0
	while :; do
		set --
		[ $tries -gt 0 ] && set -- --wait 0
		# shellcheck disable=SC2086
		if /usr/sbin/volkey unwrap "$dev" --askpass /usr/bin/systemd-ask-password "$@" |
			cryptsetup open --type luks2 --key-file=- $flags "$dev" "$name"; then
			echo "volkey: $name: $dev unlocked" >&2
			break
		fi
		tries=$((tries + 1))
		if [ $tries -ge 3 ]; then
			echo "volkey: $name: $dev not unlocked" >&2
			rc=1
			break
		fi
	done
done </etc/volkey/root-volumes
exit $rc
