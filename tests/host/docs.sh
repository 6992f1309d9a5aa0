#!/bin/bash
# docs/ stays true: every tracked file is listed in docs/layout.md, and the man
# page and --help list every exit code of the table.
source "$(dirname "$0")/lib.bash"
cd "$VOLKEY_SRC"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || skip "not a git checkout"
missing=0
# The Layers table names folders, not their files: it covers nothing.
sed '/^## Layers/,/^## /{/^| `/d}' docs/layout.md >"$TMP/layout"
while read -r f; do
	covered=0
	grep -qF "\`$f\`" "$TMP/layout" && covered=1
	d=$f
	while [[ $covered -eq 0 && $d == */* ]]; do
		d=${d%/*}
		grep -qF "\`$d/\`" "$TMP/layout" && covered=1
	done
	[[ $covered -eq 1 ]] || { echo "not in docs/layout.md: $f"; missing=1; }
done < <(git ls-files)
# ...and everything it lists exists.
while read -r p; do
	[[ -e $p ]] || { echo "listed in docs/layout.md but absent: $p"; missing=1; }
done < <(grep '^| `' docs/layout.md | cut -d'|' -f2 | grep -o '`[^`]*`' | tr -d '`')
[[ $missing -eq 0 ]] || fail "docs/layout.md is out of date"
"$VOLKEY" --help >"$TMP/help"
while read -r code; do
	grep -qE "^\.B $code\$" docs/man/volkey.8 || fail "man page lacks exit code $code"
	grep -qE "^ +$code  " "$TMP/help" || fail "--help lacks exit code $code"
done < <(sed -n 's/^| \([0-9]*\) | `.*/\1/p' docs/exit-codes.md)
echo "docs ok"
