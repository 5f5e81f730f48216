#!/usr/bin/env bash
# A node that was down while more changes than the compaction threshold were
# made catches up by snapshot (an LMDB copy streamed in chunks).
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}" "compact_entries = 20"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
D=$(( L % 3 + 1 ))
stop_node "$D"
log "n$D is down; writing 60 changes through n$L"
for k in $(seq 1 60); do adm "$L" add "c$k.example.com" 300 A "198.51.100.$k" || fail "add c$k"; done
grep -q "compacted" "$WORK/n$L/log" || fail "the leader did not compact its WAL"
start_node "$D"
wait_until 30 converged || fail "n$D did not catch up"
grep -q "snapshot: installed" "$WORK/n$D/log" || fail "n$D caught up without a snapshot"
[ "$(ask "$D" c60.example.com)" = 198.51.100.60 ] || fail "n$D lacks c60"
[ "$(ask "$D" c1.example.com)" = 198.51.100.1 ] || fail "n$D lacks c1"
log "PASS"
