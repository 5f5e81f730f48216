#!/usr/bin/env bash
# Time on a zone signed online by a 3-node cluster, with a [dnssec] policy
# in seconds (lib.sh: validity 60 s, refresh 30 s, ZSK lifetime 20 s, waits
# of 3 s), checked by a validating unbound and delv all along:
#   - renewal: past the first signatures' expiration, answers still
#     validate, with an expiration that has moved forward;
#   - ZSK rollover: the DNSKEY RRset gains a new ZSK, the signatures move to
#     it and the old one goes;
#   - KSK rollover: `zone roll ZONE ksk` publishes a second KSK and then a
#     CDS for it alone; with both DS as trust anchors validation holds;
#     `zone ds-seen ZONE TAG` finishes it (old KSK and CDS gone after
#     ds_wait);
#   - the leader killed with -9 in the middle of that rollover, restarted:
#     the zone validates and its AXFR equals the others', and verifies.
# Ports: the cluster from PORT_BASE (27200), unbound on PORT_BASE+100.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
Z=$WORK/zones
mkdir -p "$Z"
P=roll.test
cat >"$Z/$P" <<ZONE
\$ORIGIN $P.
\$TTL 2
@        IN SOA  ns1 hostmaster 1 3600 900 604800 2
         IN NS   ns1
ns1      IN A    127.0.0.1
www      IN A    192.0.2.1
*.wild   IN A    192.0.2.2
ZONE

start_all
L=$(wait_leader)
log "leader is n$L"
write_retry "$L" zone add "$P" --file "$Z/$P" --wait all
write_retry "$L" zone sign "$P" --wait all
zone_ds "$L" "$P" >"$Z/anchors"
[ "$(wc -l <"$Z/anchors")" = 1 ] || fail "want one DS: $(adm "$L" zone keys "$P")"
delv_anchor "$Z/anchors" "$Z/anchor.delv"
start_unbound "$Z/anchors" "$P"

FAILED=0
validate() {
  check "www.$P" A NOERROR secure "$P" "$Z/anchor.delv" || FAILED=1
  check "nothere.$P" A NXDOMAIN secure "$P" "$Z/anchor.delv" || FAILED=1
  check "a.wild.$P" A NOERROR secure "$P" "$Z/anchor.delv" || FAILED=1
  [ "$FAILED" = 0 ] || fail "validation failed $1"
}
# rrsig_field NODE NAME TYPE FIELD: a field of NAME's RRSIG over TYPE, as
# the node serves it (9: expiration, 11: key tag).
rrsig_field() {
  dig @127.0.0.1 -p $((BASE + $1)) +norec +dnssec +time=2 +tries=2 "$2" "$3" |
    awk -v t="$3" -v f="$4" '$4 == "RRSIG" && $5 == t { print $f; exit }'
}
epoch_of() { local e=$1; date -u -d "${e:0:4}-${e:4:2}-${e:6:2} ${e:8:2}:${e:10:2}:${e:12:2}" +%s; }

validate "after signing"
zsk0=$(key_tags "$L" "$P" ZSK active)
exp0=$(rrsig_field 1 "www.$P" A 9)
[ -n "$zsk0" ] && [ -n "$exp0" ] || fail "no ZSK or no RRSIG: $(adm "$L" zone keys "$P")"
[ "$(rrsig_field 1 "www.$P" A 11)" = "$zsk0" ] || fail "www.$P is not signed by the ZSK $zsk0"
dnskey_has() {  # dnskey_has TAG: node 1's DNSKEY RRset holds the key with this tag
  dig @127.0.0.1 -p $((BASE + 1)) +norec +multi "$P" DNSKEY | grep -Eq "key id = $1\s*$"
}
dnskey_has "$zsk0" || fail "the DNSKEY RRset lacks the ZSK $zsk0"
exp0_at=$(epoch_of "$exp0")
log "ZSK $zsk0 signs; first expiration $exp0 ($((exp0_at - $(date +%s))) s from now)"

# ---- renewal and ZSK rollover, validating every round ----
saw_two=0 moved=0 old_gone=0 renewed=0
deadline=$((SECONDS + 120))
while :; do
  validate "during the ZSK rollover and renewal"
  zsks=$(key_tags "$L" "$P" ZSK | tr '\n' ' ')
  [ "$(wc -w <<<"$zsks")" -ge 2 ] && saw_two=1
  signer=$(rrsig_field 1 "www.$P" A 11)
  [ "$saw_two" = 1 ] && [ -n "$signer" ] && [ "$signer" != "$zsk0" ] && moved=1
  if [ "$moved" = 1 ] && ! grep -qw "$zsk0" <<<"$zsks" && ! dnskey_has "$zsk0"; then
    old_gone=1
  fi
  exp=$(rrsig_field 1 "www.$P" A 9)
  if [ "$(date +%s)" -gt "$exp0_at" ] && [ -n "$exp" ] && [ "$(epoch_of "$exp")" -gt "$exp0_at" ]; then
    renewed=1
  fi
  [ "$saw_two$moved$old_gone$renewed" = 1111 ] && break
  [ $SECONDS -ge $deadline ] &&
    fail "after 120 s: new ZSK seen $saw_two, signatures moved $moved, old ZSK gone $old_gone, renewed $renewed (ZSKs $zsks; signer $signer; expiration $exp)"
  sleep 2
done
log "renewed past $exp0 (now $exp) and rolled the ZSK from $zsk0 (ZSKs now: $zsks)"

# ---- KSK rollover, with the leader killed in the middle ----
L=$(wait_leader)
ksk0=$(key_tags "$L" "$P" KSK)
write_retry "$L" zone roll "$P" ksk --wait all
new_ksk_with_cds() {
  adm "$L" zone keys "$P" | awk -v old="$ksk0" '$1 == "KSK" && $3 != old && $NF == "cds" { found = 1 } END { exit !found }'
}
wait_until 30 new_ksk_with_cds || fail "no CDS for a new KSK: $(adm "$L" zone keys "$P")"
ksk1=$(key_tags "$L" "$P" KSK | grep -vx "$ksk0")
log "KSK $ksk1 published beside $ksk0, with its CDS"
cds=$(dig @127.0.0.1 -p $((BASE + 1)) +norec +short "$P" CDS | awk '{ print $1 }' | sort -u | tr '\n' ' ')
[ "$cds" = "$ksk1 " ] || fail "the CDS names '$cds', want $ksk1 alone"
# Validators holding either DS (the parent serves both during the change).
zone_ds "$L" "$P" >"$Z/anchors"
[ "$(wc -l <"$Z/anchors")" = 2 ] || fail "want two DS during the KSK rollover: $(cat "$Z/anchors")"
delv_anchor "$Z/anchors" "$Z/anchor.delv"
start_unbound "$Z/anchors" "$P"
validate "with both KSKs"

write_retry "$L" zone ds-seen "$P" "$ksk1" --wait all
log "killing the leader n$L in the middle of the KSK rollover"
kill_node "$L"
DOWN=$L
L=$(wait_leader 30)
DELV_NODE=$L
log "leader is now n$L"
one_ksk_left() { [ "$(key_tags "$L" "$P" KSK | tr -d '\n')" = "$ksk1" ]; }
wait_until 30 one_ksk_left || fail "the old KSK $ksk0 stayed: $(adm "$L" zone keys "$P")"
dig @127.0.0.1 -p $((BASE + L)) +norec +short "$P" CDS | grep -q . && fail "the CDS stayed after the rollover"
validate "after the KSK rollover, a node down"
start_node "$DOWN"
wait_until 60 converged || fail "n$DOWN did not catch up after its restart"
validate "after the restart"
wait_until 30 axfr_same "$P" "$Z/axfr" || fail "nodes transfer different copies of $P"
verify_zone "$P" "$Z/axfr"
log "PASS"
