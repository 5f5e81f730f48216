#!/usr/bin/env bash
# A write through a node that is behind (just restarted after kill -9) is
# judged at its place in the log, not against the node's stale store: removing
# a record another node acknowledged works through the lagging node.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
G=$(( L % 3 + 1 ))
for k in 1 2 3 4 5; do
  kill_node "$G"
  adm "$L" add "s$k.example.com" 300 A "10.1.0.$k" || fail "add s$k through the leader"
  start_node "$G"
  adm "$G" remove "s$k.example.com" A "10.1.0.$k" 2>"$WORK/err" ||
    fail "remove s$k through the restarted n$G refused: $(cat "$WORK/err")"
  [ -z "$(ask "$G" "s$k.example.com")" ] || fail "n$G still answers s$k"
done
# A change the store refuses is refused the same way through any node.
adm "$G" remove nothere.example.com A 10.9.9.9 2>"$WORK/err" && fail "removing a missing record succeeded"
grep -q "no such record" "$WORK/err" || fail "wrong reason: $(cat "$WORK/err")"
wait_until 15 converged || fail "nodes did not converge"
log "PASS"
