#!/bin/bash
# Which PKCS#11 modules volkey loads and which PIN files it reads. Only modules
# volkey.conf names ([pkcs11] module, allowed_modules), known by the file
# (device, inode) through the descriptor that is then loaded; only PIN files
# inside [pkcs11] pin_dir. A root-owned library under /usr/lib that volkey.conf
# does not name is refused with one line and never loaded (its constructor would
# leave a mark), named on the command line or in a LUKS token; an allowed module
# reached through a symlink is the same module (one load, one login); a module
# file swapped between the check and dlopen is not what gets loaded; pin-sources
# outside pin_dir (directly, through .., through a symlink) are refused.
source "$(dirname "$0")/lib.bash"
softhsm_init
command -v gcc >/dev/null || skip "gcc is needed to build the test libraries"
MOD=/usr/lib/softhsm/libsofthsm2.so
REAL=$(readlink -f "$MOD")
[[ $REAL != "$MOD" ]] || fail "$MOD is expected to be a symlink"

# PINs live in $TMP/pins; a valid PIN file (root, 0600) outside it too.
mkdir -m 700 "$TMP/pins"
printf '1234\n' >"$TMP/pins/pin"; chmod 600 "$TMP/pins/pin"
printf '1234\n' >"$TMP/outside.pin"; chmod 600 "$TMP/outside.pin"
printf '[pkcs11]\nallowed_modules = %s\npin_dir = %s\n' "$MOD" "$TMP/pins" >"$TMP/volkey.conf"
export VOLKEY_CONFIG=$TMP/volkey.conf
# uri MODULE PIN [OBJECT]
uri() { printf 'pkcs11:token=volkey-test;object=%s?module-path=%s&pin-source=%s' "${3:-kek}" "$1" "$2"; }
KEK=$(uri "$MOD" "$TMP/pins/pin")
# one_line: the failure was one line of output.
one_line() { [[ $(grep -c . "$TMP/out") -eq 1 ]] || { cat "$TMP/out" >&2; fail "expected one line"; }; }

# A library whose constructor appends to $MARK: proof of being loaded. It sits in a
# root-owned directory under /usr/lib, which the old rule trusted whole.
SYSDIR=$(mktemp -d /usr/lib/volkey-test-XXXXXX)
on_exit "rm -rf '$SYSDIR'"
chmod 755 "$SYSDIR"
cat >"$TMP/mark.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void mark(void)
{
	const char *p = getenv("MARK");
	FILE *f = p ? fopen(p, "a") : NULL;
	if (f) { fputs("loaded\n", f); fclose(f); }
}
C
gcc -shared -fPIC -o "$SYSDIR/libmark.so" "$TMP/mark.c"
chmod 755 "$SYSDIR/libmark.so"
[[ $(stat -c %u "$SYSDIR/libmark.so") -eq 0 ]] || fail "the test library is not root-owned"
export MARK=$TMP/mark

echo "== a root-owned library under /usr/lib that volkey.conf does not name is never loaded"
expect_exit 2 "$VK" wrap "$(uri "$SYSDIR/libmark.so" "$TMP/pins/pin")" "$UUID" "$TMP/bx"
assert_grep "PKCS#11 module $SYSDIR/libmark.so is not allowed: volkey.conf names it in neither \[pkcs11\] module nor allowed_modules"
one_line
[[ ! -e $MARK ]] || fail "a module volkey.conf does not name was loaded"
echo "== a module path naming a FIFO (or a device node) is refused without being opened"
mkfifo "$TMP/fifo.so"
# open() of a FIFO with no writer blocks: a refusal in time proves it was never opened
expect_exit 2 timeout 10 "$VK" wrap "$(uri "$TMP/fifo.so" "$TMP/pins/pin")" "$UUID" "$TMP/bx"
assert_grep "PKCS#11 module $TMP/fifo.so is not allowed"
one_line
# ... nor is a system module reached through another path, when volkey.conf names another.
printf '[pkcs11]\nallowed_modules = %s\npin_dir = %s\n' "$SYSDIR/libmark.so" "$TMP/pins" >"$TMP/other.conf"
VOLKEY_CONFIG=$TMP/other.conf expect_exit 2 "$VK" wrap "$(uri "$REAL" "$TMP/pins/pin")" "$UUID" "$TMP/bx"
assert_grep "PKCS#11 module $REAL is not allowed"
one_line
# Control: named in volkey.conf, the same library is loaded (the mark works).
VOLKEY_CONFIG=$TMP/other.conf expect_exit 7 "$VK" wrap "$(uri "$SYSDIR/libmark.so" "$TMP/pins/pin")" "$UUID" "$TMP/bx"
assert_grep "is not a PKCS#11 module"
[[ -s $MARK ]] || fail "control: an allowed library was not loaded"
rm -f "$MARK"
# An allowed file that is writable by others, or not root's, is refused all the same.
cp "$SYSDIR/libmark.so" "$TMP/wmark.so"; chmod 666 "$TMP/wmark.so"
printf '[pkcs11]\nallowed_modules = %s\npin_dir = %s\n' "$TMP/wmark.so" "$TMP/pins" >"$TMP/w.conf"
VOLKEY_CONFIG=$TMP/w.conf expect_exit 2 "$VK" wrap "$(uri "$TMP/wmark.so" "$TMP/pins/pin")" "$UUID" "$TMP/bx"
assert_grep "PKCS#11 module $TMP/wmark.so is refused: owned by uid 0, mode 0666"
[[ ! -e $MARK ]] || fail "a group/world-writable module was loaded"

echo "== an allowed module through a symlink: works, and is the same module (one session, no second login)"
mkdir "$TMP/links"
ln -s "$REAL" "$TMP/links/p11.so"
expect_exit 0 "$VK" wrap "$(uri "$TMP/links/p11.so" "$TMP/pins/pin")" "$UUID" "$TMP/b1" app=db
want=$(grep '^sha256=' "$TMP/out")
# The second URI names the module by the symlink and a PIN file that does not exist:
# only a session shared with the first (same module, same token) gets through.
expect_exit 0 "$VK" rewrap "$KEK" "$(uri "$TMP/links/p11.so" "$TMP/pins/nopin" kek)" "$UUID" "$TMP/b1" "$TMP/b2" app=db
expect_exit 0 "$VK" unwrap "$KEK" "$UUID" "$TMP/b2" app=db
[[ $(grep '^sha256=' "$TMP/out") == "$want" ]] || fail "the secret changed"
# Control: a fresh process must log in, and the missing PIN file says so.
expect_exit 4 "$VK" unwrap "$(uri "$TMP/links/p11.so" "$TMP/pins/nopin")" "$UUID" "$TMP/b2" app=db
assert_grep "PIN file $TMP/pins/nopin: No such file"

echo "== a module file swapped after the check is not what is loaded"
# The shim renames the library over the allowed module as dlopen() is called: the
# last moment before loading. What is loaded must be the file that was checked.
mkdir -m 755 "$TMP/mods"
cp "$REAL" "$TMP/mods/p11.so"; chmod 644 "$TMP/mods/p11.so"
cp "$SYSDIR/libmark.so" "$TMP/mods/evil.so"
cat >"$TMP/swap.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
void *dlopen(const char *file, int mode)
{
	static void *(*real)(const char *, int);
	const char *from = getenv("SWAP_FROM"), *to = getenv("SWAP_TO");

	if (!real)
		real = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
	if (from && to && file && (strcmp(file, to) == 0 || strncmp(file, "/proc/self/fd/", 14) == 0))
		rename(from, to);
	return real(file, mode);
}
C
gcc -shared -fPIC -o "$TMP/swap.so" "$TMP/swap.c" -ldl
pre=$TMP/swap.so
[[ $(ldd "$VK") == *libasan* ]] && pre=$(gcc -print-file-name=libasan.so):$pre
printf '[pkcs11]\nallowed_modules = %s\npin_dir = %s\n' "$TMP/mods/p11.so" "$TMP/pins" >"$TMP/swap.conf"
VOLKEY_CONFIG=$TMP/swap.conf SWAP_FROM=$TMP/mods/evil.so SWAP_TO=$TMP/mods/p11.so LD_PRELOAD=$pre \
	ASAN_OPTIONS=detect_leaks=0 expect_exit 0 "$VK" unwrap "$(uri "$TMP/mods/p11.so" "$TMP/pins/pin")" "$UUID" "$TMP/b1" app=db
[[ $(grep '^sha256=' "$TMP/out") == "$want" ]] || fail "unwrap through the checked module differs"
cmp -s "$TMP/mods/p11.so" "$SYSDIR/libmark.so" || fail "control: the shim did not swap the file"
[[ ! -e $MARK ]] || fail "the file swapped in after the check was loaded"

echo "== pin-source outside [pkcs11] pin_dir: refused with one line, whatever the path's form"
for p in "$TMP/outside.pin" "$TMP/pins/../outside.pin" "$TMP/nothere.pin" /etc/shadow; do
	expect_exit 2 "$VK" unwrap "$(uri "$MOD" "$p")" "$UUID" "$TMP/b1" app=db
	assert_grep "pin-source $p is outside \[pkcs11\] pin_dir $TMP/pins: refused"
	one_line
done
expect_exit 2 "$VK" unwrap "$(uri "$MOD" "file://$TMP/outside.pin")" "$UUID" "$TMP/b1" app=db
assert_grep "pin-source $TMP/outside.pin is outside"
ln -s ../outside.pin "$TMP/pins/escape.pin"
expect_exit 2 "$VK" unwrap "$(uri "$MOD" "$TMP/pins/escape.pin")" "$UUID" "$TMP/b1" app=db
assert_grep "pin-source $TMP/pins/escape.pin is outside \[pkcs11\] pin_dir"
one_line
# Inside: a symlink to a file inside works; a missing file inside says so.
ln -s pin "$TMP/pins/alias.pin"
expect_exit 0 "$VK" unwrap "$(uri "$MOD" "$TMP/pins/alias.pin")" "$UUID" "$TMP/b1" app=db
expect_exit 4 "$VK" unwrap "$(uri "$MOD" "$TMP/pins/nothere.pin")" "$UUID" "$TMP/b1" app=db
assert_grep "PIN file $TMP/pins/nothere.pin: No such file"
# With the default pin_dir (/etc/volkey/pins), $TMP is outside.
printf '[pkcs11]\nallowed_modules = %s\n' "$MOD" >"$TMP/default.conf"
VOLKEY_CONFIG=$TMP/default.conf expect_exit 2 "$VK" unwrap "$(uri "$MOD" "$TMP/pins/pin")" "$UUID" "$TMP/b1" app=db
assert_grep "pin-source $TMP/pins/pin is outside \[pkcs11\] pin_dir /etc/volkey/pins: refused"

[[ -e /dev/loop-control ]] || { echo "(no loop devices: the LUKS token checks were not run)"; exit 0; }
echo "== from a LUKS token: the module and the pin-source are judged before anything is loaded or read"
dev=$(new_loop disk 32M)
before=$(dev_sum "$dev")
expect_exit 2 "$VOLKEY" format "$dev" --key "$(uri "$MOD" "$TMP/outside.pin")" --yes
assert_grep "^volkey: error: $dev: pin-source $TMP/outside.pin is outside \[pkcs11\] pin_dir $TMP/pins: refused; nothing was written$"
expect_exit 2 "$VOLKEY" format "$dev" --key "$(uri "$SYSDIR/libmark.so" "$TMP/pins/pin")" --yes
assert_grep "^volkey: error: $dev: PKCS#11 module $SYSDIR/libmark.so is not allowed"
[[ $(dev_sum "$dev") == "$before" ]] || fail "a refused format changed $dev"
[[ ! -e $MARK ]] || fail "format loaded a module volkey.conf does not name"
expect_exit 0 "$VOLKEY" format "$dev" --key "$KEK" --yes
expect_exit 0 "$VOLKEY" open --test "$dev"
# The token is data on the disk: point its URI at the system library, then at a PIN outside.
put_uri() { set_token_uri "$dev" "$1"; }
put_uri "$(uri "$SYSDIR/libmark.so" "$TMP/pins/pin")"
expect_exit 2 "$VOLKEY" open --test "$dev"
assert_grep "PKCS#11 module $SYSDIR/libmark.so is not allowed"
one_line
[[ ! -e $MARK ]] || fail "a module named by a token was loaded"
put_uri "$(uri "$MOD" "$TMP/outside.pin")"
expect_exit 2 "$VOLKEY" open --test "$dev"
assert_grep "pin-source $TMP/outside.pin is outside \[pkcs11\] pin_dir $TMP/pins: refused"
one_line
put_uri "$KEK"
expect_exit 0 "$VOLKEY" open --test "$dev"
echo "pkcs11 trust ok"
