#!/usr/bin/env bash
# Stop all three cleanly and start them again: all data is there, and a
# node answers from its store at once, before any peer is up.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
for k in $(seq 1 20); do adm "$L" add "r$k.example.com" 300 A "192.0.2.$k" || fail "add r$k"; done
wait_until 10 converged || fail "not converged before restart"
before=$(digest_of 1)
for i in 1 2 3; do stop_node "$i"; done
start_node 2
[ "$(ask 2 r7.example.com)" = 192.0.2.7 ] || fail "n2 alone does not answer from its store"
start_node 1; start_node 3
wait_leader 20 >/dev/null
wait_until 10 converged || fail "not converged after restart"
for i in 1 2 3; do
  for k in 1 13 20; do
    [ "$(ask "$i" "r$k.example.com")" = "192.0.2.$k" ] || fail "n$i lost r$k"
  done
done
[ "$(digest_of 1)" = "$before" ] || fail "digest changed across restart"
log "PASS"
