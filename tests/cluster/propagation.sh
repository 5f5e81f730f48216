#!/usr/bin/env bash
# A record added through a follower is answered by all 3 nodes; removal likewise.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
log "leader is n$L"
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
F=$(( L % 3 + 1 ))
log "adding through follower n$F"
adm "$F" add new.example.com 300 A 192.0.2.77 --wait all || fail "add through follower failed"
# Committed and applied on the node it ran on: visible there at once.
[ "$(ask "$F" new.example.com)" = 192.0.2.77 ] || fail "n$F does not answer right after add"
for i in 1 2 3; do
  [ "$(ask "$i" new.example.com)" = 192.0.2.77 ] || fail "n$i does not answer new.example.com"
done
G=$(( F % 3 + 1 ))
log "removing through n$G"
adm "$G" remove new.example.com A 192.0.2.77 --wait all || fail "remove failed"
for i in 1 2 3; do
  [ -z "$(ask "$i" new.example.com)" ] || fail "n$i still answers after removal"
done
wait_until 10 converged || fail "digests differ after propagation"
# status --cluster shows every node with the same digest.
adm 1 status --cluster >"$WORK/st" || fail "status --cluster failed"
cat "$WORK/st"
for i in 1 2 3; do grep -q "n$i" "$WORK/st" || fail "status --cluster lacks n$i"; done
# status on the leader: role, term, leader, and each peer's reachability,
# match index and lag.
adm "$L" status --json >"$WORK/leader.json" || fail "status --json failed"
jq -e '.cluster.role == "leader" and .cluster.term > 0 and .cluster.leader == "n'"$L"'"' \
  "$WORK/leader.json" >/dev/null || fail "leader status lacks role/term/leader: $(cat "$WORK/leader.json")"
jq -e '.cluster.peers | length == 2 and all(.reachable and .match > 0 and .last_heard_ms >= 0)' \
  "$WORK/leader.json" >/dev/null || fail "leader status lacks peer progress: $(cat "$WORK/leader.json")"
jq -e '.cluster.wal_bytes > 0 and .cluster.applied == .cluster.commit' "$WORK/leader.json" \
  >/dev/null || fail "leader status lacks WAL size or indexes"
log "PASS"
