#!/bin/bash
# Occluded data (below a zone cut or a DNAME) is accepted by every door
# (zone file, dnsadm add, batch), kept and exported, and never served.
source "$(dirname "$0")/lib.sh"
setup "$@" 23002
write_zone
cat >> "$WORK/example.com.zone" <<'ZONE'
sub      IN NS  ns.sub
ns.sub   IN A   192.0.2.53
sub      IN TXT "occluded at the cut"
www.sub  IN TXT "below the cut"
dn       IN DNAME example.net.
x.dn     IN A   192.0.2.55
ZONE
start_daemon

err=$(adm zone add example.com --file "$WORK/example.com.zone" 2>&1)
[[ "$err" == *"warning: zone example.com.: 3 records lie below a zone cut or DNAME"* ]] ||
  fail "one occlusion warning: got [$err]"
[[ $(grep -c warning <<<"$err") -eq 1 ]] || fail "exactly one warning line: got [$err]"
for owner in sub.example.com. www.sub.example.com. x.dn.example.com.; do
  [[ "$err" == *"$owner"* ]] || fail "warning names $owner: [$err]"
done

# Served: the referral and the DNAME rule, never the occluded data.
full() { dig @127.0.0.1 -p "$PORT" +time=2 +tries=1 +norec "$@"; }
out=$(full www.sub.example.com TXT)
[[ "$out" == *"status: NOERROR"* && "$out" != *" aa"* ]] || fail "referral below the cut: $out"
[[ "$out" == *"ANSWER: 0"* && "$out" == *"sub.example.com."*"NS"*"ns.sub.example.com."* ]] ||
  fail "referral NS: $out"
[[ "$out" != *"below the cut"* ]] || fail "occluded TXT served: $out"
out=$(full sub.example.com TXT)
[[ "$out" != *"occluded at the cut"* && "$out" == *"ANSWER: 0"* ]] || fail "TXT at the cut: $out"
expect_eq "below the DNAME" "$(printf 'example.net.\nx.example.net.')" "$(q x.dn.example.com A)"

# dnsadm add and batch accept the same data, as the file did, with the same
# warning; glue below the cut is no occluded data and draws none.
err=$(adm add y.dn.example.com 300 A 192.0.2.56 2>&1 >/dev/null)
[[ "$err" == *"warning: zone example.com.: 1 record lies below a zone cut or DNAME"*"y.dn.example.com."* ]] ||
  fail "dnsadm add warns of occluded data: got [$err]"
err=$(printf 'ADD: z.sub.example.com 300 MX 10 mail.example.com.\n' | adm batch 2>&1 >/dev/null)
[[ "$err" == *"warning: zone example.com.: 1 record lies"*"z.sub.example.com."* ]] ||
  fail "dnsadm batch warns of occluded data: got [$err]"
err=$(adm add ns2.sub.example.com 300 A 192.0.2.54 2>&1 >/dev/null)
[[ -z "$err" ]] || fail "glue draws no warning: got [$err]"
err=$(adm add fine.example.com 300 A 192.0.2.57 2>&1 >/dev/null)
[[ -z "$err" ]] || fail "ordinary data draws no warning: got [$err]"
expect_eq "added below the DNAME, not served" "$(printf 'example.net.\ny.example.net.')" \
  "$(q y.dn.example.com A)"
expect_eq "kept" "y.dn.example.com. 300 IN A 192.0.2.56" "$(adm get y.dn.example.com A)"

# Export always imports back, occluded data included.
adm zone export example.com > "$WORK/export.zone"
adm zone add example.com --file "$WORK/export.zone" 2>/dev/null
expect_eq "re-imported occluded data" "z.sub.example.com. 300 IN MX 10 mail.example.com." \
  "$(adm get z.sub.example.com MX)"
expect_eq "re-imported below the DNAME" "y.dn.example.com. 300 IN A 192.0.2.56" \
  "$(adm get y.dn.example.com A)"
echo "PASS"
