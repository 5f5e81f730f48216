#!/usr/bin/env bash
# Replacing a dead node, by the steps of raftdnsd(8) REPLACING A NODE, word for
# word: n3 is killed for good, removed, and n4 joins at a new address from an
# empty data directory. n4 answers every record and the digests are equal.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
for k in $(seq 1 20); do write_retry 1 add "h$k.example.com" 300 A "192.0.2.$k"; done
kill_node 3
log "n3 is dead"

# 1. On a healthy member, see the dead node: it is not reachable.
adm 1 member list
[ "$(adm 1 member list --json | jq -r '.[] | select(.id == "n3") | .reachable')" = false ] ||
  fail "member list does not show n3 unreachable"
# 2. Remove it.
adm 1 --timeout 20 member remove n3 || fail "member remove n3 failed"
[ "$(adm 2 member list --json | jq -r '[.[].id] | join(",")')" = n1,n2 ] ||
  fail "n3 is still a member"
# 3. Configure the new machine: its own id and address, the cluster key, the
#    current members as peers, join = true, an empty data directory.
CLUSTER_EXTRA="join = true" PEERS="1 2" write_config 4
# 4. Start raftdnsd there: it waits to be added.
start_node 4
# 5. Add it through any member.
adm 2 --timeout 20 member add n4 "$(peer_listen 4)" || fail "member add n4 failed"
# 6. Wait until it is a voter and the digests are equal.
N=4
wait_until 60 sh -c "'$DNSADM' --socket '$(sock_of 1)' member list --json |
  jq -e '.[] | select(.id == \"n4\" and .role == \"voter\")'" || fail "n4 never became a voter"
wait_until 30 converged || fail "digests differ"
adm 1 status --cluster
for k in $(seq 1 20); do
  [ "$(ask 4 "h$k.example.com")" = "192.0.2.$k" ] || fail "n4 does not answer h$k"
done
[ "$(ask 4 www.example.com)" = 192.0.2.10 ] || fail "n4 does not answer www"
write_retry 4 add via4.example.com 300 A 192.0.2.44
wait_until 20 converged || fail "digests differ after a write through n4"
log "PASS"
