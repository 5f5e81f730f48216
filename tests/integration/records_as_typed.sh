#!/bin/bash
# dnsadm stores record values exactly as typed (SPF, DKIM, DMARC and quoted
# strings with ';', '"' and '\'), or refuses them with a reason; the same for
# batch. Checked with dig against the running daemon.
source "$(dirname "$0")/lib.sh"
setup "$@" 23001
write_zone
start_daemon
adm zone add example.com --file "$WORK/example.com.zone"

adm add _dmarc.example.com 300 TXT 'v=DMARC1;p=reject;rua=mailto:d@example.com'
expect_eq "DMARC keeps everything after ';'" '"v=DMARC1;p=reject;rua=mailto:d@example.com"' \
  "$(q _dmarc.example.com TXT)"

adm add spf.example.com 300 TXT "v=spf1 include:_spf.example.net ip4:192.0.2.0/24 ~all"
expect_eq "SPF with include: and ~all" '"v=spf1 include:_spf.example.net ip4:192.0.2.0/24 ~all"' \
  "$(q spf.example.com TXT)"

# A 2048-bit DKIM key: one value over 255 octets, split into 255-octet strings.
key="v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA$(printf 'A%.0s' $(seq 1 330))IDAQAB"
adm add sel._domainkey.example.com 300 TXT "$key"
got=$(q sel._domainkey.example.com TXT)
expect_eq "DKIM split at 255 octets" "\"${key:0:255}\" \"${key:255}\"" "$got"

adm add q.example.com 300 TXT 'say "hi"; path C:\dir'
expect_eq "quote, semicolon and backslash kept" '"say \"hi\"; path C:\\dir"' "$(q q.example.com TXT)"

# Already in master-file form: read with its escapes, strings kept apart.
adm add mf.example.com 300 TXT '"first; part" "second \"quoted\""'
expect_eq "master-file form" '"first; part" "second \"quoted\""' "$(q mf.example.com TXT)"

# Refused with a reason, nothing stored.
expect_refused() {
  local what=$1; shift
  local err rc=0
  err=$(adm "$@" 2>&1 >/dev/null) || rc=$?
  [[ $rc -eq 1 ]] || fail "$what: want exit 1, got $rc ($err)"
  [[ "$err" == *"$REASON"* ]] || fail "$what: want a reason with [$REASON], got [$err]"
}
REASON="after a closing quote" expect_refused "text after a closing quote" \
  add bad.example.com 300 TXT '"abc";comment'
REASON="unterminated" expect_refused "unterminated quote" add bad.example.com 300 TXT '"abc'
REASON="would start a comment" expect_refused "';' in CAA outside quotes" \
  add example.com 300 CAA 0 issue 'ca.example.net;'
expect_eq "nothing stored for the refusals" "NXDOMAIN" "$(rcode bad.example.com TXT)"

# batch: the same rules, in one atomic step.
cat > "$WORK/txt.batch" <<'BATCH'
ADD: b1.example.com 300 TXT v=DMARC1;p=none
ADD: b2.example.com 300 TXT "v=spf1 include:_spf.example.net ~all"
ADD: b3.example.com TXT "a;b" c\d
BATCH
adm batch "$WORK/txt.batch"
expect_eq "batch DMARC" '"v=DMARC1;p=none"' "$(q b1.example.com TXT)"
expect_eq "batch SPF" '"v=spf1 include:_spf.example.net ~all"' "$(q b2.example.com TXT)"
expect_eq "batch strings" '"a;b" "c\\d"' "$(q b3.example.com TXT)"
printf 'ADD: b4.example.com 300 TXT "open\n' > "$WORK/bad.batch"
REASON="bad.batch:1: " expect_refused "batch with an unterminated quote" batch "$WORK/bad.batch"
expect_eq "bad batch applied nothing" "NXDOMAIN" "$(rcode b4.example.com TXT)"

# A TTL above 2^31-1 is clamped, with a warning.
err=$(adm add big.example.com 4294967295 A 192.0.2.77 2>&1)
[[ "$err" == *"warning"*"clamped"* ]] || fail "TTL clamp warning: got [$err]"
expect_eq "clamped TTL" "big.example.com. 2147483647 IN A 192.0.2.77" "$(adm get big.example.com A)"

# Everything exported imports back unchanged.
adm zone export example.com > "$WORK/export.zone"
before=$(adm zone export example.com | grep -v SOA)
adm zone add example.com --file "$WORK/export.zone"
expect_eq "export imports back" "$before" "$(adm zone export example.com | grep -v SOA)"
echo "PASS"
