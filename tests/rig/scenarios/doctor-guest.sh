#!/bin/bash
# rig-args: --timeout 60
# In a kernel with dm-crypt, volkey doctor reports it available and exits 0.
source "$RIG_SRC/tests/rig/lib.bash"
export AWS_EC2_METADATA_DISABLED=true
"$VOLKEY" doctor | tee "$TMP/text"
assert_grep '^dm-crypt +available \(device-mapper 4\.[0-9.]+, crypt target 1\.[0-9.]+\)' "$TMP/text"
assert_grep '^result +ready' "$TMP/text"
"$VOLKEY" doctor --json >"$TMP/json"
[[ $(json_get "$TMP/json" 'j["kernel"]["dm_crypt"]') == available ]] || fail "json dm_crypt"
[[ $(json_get "$TMP/json" 'j["ready"]') == True ]] || fail "json ready"
[[ $(json_get "$TMP/json" 'j["cpu"]["aes"]') == True ]] || fail "-cpu max has AES-NI"
echo "doctor in guest ok"
