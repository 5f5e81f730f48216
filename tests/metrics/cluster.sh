#!/usr/bin/env bash
# Metrics of a live 3-node cluster: every scrape passes promtool; exactly N
# queries of known kinds move the counters by exactly N in their labels;
# health and readiness codes; 404 off the known paths; the shipped rules
# pass promtool and every metric the dashboard names is exported; /readyz
# stays 200 without a quorum and says so.
source "$(dirname "$0")/lib.sh"
cluster_init 3 21000
enable_metrics
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all

for i in 1 2 3; do
  wait_until 15 test "$(http_code "$i" /readyz)" = 200 || fail "n$i /readyz is not 200"
  [ "$(http_code "$i" /healthz)" = 200 ] || fail "n$i /healthz is not 200"
  for bad in /nope /metrics/extra /healthzz /; do
    [ "$(http_code "$i" "$bad")" = 404 ] || fail "n$i $bad is not 404"
  done
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
    "http://127.0.0.1:$(metrics_port "$i")/metrics")
  [ "$code" = 405 ] || fail "n$i POST /metrics gave $code, not 405"
done
log "health, readiness and 404 checked on all nodes"

# Every node's scrape passes promtool; the zone's serial is exported everywhere.
for i in 1 2 3; do
  wait_until 10 sh -c "curl -sf 'http://127.0.0.1:$(metrics_port "$i")/metrics' | grep -q '^raftdns_zone_serial{zone=\"example.com.\"}'" \
    || fail "n$i does not export the zone serial"
  scrape "$i" >"$WORK/scrape.$i" || fail "n$i scrape failed"
  promtool check metrics <"$WORK/scrape.$i" >"$WORK/promtool.$i" 2>&1 \
    || { cat "$WORK/promtool.$i" >&2; fail "promtool check metrics failed on n$i"; }
done
log "promtool check metrics passed on all 3 nodes"
leaders=$(cat "$WORK"/scrape.[123] | awk '$1 == "raftdns_raft_role{role=\"leader\"}" { s += $2 } END { print s + 0 }')
[ "$leaders" = 1 ] || fail "the scrapes show $leaders leaders"

# Exactly N queries of known kinds, on a follower (so no write traffic of
# the test's own mixes in), counted by protocol, qtype and rcode.
F=$(( L % 3 + 1 ))
port=$((BASE + F))
scrape "$F" >"$WORK/before"
queries() {  # queries COUNT dig-args...
  local n=$1; shift
  for _ in $(seq 1 "$n"); do
    dig @127.0.0.1 -p "$port" +tries=1 +time=5 "$@" >"$WORK/dig.out" || fail "dig $* failed"
    grep -q "status:" "$WORK/dig.out" || fail "dig $* got no answer"
  done
}
queries 17 www.example.com A
queries 11 nope.example.com AAAA
queries 5 +tcp example.com MX
queries 3 www.example.org A
queries 4 +tcp +ignore +bufsize=0 +noedns www.example.com TXT

declare -A want=(
  ['raftdns_dns_queries_total{protocol="udp",qtype="A",rcode="NOERROR"}']=17
  ['raftdns_dns_queries_total{protocol="udp",qtype="AAAA",rcode="NXDOMAIN"}']=11
  ['raftdns_dns_queries_total{protocol="tcp",qtype="MX",rcode="NOERROR"}']=5
  ['raftdns_dns_queries_total{protocol="udp",qtype="A",rcode="REFUSED"}']=3
  ['raftdns_dns_queries_total{protocol="tcp",qtype="TXT",rcode="NOERROR"}']=4
  ['raftdns_dns_tcp_connections_accepted_total']=9
  ['raftdns_dns_queries_total{protocol="udp",qtype="MX",rcode="NOERROR"}']=0
  ['raftdns_dns_truncated_responses_total{protocol="udp"}']=0
)
moved_as_wanted() {
  scrape "$F" >"$WORK/after" || return 1
  for key in "${!want[@]}"; do
    local a b
    a=$(metric_value "$WORK/before" "$key"); b=$(metric_value "$WORK/after" "$key")
    [ $((b - a)) = "${want[$key]}" ] || return 1
  done
}
if ! wait_until 10 moved_as_wanted; then
  for key in "${!want[@]}"; do
    echo "$key: moved by $(( $(metric_value "$WORK/after" "$key") - $(metric_value "$WORK/before" "$key") )), want ${want[$key]}" >&2
  done
  fail "counters did not move by exactly the queries sent"
fi
log "the query counters moved by exactly the queries sent"

# The write went through the leader's control socket.
ok=$(metric_value "$WORK/scrape.$L" 'raftdns_control_requests_total{command="zone_import_commit",result="ok"}')
[ "$ok" = 1 ] || fail "n$L counts $ok successful zone_import_commit requests, not 1"

# Shipped monitoring files: rules pass promtool, the dashboard parses and
# names only exported metrics.
promtool check rules "$MONITORING_DIR/raftdns-alerts.yml" >/dev/null || fail "promtool check rules failed"
jq -e . "$MONITORING_DIR/raftdns-dashboard.json" >/dev/null || fail "the dashboard JSON does not parse"
names=$(jq -r '.. | .expr? // empty' "$MONITORING_DIR/raftdns-dashboard.json" \
  | grep -oE '\b(raftdns|process)_[a-z_]+' | sort -u)
[ "$(echo "$names" | wc -l)" -ge 10 ] || fail "the dashboard names too few metrics: $names"
for i in 1 2 3; do scrape "$i" >"$WORK/scrape.$i" || fail "n$i scrape failed"; done
for name in $names; do
  grep -qE "^$name[{ ]" "$WORK"/scrape.[123] || fail "the dashboard names $name, which no node exports"
done
log "rules and dashboard checked ($(echo "$names" | wc -l) metric names)"

# Without a quorum the survivor stays ready and healthy, and says so.
S=$F
for i in 1 2 3; do [ "$i" = "$S" ] || kill_node "$i"; done
wait_until 20 sh -c "curl -s 'http://127.0.0.1:$(metrics_port "$S")/readyz' | grep -q 'no quorum'" \
  || fail "n$S /readyz does not report the lost quorum: $(http_body "$S" /readyz)"
[ "$(http_code "$S" /readyz)" = 200 ] || fail "n$S /readyz is not 200 without a quorum"
[ "$(http_code "$S" /healthz)" = 200 ] || fail "n$S /healthz is not 200 without a quorum"
scrape "$S" >"$WORK/alone"
[ "$(metric_value "$WORK/alone" raftdns_raft_quorum_reachable)" = 0 ] || fail "n$S claims a quorum"
[ "$(ask "$S" www.example.com)" = 192.0.2.10 ] || fail "n$S stopped answering without a quorum"
log "PASS"
