#!/usr/bin/env bash
# kill -9 the leader: a new leader is elected, writes succeed through a
# survivor; the killed node restarts, catches up and its digest matches.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
log "killing leader n$L"
kill_node "$L"
S=$(( L % 3 + 1 ))
t0=$SECONDS
write_retry "$S" add after.example.com 300 A 192.0.2.88
log "write succeeded through n$S $((SECONDS - t0))s after the kill"
[ "$(ask "$S" after.example.com)" = 192.0.2.88 ] || fail "survivor does not answer"
start_node "$L"
wait_until 20 converged || fail "restarted n$L did not converge"
[ "$(ask "$L" after.example.com)" = 192.0.2.88 ] || fail "restarted n$L lacks the write"
log "PASS"
