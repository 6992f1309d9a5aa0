# The instance tier's library: scenario scripts run ON THE HOST, source this
# file and drive a real Debian 12 guest (systemd as PID 1, EC2-shaped) over SSH
# and QMP. See docs/rig.md, "The instance tier". Typical scenario:
#
#   source "$(dirname "$0")/../lib.bash"
#   inst_image                                  # INST_IMAGE: the cached base image
#   inst_prepare ${VOLKEY_DEB:+--deb "$VOLKEY_DEB"} --file my.conf:/etc/volkey/volkey.conf
#   imds_start --role volkey-role               # 169.254.169.254 in the guest
#   kms_start                                   # https://kms.us-east-1.amazonaws.com
#   data=$(inst_disk 64M)
#   vm_start --nvme "$data,serial=vol0123456789abcdef0"
#   vm_wait_ssh 300
#   vm_ssh 'systemctl is-system-running --wait' || vm_ssh 'systemctl --failed'
#   vm_poweroff
#
# Every function fails (non-zero, message on stderr) rather than exiting, except
# `fail`; scenarios run under `set -euo pipefail` (set here), so an unchecked
# failure ends the scenario. On exit everything started here is stopped and the
# run directory removed (KEEP=1 keeps it; its path is printed).
#
# Variables a scenario may read:
#   INST_RUN      the run directory (console.log, doubles' logs, root.img, ...)
#   INST_IMAGE    the cache directory (ca.pem, kms.pem, id_ed25519, vmlinuz, ...)
#   KMS_LOG_<R>   the KMS double's log for region R (dashes as underscores),
#                 KMS_LOG the one of the first region started
#   IMDS_LOG      the IMDS double's log
#   VM_SSH_PORT   the host port forwarded to the guest's sshd
set -euo pipefail
INST_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INST_SRC=$(cd "$INST_LIB/../.." && pwd)
INST_PY=/usr/bin/python3
INST_RUN=$(mktemp -d "${INST_TMP:-/var/tmp}/volkey-instance.XXXXXX")
INST_IMAGE=
VM_PID= VM_SSH_PORT=
declare -A _inst_pids=()       # name -> pid of a double
declare -A _inst_args=()       # name -> its arguments, for restarts
_inst_hot=0 _inst_ports=4      # hot-plug devices made; free pcie-root-ports
# The user network (guest view). 169.254.0.0/16 holds the IMDS address, which
# guestfwd can only serve inside the net (libslirp forwards nothing outside it).
INST_NET=169.254.0.0/16 INST_HOST=169.254.0.2 INST_DNS=169.254.0.3 INST_GUEST=169.254.0.15
INST_IMDS_ADDR=169.254.169.254
declare -A INST_KMS_ADDR=([us-east-1]=169.254.100.10 [eu-west-1]=169.254.100.11)

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
_inst_log() { echo "instance: $*" >&2; }
_inst_elapsed() { awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $1}"; }

_inst_cleanup() {
	local rc=$? n
	[[ -n $VM_PID ]] && vm_kill
	for n in "${!_inst_pids[@]}"; do _inst_stop "$n"; done
	if [[ ${KEEP:-0} == 1 ]]; then
		_inst_log "run directory kept: $INST_RUN"
	else
		rm -rf "$INST_RUN"
	fi
	return $rc
}
trap _inst_cleanup EXIT
trap 'exit 130' INT TERM

# --- the image ----------------------------------------------------------------

# inst_image: builds or finds the cached base image (tests/instance/mkimage); sets INST_IMAGE.
inst_image() {
	INST_IMAGE=$("$INST_LIB/mkimage") || { _inst_log "mkimage failed"; return 1; }
}

# inst_prepare [--deb PATH]... [--file SRC:DEST[:MODE]]... [--fstab LINE]... [--run CMD]...
# Sparse-copies the base image to $INST_RUN/root.img and installs into it, on a
# loop mount: the .debs "like a user" (apt-get install --no-download: a missing
# dependency fails the call: apt runs with no sources and the image has no package lists),
# the files (directories made as needed), fstab lines, then each CMD in the chroot.
inst_prepare() {
	local debs=() files=() fstab=() cmds=() mnt loop f rc=0
	while [[ $# -gt 0 ]]; do
		case $1 in
		--deb) [[ -f $2 ]] || { _inst_log "inst_prepare: no such .deb: $2"; return 1; }; debs+=("$(readlink -f "$2")"); shift 2 ;;
		--file) files+=("$2"); shift 2 ;;
		--fstab) fstab+=("$2"); shift 2 ;;
		--run) cmds+=("$2"); shift 2 ;;
		*) _inst_log "inst_prepare: unknown option $1"; return 1 ;;
		esac
	done
	[[ -n $INST_IMAGE ]] || inst_image
	cp --sparse=always "$INST_IMAGE/root.img" "$INST_RUN/root.img"
	[[ ${#debs[@]} -eq 0 && ${#files[@]} -eq 0 && ${#fstab[@]} -eq 0 && ${#cmds[@]} -eq 0 ]] && return 0
	mnt=$INST_RUN/mnt
	mkdir -p "$mnt"
	loop=$(losetup -f --show "$INST_RUN/root.img") || return 1
	mount "$loop" "$mnt" || { losetup -d "$loop"; return 1; }
	mount -t proc proc "$mnt/proc" && mount --bind /dev "$mnt/dev" && mount --bind /dev/pts "$mnt/dev/pts" &&
		mount -t tmpfs tmpfs "$mnt/run" || rc=1
	# No service starts in the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$mnt/usr/sbin/policy-rc.d"; chmod +x "$mnt/usr/sbin/policy-rc.d"
	if [[ $rc -eq 0 && ${#debs[@]} -gt 0 ]]; then
		mkdir -p "$mnt/var/tmp/debs/sources.list.d"
		: >"$mnt/var/tmp/debs/sources.list"
		cp "${debs[@]}" "$mnt/var/tmp/debs/"
		local in=()
		for f in "${debs[@]}"; do in+=("/var/tmp/debs/$(basename "$f")"); done
		_inst_log "installing ${in[*]##*/} in the image"
		# No sources at all (not just --no-download, which trips apt 2.6 on local
		# files: "Pathname to install is not absolute"): dependencies come from the image or nowhere.
		chroot "$mnt" env DEBIAN_FRONTEND=noninteractive apt-get install -y -o Dir::Etc::SourceList=/var/tmp/debs/sources.list \
			-o Dir::Etc::SourceParts=/var/tmp/debs/sources.list.d -o Dpkg::Options::=--force-confold "${in[@]}" >"$INST_RUN/apt.log" 2>&1 ||
			{ rc=$?; cat "$INST_RUN/apt.log" >&2; _inst_log "apt-get install in the image failed (exit $rc)"; }
		for f in "${in[@]}"; do
			chroot "$mnt" dpkg-query -W -f='${Status}\n' "$(dpkg-deb -f "$mnt$f" Package)" 2>/dev/null |
				grep -q 'install ok installed' || { _inst_log "$f: not installed"; rc=1; }
		done
		rm -rf "$mnt/var/tmp/debs"
	fi
	if [[ $rc -eq 0 ]]; then
		for f in "${files[@]+"${files[@]}"}"; do
			local srcf=${f%%:*} rest=${f#*:} dest mode=0644
			dest=${rest%%:*}; [[ $rest == *:* ]] && mode=${rest#*:}
			install -D -m "$mode" "$srcf" "$mnt$dest" || rc=1
		done
		for f in "${fstab[@]+"${fstab[@]}"}"; do echo "$f" >>"$mnt/etc/fstab"; done
		for f in "${cmds[@]+"${cmds[@]}"}"; do
			chroot "$mnt" /bin/sh -c "$f" || { _inst_log "inst_prepare --run '$f' failed"; rc=1; }
		done
	fi
	rm -f "$mnt/usr/sbin/policy-rc.d"
	umount "$mnt/run" "$mnt/dev/pts" "$mnt/dev" "$mnt/proc" 2>/dev/null || true
	umount "$mnt" && losetup -d "$loop" || { _inst_log "cannot unmount $mnt / detach $loop"; rc=1; }
	return $rc
}

# inst_disk SIZE [NAME]: a fresh sparse file in the run directory (prints its path).
inst_disk() {
	local p=$INST_RUN/${2:-disk$RANDOM}.img
	truncate -s "$1" "$p" && echo "$p"
}

# --- the doubles ----------------------------------------------------------------
# The guest reaches them through QEMU guestfwd: each guest connection runs
# $INST_RUN/fwd NAME, which connects to the port in $INST_RUN/NAME.port (so a
# double may restart on any port). While a double is down (no port file) the
# guest's connection is accepted, then closed at once: what a client sees is an
# EOF (curl: "Empty reply"/TLS "unexpected eof"), never "connection refused"
# (slirp has answered the SYN before the command runs). With NAME.hang present
# the connection is accepted and never answered (a black hole).

_inst_fwd_script() {
	cat >"$INST_RUN/fwd" <<FWD
#!/bin/sh
# guestfwd command (one per guest connection): relay stdio to double \$1.
[ -e "$INST_RUN/\$1.hang" ] && exec sleep 3600
port=\$(cat "$INST_RUN/\$1.port" 2>/dev/null) || exit 0
exec socat STDIO "TCP:127.0.0.1:\$port"
FWD
	chmod +x "$INST_RUN/fwd"
}

_inst_start() { # name cmd... : starts a double that writes $INST_RUN/name.port
	local name=$1 i; shift
	rm -f "$INST_RUN/$name.port"
	"$@" 2>>"$INST_RUN/$name.err" &
	_inst_pids[$name]=$!
	for i in $(seq 1 100); do
		[[ -s $INST_RUN/$name.port ]] && return 0
		kill -0 "${_inst_pids[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$INST_RUN/$name.err" >&2
	_inst_log "$name did not start"
	return 1
}

_inst_stop() { # name
	local pid=${_inst_pids[$1]:-}
	rm -f "$INST_RUN/$1.port"
	[[ -n $pid ]] || return 0
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "_inst_pids[$1]"
}

# kms_config FILE [REGION]: writes a KMS double config with one key (alias/vol,
# id 1234abcd-12ab-34cd-56ef-1234567890ab) that accepts the IMDS double's role
# credentials (serials 1..200) and the static AKIDTEST1 / sekrit/abc+def.
kms_config() {
	"$INST_PY" - "$1" "${2:-us-east-1}" <<'PY'
import json, sys
creds = [{"access_key": "AKIDTEST1", "secret_key": "sekrit/abc+def", "session_token": None}]
creds += [{"access_key": "ASIAFAKEIMDS%08d" % n, "secret_key": "imds-secret-%d-s" % n,
           "session_token": "imds-session-token-%d" % n} for n in range(1, 201)]
json.dump({"region": sys.argv[2], "account": "111122223333", "seed": "volkey-instance-seed",
           "credentials": creds,
           "keys": [{"id": "1234abcd-12ab-34cd-56ef-1234567890ab", "aliases": ["alias/vol"],
                     "state": "Enabled"}]}, open(sys.argv[1], "w"), indent=1)
PY
}

# kms_start [--region R] [--config FILE] [kms.py args...]: the KMS double for
# region R (default us-east-1), HTTPS with the image's certificate, reached by the
# guest at https://kms.R.amazonaws.com. Without --config: kms_config's.
kms_start() {
	local region=us-east-1 config= v
	while [[ $# -gt 0 ]]; do
		case $1 in
		--region) region=$2; shift 2 ;;
		--config) config=$2; shift 2 ;;
		*) break ;;
		esac
	done
	[[ -n ${INST_KMS_ADDR[$region]:-} ]] || { _inst_log "kms_start: no address for region $region"; return 1; }
	[[ -n $INST_IMAGE ]] || inst_image
	[[ -n $config ]] || { config=$INST_RUN/kms-$region.json; kms_config "$config" "$region"; }
	v=KMS_LOG_${region//-/_}
	printf -v "$v" %s "$INST_RUN/kms-$region.log"
	[[ -n ${KMS_LOG:-} ]] || KMS_LOG=${!v}
	_inst_args[kms-$region]=
	[[ $# -eq 0 ]] || _inst_args[kms-$region]="$(printf '%q ' "$@")"
	_inst_start "kms-$region" "$INST_PY" "$INST_SRC/tests/fakes/kms.py" --port-file "$INST_RUN/kms-$region.port" \
		--log "${!v}" --config "$config" --region "$region" \
		--tls-cert "$INST_IMAGE/kms.pem" --tls-key "$INST_IMAGE/kms.key" "$@"
	[[ $config -ef $INST_RUN/kms-$region.config ]] || cp "$config" "$INST_RUN/kms-$region.config"
}
# kms_stop [REGION]: the guest's connections now get EOF at once (see above).
kms_stop() { _inst_stop "kms-${1:-us-east-1}"; }
# kms_restart [REGION]: the same config and log (keys decrypt what they did before).
kms_restart() {
	local r=${1:-us-east-1}
	kms_stop "$r"
	eval "kms_start --region $r --config $INST_RUN/kms-$r.config ${_inst_args[kms-$r]}"
}
# kms_hang [REGION] / kms_unhang [REGION]: new guest connections are accepted and never answered.
kms_hang() { touch "$INST_RUN/kms-${1:-us-east-1}.hang"; }
kms_unhang() { rm -f "$INST_RUN/kms-${1:-us-east-1}.hang"; }
# kms_control PATH [JSON] [REGION]: GET (no JSON) or POST the double's control API,
# e.g. kms_control /_volkey/fault '{"unavailable": 3}'; kms_control /_volkey/stats.
kms_control() {
	local port
	port=$(cat "$INST_RUN/kms-${3:-us-east-1}.port") || return 1
	if [[ -n ${2:-} ]]; then
		curl -sS --fail-with-body --cacert "$INST_IMAGE/ca.pem" --resolve "kms.${3:-us-east-1}.amazonaws.com:$port:127.0.0.1" \
			-X POST -H 'Content-Type: application/json' -d "$2" "https://kms.${3:-us-east-1}.amazonaws.com:$port$1"
	else
		curl -sS --fail-with-body --cacert "$INST_IMAGE/ca.pem" --resolve "kms.${3:-us-east-1}.amazonaws.com:$port:127.0.0.1" \
			"https://kms.${3:-us-east-1}.amazonaws.com:$port$1"
	fi
}
kms_fault() { kms_control /_volkey/fault "$1" "${2:-us-east-1}"; }

# imds_start [imds.py args...] (e.g. --role volkey-role --region us-east-1):
# the IMDSv2 double at http://169.254.169.254 in the guest. imds_stop, imds_restart as for KMS.
imds_start() {
	IMDS_LOG=$INST_RUN/imds.log
	_inst_args[imds]=
	[[ $# -eq 0 ]] || _inst_args[imds]="$(printf '%q ' "$@")"
	_inst_start imds "$INST_PY" "$INST_SRC/tests/fakes/imds.py" --port-file "$INST_RUN/imds.port" --log "$IMDS_LOG" "$@"
}
imds_stop() { _inst_stop imds; }
imds_restart() { imds_stop; eval "imds_start ${_inst_args[imds]}"; }

# --- the guest -----------------------------------------------------------------

_inst_free_port() {
	"$INST_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# vm_start [--nvme PATH,serial=S]... [--append ARGS] [--mem MB] [--smp N]
#          [--rootdisk PATH] [--initrd PATH] [--root SPEC]
# Boots the image ($INST_RUN/root.img; inst_prepare makes it) on QEMU/TCG, q35,
# the image's own kernel and initramfs, root on an NVMe controller with serial
# "root" (/dev/nvme0n1), then each --nvme disk on its own controller, and 4 free
# pcie-root-ports for vm_hotadd. --rootdisk, --initrd and --root (the kernel's
# root=) replace the root disk, the initramfs and /dev/nvme0n1 (the root tier's
# encrypted roots). The serial console is logged to console.log and takes input
# (vm_console_type). Returns once QEMU runs (see vm_wait_ssh).
# Takes the machine's rig lock (one guest at a time), held until the scenario ends.
vm_start() {
	local append= mem=1024 smp=2 devs=() n=0 spec path serial i net fwd r
	local rootdisk=$INST_RUN/root.img initrd= root=/dev/nvme0n1
	while [[ $# -gt 0 ]]; do
		case $1 in
		--rootdisk) rootdisk=$2; shift 2 ;;
		--initrd) initrd=$2; shift 2 ;;
		--root) root=$2; shift 2 ;;
		--nvme)
			spec=$2; path=${spec%%,*}
			[[ $spec == *,serial=* ]] || { _inst_log "--nvme $spec: serial=S is required"; return 1; }
			serial=${spec#*,serial=}
			[[ -e $path ]] || { _inst_log "--nvme $path: no such file"; return 1; }
			devs+=(-drive "file=$path,if=none,id=nv$n,format=raw,cache=unsafe"
				-device "nvme,serial=$serial,drive=nv$n")
			n=$((n + 1)); shift 2 ;;
		--append) append+=" $2"; shift 2 ;;
		--mem) mem=$2; shift 2 ;;
		--smp) smp=$2; shift 2 ;;
		*) _inst_log "vm_start: unknown option $1"; return 1 ;;
		esac
	done
	[[ -z $VM_PID ]] || { _inst_log "vm_start: a guest is running"; return 1; }
	[[ -f $INST_RUN/root.img || $rootdisk != "$INST_RUN/root.img" ]] || inst_prepare
	[[ -n $initrd ]] || initrd=$INST_IMAGE/initrd.img
	_inst_fwd_script
	VM_SSH_PORT=$(_inst_free_port)
	fwd="guestfwd=tcp:$INST_IMDS_ADDR:80-cmd:$INST_RUN/fwd imds"
	for r in "${!INST_KMS_ADDR[@]}"; do
		fwd+=",guestfwd=tcp:${INST_KMS_ADDR[$r]}:443-cmd:$INST_RUN/fwd kms-$r"
	done
	net="user,id=n0,restrict=on,net=$INST_NET,host=$INST_HOST,dhcpstart=$INST_GUEST,dns=$INST_DNS"
	net+=",hostname=volkey-instance,hostfwd=tcp:127.0.0.1:$VM_SSH_PORT-:22,$fwd"
	for i in 0 1 2 3; do
		devs+=(-device "pcie-root-port,id=rp$i,chassis=$((i + 1)),slot=$((i + 1))")
	done
	echo "${devs[*]} $net" >"$INST_RUN/qemu.args"
	exec 9>"${VOLKEY_RIG_LOCK:-/run/lock/volkey-rig.lock}"
	flock 9
	VM_T0=$EPOCHREALTIME
	qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem" \
		-nodefaults -display none -monitor none \
		-chardev "socket,id=ser0,path=$INST_RUN/serial.sock,server=on,wait=off,logfile=$INST_RUN/console.log,logappend=off" \
		-serial chardev:ser0 \
		-qmp "unix:$INST_RUN/qmp.sock,server=on,wait=off" -pidfile "$INST_RUN/qemu.pid" \
		-kernel "$INST_IMAGE/vmlinuz" -initrd "$initrd" \
		-append "root=$root ro console=ttyS0,115200 printk.devkmsg=on systemd.show_status=1 net.ifnames=1$append" \
		-drive "file=$rootdisk,if=none,id=root,format=raw,cache=unsafe,discard=unmap" \
		-device nvme,serial=root,drive=root \
		-netdev "$net" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 \
		-device virtio-rng-pci \
		-smbios "type=1,manufacturer=Amazon EC2,product=i4i.large,uuid=ec200000-0000-4000-8000-000000000001,serial=ec200000-0000-4000-8000-000000000001" \
		"${devs[@]}" </dev/null >"$INST_RUN/qemu.log" 2>&1 &
	VM_PID=$!
	for i in $(seq 1 50); do [[ -S $INST_RUN/qmp.sock ]] && return 0; kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
	cat "$INST_RUN/qemu.log" >&2
	VM_PID=
	_inst_log "QEMU did not start"
	return 1
}

# vm_console_log: the path of the serial console log (kernel, systemd status, shutdown).
vm_console_log() { echo "$INST_RUN/console.log"; }

# vm_console_mark: the console log's current size, for vm_console_wait --from.
vm_console_mark() { stat -c %s "$INST_RUN/console.log" 2>/dev/null || echo 0; }
# vm_console_wait REGEX [TIMEOUT=120] [FROM=0]: until the console log (from byte
# FROM on) matches the extended REGEX; prints the seconds waited.
vm_console_wait() {
	local re=$1 limit=${2:-120} from=${3:-0} t0=$EPOCHREALTIME
	until tail -c +"$((from + 1))" "$INST_RUN/console.log" 2>/dev/null | grep -aqE -- "$re"; do
		kill -0 "$VM_PID" 2>/dev/null || { _inst_log "vm_console_wait /$re/: QEMU exited"; return 1; }
		if [[ $(awk "BEGIN{print (($EPOCHREALTIME - $t0) > $limit)}") == 1 ]]; then
			tail -c +"$((from + 1))" "$INST_RUN/console.log" | tail -n 30 >&2
			_inst_log "vm_console_wait: no /$re/ on the console within $limit s"; return 1
		fi
		sleep 0.5
	done
	_inst_elapsed "$t0"
}
# vm_console_type TEXT: types TEXT and Enter on the serial console (an operator
# at the EC2 serial console). TEXT never reaches argv: it is read from stdin when "-".
vm_console_type() {
	# One byte at a time, the connection kept open a while: QEMU hands the UART
	# 16 bytes at a time and drops what is still unread when the client hangs up.
	local text
	if [[ $1 == - ]]; then text=$(cat); else text=$1; fi
	printf '%s\r' "$text" | "$INST_PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
for b in sys.stdin.buffer.read():
    s.sendall(bytes([b])); time.sleep(0.02)
time.sleep(2); s.close()' "$INST_RUN/serial.sock"
}

_inst_ssh_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	-o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=10 -o ServerAliveCountMax=6)

# vm_ssh CMD...: runs CMD (one shell command line, words joined by spaces) as root in
# the guest; stdin, stdout and stderr pass through; returns its exit code (255: ssh failed).
vm_ssh() {
	ssh "${_inst_ssh_opts[@]}" -i "$INST_IMAGE/id_ed25519" -p "$VM_SSH_PORT" root@127.0.0.1 "$*"
}

# vm_scp SRC... DEST: copies; guest paths start with ":" (vm_scp f :/etc/x, vm_scp :/var/log/y .).
vm_scp() {
	local a=() x
	for x in "$@"; do [[ $x == :* ]] && a+=("root@127.0.0.1$x") || a+=("$x"); done
	scp -q "${_inst_ssh_opts[@]}" -i "$INST_IMAGE/id_ed25519" -P "$VM_SSH_PORT" "${a[@]}"
}

# vm_wait_ssh [TIMEOUT=300]: until the guest answers over SSH; fails (console tail
# printed) on timeout or when QEMU exits. Prints the seconds since vm_start.
vm_wait_ssh() {
	local limit=${1:-300} t0=$EPOCHREALTIME
	while ! vm_ssh true </dev/null >/dev/null 2>&1; do
		if ! kill -0 "$VM_PID" 2>/dev/null; then
			tail -n 40 "$INST_RUN/console.log" >&2; _inst_log "QEMU exited before SSH answered"; return 1
		fi
		if [[ $(awk "BEGIN{print (($EPOCHREALTIME - $t0) > $limit)}") == 1 ]]; then
			tail -n 40 "$INST_RUN/console.log" >&2; _inst_log "no SSH after $limit s"; return 1
		fi
		sleep 1
	done
	_inst_log "SSH up $(_inst_elapsed "$VM_T0") s after QEMU start"
}

_inst_boot_id() { vm_ssh cat /proc/sys/kernel/random/boot_id </dev/null 2>/dev/null; }

# vm_reboot [TIMEOUT=300]: `systemctl reboot` in the guest (same QEMU process),
# waits for SSH on the new boot.
vm_reboot() {
	local limit=${1:-300} old t0=$EPOCHREALTIME
	old=$(_inst_boot_id) || { _inst_log "vm_reboot: guest not reachable"; return 1; }
	vm_ssh 'systemctl reboot' </dev/null >/dev/null 2>&1 || true
	while :; do
		sleep 1
		kill -0 "$VM_PID" 2>/dev/null || { tail -n 40 "$INST_RUN/console.log" >&2; _inst_log "QEMU exited during reboot"; return 1; }
		local id
		id=$(_inst_boot_id) && [[ -n $id && $id != "$old" ]] && break
		[[ $(awk "BEGIN{print (($EPOCHREALTIME - $t0) > $limit)}") == 1 ]] &&
			{ tail -n 40 "$INST_RUN/console.log" >&2; _inst_log "no SSH after reboot within $limit s"; return 1; }
	done
	_inst_log "rebooted: SSH up again after $(_inst_elapsed "$t0") s"
}

# vm_poweroff [TIMEOUT=180]: `systemctl poweroff`, waits for QEMU to exit.
vm_poweroff() {
	local limit=${1:-180} t0=$EPOCHREALTIME
	vm_ssh 'systemctl poweroff' </dev/null >/dev/null 2>&1 || true
	while kill -0 "$VM_PID" 2>/dev/null; do
		[[ $(awk "BEGIN{print (($EPOCHREALTIME - $t0) > $limit)}") == 1 ]] &&
			{ tail -n 30 "$INST_RUN/console.log" >&2; _inst_log "QEMU still running $limit s after poweroff"; return 1; }
		sleep 0.5
	done
	wait "$VM_PID" 2>/dev/null || true
	VM_PID=
	_inst_log "powered off in $(_inst_elapsed "$t0") s"
}

# vm_kill: stops QEMU at once (no shutdown in the guest).
vm_kill() {
	[[ -n $VM_PID ]] || return 0
	kill -TERM "$VM_PID" 2>/dev/null || true
	[[ -s $INST_RUN/qemu.pid ]] && kill -KILL "$(cat "$INST_RUN/qemu.pid" 2>/dev/null)" 2>/dev/null || true
	wait "$VM_PID" 2>/dev/null || true
	VM_PID=
}

# vm_qmp COMMAND [ARGS-JSON] [qmp.py options]: one QMP command; prints its return.
vm_qmp() { "$INST_PY" "$INST_LIB/qmp.py" "$INST_RUN/qmp.sock" "$@"; }

# vm_hotadd PATH SERIAL: hot-plugs PATH as a new NVMe controller (with that
# serial) on a free pcie-root-port; prints the device id for vm_hotdel.
vm_hotadd() {
	local id=hot$_inst_hot
	[[ $_inst_hot -lt $_inst_ports ]] || { _inst_log "vm_hotadd: no free pcie-root-port (4)"; return 1; }
	vm_qmp blockdev-add "{\"driver\": \"raw\", \"node-name\": \"${id}d\", \"file\": {\"driver\": \"file\", \"filename\": \"$1\"}}" >/dev/null || return 1
	vm_qmp device_add "{\"driver\": \"nvme\", \"id\": \"$id\", \"serial\": \"$2\", \"drive\": \"${id}d\", \"bus\": \"rp$_inst_hot\"}" >/dev/null || return 1
	_inst_hot=$((_inst_hot + 1))
	echo "$id"
}

# vm_hotdel ID [TIMEOUT=60]: unplugs a vm_hotadd device (the guest's pciehp has to
# agree: an attention-button press, about 5 s) and waits until QEMU reports it gone.
vm_hotdel() {
	vm_qmp device_del "{\"id\": \"$1\"}" --wait-event DEVICE_DELETED --match "device=$1" --timeout "${2:-60}" >/dev/null || return 1
	vm_qmp blockdev-del "{\"node-name\": \"${1}d\"}" >/dev/null
}

# vm_boot_times [TARGET=multi-user.target]: systemd-analyze and its critical chain.
vm_boot_times() {
	vm_ssh "systemd-analyze; systemd-analyze critical-chain ${1:-multi-user.target}" </dev/null
}
