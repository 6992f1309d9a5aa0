#!/bin/bash
# file: key backend: AES-256-GCM under a root-owned 0600 key; refusals for
# unsafe or wrong key files; binding and key mismatches.
source "$(dirname "$0")/lib.bash"
head -c 32 /dev/urandom >"$TMP/kek"; chmod 600 "$TMP/kek"
head -c 32 /dev/urandom >"$TMP/kek2"; chmod 600 "$TMP/kek2"
expect_exit 0 "$VK" wrap "file:$TMP/kek" "$UUID" "$TMP/b" app=db
want=$(grep '^sha256=' "$TMP/out")
assert_grep '^key_ref=sha256:[0-9a-f]{16}$'
expect_exit 0 "$VK" unwrap "file:$TMP/kek" "$UUID" "$TMP/b" app=db
[[ $(grep '^sha256=' "$TMP/out") == "$want" ]] || fail "round trip differs"
expect_exit 2 "$VK" unwrap "file:$TMP/kek" "$UUID" "$TMP/b" app=web
assert_grep 'wrong volume binding or wrong key'
expect_exit 2 "$VK" unwrap "file:$TMP/kek2" "$UUID" "$TMP/b" app=db
assert_grep "wrong key: the secret was wrapped by key sha256:"
cp "$TMP/b" "$TMP/bt"; flip_byte "$TMP/bt" 30
expect_exit 2 "$VK" unwrap "file:$TMP/kek" "$UUID" "$TMP/bt" app=db
chmod 644 "$TMP/kek"
expect_exit 2 "$VK" unwrap "file:$TMP/kek" "$UUID" "$TMP/b" app=db
assert_grep "key file $TMP/kek has mode 0644"
chmod 600 "$TMP/kek"; chown 65534 "$TMP/kek"
expect_exit 2 "$VK" unwrap "file:$TMP/kek" "$UUID" "$TMP/b" app=db
assert_grep 'is not owned by root'
chown 0 "$TMP/kek"
head -c 16 /dev/urandom >"$TMP/short"; chmod 600 "$TMP/short"
expect_exit 1 "$VK" wrap "file:$TMP/short" "$UUID" "$TMP/b3"
assert_grep 'holds 16 bytes, expected 32'
ln -s "$TMP/kek" "$TMP/link"
expect_exit 1 "$VK" wrap "file:$TMP/link" "$UUID" "$TMP/b3"
assert_grep "Too many levels of symbolic links"
expect_exit 4 "$VK" wrap "file:$TMP/none" "$UUID" "$TMP/b3"
expect_exit 1 "$VK" wrap "file:relative" "$UUID" "$TMP/b3"
# rewrap file -> file (through secret memory)
expect_exit 0 "$VK" rewrap "file:$TMP/kek" "file:$TMP/kek2" "$UUID" "$TMP/b" "$TMP/b2" app=db
expect_exit 0 "$VK" unwrap "file:$TMP/kek2" "$UUID" "$TMP/b2" app=db
[[ $(grep '^sha256=' "$TMP/out") == "$want" ]] || fail "rewrapped secret differs"
echo "file backend ok"
