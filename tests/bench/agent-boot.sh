#!/bin/bash
# make bench-agent: volkeyd's boot in the rig guest for 1, 8 and 16 devices against
# the KMS double (see agent-boot-guest.sh). Emulated AES and an interpreted KMS
# double: the numbers judge the agent's shape (calls, parallelism, memory), not
# the speed of a real instance.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"
exec tests/rig/run -v --timeout 400 tests/bench/agent-boot-guest.sh 2>&1 | sed -n 's/^  agent-boot-guest| //p; /^rig:/p'
