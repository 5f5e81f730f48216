#!/usr/bin/env bash
# TSIG and transfer policy on one node, checked with BIND's dig and Knot's
# kdig as the clients:
#  - a signed query gets a signed answer that dig verifies;
#  - AXFR: allowed with the right key, REFUSED without it or from a client
#    outside every rule; the refusal is logged once per client and minute;
#  - a wrong secret gets NOTAUTH/BADSIG, an unknown key NOTAUTH/BADKEY, a
#    skewed clock NOTAUTH/BADTIME;
#  - IXFR over UDP for an older serial answers with the current SOA.
# Ports 22000-22099.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cluster/lib.sh"

SECRET=$("$RAFTDNSD" --tsig-keygen xfr.example. | sed -n 's/.*secret "\(.*\)";/\1/p')
[ -n "$SECRET" ] || fail "--tsig-keygen printed no secret"
OTHER=$("$RAFTDNSD" --tsig-keygen xfr.example. | sed -n 's/.*secret "\(.*\)";/\1/p')
cluster_init 1 22000 "$(cat <<TOML
[[tsig]]
name = "xfr.example."
algorithm = "hmac-sha256"
secret = "$SECRET"
[[tsig]]
name = "big.example."
algorithm = "hmac-sha512"
secret = "$("$RAFTDNSD" --tsig-keygen big.example. --algorithm hmac-sha512 | sed -n 's/.*secret "\(.*\)";/\1/p')"
[[transfer.allow]]
key = "xfr.example."
zones = ["example.com."]
[[transfer.allow]]
from = "127.0.0.2/32"
[metrics]
listen = "127.0.0.1:22090"
TOML
)"
# The TOML above sits inside [cluster]'s place in the file; lib.sh appends it
# after [cluster], where [[tsig]] and [transfer] start their own tables.
start_all
wait_leader >/dev/null
write_retry 1 zone add example.com --file "$(demo_zone)"
P=22001
D=(dig @127.0.0.1 -p $P +time=2 +tries=1)

log "a signed query gets an answer dig verifies"
out=$("${D[@]}" -y "hmac-sha256:xfr.example.:$SECRET" www.example.com A)
grep -q "status: NOERROR" <<<"$out" || fail "signed query: $out"
grep -q "192.0.2.10" <<<"$out" || fail "signed query lost its answer: $out"
grep -qi "tsig.*NOERROR" <<<"$out" || fail "answer not signed: $out"
grep -q "could not be verified\|failed" <<<"$out" && fail "dig could not verify the answer: $out"

log "AXFR with the key: every record, signed, verified by dig"
out=$("${D[@]}" -y "hmac-sha256:xfr.example.:$SECRET" example.com AXFR)
[ "$(grep -c 'IN[[:space:]]SOA' <<<"$out")" = 2 ] || fail "AXFR is not framed by two SOAs: $out"
grep -q "^www.example.com.*192.0.2.10" <<<"$out" || fail "AXFR misses www: $out"
grep -q "tsig verify failure\|Transfer failed" <<<"$out" && fail "dig rejected the transfer: $out"
kdig @127.0.0.1 -p $P -y "hmac-sha256:xfr.example.:$SECRET" example.com AXFR >"$WORK/kdig.out" 2>&1 ||
  fail "kdig AXFR failed: $(cat "$WORK/kdig.out")"
grep -q "ANY[[:space:]]*TSIG.*NOERROR" "$WORK/kdig.out" || fail "kdig saw no signature: $(cat "$WORK/kdig.out")"
grep -q "^;; ERROR\|^;; WARNING" "$WORK/kdig.out" && fail "kdig: $(cat "$WORK/kdig.out")"

log "AXFR without a key from 127.0.0.1: REFUSED and logged once"
for _ in 1 2 3; do
  out=$("${D[@]}" example.com AXFR)
  grep -q "Transfer failed" <<<"$out" || fail "unsigned AXFR was not refused: $out"
done
wait_until 5 grep -q "refused AXFR of example.com. from 127.0.0.1" "$WORK/n1/log" || fail "refusal not logged"
[ "$(grep -c 'refused AXFR of example.com. from 127.0.0.1' "$WORK/n1/log")" = 1 ] ||
  fail "refusal logged more than once a minute: $(grep refused "$WORK/n1/log")"

log "from 127.0.0.2 the address rule allows an unsigned AXFR"
out=$(dig @127.0.0.1 -b 127.0.0.2 -p $P +time=2 +tries=1 example.com AXFR)
[ "$(grep -c 'IN[[:space:]]SOA' <<<"$out")" = 2 ] || fail "AXFR from 127.0.0.2: $out"

log "a wrong secret: NOTAUTH with BADSIG"
out=$("${D[@]}" -y "hmac-sha256:xfr.example.:$OTHER" www.example.com A 2>&1 || true)
grep -q "status: NOTAUTH" <<<"$out" || fail "wrong secret: $out"
grep -q "BADSIG" <<<"$out" || fail "wrong secret without BADSIG: $out"

log "an unknown key: NOTAUTH with BADKEY"
out=$("${D[@]}" -y "hmac-sha256:nobody.example.:$SECRET" www.example.com A 2>&1 || true)
grep -q "status: NOTAUTH" <<<"$out" || fail "unknown key: $out"
grep -q "BADKEY" <<<"$out" || fail "unknown key without BADKEY: $out"

log "a clock 10 minutes off: NOTAUTH with BADTIME (faketime moves only the client)"
# (dig's own clock calls clash with libfaketime; kdig's do not.)
out=$(FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "+600s" kdig @127.0.0.1 -p $P +time=2 +retry=0 \
  -y "hmac-sha256:xfr.example.:$SECRET" www.example.com A 2>&1 || true)
# kdig prints NOTAUTH with the TSIG error BADTIME as "status: BADTIME".
grep -q "status: BADTIME" <<<"$out" || fail "skewed clock: $out"
grep -q "TSIG.* BADTIME 6 " <<<"$out" || fail "BADTIME without the server's time: $out"

log "the SHA-512 key is known but not allowed to transfer: REFUSED"
B=$(sed -n 's/^secret = "\(.*\)"$/\1/p' "$WORK/n1/raftdns.toml" | sed -n 2p)
out=$("${D[@]}" -y "hmac-sha512:big.example.:$B" example.com AXFR +noall +comments 2>&1 || true)
grep -q "Transfer failed\|REFUSED" <<<"$out" || fail "AXFR with a key no rule names: $out"

log "IXFR over UDP for an old serial: the current SOA alone"
out=$(dig @127.0.0.1 -p $P +notcp +time=2 +tries=1 -y "hmac-sha256:xfr.example.:$SECRET" example.com IXFR=0)
grep -q "UDP" <<<"$out" || fail "UDP IXFR did not go over UDP: $out"
[ "$(grep -c 'IN[[:space:]]SOA' <<<"$out")" = 1 ] || fail "UDP IXFR is not one SOA: $out"

log "a zone not served here: NOTAUTH"
out=$("${D[@]}" -y "hmac-sha256:xfr.example.:$SECRET" nothere.example AXFR +noall +comments 2>&1 || true)
grep -q "Transfer failed\|NOTAUTH" <<<"$out" || fail "AXFR of an unknown zone: $out"

log "the metrics count the transfers started and refused"
scrape=$(curl -sf http://127.0.0.1:22090/metrics) || fail "no metrics scrape"
started=$(awk '/^raftdns_dns_transfers_total\{result="started"\}/ { print $2 }' <<<"$scrape")
refused=$(awk '/^raftdns_dns_transfers_total\{result="refused"\}/ { print $2 }' <<<"$scrape")
# Two AXFRs were served (dig and kdig with the key); at least the three
# unsigned AXFRs above were refused.
[ "${started:-0}" -ge 2 ] || fail "transfers started: '${started:-}' (want at least 2)"
[ "${refused:-0}" -ge 3 ] || fail "transfers refused: '${refused:-}' (want at least 3)"
log "PASS"
