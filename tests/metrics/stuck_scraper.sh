#!/usr/bin/env bash
# A stuck or greedy scraper does not slow DNS answers: with many metrics
# connections that never send (or never read) and a client scraping in a
# tight loop, a run of queries is answered in full and about as fast as
# without them, and a well-behaved scraper is still served.
source "$(dirname "$0")/lib.sh"
cluster_init 1 21400
enable_metrics
start_all
wait_leader >/dev/null
write_retry 1 zone add example.com --file "$(demo_zone)"
MPORT=$(metrics_port 1)

for i in $(seq 1 400); do echo "www.example.com A"; done >"$WORK/batch"
# batch_seconds -> seconds for 400 sequential UDP queries; fails unless all
# 400 are answered NOERROR.
batch_seconds() {
  local t0 t1 answered
  t0=$(date +%s.%N)
  dig @127.0.0.1 -p $((BASE + 1)) +tries=1 +time=2 -f "$WORK/batch" >"$WORK/batch.out" 2>&1 || true
  t1=$(date +%s.%N)
  answered=$(grep -c "status: NOERROR" "$WORK/batch.out" || true)
  [ "$answered" = 400 ] || fail "only $answered of 400 queries answered"
  echo "$t0 $t1" | awk '{ printf "%.3f", $2 - $1 }'
}
batch_seconds >/dev/null  # warm up
base=$(batch_seconds)
log "400 queries without scrapers: ${base} s"

# 60 connections that never send a byte, and 20 that ask for /metrics and
# never read the answer.
for i in $(seq 1 60); do
  eval "exec {fd}<>/dev/tcp/127.0.0.1/$MPORT"
done
for i in $(seq 1 20); do
  eval "exec {fd}<>/dev/tcp/127.0.0.1/$MPORT"
  printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' >&"$fd"
done
# A greedy scraper, bounded in count and time.
( for i in $(seq 1 2000); do
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$MPORT/metrics" || true
  done ) &
GREEDY=$!
stop_greedy() { kill "$GREEDY" 2>/dev/null || true; wait "$GREEDY" 2>/dev/null || true; cleanup; }
trap stop_greedy EXIT

loaded=$(batch_seconds)
log "400 queries with 80 stuck connections and a scraper in a loop: ${loaded} s"
# Generous for a loaded or sanitizer build: the stuck connections must not
# add anything like a timeout per query.
awk -v b="$base" -v l="$loaded" 'BEGIN { exit !(l <= 3 * b + 2) }' \
  || fail "answers slowed from ${base} s to ${loaded} s"
[ "$(http_code 1 /healthz)" = 200 ] || fail "/healthz is not 200 with stuck scrapers"
scrape 1 >"$WORK/scrape" || fail "a well-behaved scrape failed with stuck scrapers"
promtool check metrics <"$WORK/scrape" >/dev/null 2>&1 || fail "promtool rejects the scrape"
n=$(metric_value "$WORK/scrape" 'raftdns_dns_queries_total{protocol="udp",qtype="A",rcode="NOERROR"}')
[ "$n" -ge 1200 ] || fail "the scrape counts $n queries, fewer than were answered"
log "PASS"
