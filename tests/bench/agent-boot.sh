#!/bin/bash
# The agent-boot benchmark: volkeyd's boot in the rig guest for N = 1, 8, 16
# and 32 devices (AGENT_NS) against the KMS double over TLS answering each call
# RTT_MS (15) later (see agent-boot-guest.sh). Emulated AES and an interpreted
# KMS double: the numbers judge the agent's shape (calls, handshakes,
# parallelism, memory), not the speed of a real instance. Part of make bench-agent.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"
exec tests/rig/run -v --timeout 900 --env "RTT_MS=${RTT_MS:-15}" --env "AGENT_NS=${AGENT_NS:-1 8 16 32}" \
	tests/bench/agent-boot-guest.sh 2>&1 | sed -n 's/^  agent-boot-guest| //p; /^rig:/p'
