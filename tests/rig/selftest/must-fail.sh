#!/bin/bash
# rig-args: --timeout 30
# rig-expect: exit 3
# Runner self-test: a failing guest script must fail the run with its own exit
# code. `make check-rig T=must-fail` therefore exits non-zero; the full tier
# expects exit 3 and counts that as a pass.
echo "this scenario fails on purpose"
exit 3
