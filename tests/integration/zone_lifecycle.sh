#!/bin/bash
# Import a zone with dnsadm, query it with dig, and see every change.
source "$(dirname "$0")/lib.sh"
setup "$@" 15301
write_zone
start_daemon
expect_eq "control socket mode" "660" "$(stat -c %a "$SOCK")"

adm zone add example.com --file "$WORK/example.com.zone"
expect_eq "zone list" "example.com.	serial 2024010101	7 records" "$(adm zone list)"
expect_eq "www A" "192.0.2.10" "$(q www.example.com A)"
expect_eq "www A over IPv6" "192.0.2.10" "$(q6 www.example.com A)"
expect_eq "www A over TCP" "192.0.2.10" "$(q +tcp www.example.com A)"
expect_eq "CNAME chain" "$(printf 'www.example.com.\n192.0.2.10')" "$(q alias.example.com A)"
expect_eq "outside every zone" "REFUSED" "$(rcode www.example.org A)"
expect_eq "nxdomain" "NXDOMAIN" "$(rcode nope.example.com A)"

adm add new.example.com 600 A 192.0.2.50
expect_eq "added A" "192.0.2.50" "$(q new.example.com A)"
adm add new.example.com 600 A 192.0.2.51
expect_eq "added second A" "$(printf '192.0.2.50\n192.0.2.51')" "$(q new.example.com A | sort)"
adm add txt.example.com 300 TXT "hello world"
expect_eq "TXT with a space" '"hello world"' "$(q txt.example.com TXT)"
expect_eq "get" "new.example.com. 600 IN A 192.0.2.50
new.example.com. 600 IN A 192.0.2.51" "$(adm get new.example.com A)"

adm remove new.example.com A 192.0.2.50
expect_eq "removed one A" "192.0.2.51" "$(q new.example.com A)"
adm remove new.example.com A
expect_eq "removed the RRset" "NXDOMAIN" "$(rcode new.example.com A)"

serial_before=$(q example.com SOA | awk '{print $3}')
adm add www.example.com 300 AAAA 2001:db8::10
expect_eq "AAAA" "2001:db8::10" "$(q www.example.com AAAA)"
serial_after=$(q example.com SOA | awk '{print $3}')
[[ $serial_after -gt $serial_before ]] || fail "SOA serial did not grow: $serial_before -> $serial_after"

# A batch applies all its lines, or none.
printf 'ADD: b1.example.com. 300 A 192.0.2.61\nADD: b2.example.com. A 192.0.2.62\nREMOVE: www.example.com. AAAA 2001:db8::10\n' \
  | adm batch -
expect_eq "batch add" "192.0.2.61" "$(q b1.example.com A)"
expect_eq "batch add without TTL" "192.0.2.62" "$(q b2.example.com A)"
expect_eq "batch remove" "" "$(q www.example.com AAAA)"
printf 'ADD: b3.example.com. 300 A 192.0.2.63\nADD: b4.example.org. 300 A 192.0.2.64\n' > "$WORK/bad.batch"
if adm batch "$WORK/bad.batch" 2>"$WORK/err"; then fail "batch with a record outside the zones was applied"; fi
expect_eq "atomic batch" "NXDOMAIN" "$(rcode b3.example.com A)"

# Export imports back to the same zone.
adm zone export example.com > "$WORK/exported.zone"
adm zone remove example.com
expect_eq "zone removed" "REFUSED" "$(rcode www.example.com A)"
expect_eq "no zones" "" "$(adm zone list)"
adm zone add example.com --file "$WORK/exported.zone"
expect_eq "re-imported b1" "192.0.2.61" "$(q b1.example.com A)"
expect_eq "re-imported TXT" '"hello world"' "$(q txt.example.com TXT)"

stop_daemon
echo PASS
