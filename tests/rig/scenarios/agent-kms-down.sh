#!/bin/bash
# rig-args: --timeout 300
# KMS unreachable at boot: the KMS double (on the guest's loopback) hangs every
# answer. volkeyd gives the KMS-keyed volume its bounded time, reports it failed
# in one line, and reports ready; the file-keyed volume is unlocked meanwhile,
# and a disk hot-added while KMS still hangs is unlocked too. When KMS answers
# again, the background retry unlocks the failed device without any event.
source "$RIG_SRC/tests/rig/lib.bash"
VOLKEYD=$RIG_SRC/$BUILD/volkeyd

step "the KMS double on loopback"
start_guest_kms
mkdir -p /etc/volkey
cat >/etc/volkey/volkey.conf <<CONF
[kms]
endpoint = $KMS
connect_timeout_ms = 500
timeout_ms = 2000
deadline_ms = 4000
retry_base_ms = 100
[volkey]
unlock_timeout_ms = 20000
retry_base_ms = 1000
retry_cap_ms = 3000
CONF
head -c 32 /dev/urandom >/run/kek; chmod 600 /run/kek

step "two volumes: one KMS-keyed, one file-keyed"
loopdev() { truncate -s 40M "$TMP/$1.img"; losetup -f --show "$TMP/$1.img"; }
a=$(loopdev a); b=$(loopdev b)
on_exit "losetup -d $a $b 2>/dev/null"
"$VOLKEY" format "$a" --key aws-kms:alias/vol --yes >/dev/null
"$VOLKEY" format "$b" --key file:/run/kek --yes >/dev/null

step "KMS hangs; boot"
curl -sf -X POST -H 'Content-Type: application/json' --data '{"latency_ms": 60000, "latency_calls": 1000}' "$KMS/_volkey/fault" >/dev/null
/lib/systemd/systemd-udevd --daemon
on_exit "udevadm control --exit"
t0=$EPOCHREALTIME
"$VOLKEYD" >"$TMP/agent.log" 2>&1 &
agent=$!
on_exit "kill $agent 2>/dev/null"
for _ in $(seq 1 300); do
	[[ -s /run/volkey/status.json && $(json_get /run/volkey/status.json 'j["agent"]["ready"]') == True ]] && break
	sleep 0.1
done
ready=$(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t0}")
sed 's/^/   agent| /' "$TMP/agent.log"
[[ $(json_get /run/volkey/status.json 'j["agent"]["ready"]') == True ]] || fail "not ready"
[[ $(agent_state "$b") == unlocked ]] || fail "the file-keyed volume: $(agent_state "$b")"
# failed, or working again when a background retry is under way
[[ $(agent_state "$a") =~ ^(failed|working)$ ]] || fail "the KMS-keyed volume: $(agent_state "$a")"
grep -q "$a (other): .*token 0 (aws-kms:alias/vol): .*KMS" "$TMP/agent.log" || fail "no clear one-line failure for $a"
awk "BEGIN{exit !($ready < 15)}" || fail "ready after ${ready}s: the wait was not bounded by the KMS deadline"
echo "   ready ${ready} s after start with KMS hanging (deadline 4 s)"

step "a disk hot-added while KMS hangs is served"
c=$(loopdev c); on_exit "losetup -d $c 2>/dev/null"
"$VOLKEY" format "$c" --key file:/run/kek --yes >/dev/null
udevadm trigger --action=change "$c"
for _ in $(seq 1 200); do [[ $(agent_state "$c") == unlocked ]] && break; sleep 0.1; done
[[ $(agent_state "$c") == unlocked ]] || fail "hot-added $c: $(agent_state "$c")"

grep -q "$a (other): .*retrying in [0-9.]* s" "$TMP/agent.log" || fail "no retry announced for $a"
step "KMS answers again: the background retry unlocks the failed volume, no event needed"
curl -sf -X POST -H 'Content-Type: application/json' --data '{"latency_ms": 0, "latency_calls": 0}' "$KMS/_volkey/fault" >/dev/null
for _ in $(seq 1 300); do [[ $(agent_state "$a") == unlocked ]] && break; sleep 0.1; done
[[ $(agent_state "$a") == unlocked ]] || { cat "$TMP/agent.log"; fail "$a after KMS came back: $(agent_state "$a")"; }
echo "kms down ok"
