#!/usr/bin/env bash
# Pre-signed zones served by a 3-node cluster validate (RFC 4035 §3.1,
# RFC 5155 §7.2). Zones are signed at test time by dnssec-signzone (NSEC,
# and NSEC3 with opt-out) and ldns-signzone (NSEC3), imported with
# `dnsadm zone add`, and checked by two validators from Debian:
#   - a validating unbound (foreground, stub zones to one node, the test
#     zones' KSKs as its only trust anchors, no root hints: it never sends
#     anything beyond loopback), whose answers must carry AD;
#   - delv against a node with the zone's KSK as its anchor, which must
#     say "fully validated".
# Every case (positive, NXDOMAIN, NODATA, wildcard, wildcard NODATA, empty
# non-terminal, signed and unsigned delegation, CNAME into another signed
# zone) runs against each signer's zone. Referral bodies (DS + RRSIG, or
# the NSEC/NSEC3 proving there is none) are checked with dig on the node.
# Ports: the cluster from PORT_BASE (26500), unbound on PORT_BASE+100.
source "$(dirname "$0")/../cluster/lib.sh"
source "$(dirname "$0")/../lib/unbound.sh"
for tool in dnssec-keygen dnssec-signzone ldns-keygen ldns-signzone delv unbound dig; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh)"
done
cluster_init 3 "${PORT_BASE:?}"
UNBOUND_PORT=$((BASE + 100))
Z=$WORK/zones
mkdir -p "$Z"

# ---- zones ----
# Each parent P holds every case; sec.P is a signed child (DS in P), ins.P
# an unsigned one; alias.P is a CNAME into the next parent.
PARENTS=(nsec.test nsec3.test ldns.test)
next_parent() { case $1 in nsec.test) echo nsec3.test ;; nsec3.test) echo ldns.test ;; *) echo nsec.test ;; esac; }

write_parent() {  # write_parent ZONE FILE
  cat >"$2" <<ZONE
\$ORIGIN $1.
\$TTL 300
@        IN SOA  ns1 hostmaster 1 3600 900 604800 300
         IN NS   ns1
ns1      IN A    127.0.0.1
www      IN A    192.0.2.1
         IN TXT  "www"
a.b.c    IN TXT  "below two empty non-terminals"
*.wild   IN A    192.0.2.2
alias    IN CNAME www.$(next_parent "$1").
sec      IN NS   ns.sec
ns.sec   IN A    127.0.0.1
ins      IN NS   ns.ins
ns.ins   IN A    127.0.0.1
zz       IN A    192.0.2.3
ZONE
}
write_child() {  # write_child ZONE FILE
  cat >"$2" <<ZONE
\$ORIGIN $1.
\$TTL 300
@        IN SOA  ns hostmaster 1 3600 900 604800 300
         IN NS   ns
ns       IN A    127.0.0.1
www      IN A    198.51.100.1
ZONE
}

keygen_bind() {  # keygen_bind ZONE: a KSK and a ZSK (ECDSA P-256) in $Z
  (cd "$Z" && dnssec-keygen -q -K . -a 13 -f KSK "$1" >/dev/null && dnssec-keygen -q -K . -a 13 "$1" >/dev/null)
}

for p in "${PARENTS[@]}"; do
  write_parent "$p" "$Z/$p"
  write_child "sec.$p" "$Z/sec.$p"
  write_child "ins.$p" "$Z/ins.$p"
  # The signed child first: its DS goes into the parent.
  keygen_bind "sec.$p"
  (cd "$Z" && dnssec-signzone -q -K . -S -o "sec.$p" -f "sec.$p.signed" "sec.$p" >/dev/null) ||
    fail "dnssec-signzone sec.$p"
  cat "$Z/dsset-sec.$p." >>"$Z/$p"
  cp "$Z/ins.$p" "$Z/ins.$p.signed"  # unsigned
  case $p in
    nsec.test)
      keygen_bind "$p"
      (cd "$Z" && dnssec-signzone -q -K . -S -o "$p" -f "$p.signed" "$p" >/dev/null) ||
        fail "dnssec-signzone $p" ;;
    nsec3.test)
      keygen_bind "$p"
      (cd "$Z" && dnssec-signzone -q -K . -S -3 ab12 -H 0 -A -o "$p" -f "$p.signed" "$p" >/dev/null) ||
        fail "dnssec-signzone -3 $p" ;;
    ldns.test)
      ksk=$(cd "$Z" && ldns-keygen -a ECDSAP256SHA256 -k "$p")
      zsk=$(cd "$Z" && ldns-keygen -a ECDSAP256SHA256 "$p")
      (cd "$Z" && ldns-signzone -n -s cafe -t 0 -o "$p" -f "$p.signed" "$p" "$ksk" "$zsk") ||
        fail "ldns-signzone $p" ;;
  esac
done

# The KSK of each parent: unbound takes the DNSKEY lines, delv a
# trust-anchors clause.
: >"$Z/anchors.unbound"
for p in "${PARENTS[@]}"; do
  for k in "$Z"/K"$p".+013+*.key; do
    # dnssec-keygen splits the key with blanks; ldns-keygen adds a comment.
    awk '$0 !~ /^;/ && /DNSKEY[ \t]+257[ \t]+3[ \t]+13/ {
      for (i = 1; i <= NF; i++) if ($i == "DNSKEY") break
      key = ""
      for (j = i + 4; j <= NF && $j !~ /^;/; j++) key = key $j
      print $1, "IN DNSKEY", $(i+1), $(i+2), $(i+3), key
    }' "$k" >>"$Z/anchors.unbound"
  done
done
[ "$(wc -l <"$Z/anchors.unbound")" -eq 3 ] || fail "expected 3 KSKs, got: $(cat "$Z/anchors.unbound")"
delv_anchor() {  # delv_anchor ZONE FILE
  awk -v z="$1." '$1 == z { printf "trust-anchors {\n  %s static-key %s %s %s \"%s\";\n};\n", $1, $4, $5, $6, $7 }' \
    "$Z/anchors.unbound" >"$2"
}

# ---- cluster ----
start_all
L=$(wait_leader)
log "leader is n$L"
for p in "${PARENTS[@]}"; do
  for zone in "$p" "sec.$p" "ins.$p"; do
    write_retry "$L" zone add "$zone" --file "$Z/$zone.signed" --wait all
  done
done
log "zones imported"
# Every node holds every signature: the same digest everywhere.
wait_until 20 converged || fail "nodes differ after the imports"

# ---- unbound ----
U=$WORK/unbound
mkdir -p "$U"
{
  unbound_server_conf "$U" "$UNBOUND_PORT" "$Z/anchors.unbound"
  # Every zone goes to node 1; nothing is ever asked of the root.
  for p in "${PARENTS[@]}"; do
    for zone in "$p" "sec.$p" "ins.$p"; do
      echo "stub-zone:"
      echo "  name: \"$zone\""
      echo "  stub-addr: 127.0.0.1@$((BASE + 1))"
    done
  done
  unbound_root_stub $((BASE + 99))
} >"$U/unbound.conf"
unbound -d -c "$U/unbound.conf" >"$U/stdout" 2>&1 &
UNBOUND_PID=$!
PIDS[unbound]=$UNBOUND_PID
uq() {  # uq NAME TYPE: dig through unbound
  dig @127.0.0.1 -p "$UNBOUND_PORT" +dnssec +time=5 +tries=3 "$1" "$2"
}
# (CD: up and reaching the cluster, whatever validation says.)
wait_until 15 bash -c "dig @127.0.0.1 -p $UNBOUND_PORT +cd +time=2 +tries=1 www.nsec.test A | grep -q 'status: NOERROR'" || fail "unbound did not start: $(cat "$U/stdout" "$U/log" 2>/dev/null)"

# expect_secure NAME TYPE RCODE [insecure]: unbound's answer has RCODE and
# AD (or, with "insecure", no AD and no SERVFAIL); delv on node 2 agrees.
FAILED=0
expect() {
  local name=$1 type=$2 rcode=$3 mode=${4:-secure} out zone anchor
  out=$(uq "$name" "$type")
  if ! grep -q "status: $rcode," <<<"$out"; then
    echo "unbound: $name $type: want $rcode: $out" >&2; FAILED=1; return
  fi
  local flags
  flags=$(grep -o 'flags:[^;]*;' <<<"$out" | head -1)
  if [ "$mode" = secure ] && ! grep -qw ad <<<"$flags"; then
    echo "unbound: $name $type: no AD ($flags)" >&2; FAILED=1
    tail -5 "$U/log" >&2
    return
  fi
  if [ "$mode" = insecure ] && grep -qw ad <<<"$flags"; then
    echo "unbound: $name $type: AD on an insecure answer" >&2; FAILED=1; return
  fi
  # delv validates what one node says, with the zone's KSK as its anchor.
  # (The signed child is reached through the DS in its parent.)
  for p in "${PARENTS[@]}"; do [[ $name == *".$p" || $name == "$p" ]] && zone=$p; done
  [[ $name == *".ins.$zone" ]] && return  # not signed: nothing for delv to say
  anchor=$WORK/anchor.$zone
  delv_anchor "$zone" "$anchor"
  out=$(delv @127.0.0.1 -p $((BASE + 2)) -a "$anchor" +root="$zone" "$name" "$type" 2>&1 || true)
  if ! grep -q "fully validated" <<<"$out"; then
    echo "delv: $name $type: not fully validated: $out" >&2; FAILED=1
  fi
}

for p in "${PARENTS[@]}"; do
  log "validating $p"
  expect "www.$p" A NOERROR                 # positive
  expect "$p" DNSKEY NOERROR                # the keys themselves
  expect "nothere.$p" A NXDOMAIN            # NXDOMAIN
  expect "x.y.nothere.$p" TXT NXDOMAIN      # NXDOMAIN below a missing name
  expect "www.$p" AAAA NOERROR              # NODATA
  expect "host.wild.$p" A NOERROR           # wildcard
  expect "a.b.host.wild.$p" A NOERROR       # wildcard, several labels down
  expect "host.wild.$p" TXT NOERROR         # wildcard NODATA
  expect "c.$p" A NOERROR                   # empty non-terminal
  expect "b.c.$p" A NOERROR                 # empty non-terminal
  expect "alias.$p" A NOERROR               # CNAME into another signed zone
  expect "www.sec.$p" A NOERROR             # signed delegation: DS in the parent
  expect "sec.$p" DS NOERROR                # the DS itself
  expect "www.ins.$p" A NOERROR insecure    # unsigned delegation: no DS, proven
  expect "ins.$p" DS NOERROR                # the proof of no DS
done

# ---- referral bodies, from a node that serves only the parent ----
# Node 3 is asked with RD clear for names below the cuts: the cluster also
# serves the children, so they are removed first.
for p in "${PARENTS[@]}"; do
  adm "$L" zone remove "sec.$p" --wait all >/dev/null || fail "zone remove sec.$p"
  adm "$L" zone remove "ins.$p" --wait all >/dev/null || fail "zone remove ins.$p"
done
rq() { dig @127.0.0.1 -p $((BASE + 3)) +norec +dnssec +time=2 +tries=2 "$@"; }
for p in "${PARENTS[@]}"; do
  out=$(rq "www.sec.$p" A)
  grep -Eq "^sec\.$p\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+DS" <<<"$out" ||
    { echo "referral to sec.$p lacks DS: $out" >&2; FAILED=1; }
  grep -Eq "^sec\.$p\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+RRSIG[[:space:]]+DS" <<<"$out" ||
    { echo "referral to sec.$p lacks the DS RRSIG: $out" >&2; FAILED=1; }
  out=$(rq "www.ins.$p" A)
  grep -Eq "IN[[:space:]]+DS" <<<"$out" && { echo "referral to ins.$p has a DS: $out" >&2; FAILED=1; }
  case $p in
    nsec.test) want="^ins\.$p\.[[:space:]].*IN[[:space:]]+NSEC[[:space:]]" ;;
    *) want="IN[[:space:]]+NSEC3[[:space:]]" ;;
  esac
  grep -Eq "$want" <<<"$out" || { echo "referral to ins.$p lacks its no-DS proof: $out" >&2; FAILED=1; }
  grep -Eq "RRSIG[[:space:]]+NSEC3?[[:space:]]" <<<"$out" ||
    { echo "referral to ins.$p: proof unsigned: $out" >&2; FAILED=1; }
  # The NS RRset at a cut is never signed by the parent.
  grep -Eq "RRSIG[[:space:]]+NS[[:space:]]" <<<"$out" && { echo "referral carries an RRSIG NS: $out" >&2; FAILED=1; }
done

# ---- DO=0: nothing of DNSSEC unless asked for ----
out=$(dig @127.0.0.1 -p $((BASE + 1)) +norec +nodnssec +time=2 "nothere.nsec3.test" A)
grep -Eq "RRSIG|NSEC" <<<"$out" && { echo "DO=0 NXDOMAIN carries DNSSEC records: $out" >&2; FAILED=1; }
out=$(dig @127.0.0.1 -p $((BASE + 1)) +norec +nodnssec +time=2 "www.nsec.test" RRSIG)
grep -Eq "IN[[:space:]]+RRSIG[[:space:]]+A " <<<"$out" || { echo "DO=0 RRSIG query unanswered: $out" >&2; FAILED=1; }

[ "$FAILED" = 0 ] || fail "validation failures above"
log "PASS"
