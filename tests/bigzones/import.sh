#!/usr/bin/env bash
# One `dnsadm zone add` of a 1,000,000-record zone on a 3-node cluster: it is
# streamed in bounded chunks, staged, and switched in at once, with no leader
# change. A file with a bad line, and an import interrupted with Ctrl-C, leave
# the old zone whole and nothing staged.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
TERM0=$(term_of "$L")
log "leader n$L at term $TERM0; the old zone has serial 1"

BIG=$WORK/big.zone
big_zone "$BIG" 1000000 2
LAST=h999999.example.com
LAST_ADDR=$(big_zone_address 999999)

old_zone_whole() {  # every node serves the old zone: serial 1, www, and no h* name
  local i
  for i in 1 2 3; do
    [ "$(serial_on "$i")" = 1 ] || { echo "n$i serves serial $(serial_on "$i")"; return 1; }
    [ "$(ask "$i" www.example.com)" = 192.0.2.10 ] || { echo "n$i lost www"; return 1; }
    [ -z "$(ask "$i" h0.example.com)" ] || { echo "n$i serves h0"; return 1; }
  done
}
nothing_staged() {  # no import staged and nothing left to reclaim, on every node
  local i
  for i in 1 2 3; do
    [ "$(status_field "$i" '.imports')" = 0 ] || return 1
    [ "$(status_field "$i" '.staged_records')" = 0 ] || return 1
    [ "$(status_field "$i" '.reclaim_pending')" = 0 ] || return 1
  done
}

# 1. A bad line: refused with the file and line, before anything changes.
{ head -n 1000 "$BIG"; echo "bad IN A 300.1.2.3"; tail -n 10 "$BIG"; } >"$WORK/bad.zone"
if adm "$L" zone add example.com --file "$WORK/bad.zone" 2>"$WORK/bad.err"; then
  fail "an import of a file with a bad line succeeded"
fi
grep -q "$WORK/bad.zone:1001:" "$WORK/bad.err" || fail "the error does not name the file and line: $(cat "$WORK/bad.err")"
old_zone_whole || fail "the old zone is not whole after the refused file"
log "a bad line is refused with its file and line: $(cat "$WORK/bad.err")"

# 2. Ctrl-C part way: the import is aborted, the old zone is whole, and the
# staged records are reclaimed on every node.
# (300,000 records: enough chunks to interrupt, and a shorter read than 1M)
head -n 300006 "$BIG" >"$WORK/part.zone"
"$DNSADM" --socket "$(sock_of "$L")" zone add example.com --file "$WORK/part.zone" 2>"$WORK/int.err" &
ADM=$!
staged() { [ "$(status_field "$L" '.staged_records')" -gt 0 ]; }
wait_until 120 staged || fail "no chunk of the import was staged"
kill -INT "$ADM"
rc=0; wait "$ADM" || rc=$?
[ "$rc" = 130 ] || fail "dnsadm exited $rc after SIGINT, not 130: $(cat "$WORK/int.err")"
grep -q "import aborted" "$WORK/int.err" || fail "dnsadm did not say the import was aborted: $(cat "$WORK/int.err")"
old_zone_whole || fail "the old zone is not whole after the interrupted import"
wait_until 60 nothing_staged || fail "the staged import was not reclaimed: $(adm "$L" status --json)"
log "an interrupted import leaves the old zone whole and is reclaimed: $(cat "$WORK/int.err")"

# 3. The whole file with one command.
start=$(now_ms)
adm "$L" --timeout 60 zone add example.com --file "$BIG" --wait all 2>"$WORK/import.err" ||
  fail "the import failed: $(cat "$WORK/import.err")"
log "imported 1,000,004 records in $(( $(now_ms) - start )) ms"
for i in 1 2 3; do
  [ "$(ask "$i" "$LAST")" = "$LAST_ADDR" ] || fail "n$i does not answer $LAST"
  [ "$(serial_on "$i")" = 2 ] || fail "n$i serves serial $(serial_on "$i"), not 2"
done
terms_are "$TERM0" || fail "the leader changed during the import"
[ "$(leader)" = "$L" ] || fail "n$L no longer leads"
wait_until 60 nothing_staged || fail "the old content was not reclaimed"
wait_until 30 converged || fail "the nodes' digests differ"

# 4. The file's RRset rules hold although the records are sent as parsed:
# TTLs of an RRset lowered to its lowest, a repeat's TTL dropped.
cat >"$WORK/ttl.zone" <<'ZONE'
$ORIGIN example.com.
@ 300 IN SOA ns1.example.com. hostmaster.example.com. 3 3600 900 604800 300
@ 300 IN NS ns1
ns1 300 IN A 127.0.0.1
b 60 IN A 192.0.2.3
b 300 IN A 192.0.2.4
c 100 IN A 192.0.2.5
c 200 IN A 192.0.2.5
ZONE
adm "$L" zone add example.com --file "$WORK/ttl.zone" --wait all 2>"$WORK/ttl.err" ||
  fail "the small import failed: $(cat "$WORK/ttl.err")"
ttls() { dig @127.0.0.1 -p $((BASE + $1)) "$2" A +noall +answer +time=1 +tries=2 | awk '{ print $2 }' | sort -u | tr '\n' ' '; }
for i in 1 2 3; do
  [ "$(ttls "$i" b.example.com)" = "60 " ] || fail "n$i gives b.example.com TTLs $(ttls "$i" b.example.com), not 60"
  [ "$(ttls "$i" c.example.com)" = "100 " ] || fail "n$i gives c.example.com TTLs $(ttls "$i" c.example.com), not 100"
done
grep -q "lowered to the lowest TTL" "$WORK/ttl.err" || fail "no warning about the lowered TTL: $(cat "$WORK/ttl.err")"
log "an RRset's TTLs follow the file's rules: $(cat "$WORK/ttl.err")"
log "PASS"
