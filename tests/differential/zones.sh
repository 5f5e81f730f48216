# Deterministic zones and queries for the differential test (sourced by differential.sh).
# shellcheck shell=bash
#
# write_zones DIR   writes example.test, other.test and kid.example.test master files.
# write_queries DIR writes DIR/queries: one dig batch line per query ("name type [+opt]").

write_zones() {
  local dir=$1 i
  {
    cat <<'EOF'
$ORIGIN example.test.
$TTL 3600
@          3600 IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
@               NS   ns1
@               NS   ns2
@               MX   10 mx1
@               TXT  "v=spf1 -all"
@               A    192.0.2.1
ns1             A    192.0.2.53
ns1             AAAA 2001:db8::53
ns2             A    192.0.2.54
www             A    192.0.2.10
www             A    192.0.2.11
www             AAAA 2001:db8::10
mail            MX   10 mx1
mail            MX   20 mx2
mail            MX   30 mx.elsewhere.invalid.
mail            A    192.0.2.25
mx1             A    192.0.2.26
mx1             AAAA 2001:db8::26
mx2        600  A    192.0.2.27
_sip._tcp       SRV  10 60 5060 sip1
_sip._tcp       SRV  20 0 5060 sip2
_ldap._tcp      SRV  0 0 389 ldap.other.test.
sip1            A    192.0.2.30
sip2            AAAA 2001:db8::31
txt             TXT  "hello world"
txt             TXT  "a" "b" "c"
txt             TXT  "quote \" inside"
txt             TXT  "semi;colon and \\ backslash"
caa             CAA  0 issue "ca.example.net"
ptr             PTR  www.example.test.
unk             TYPE65400 \# 4 0a000001
onlytxt         TXT  "nothing else here"
; Wildcards (RFC 4592): *.wild matches any name whose closest encloser is
; wild.example.test, but not names below exists.wild, which exists itself.
*.wild          A    192.0.2.77
*.wild          TXT  "wildcard"
exists.wild     MX   10 mx1
*.cw            CNAME www
*.cnx           CNAME nowhere
; CNAME chains within the zone, dangling, looping and across zones.
c1              CNAME c2
c2              CNAME c3
c3              CNAME www
dangling        CNAME nowhere
loop1           CNAME loop2
loop2           CNAME loop1
self            CNAME self
xc              CNAME www.other.test.
xc2             CNAME c.other.test.
ext             CNAME www.elsewhere.invalid.
tomail          CNAME mail
towild          CNAME foo.wild
; DNAME (RFC 6672), to another served zone and within this zone.
dn              DNAME other.test.
dn2             DNAME target.example.test.
a.target        A    192.0.2.90
cn2dn           CNAME x.dn.example.test.
; Empty non-terminals: ent, c.ent and b.c.ent exist only through a.b.c.ent.
a.b.c.ent       A    192.0.2.80
; Delegations with glue; kid is also served as a zone of its own.
sub             NS   ns.sub
sub             NS   ns.other.test.
ns.sub          A    192.0.2.200
ns.sub          AAAA 2001:db8::200
kid             NS   ns1.kid
ns1.kid         A    192.0.2.210
EOF
    # Some plain hosts so a zone has bulk besides the special cases.
    for i in $(seq 0 19); do
      printf 'host%d A 192.0.2.%d\n' "$i" $((100 + i))
      if ((i % 2 == 0)); then printf 'host%d AAAA 2001:db8::%x\n' "$i" $((256 + i)); fi
    done
    # An RRset that does not fit 512 bytes (TC without EDNS) nor 1232.
    for i in $(seq 1 14); do
      printf 'big TXT "%s-%02d"\n' "$(printf 'x%.0s' $(seq 1 100))" "$i"
    done
  } >"$dir/example.test.zone"

  cat >"$dir/other.test.zone" <<'EOF'
$ORIGIN other.test.
$TTL 900
@               SOA  ns hostmaster.other.test. 7 3600 900 604800 600
@               NS   ns
ns              A    198.51.100.53
www             A    198.51.100.10
x               A    198.51.100.20
x               TXT  "x in other"
c               CNAME www.example.test.
ldap            A    198.51.100.38
*.any           A    198.51.100.99
mx              MX   0 www
EOF

  cat >"$dir/kid.example.test.zone" <<'EOF'
$ORIGIN kid.example.test.
$TTL 1800
@               SOA  ns1 hostmaster 99 3600 900 604800 120
@               NS   ns1
ns1             A    192.0.2.210
www             A    192.0.2.211
EOF
}

# Mixes the case of a name deterministically (every other letter upper-cased,
# starting at an offset) so both servers see exactly the same bytes.
mix_case() {
  local name=$1 offset=$2 out="" ch i
  for ((i = 0; i < ${#name}; i++)); do
    ch=${name:i:1}
    if (((i + offset) % 2 == 0)); then ch=${ch^^}; fi
    out+=$ch
  done
  printf '%s' "$out"
}

write_queries() {
  local dir=$1 name type n=0
  local names=(
    example.test www.example.test mail.example.test mx1.example.test mx2.example.test
    ns1.example.test _sip._tcp.example.test _ldap._tcp.example.test txt.example.test
    caa.example.test ptr.example.test unk.example.test onlytxt.example.test
    host3.example.test host4.example.test host19.example.test
    nothere.example.test deep.nothere.example.test
    foo.wild.example.test a.b.wild.example.test wild.example.test exists.wild.example.test
    x.exists.wild.example.test '*.wild.example.test' foo.cw.example.test foo.cnx.example.test
    c1.example.test c2.example.test c3.example.test dangling.example.test
    loop1.example.test self.example.test xc.example.test xc2.example.test ext.example.test
    tomail.example.test towild.example.test
    dn.example.test x.dn.example.test www.dn.example.test deep.ns.dn.example.test
    nope.dn.example.test a.dn2.example.test b.dn2.example.test cn2dn.example.test
    target.example.test a.target.example.test
    ent.example.test c.ent.example.test b.c.ent.example.test a.b.c.ent.example.test
    z.c.ent.example.test
    sub.example.test ns.sub.example.test deep.sub.example.test a.b.sub.example.test
    kid.example.test www.kid.example.test ns1.kid.example.test none.kid.example.test
    other.test www.other.test x.other.test c.other.test q.any.other.test any.other.test
    mx.other.test nothere.other.test
    outside.invalid example.org
  )
  local types=(A AAAA MX TXT NS SOA CNAME SRV)
  {
    for name in "${names[@]}"; do
      for type in "${types[@]}"; do
        printf '%s %s\n' "$name" "$type"
        n=$((n + 1))
      done
    done
    # Types asked of a few names only.
    printf '%s\n' 'caa.example.test CAA' 'ptr.example.test PTR' 'unk.example.test TYPE65400' \
      'dn.example.test DNAME' 'x.dn.example.test DNAME' 'sub.example.test DS' \
      'www.example.test HINFO' 'nothere.example.test CAA' 'www.example.test ANY' \
      'example.test ANY' 'nothere.example.test ANY'
    # The question's case must come back as sent; names are matched case-insensitively.
    local i=0
    for name in "${names[@]}"; do
      i=$((i + 1))
      printf '%s A\n' "$(mix_case "$name" "$i")"
      printf '%s MX\n' "$(mix_case "$name" $((i + 1)))"
    done
    # Without EDNS (512-byte limit) and with it: big.example.test is truncated in both.
    printf '%s\n' 'big.example.test TXT +noedns' 'big.example.test TXT' \
      'www.example.test A +noedns' 'sub.example.test A +noedns' 'nothere.example.test A +noedns'
    # EDNS version 1 gets BADVERS (RFC 6891 section 6.1.3); an unknown opcode NOTIMP.
    printf '%s\n' 'www.example.test A +edns=1' 'nothere.example.test A +edns=1' \
      'www.example.test A +opcode=status' 'www.example.test A +opcode=15' \
      'kid.example.test DS' 'www.kid.example.test DS' 'foo.wild.example.test CNAME' \
      'foo.cw.example.test CNAME' 'example.test DNSKEY' 'example.test AXFR' 'example.test IXFR=1'
  } >"$dir/queries.udp"
  # Sent over TCP (dig applies the transport per batch, not per line).
  printf "%s\n" "big.example.test TXT" "www.example.test A" "nothere.example.test A" \
    "mail.example.test MX" "sub.example.test A" "x.dn.example.test A" >"$dir/queries.tcp"
}
