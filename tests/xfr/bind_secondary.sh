#!/usr/bin/env bash
# BIND 9.18 (named) as a TSIG secondary of raftdnsd:
#  - named takes the zone by AXFR;
#  - after a change, NOTIFY brings it over by IXFR (raftdnsd logs the
#    incremental transfer; kdig +ixfr shows the change as a diff);
#  - with the journal bounded to 3 changes, a secondary 5 changes behind
#    gets the whole zone instead (AXFR-style IXFR) and ends identical:
#    sorted AXFR output from named and from raftdnsd match.
# Ports 22200-22299.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cluster/lib.sh"

NAMED_PORT=22290
SECRET=$("$RAFTDNSD" --tsig-keygen xfr.example. | sed -n 's/.*secret "\(.*\)";/\1/p')
cluster_init 1 22200 "$(cat <<TOML
[[tsig]]
name = "xfr.example."
secret = "$SECRET"
[transfer]
journal_entries = 3
[[transfer.allow]]
key = "xfr.example."
[[transfer.notify]]
address = "127.0.0.1:$NAMED_PORT"
key = "xfr.example."
TOML
)"
start_all
wait_leader >/dev/null
write_retry 1 zone add example.com --file "$(demo_zone)"
P=22201

BW=$WORK/named
mkdir -p "$BW"
cat >"$BW/named.conf" <<CONF
options {
  directory "$BW";
  pid-file "$BW/named.pid";
  listen-on port $NAMED_PORT { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-transfer { 127.0.0.1; };
};
key "xfr.example." {
  algorithm hmac-sha256;
  secret "$SECRET";
};
controls { };
zone "example.com" {
  type secondary;
  file "example.com.db";
  primaries { 127.0.0.1 port $P key "xfr.example."; };
};
CONF
named-checkconf "$BW/named.conf" || fail "named-checkconf rejected the config"
start_named() {
  named -g -c "$BW/named.conf" >>"$BW/log" 2>&1 &
  PIDS[named]=$!
}
stop_named() {
  kill -TERM "${PIDS[named]}" 2>/dev/null || true
  wait "${PIDS[named]}" 2>/dev/null || true
  unset "PIDS[named]"
}
named_has() { [ "$(dig @127.0.0.1 -p $NAMED_PORT "$1" A +short +time=1 +tries=1)" = "$2" ]; }
named_fail() { echo "---- named log" >&2; tail -40 "$BW/log" >&2 || true; fail "$@"; }
serial() { dig @127.0.0.1 -p "$1" example.com SOA +short +time=1 +tries=1 | awk '{print $3}'; }
sorted_axfr() {
  dig @127.0.0.1 -p "$1" -y "hmac-sha256:xfr.example.:$SECRET" example.com AXFR +nocmd +nostats \
    +nocomments | grep -v 'TSIG' | awk '{$2=""; print}' | sort -u
}

start_named
log "named takes the zone by AXFR"
wait_until 30 named_has www.example.com 192.0.2.10 || named_fail "named did not load the zone"
grep -q "AXFR of example.com. serial 1 to 127.0.0.1 (key xfr.example.)" "$WORK/n1/log" ||
  fail "raftdnsd did not log the AXFR"

log "a change reaches named by IXFR"
before=$(serial $P)
adm 1 add ixfr1.example.com 300 A 192.0.2.31 || fail "add"
wait_until 20 named_has ixfr1.example.com 192.0.2.31 || named_fail "named did not pick up the change"
grep -q "IXFR of example.com. from serial $before to $((before + 1)) (1 changes)" "$WORK/n1/log" ||
  fail "the change did not go by IXFR: $(grep -i xfr "$WORK/n1/log")"

log "kdig IXFR=serial shows the change as a diff"
adm 1 remove www.example.com A 192.0.2.10 ||
  fail "remove"
adm 1 add www.example.com 300 A 192.0.2.11 || fail "add"
now=$(serial $P)
kdig @127.0.0.1 -p $P -y "hmac-sha256:xfr.example.:$SECRET" example.com IXFR=$before >"$WORK/ixfr.out" 2>&1 ||
  fail "kdig +ixfr: $(cat "$WORK/ixfr.out")"
# current SOA, then per change: old SOA, deletions, new SOA, additions; current SOA.
[ "$(grep -c 'IN[[:space:]]*SOA' "$WORK/ixfr.out")" = $((2 + 2 * (now - before))) ] ||
  fail "IXFR is not $((now - before)) changes: $(cat "$WORK/ixfr.out")"
grep -q "www.example.com.*A[[:space:]]*192.0.2.10" "$WORK/ixfr.out" || fail "the deletion is missing: $(cat "$WORK/ixfr.out")"
grep -q "www.example.com.*A[[:space:]]*192.0.2.11" "$WORK/ixfr.out" || fail "the addition is missing"
grep -q "ns1.example.com.*A" "$WORK/ixfr.out" && fail "IXFR carries unchanged records: $(cat "$WORK/ixfr.out")"
wait_until 20 named_has www.example.com 192.0.2.11 || named_fail "named did not follow"

log "a secondary further behind than the journal gets the whole zone"
stop_named
behind=$(serial $P)
for k in 1 2 3 4 5; do adm 1 add "gap$k.example.com" 300 A "192.0.2.$((40 + k))" || fail "add gap$k"; done
start_named
# named refreshes at start-up; a NOTIFY from one more change makes sure.
sleep 0.5
adm 1 add last.example.com 300 A 192.0.2.50 || fail "add last"
wait_until 30 named_has last.example.com 192.0.2.50 || named_fail "named did not catch up"
grep -q "IXFR of example.com. from serial $behind: the journal does not reach back that far" \
  "$WORK/n1/log" || fail "no fall-back to a full transfer: $(grep -i xfr "$WORK/n1/log")"
wait_until 10 test "$(serial $NAMED_PORT)" = "$(serial $P)" || named_fail "serials differ"
diff <(sorted_axfr $P) <(sorted_axfr $NAMED_PORT) >"$WORK/diff" || fail "named differs: $(cat "$WORK/diff")"
[ "$(sorted_axfr $NAMED_PORT | grep -c gap)" = 5 ] || fail "named misses the gap records"
log "PASS"
