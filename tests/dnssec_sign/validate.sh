#!/usr/bin/env bash
# A zone signed online by a 3-node cluster (dnsadm zone sign) validates, and
# keeps validating after every kind of change:
#   - unbound (validating, the DS from `dnsadm zone keys` as its only trust
#     anchor) and delv: a positive answer, the DNSKEY set, NXDOMAIN, NODATA,
#     a wildcard answer and wildcard NODATA, a referral to a child signed
#     online too (DS in the parent) and to an unsigned one (no DS, proven),
#     and a CNAME into that signed child;
#   - after `dnsadm add`, after an nsupdate UPDATE, after a leader transfer;
#   - AXFR of the zone from each node gives the same records in the same
#     order, which dnssec-verify and ldns-verify-zone accept;
#   - signing refuses what it must: a second sign, a bad policy, records
#     only the signer writes.
# Ports: the cluster from PORT_BASE (27000), unbound on PORT_BASE+100.
source "$(dirname "$0")/lib.sh"
TOML_EXTRA+='
[[update.grant]]
from = "127.0.0.0/8"
zone = "sign.test."'
cluster_init 3 "${PORT_BASE:?}"
Z=$WORK/zones
mkdir -p "$Z"
P=sign.test
cat >"$Z/$P" <<ZONE
\$ORIGIN $P.
\$TTL 300
@        IN SOA  ns1 hostmaster 1 3600 900 604800 300
         IN NS   ns1
ns1      IN A    127.0.0.1
www      IN A    192.0.2.1
         IN TXT  "www"
*.wild   IN A    192.0.2.2
alias    IN CNAME www.sec.$P.
sec      IN NS   ns.sec
ns.sec   IN A    127.0.0.1
ins      IN NS   ns.ins
ns.ins   IN A    127.0.0.1
ZONE
for child in sec ins; do
  cat >"$Z/$child.$P" <<ZONE
\$ORIGIN $child.$P.
\$TTL 300
@        IN SOA  ns hostmaster 1 3600 900 604800 300
         IN NS   ns
ns       IN A    127.0.0.1
www      IN A    198.51.100.1
ZONE
done

start_all
L=$(wait_leader)
log "leader is n$L"
for zone in "sec.$P" "ins.$P"; do
  write_retry "$L" zone add "$zone" --file "$Z/$zone" --wait all
done

# ---- refusals, before anything is signed ----
out=$(adm "$L" zone sign "ins.$P" --validity 60 --refresh 50 --jitter 20 2>&1) &&
  fail "a validity shorter than refresh + jitter was accepted"
grep -q -- "--validity (1m) must be longer than --refresh (50s) plus --jitter (20s)" <<<"$out" ||
  fail "bad policy: unexpected message: $out"
out=$(adm "$L" zone sign nothere.test 2>&1) && fail "signing a missing zone was accepted"
grep -q "zone nothere.test. does not exist" <<<"$out" || fail "missing zone: $out"

# ---- sign: the child first, its DS into the parent, then the parent ----
# An hour's validity: this test is about content, tests/dnssec_sign/
# rollover.sh about time.
# (The DS goes in with the parent's file: `dnsadm add` puts a record in
# the deepest zone holding its name, which for the DS at a child's apex is
# the child.)
write_retry "$L" zone sign "sec.$P" --zsk-lifetime 0 --validity 1h --refresh 30m --wait all
zone_ds "$L" "sec.$P" >"$Z/sec.ds"
[ "$(wc -l <"$Z/sec.ds")" = 1 ] || fail "zone keys sec.$P: want one DS, got: $(adm "$L" zone keys "sec.$P")"
cat "$Z/sec.ds" >>"$Z/$P"
write_retry "$L" zone add "$P" --file "$Z/$P" --wait all
write_retry "$L" zone sign "$P" --algorithm 15 --zsk-lifetime 0 --validity 1h --refresh 30m --wait all
out=$(adm "$L" zone sign "$P" 2>&1) && fail "signing a signed zone again was accepted"
grep -q "zone $P. is already signed online" <<<"$out" || fail "second sign: $out"
adm "$L" zone keys "$P" >"$Z/keys"
log "keys of $P: $(tr '\n' '|' <"$Z/keys")"
[ "$(awk '$1 == "KSK" || $1 == "ZSK"' "$Z/keys" | wc -l)" = 2 ] || fail "want a KSK and a ZSK"
awk '$1 == "KSK" || $1 == "ZSK" { if ($5 != 15) exit 1 }' "$Z/keys" || fail "want algorithm 15 keys"
zone_ds "$L" "$P" >"$Z/anchors"
[ "$(wc -l <"$Z/anchors")" = 1 ] || fail "zone keys $P: want one DS"
delv_anchor "$Z/anchors" "$Z/anchor.delv"
# Private keys never leave the store: not in zone keys, an export or a log.
adm "$L" zone export "$P" >"$Z/export"
grep -Eiq "private|PrivateKey" "$Z/keys" "$Z/export" && fail "private key material in keys or export"
out=$(adm "$L" add "$P" 300 DNSKEY 256 3 15 "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=" 2>&1) &&
  fail "adding a DNSKEY to a zone signed online was accepted"
wait_until 30 converged || fail "nodes differ after signing"

start_unbound "$Z/anchors" "$P" "sec.$P" "ins.$P"
FAILED=0
expect() { check "$1" "$2" "$3" "${4:-secure}" "$P" "$Z/anchor.delv" || FAILED=1; }
validate_all() {
  expect "www.$P" A NOERROR                 # positive
  expect "$P" DNSKEY NOERROR                # the keys themselves
  expect "nothere.$P" A NXDOMAIN            # NXDOMAIN (NSEC3)
  expect "www.$P" AAAA NOERROR              # NODATA
  expect "host.wild.$P" A NOERROR           # wildcard
  expect "host.wild.$P" TXT NOERROR         # wildcard NODATA
  expect "alias.$P" A NOERROR               # CNAME into the signed child
  expect "www.sec.$P" A NOERROR             # referral with DS: the child signed online
  expect "sec.$P" DS NOERROR                # the DS itself
  expect "www.ins.$P" A NOERROR insecure    # referral without DS
  expect "ins.$P" DS NOERROR                # the proof that there is none
}
log "validating the freshly signed zone"
validate_all
[ "$FAILED" = 0 ] || fail "validation failures above"

# ---- changes: dnsadm add, an UPDATE, a leader change ----
write_retry "$L" add "new.$P" 300 A 192.0.2.50 --wait all
expect "new.$P" A NOERROR
expect "newer.$P" A NXDOMAIN
printf 'server 127.0.0.1 %s\nzone %s\nupdate add upd.%s 300 TXT "by update"\nsend\n' \
  $((BASE + 2)) "$P" "$P" | nsupdate || fail "nsupdate"
wait_until 20 bash -c "dig @127.0.0.1 -p $((BASE + 1)) +short upd.$P TXT | grep -q 'by update'" ||
  fail "the UPDATE did not reach node 1"
expect "upd.$P" TXT NOERROR
expect "upd.$P" A NOERROR                   # NODATA at the new name
[ "$FAILED" = 0 ] || fail "validation failures after add and UPDATE"

adm "$L" leader transfer >/dev/null || fail "leader transfer"
deadline=$((SECONDS + 20))
while :; do
  L2=$(leader || true)
  [ -n "$L2" ] && [ "$L2" != "$L" ] && break
  [ $SECONDS -ge $deadline ] && fail "leadership did not move from n$L"
  sleep 0.2
done
log "leader is now n$L2"
write_retry "$L2" add "after.$P" 300 A 192.0.2.51 --wait all
write_retry "$L2" remove "www.$P" TXT '"www"' --wait all
expect "after.$P" A NOERROR
expect "www.$P" TXT NOERROR                 # NODATA now
# The new leader's clock ticks the zone (each tick moves the zone's
# signing clock, which the store digest covers).
digest_moved() { [ "$(digest_of 1)" != "$1" ]; }
wait_until 10 digest_moved "$(digest_of 1)" || fail "no signing tick from the new leader"
log "validating after the changes"
validate_all
[ "$FAILED" = 0 ] || fail "validation failures after the leader change"

# ---- every node transfers the same signed zone, and it verifies ----
wait_until 30 axfr_same "$P" "$Z/axfr" || fail "nodes transfer different copies of $P"
grep -Eq "IN[[:space:]]+NSEC3PARAM" "$Z/axfr" || fail "the transfer has no NSEC3PARAM"
verify_zone "$P" "$Z/axfr"
wait_until 30 axfr_same "sec.$P" "$Z/axfr.sec" || fail "nodes transfer different copies of sec.$P"
verify_zone "sec.$P" "$Z/axfr.sec"

# ---- unsign: the signer's records go ----
write_retry "$L2" zone unsign "sec.$P" --wait all
axfr 1 "sec.$P" | grep -Eq "RRSIG|NSEC3|DNSKEY" && fail "unsign left signer records in sec.$P"
out=$(adm "$L2" zone keys "sec.$P" 2>&1) && fail "zone keys of an unsigned zone succeeded"
grep -q "is not signed online" <<<"$out" || fail "zone keys unsigned: $out"
log "PASS"
