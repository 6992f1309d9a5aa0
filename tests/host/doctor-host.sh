#!/bin/bash
# volkey doctor on this host: what it says must match the machine it runs on.
source "$(dirname "$0")/lib.bash"
export AWS_EC2_METADATA_DISABLED=true   # never probe a real metadata address from a test

rc=0; "$VOLKEY" doctor >"$TMP/text" 2>&1 || rc=$?
"$VOLKEY" doctor --json >"$TMP/json" 2>"$TMP/err" || true
"$PY" -m json.tool "$TMP/json" >/dev/null || fail "doctor --json is not JSON"

if grep -q ' device-mapper$' /proc/misc; then  # a stale /dev/mapper/control node proves nothing
	[[ $(json_get "$TMP/json" 'j["kernel"]["device_mapper"]') == available ]] || fail "dm present but not reported"
elif [[ -e /lib/modules/$(uname -r)/modules.dep ]] && grep -qE '/dm-mod\.ko' "/lib/modules/$(uname -r)/modules.dep"; then
	[[ $(json_get "$TMP/json" 'j["kernel"]["device_mapper"]') == loadable ]] || fail "dm module not reported loadable"
else
	# This machine kind: no device-mapper at all. Doctor must say so plainly and exit 7.
	[[ $rc -eq 7 ]] || fail "doctor exit $rc on a kernel without dm (want 7)"
	assert_grep "^dm-crypt +UNAVAILABLE: kernel $(uname -r)" "$TMP/text"
	assert_grep "^result +NOT READY" "$TMP/text"
	[[ $(json_get "$TMP/json" 'j["kernel"]["dm_crypt"]') == missing ]] || fail "json dm_crypt not missing"
	[[ $(json_get "$TMP/json" 'j["ready"]') == False ]] || fail "json ready not false"
fi

# CPU and loop facts match the machine.
want_aes=False; grep -qw aes /proc/cpuinfo && want_aes=True
[[ $(json_get "$TMP/json" 'j["cpu"]["aes"]') == "$want_aes" ]] || fail "cpu.aes mismatch"
n=$(ls /dev | grep -cE '^loop[0-9]+$' || true)
[[ $(json_get "$TMP/json" 'j["loop"]["devices"]') == "$n" ]] || fail "loop count mismatch"
# Library versions are the ones installed.
[[ $(json_get "$TMP/json" 'j["libraries"]["libcryptsetup"]') == "$(pkg-config --modversion libcryptsetup)" ]] ||
	fail "libcryptsetup version mismatch"
[[ $(json_get "$TMP/json" 'j["libraries"]["libcurl"]') == "$(pkg-config --modversion libcurl)" ]] || fail "curl version"
[[ $(json_get "$TMP/json" 'j["ec2"]["imds"]') == disabled ]] || fail "IMDS not reported disabled"
echo "doctor on host ok (exit $rc)"
