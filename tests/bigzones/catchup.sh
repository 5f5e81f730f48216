#!/usr/bin/env bash
# A follower that misses a 1,000,000-record import (down while the leader
# compacts its log) catches up by snapshot once it is back, with no leader
# change; every node keeps answering throughout, never silent for a second
# (the follower from its return on). The follower is killed, not stopped
# with SIGSTOP: the appends the leader had queued for a stopped process (in
# its transport and in the kernel's socket buffers) can hold the whole
# import, and the follower then catches up from them without a snapshot.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}" "compact_entries = 50"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
TERM0=$(term_of "$L")
F=$(( L % 3 + 1 ))
O=$(( F % 3 + 1 )); [ "$O" = "$L" ] && O=$(( O % 3 + 1 ))
BIG=$WORK/big.zone
big_zone "$BIG" 1000000 2
LAST=h999999.example.com
LAST_ADDR=$(big_zone_address 999999)

poll_start "$WORK/poll.live" "$L" "$O"
kill_node "$F"
log "n$F killed; importing 1,000,004 records through n$L (term $TERM0)"
adm "$L" --timeout 60 zone add example.com --file "$BIG" 2>"$WORK/import.err" ||
  fail "the import failed: $(cat "$WORK/import.err")"
wait_until 30 grep -q compacted "$WORK/n$L/log" || fail "the leader did not compact its WAL"

start_node "$F"
poll_start "$WORK/poll.resumed" "$F"
start=$(now_ms)
caught_up() { [ "$(ask "$F" "$LAST")" = "$LAST_ADDR" ]; }
wait_until 180 caught_up || fail "n$F did not catch up"
log "n$F caught up in $(( $(now_ms) - start )) ms"
grep -q "snapshot: installed" "$WORK/n$F/log" || fail "n$F caught up without a snapshot"
wait_until 60 converged || fail "the nodes did not converge"
sleep 1  # a moment of answers after the install, on the new content

poll_stop "$WORK/poll.live"
poll_stop "$WORK/poll.resumed"
gaps_below "$WORK/poll.live" 1000 || fail "n$L or n$O stopped answering for a second or more"
gaps_below "$WORK/poll.resumed" 1000 || fail "n$F stopped answering for a second or more after it came back"
terms_are "$TERM0" || fail "a leader change happened"
[ "$(serial_on "$F")" = 2 ] || fail "n$F serves serial $(serial_on "$F"), not 2"
log "PASS"
