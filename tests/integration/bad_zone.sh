#!/bin/bash
# A bad zone file is rejected whole, naming file and line; the store is
# unchanged (zone list and export are equal before and after).
source "$(dirname "$0")/lib.sh"
setup "$@" 15303
write_zone
start_daemon
adm zone add example.com --file "$WORK/example.com.zone"
list_before=$(adm zone list)
export_before=$(adm zone export example.com)
index_before=$(adm status --json | sed 's/.*"applied_index":\([0-9]*\).*/\1/')

try_bad() {  # $1 = file, $2 = text the one-line error must contain
  local rc=0
  adm zone add example.com --file "$1" 2>"$WORK/err" || rc=$?
  [[ $rc -ne 0 ]] || fail "bad zone $1 was accepted"
  [[ $(wc -l < "$WORK/err") -eq 1 ]] || fail "error is not one line: $(cat "$WORK/err")"
  grep -qF -- "$2" "$WORK/err" || fail "error lacks [$2]: $(cat "$WORK/err")"
}

# A syntax error on line 5 of an otherwise good replacement.
sed '5s/.*/www IN A 192.0.2.300/' "$WORK/example.com.zone" > "$WORK/syntax.zone"
echo 'extra IN A 192.0.2.99' >> "$WORK/syntax.zone"
try_bad "$WORK/syntax.zone" "syntax.zone:5:"

# Two SOA records.
cp "$WORK/example.com.zone" "$WORK/twosoa.zone"
echo '@ IN SOA ns1 hostmaster 5 3600 600 86400 300' >> "$WORK/twosoa.zone"
try_bad "$WORK/twosoa.zone" "SOA"

# CNAME next to other data.
cp "$WORK/example.com.zone" "$WORK/cname.zone"
echo 'www IN CNAME ns1' >> "$WORK/cname.zone"
try_bad "$WORK/cname.zone" "CNAME"

# An error inside an included file names that file and its line.
printf 'ok IN A 192.0.2.5\nbroken IN MX notanumber mail\n' > "$WORK/included.zone"
cp "$WORK/example.com.zone" "$WORK/include.zone"
echo "\$INCLUDE $WORK/included.zone" >> "$WORK/include.zone"
try_bad "$WORK/include.zone" "included.zone:2:"

# No SOA at all.
grep -v SOA "$WORK/example.com.zone" > "$WORK/nosoa.zone"
try_bad "$WORK/nosoa.zone" "SOA"

expect_eq "zone list unchanged" "$list_before" "$(adm zone list)"
expect_eq "zone export unchanged" "$export_before" "$(adm zone export example.com)"
index_after=$(adm status --json | sed 's/.*"applied_index":\([0-9]*\).*/\1/')
expect_eq "nothing applied" "$index_before" "$index_after"
expect_eq "old data still served" "192.0.2.10" "$(q www.example.com A)"
expect_eq "nothing from the bad file served" "NXDOMAIN" "$(rcode extra.example.com A)"

# $INCLUDE with a relative path resolves next to the including file on the
# dnsadm side.
mkdir -p "$WORK/zones"
printf 'inc IN A 192.0.2.77\n' > "$WORK/zones/part.zone"
cp "$WORK/example.com.zone" "$WORK/zones/main.zone"
echo '$INCLUDE part.zone' >> "$WORK/zones/main.zone"
(cd / && adm zone add example.com --file "$WORK/zones/main.zone")
expect_eq "included record" "192.0.2.77" "$(q inc.example.com A)"

stop_daemon
echo PASS
