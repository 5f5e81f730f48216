#!/usr/bin/env bash
# A learner does not vote: with two voters and a learner, losing a voter
# loses the quorum; after `member promote` the learner counts. Every bad
# membership request fails with exit status 1 and one line, and changes
# nothing: an existing id or address, an unknown or voting id to promote, an
# unknown id to remove, a joining node that holds another cluster's data, and
# one with the wrong cluster key.
source "$(dirname "$0")/lib.sh"
cluster_init 2 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all

N=3
CLUSTER_EXTRA="join = true" PEERS="1 2" write_config 3
start_node 3
adm 1 --timeout 20 member add n3 "$(peer_listen 3)" --learner || fail "member add --learner failed"
wait_until 30 sh -c "[ \"\$(dig @127.0.0.1 -p $((BASE + 3)) www.example.com +short +time=1 +tries=1)\" = 192.0.2.10 ]" ||
  fail "the learner does not answer"
sleep 2  # time enough for a promotion, were it to happen
[ "$(adm 1 member list --json | jq -r '.[] | select(.id == "n3") | .role')" = learner ] ||
  fail "a --learner member was promoted"

expect_refusal() {  # expect_refusal WANT dnsadm-args...: exit 1, one line naming WANT
  local want=$1; shift
  local before after status=0
  before=$(adm 1 member list --json | jq -c '[.[] | {id, address, role}]')
  adm "$@" >"$WORK/out" 2>"$WORK/err" || status=$?
  [ "$status" = 1 ] || fail "dnsadm $* exited with $status, not 1"
  [ "$(wc -l <"$WORK/err")" = 1 ] || fail "dnsadm $*: not one line: $(cat "$WORK/err")"
  grep -q -- "$want" "$WORK/err" || fail "dnsadm $*: '$(cat "$WORK/err")' does not say '$want'"
  after=$(adm 1 member list --json | jq -c '[.[] | {id, address, role}]')
  [ "$before" = "$after" ] || fail "dnsadm $* changed the membership"
  log "refused as expected: $(cat "$WORK/err")"
}
for via in 1 2; do
  expect_refusal "member n2 already exists" "$via" member add n2 127.0.0.1:$((BASE + 90))
  expect_refusal "is already used by member n3" "$via" member add n9 "$(peer_listen 3)"
  expect_refusal "no member n9" "$via" member promote n9
  expect_refusal "already a voter" "$via" member promote n1
  expect_refusal "no member n9" "$via" member remove n9
done

# A joining node whose data directory holds another cluster's state.
mkdir -p "$WORK/n8"
cp -r "$WORK/n1/data" "$WORK/n8/data"
N=8
CLUSTER_EXTRA="join = true" PEERS="1 2" write_config 8
if "$RAFTDNSD" --config "$WORK/n8/raftdns.toml" >"$WORK/n8/log" 2>&1; then
  fail "a joining node with another cluster's data started"
fi
grep -q "join = true, but the data directory holds the state of a cluster of" "$WORK/n8/log" ||
  fail "the refusal does not say why: $(cat "$WORK/n8/log")"
[ "$(grep -c 'join = true' "$WORK/n8/log")" = 1 ] || fail "not one line"

# A joining node with the wrong cluster key: refused by every peer, it gives
# up after a bounded time (a peer's key could be a moment from being fixed)
# and exits non-zero with one line naming a peer and the key.
"$RAFTDNSD" --init-key "$WORK/other.key" >/dev/null
N=4
CLUSTER_EXTRA="join = true" PEERS="1 2" write_config 4 "$WORK/other.key"
start_node 4
adm 1 --timeout 20 member add n4 "$(peer_listen 4)" --learner || fail "member add n4 failed"
[ -z "$(ask 4 www.example.com)" ] || fail "the node with the wrong key got data"
wait_until 60 exited "${PIDS[4]}" || fail "n4 with the wrong key still waits after 60 s"
status=0
wait "${PIDS[4]}" || status=$?
unset "PIDS[4]"
[ "$status" = 1 ] || fail "n4 with the wrong key exited with status $status, not 1"
grep -q "cannot join: the cluster key does not match peer n[12] (127.0.0.1:[0-9]*): handshake MAC mismatch on [0-9]* attempts" \
  "$WORK/n4/log" || fail "n4 does not say the key does not match: $(tail -5 "$WORK/n4/log")"
[ "$(grep -c 'cannot join' "$WORK/n4/log")" = 1 ] || fail "not one line"
grep -h "cannot join" "$WORK/n4/log"
rm -f "$WORK/n4/control.sock"
adm 1 --timeout 20 member remove n4 || fail "member remove n4 failed"

# Two voters and a learner: losing a voter loses the quorum.
N=3
V=$(wait_leader)
O=$(( V == 1 ? 2 : 1 ))
kill_node "$O"
status=0
adm "$V" --timeout 3 add q1.example.com 300 A 192.0.2.1 2>"$WORK/err" || status=$?
[ "$status" = 1 ] || fail "a write without a quorum did not fail (status $status)"
grep -q "no quorum" "$WORK/err" || fail "the failure does not say no quorum: $(cat "$WORK/err")"
log "without a quorum: $(cat "$WORK/err")"

# Back to two voters, promote the learner: now it counts.
start_node "$O"
wait_leader >/dev/null
wait_until 30 adm 1 --timeout 5 member promote n3 || fail "member promote n3 failed"
[ "$(adm 1 member list --json | jq -r '.[] | select(.id == "n3") | .role')" = voter ] ||
  fail "n3 is not a voter after promote"
V=$(wait_leader)
O=$(( V == 1 ? 2 : (V == 2 ? 1 : 1) ))
kill_node "$O"
S=$(( O == 1 ? 2 : 1 ))
[ "$S" = "$O" ] && S=3
write_retry "$S" add q2.example.com 300 A 192.0.2.2
# The write committed with n3's vote; n3 applies it a moment later.
wait_until 10 sh -c "[ \"\$(dig @127.0.0.1 -p $((BASE + 3)) q2.example.com A +short +time=1 +tries=1)\" = 192.0.2.2 ]" ||
  fail "the write with the promoted learner is missing"
log "PASS"
