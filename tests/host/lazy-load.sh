#!/bin/bash
# Optional libraries load on first use (agent/base/dlib.h, issue 21): volkey,
# volkeyd and the token plugin do not link libcurl, p11-kit, libnvme or
# libsystemd; `volkey open --test` with a file key maps none of them; a KMS-bound
# volume loads libcurl and opens, a PKCS#11-bound one p11-kit; and when a library
# is unusable the command fails with one line naming it, not a crash and not a
# failure at start.
source "$(dirname "$0")/lib.bash"
# (libssl: libcurl's; volkey itself uses libcrypto only, as libcryptsetup does)
OPTIONAL='libcurl|libssl|libp11-kit|libnvme|libsystemd'
B=$VOLKEY_SRC/${BUILD:-build}

echo "== not linked: DT_NEEDED, nor anywhere in ldd's closure"
for f in "$B/volkey" "$B/volkeyd" "$B/libcryptsetup-token-volkey.so"; do
	[[ -e $f ]] || fail "$f is missing (make tests-build)"
	readelf -d "$f" | grep NEEDED >"$TMP/needed"
	assert_no_grep "$OPTIONAL" "$TMP/needed"
	ldd "$f" >"$TMP/ldd" 2>&1 || true
	assert_no_grep "$OPTIONAL" "$TMP/ldd"
done

# loaded LOGPREFIX: the objects ld.so loaded in a run with LD_DEBUG=files, one per line.
loaded() { sed -n 's/.*file=\([^ ]*\) \[0\];  generating link map.*/\1/p' "$1".* | sort -u; }

echo "== a file key: none of them is mapped"
dev=$(new_loop file 20M)
kek=$(new_kek file)
expect_exit 0 "$VOLKEY" format "$dev" --key "$kek" --yes
: >"$TMP/empty.conf"
rm -f "$TMP"/ld-file.*
VOLKEY_CONFIG=$TMP/empty.conf LD_DEBUG=files LD_DEBUG_OUTPUT=$TMP/ld-file expect_exit 0 "$VOLKEY" open --test "$dev"
assert_grep "unlocks through token 0"
loaded "$TMP/ld-file" >"$TMP/loaded-file"
assert_grep 'libcryptsetup\.so' "$TMP/loaded-file"   # the listing works
assert_no_grep "$OPTIONAL" "$TMP/loaded-file"

echo "== aws-kms: libcurl is loaded on first use, and works"
kms_config "$TMP/kms.json"
start_kms A --config "$TMP/kms.json"
printf '[kms]\nendpoint = %s\nretry_base_ms = 50\ndeadline_ms = 3000\n' "$KMS_URL_A" >"$TMP/kms.conf"
kdev=$(new_loop kms 20M)
export AWS_ACCESS_KEY_ID=AKIDTEST1 AWS_SECRET_ACCESS_KEY='sekrit/abc+def' AWS_REGION=eu-west-1
VOLKEY_CONFIG=$TMP/kms.conf expect_exit 0 "$VOLKEY" format "$kdev" --key aws-kms:alias/vol --yes
d0=$(count_calls "$KMS_LOG_A" Decrypt)
rm -f "$TMP"/ld-kms.*
VOLKEY_CONFIG=$TMP/kms.conf LD_DEBUG=files LD_DEBUG_OUTPUT=$TMP/ld-kms expect_exit 0 "$VOLKEY" open --test "$kdev"
assert_grep "unlocks through token 0 \(aws-kms:alias/vol\)"
[[ $(count_calls "$KMS_LOG_A" Decrypt) -eq $((d0 + 1)) ]] || fail "open --test made no Decrypt call"
loaded "$TMP/ld-kms" >"$TMP/loaded-kms"
assert_grep 'libcurl\.so\.4' "$TMP/loaded-kms"
assert_no_grep 'libnvme|libsystemd' "$TMP/loaded-kms"

# unusable LIB CMD...: run CMD in a private mount namespace where the file behind
# LIB (in the directory volkey's libcryptsetup comes from) is an empty file: a
# broken or half-removed package, as dlopen sees one. Output in $TMP/out;
# returns CMD's exit code.
libdir=$(ldd "$VOLKEY" | sed -n 's|.*libcryptsetup\.so\.[0-9]* => \(.*\)/libcryptsetup\.so.*|\1|p' | head -n1)
unusable() {
	local lib=$1 path rc=0; shift
	[[ -e $libdir/$lib ]] || fail "$lib is not installed in $libdir"
	path=$(readlink -f "$libdir/$lib")
	: >"$TMP/empty.so"
	unshare -m --propagation private sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' unusable \
		"$TMP/empty.so" "$path" "$@" >"$TMP/out" 2>&1 || rc=$?
	return "$rc"
}

echo "== libcurl unusable: the file key still opens; KMS fails with one line naming the library"
VOLKEY_CONFIG=$TMP/empty.conf unusable libcurl.so.4 "$VOLKEY" open --test "$dev" || fail "file-key open needs libcurl"
assert_grep "unlocks through token 0"
rc=0; VOLKEY_CONFIG=$TMP/kms.conf unusable libcurl.so.4 "$VOLKEY" open --test "$kdev" || rc=$?
cat "$TMP/out"
[[ $rc -eq 7 ]] || fail "open --test of a KMS volume without libcurl: exit $rc (want 7, unsupported: ELIBACC)"
[[ $(grep -c 'libcurl\.so\.4 could not be loaded: .*libcurl\.so\.4' "$TMP/out") -eq 1 ]] ||
	fail "want exactly one line 'libcurl.so.4 could not be loaded: <reason>'"
assert_grep 'token 0 \(aws-kms:alias/vol\): .*libcurl\.so\.4 could not be loaded$'

if [[ -e /usr/lib/softhsm/libsofthsm2.so ]] && command -v softhsm2-util >/dev/null; then
	echo "== pkcs11: p11-kit is loaded on first use, and works; unusable, one line"
	softhsm_init
	printf '%s\n' "$P11_CONF" >"$TMP/p11.conf"
	pdev=$(new_loop p11 20M)
	VOLKEY_CONFIG=$TMP/p11.conf expect_exit 0 "$VOLKEY" format "$pdev" --key "$P11_KEK" --yes
	rm -f "$TMP"/ld-p11.*
	VOLKEY_CONFIG=$TMP/p11.conf LD_DEBUG=files LD_DEBUG_OUTPUT=$TMP/ld-p11 expect_exit 0 "$VOLKEY" open --test "$pdev"
	assert_grep "unlocks through token 0"
	loaded "$TMP/ld-p11" >"$TMP/loaded-p11"
	assert_grep 'libp11-kit\.so\.0' "$TMP/loaded-p11"
	assert_no_grep 'libcurl|libnvme|libsystemd' "$TMP/loaded-p11"
	rc=0; VOLKEY_CONFIG=$TMP/p11.conf unusable libp11-kit.so.0 "$VOLKEY" open --test "$pdev" || rc=$?
	cat "$TMP/out"
	[[ $rc -eq 7 ]] || fail "open --test of a PKCS#11 volume without p11-kit: exit $rc (want 7)"
	[[ $(grep -c 'libp11-kit\.so\.0 could not be loaded: ' "$TMP/out") -eq 1 ]] ||
		fail "want exactly one line 'libp11-kit.so.0 could not be loaded: <reason>'"
	assert_grep 'token 0 \(pkcs11:.*\): key URI cannot be read: libp11-kit\.so\.0 could not be loaded$'
else
	echo "(softhsm2 is not installed: the PKCS#11 part is left out)"
fi
echo "lazy loading ok"
