# Shared helpers for host-tier tests (sourced). Each test is a bash script that
# exits 0 on success, 77 to skip (last line says why), anything else on failure.
set -euo pipefail
: "${VOLKEY:?run through tests/run-tier}"
: "${VOLKEY_SRC:?run through tests/run-tier}"
PY=/usr/bin/python3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/volkey-test.XXXXXX")
# Cleanups go to a file, not a shell array, so that helpers run in a command
# substitution (dev=$(new_loop ...)) register theirs too; run last-first on exit.
_cleanups=$TMP/.cleanups
: >"$_cleanups"
on_exit() { printf '%s\n' "$1" >>"$_cleanups"; }
_run_cleanups() {
	local c
	if [[ -f $_cleanups ]]; then
		while IFS= read -r c; do eval "$c" || true; done < <(tac "$_cleanups")
	fi
	rm -rf "$TMP"
}
trap _run_cleanups EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }
# expect_exit CODE CMD...: run CMD, require exit CODE; its output goes to $TMP/out.
expect_exit() {
	local want=$1 rc=0; shift
	"$@" >"$TMP/out" 2>&1 || rc=$?
	[[ $rc -eq $want ]] || { cat "$TMP/out" >&2; fail "expected exit $want, got $rc: $*"; }
}
assert_grep() { grep -qE -- "$1" "${2:-$TMP/out}" || { cat "${2:-$TMP/out}" >&2; fail "no match for /$1/"; }; }
assert_no_grep() { ! grep -qE -- "$1" "${2:-$TMP/out}" || { cat "${2:-$TMP/out}" >&2; fail "unexpected match for /$1/"; }; }
# flip_byte FILE OFFSET: invert the bits of one byte in place (writing a fixed
# value would leave the file unchanged whenever the byte already held it).
flip_byte() {
	"$PY" -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))' "$1" "$2"
}
# json_get FILE PYEXPR: evaluate PYEXPR with j = the parsed JSON document.
json_get() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# volume_json DEVICE: the volume's object of `volkey status DEVICE --json` (the
# status document holds it as volumes[0]); fails with status.
volume_json() {
	"$VOLKEY" status "$1" --json >"$TMP/.status-doc.json" || return
	"$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["volumes"][0]))' "$TMP/.status-doc.json"
}

# start_imds [ARGS...]: run the fake IMDS on loopback; sets IMDS_URL and IMDS_LOG.
start_imds() {
	IMDS_LOG=$TMP/imds.log
	: >"$IMDS_LOG"
	rm -f "$TMP/imds.port"   # a second fake in the same test must not find the first one's port
	"$PY" "$VOLKEY_SRC/tests/fakes/imds.py" --port-file "$TMP/imds.port" --log "$IMDS_LOG" "$@" &
	local pid=$! i
	on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	for i in $(seq 1 100); do [[ -s $TMP/imds.port ]] && break; sleep 0.05; done
	[[ -s $TMP/imds.port ]] || fail "fake IMDS did not start"
	IMDS_URL=http://127.0.0.1:$(cat "$TMP/imds.port")
}

# Never let a test reach a real metadata address: tests that want IMDS point at the fake.
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KMS || true
VK=$VOLKEY_SRC/${BUILD:-build}/tests/progs/vk-key
UUID=6b2d237d-2aa4-400d-ac36-d583efc0b07c
KEYID=1234abcd-12ab-34cd-56ef-1234567890ab

# kms_config FILE [REGION]: a double config with one key (alias/vol), one mrk key,
# static credentials (AKIDTEST1 / sekrit/abc+def) and the first IMDS-issued ones.
kms_config() {
	cat >"$1" <<JSON
{"region": "${2:-eu-west-1}", "account": "111122223333", "seed": "volkey-test-seed",
 "credentials": [{"access_key": "AKIDTEST1", "secret_key": "sekrit/abc+def", "session_token": null},
                 {"access_key": "AKIDTOKEN", "secret_key": "tok-secret", "session_token": "tok-session-1"},
                 {"access_key": "ASIAFAKEIMDS00000001", "secret_key": "imds-secret-1-s", "session_token": "imds-session-token-1"},
                 {"access_key": "ASIAFAKEIMDS00000002", "secret_key": "imds-secret-2-s", "session_token": "imds-session-token-2"},
                 {"access_key": "ASIAFAKEIMDS00000003", "secret_key": "imds-secret-3-s", "session_token": "imds-session-token-3"}],
 "keys": [{"id": "$KEYID", "aliases": ["alias/vol"], "state": "Enabled"},
          {"id": "mrk-0123456789abcdef0123456789abcdef", "aliases": ["alias/mrk"], "state": "Enabled"}]}
JSON
}

# start_kms NAME [kms.py args...]: run the KMS double; sets KMS_URL_<NAME>, KMS_LOG_<NAME>.
start_kms() {
	local name=$1 pid i; shift
	"$PY" "$VOLKEY_SRC/tests/fakes/kms.py" --port-file "$TMP/kms-$name.port" --log "$TMP/kms-$name.log" "$@" \
		2>"$TMP/kms-$name.err" &
	pid=$!
	on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	for i in $(seq 1 100); do [[ -s $TMP/kms-$name.port ]] && break; sleep 0.05; done
	[[ -s $TMP/kms-$name.port ]] || { cat "$TMP/kms-$name.err"; fail "KMS double $name did not start"; }
	local scheme=http
	[[ " $* " == *" --tls-cert "* ]] && scheme=https
	printf -v "KMS_URL_$name" '%s://127.0.0.1:%s' "$scheme" "$(cat "$TMP/kms-$name.port")"
	printf -v "KMS_LOG_$name" '%s' "$TMP/kms-$name.log"
}
# kms_ctl URL PATH JSON: a control call to the double (faults, key state).
kms_ctl() { curl -sf -X POST -H 'Content-Type: application/json' --data "$3" "$1$2" >/dev/null || fail "kms control $2"; }
# count_calls LOG OP: KMS calls of that op in the double's log.
count_calls() { grep -c "\"op\": \"$2\"" "$1" || true; }

# test_ca_and_server: a test CA ($TMP/ca.pem, ca.key) and a server certificate
# it signed for 127.0.0.1 ($TMP/srv.pem, srv.key), for the KMS double over TLS.
test_ca_and_server() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=volkey-test-ca -keyout "$TMP/ca.key" \
		-out "$TMP/ca.pem" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$TMP/srv.key" -out "$TMP/srv.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >"$TMP/ext"
	openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial -days 2 \
		-extfile "$TMP/ext" -out "$TMP/srv.pem" 2>/dev/null
}
# new_loop NAME SIZE: a file-backed loop device in $TMP, detached on exit; prints its path.
new_loop() {
	truncate -s "$2" "$TMP/$1.img"
	local dev
	dev=$(losetup -f --show "$TMP/$1.img") || fail "losetup $1"
	on_exit "losetup -d $dev"
	echo "$dev"
}
# new_kek NAME: a root-only 32-byte key-encryption key in $TMP; prints file:PATH.
new_kek() {
	head -c 32 /dev/urandom >"$TMP/$1.kek"
	chmod 600 "$TMP/$1.kek"
	echo "file:$TMP/$1.kek"
}
# dev_sum DEV: sha256 of the whole device (proves "nothing on disk changed").
dev_sum() { sha256sum <"$1" | cut -d' ' -f1; }
# with_token_plugin: put the freshly built token handler where libcryptsetup looks, for
# this test only (a previously installed one is put back on exit).
with_token_plugin() {
	local dir so
	dir=$(pkg-config --variable=libdir libcryptsetup)/cryptsetup
	so=$dir/libcryptsetup-token-volkey.so
	mkdir -p "$dir"
	if [[ -e $so ]]; then
		cp -a "$so" "$TMP/plugin.saved"
		on_exit "cp -a '$TMP/plugin.saved' '$so'"
	else
		on_exit "rm -f '$so'"
	fi
	install -m 0644 "$VOLKEY_SRC/${BUILD:-build}/libcryptsetup-token-volkey.so" "$so"
}
# plugin_cryptsetup ARGS...: cryptsetup with the token plugin; in the ASan tier the
# plugin is an ASan build, so the sanitizer runtime is preloaded (leak checks off:
# they would judge cryptsetup itself).
plugin_cryptsetup() {
	if [[ ${BUILD:-build} == build-asan ]]; then
		LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 cryptsetup "$@"
	else
		cryptsetup "$@"
	fi
}

# softhsm_init: a SoftHSM2 token "volkey-test" (PIN in $TMP/pin) holding one AES-256
# key "kek", all in $TMP; sets P11_KEK to its key URI and P11_CONF to the volkey.conf
# lines that allow it (the module, pin_dir $TMP). Skips when SoftHSM2 is absent.
softhsm_init() {
	local mod=/usr/lib/softhsm/libsofthsm2.so
	[[ -e $mod ]] && command -v softhsm2-util >/dev/null || skip "softhsm2 is not installed (make deps)"
	export SOFTHSM2_CONF=$TMP/softhsm2.conf
	mkdir -m 700 "$TMP/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$TMP/tokens" >"$SOFTHSM2_CONF"
	softhsm2-util --init-token --free --label volkey-test --pin 1234 --so-pin 5678 >/dev/null
	# softhsm2-util reads a key file up to its first newline: draw until 32 clean bytes.
	head -c 256 /dev/urandom | tr -d '\n\000' | head -c 32 >"$TMP/aes.raw"
	[[ $(stat -c %s "$TMP/aes.raw") -eq 32 ]] || fail "could not draw an AES key"
	softhsm2-util --import "$TMP/aes.raw" --aes --token volkey-test --pin 1234 --label kek --id 01 >/dev/null
	rm -f "$TMP/aes.raw"
	printf '1234\n' >"$TMP/pin"; chmod 600 "$TMP/pin"
	P11_KEK="pkcs11:token=volkey-test;object=kek?module-path=$mod&pin-source=$TMP/pin"
	P11_CONF=$(printf '[pkcs11]\nallowed_modules = %s\npin_dir = %s' "$mod" "$TMP")
}

# with_journal LOG CMD...: run CMD with a fake journald (tests/fakes/journal.py) at
# /run/systemd/journal/socket, in a private mount namespace with a tmpfs on /run, so
# the host's journal is never touched; entries are appended to LOG as JSON lines.
with_journal() {
	local log=$1; shift
	unshare -m --propagation private bash -c '
		py=$1 fake=$2 log=$3; shift 3
		mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal || exit 125
		"$py" "$fake" --socket /run/systemd/journal/socket --log "$log" & p=$!
		for i in $(seq 1 100); do [[ -S /run/systemd/journal/socket ]] && break; sleep 0.05; done
		rc=0; "$@" || rc=$?
		sleep 0.3; kill $p; wait $p 2>/dev/null
		exit $rc' with_journal "$PY" "$VOLKEY_SRC/tests/fakes/journal.py" "$log" "$@"
}

# set_token_uri DEV URI: token 0 of DEV (a volkey token) names URI as its key,
# everything else unchanged: a token as whoever has the disk could write it.
set_token_uri() {
	cryptsetup --disable-external-tokens token export --token-id 0 "$1" >"$TMP/tok-uri.json" || fail "token export $1"
	"$PY" -c 'import json,sys; t=json.load(open(sys.argv[1])); t["key_uri"]=sys.argv[2]; print(json.dumps(t))' \
		"$TMP/tok-uri.json" "$2" >"$TMP/tok-uri.new.json"
	cryptsetup --disable-external-tokens token import --token-id 0 --token-replace \
		--json-file "$TMP/tok-uri.new.json" "$1" || fail "token import $1"
}
