#!/bin/bash
# The layers of docs/layout.md hold: no file includes or calls into a higher or
# sibling layer, no call cycle between object files (tests/layers.py reads the
# sources and the built objects' symbol tables). Then the check itself is shown
# to fail: on a small tree with one violation of each kind, and on the real
# objects with one object added that calls upward.
source "$(dirname "$0")/lib.bash"
CHECK=$VOLKEY_SRC/tests/layers.py
OBJ=$VOLKEY_SRC/${BUILD:-build}

"$PY" "$CHECK" --src "$VOLKEY_SRC" --build "$OBJ" >"$TMP/out" 2>&1 || { cat "$TMP/out" >&2; fail "the tree breaks its layers"; }
cat "$TMP/out"
assert_grep '^layers: 10 layers, [0-9]+ files, [0-9]+ includes, [0-9]+ objects, [0-9]+ call edges: no upward or sideways use, no cycle$'

# A tree of three layers (low < mid < top) with one violation of each kind.
t=$TMP/tree
mkdir -p "$t/agent/low" "$t/agent/mid" "$t/tools/top" "$t/docs"
cat >"$t/docs/layout.md" <<'EOF'
# x
## Layers
| folder | layer | may use |
|---|---|---|
| `agent/low/` | l | nothing |
| `agent/mid/` | m | low |
| `tools/top/` | t | low mid |
## after
EOF
printf 'int low_fn(void);\n' >"$t/agent/low/low.h"
# upward include and upward call: low uses mid
printf '#include "mid/mid.h"\nint low_fn(void) { return mid_fn(); }\n' >"$t/agent/low/low.c"
printf '#pragma once\nint mid_fn(void);\nint mid_a(void);\nint mid_b(void);\nint mid_c(void);\n' >"$t/agent/mid/mid.h"
printf '#include "low/low.h"\n#include "mid/mid.h"\nint mid_fn(void) { return 1; }\n' >"$t/agent/mid/mid.c"
# a call cycle inside one folder: a -> b -> c -> a
printf '#include "mid/mid.h"\nint mid_a(void) { return mid_b(); }\n' >"$t/agent/mid/a.c"
printf '#include "mid/mid.h"\nint mid_b(void) { return mid_c(); }\n' >"$t/agent/mid/b.c"
printf '#include "low/low.h"\n#include "mid/mid.h"\nint mid_c(void) { return mid_a() + low_fn(); }\n' >"$t/agent/mid/c.c"
# an include that does not name its folder, and an include cycle between headers
printf '#pragma once\n#include "x.h"\n' >"$t/tools/top/y.h"
printf '#pragma once\n#include "top/y.h"\n' >"$t/tools/top/x.h"
printf '#include "x.h"\nint top(void) { return 0; }\n' >"$t/tools/top/top.c"
# a file in no layer
mkdir -p "$t/agent/stray" && printf 'int stray;\n' >"$t/agent/stray/s.c"
for c in agent/low/low.c agent/mid/mid.c agent/mid/a.c agent/mid/b.c agent/mid/c.c tools/top/top.c agent/stray/s.c; do
	mkdir -p "$t/build/$(dirname "$c")"
	gcc -c -I"$t/agent" -I"$t/tools" -o "$t/build/${c%.c}.o" "$t/$c" || fail "cannot build the test tree ($c)"
done
expect_exit 1 "$PY" "$CHECK" --src "$t" --build "$t/build"
assert_grep '^agent/low/low.c: #include "mid/mid.h": layer agent/low/ may not use agent/mid/'
assert_grep '^agent/low/low.c calls agent/mid/mid.c \(mid_fn\): layer agent/low/ may not use agent/mid/$'
assert_grep '^call cycle: agent/mid/a.c -\(mid_b\)-> agent/mid/b.c -\(mid_c\)-> agent/mid/c.c -\(mid_a\)-> agent/mid/a.c$'
assert_grep '^tools/top/top.c: #include "x.h" must name its folder \("top/..."\)$'
assert_grep '^tools/top/y.h: #include "x.h" must name its folder'
assert_grep '^include cycle: tools/top/x.h -> tools/top/y.h -> tools/top/x.h$'
assert_grep '^agent/stray/s.c: in no layer'
assert_grep '^layers: 7 violation\(s\)$'
# ...and without the violations the same tree passes.
printf 'int low_fn(void) { return 0; }\n' >"$t/agent/low/low.c"
printf '#include "mid/mid.h"\nint mid_c(void) { return 3; }\n' >"$t/agent/mid/c.c"
printf '\n' >"$t/tools/top/y.h"
printf '#include "top/x.h"\nint top(void) { return 0; }\n' >"$t/tools/top/top.c"
rm -r "$t/agent/stray" "$t/build/agent/stray"
for c in agent/low/low.c agent/mid/c.c tools/top/top.c; do
	gcc -c -I"$t/agent" -I"$t/tools" -o "$t/build/${c%.c}.o" "$t/$c" || fail "cannot build the test tree ($c)"
done
expect_exit 0 "$PY" "$CHECK" --src "$t" --build "$t/build"
# A called function defined twice (which one runs depends on link order).
printf 'int mid_c(void) { return 2; }\n' >"$t/agent/mid/dup.c"
gcc -c -o "$t/build/agent/mid/dup.o" "$t/agent/mid/dup.c" || fail "cannot build dup.o"
expect_exit 1 "$PY" "$CHECK" --src "$t" --build "$t/build"
assert_grep '^mid_c is defined in agent/mid/c.c and agent/mid/dup.c, and called$'
rm "$t/agent/mid/dup.c" "$t/build/agent/mid/dup.o"
# Nothing built is a usage error (2), not a pass.
expect_exit 2 "$PY" "$CHECK" --src "$t" --build "$TMP/nothing"
assert_grep 'no object files under'
# Circular rules are refused too.
sed -i 's/| `agent\/low\/` | l | nothing |/| `agent\/low\/` | l | top |/' "$t/docs/layout.md"
expect_exit 1 "$PY" "$CHECK" --src "$t" --build "$t/build"
assert_grep '^the Layers table is circular: '

# On the real tree: one more file in agent/base/ that calls the volume layer
# (volume_load), and a kctx.o that calls back into backend.c.
r=$TMP/real
mkdir -p "$r/docs"
cp -r "$VOLKEY_SRC/agent" "$VOLKEY_SRC/tools" "$r/" && cp "$VOLKEY_SRC/docs/layout.md" "$r/docs/"
mkdir -p "$r/build" && cp -r "$OBJ/agent" "$OBJ/tools" "$r/build/"
printf 'int volume_load(const char *, void *, void *);\nint base_evil(void);\nint base_evil(void) { return volume_load(0, 0, 0); }\n' >"$r/agent/base/evil.c"
gcc -c -o "$r/build/agent/base/evil.o" "$r/agent/base/evil.c" || fail "cannot build evil.o"
# kctx.o calls nothing in keys/; one that calls key_unwrap (backend.c) closes
# a loop: backend.c -> kctx.c -> backend.c (and through every backend).
printf 'int key_unwrap(void);\nint kctx_fail(void) { return key_unwrap(); }\n' >"$TMP/kctx.c"
gcc -c -o "$r/build/agent/keys/kctx.o" "$TMP/kctx.c" || fail "cannot build kctx.o"
expect_exit 1 "$PY" "$CHECK" --src "$r" --build "$r/build"
assert_grep '^agent/base/evil.c calls agent/volume/volume_load.c \(volume_load\): layer agent/base/ may not use agent/volume/$'
assert_grep '^call cycle: agent/keys/backend.c -\(kctx_fail\)-> agent/keys/kctx.c -\(key_unwrap\)-> agent/keys/backend.c$'
# A stale object whose source is gone is not the tree: ignored.
rm "$r/agent/base/evil.c"
"$PY" "$CHECK" --src "$r" --build "$r/build" >"$TMP/out" 2>&1 || true
assert_no_grep 'evil'
echo "layers ok"
