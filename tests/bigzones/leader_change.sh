#!/usr/bin/env bash
# A streamed import goes on across a leader change: `dnsadm zone add` of a
# 300,000-record zone, sent to a follower, while leadership moves twice (a
# transfer, then a leader killed with SIGKILL and restarted). The chunks
# in flight when the leader goes are sent again; the ones that were
# applied already change nothing. The import ends in one piece on every
# node, and nothing stays staged.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
TERM0=$(term_of "$L")
F=$(( L % 3 + 1 ))   # the node dnsadm talks to: a follower now, and never killed
O=$(( F % 3 + 1 ))   # the other follower
[ "$O" != "$L" ] || O=$(( O % 3 + 1 ))
log "leader n$L at term $TERM0; importing through n$F"

COUNT=300000
big_zone "$WORK/big.zone" "$COUNT" 2
LAST=h$((COUNT - 1)).example.com
LAST_ADDR=$(big_zone_address $((COUNT - 1)))

staged_at_least() { [ "$(status_field "$F" '.staged_records')" -ge "$1" ]; }
"$DNSADM" --socket "$(sock_of "$F")" --timeout 120 zone add example.com --file "$WORK/big.zone" \
  --wait all >"$WORK/import.out" 2>"$WORK/import.err" &
ADM=$!

# 1. A leader transfer part way.
wait_until 120 staged_at_least 20000 || fail "no chunk was staged: $(cat "$WORK/import.err")"
adm "$L" --timeout 10 leader transfer "n$O" || fail "the leader transfer to n$O failed"
log "leadership handed from n$L to n$O with $(status_field "$F" '.staged_records') records staged"

# 2. The new leader killed part way, and started again.
wait_until 120 staged_at_least 120000 || fail "the import stopped after the transfer: $(cat "$WORK/import.err")"
[ "$(leader)" = "$O" ] || fail "n$O does not lead after the transfer"
kill_node "$O"
log "killed the leader n$O with $(status_field "$F" '.staged_records') records staged"
sleep 1
start_node "$O"

rc=0; wait "$ADM" || rc=$?
[ "$rc" = 0 ] || fail "the import did not survive the leader changes (exit $rc): $(cat "$WORK/import.err")"
TERM1=$(term_of "$F")
[ "$TERM1" -gt "$TERM0" ] || fail "the term did not move ($TERM0 -> $TERM1): no leader change was tested"
for i in 1 2 3; do
  wait_until 60 test "$(ask "$i" "$LAST")" = "$LAST_ADDR" || fail "n$i does not answer $LAST"
  [ "$(serial_on "$i")" = 2 ] || fail "n$i serves serial $(serial_on "$i"), not 2"
done
records_on() { adm "$1" zone list | awk '$1 == "example.com." { print $4 }'; }
for i in 1 2 3; do
  [ "$(records_on "$i")" = $((COUNT + 4)) ] || fail "n$i holds $(records_on "$i") records, not $((COUNT + 4))"
done
nothing_staged() {
  local i
  for i in 1 2 3; do
    [ "$(status_field "$i" '.imports')" = 0 ] || return 1
    [ "$(status_field "$i" '.staged_records')" = 0 ] || return 1
  done
}
wait_until 60 nothing_staged || fail "an import is still staged somewhere"
wait_until 30 converged || fail "the nodes' digests differ"
log "the import went through terms $TERM0 to $TERM1 and every node holds all $((COUNT + 4)) records"
log "PASS"
