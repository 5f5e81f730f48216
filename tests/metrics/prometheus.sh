#!/usr/bin/env bash
# A real Prometheus server scrapes the 3 nodes on loopback: PromQL counts
# exactly one leader; after the leader is killed it counts one again (a
# different node) within the failover time.
source "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null || fail "prometheus is not installed (scripts/deps.sh)"
cluster_init 3 21200
enable_metrics
PROM_PORT=$((BASE + 190))
PROM_PID=""
stop_prometheus() {
  if [ -n "$PROM_PID" ]; then
    kill -9 "$PROM_PID" 2>/dev/null || true
    wait "$PROM_PID" 2>/dev/null || true
  fi
  cleanup
}
trap stop_prometheus EXIT

mkdir -p "$WORK/prom"
cat >"$WORK/prom/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $MONITORING_DIR/raftdns-alerts.yml
scrape_configs:
  - job_name: raftdns
    static_configs:
      - targets: ["127.0.0.1:$(metrics_port 1)", "127.0.0.1:$(metrics_port 2)", "127.0.0.1:$(metrics_port 3)"]
YAML
prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prom/log" 2>&1 &
PROM_PID=$!

# promql EXPR -> the first result's value, or "none" when the vector is empty
promql() {
  curl -sf --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" \
    | jq -r 'if .data.result | length == 0 then "none" else .data.result[0].value[1] end'
}
leaders_are() { [ "$(promql 'count(raftdns_raft_role{role="leader"} == 1)')" = "$1" ]; }
leader_instance() {
  curl -sf --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" \
    --data-urlencode 'query=raftdns_raft_role{role="leader"} == 1' | jq -r '.data.result[0].metric.instance'
}

start_all
L=$(wait_leader)
wait_until 60 sh -c "curl -sf 'http://127.0.0.1:$PROM_PORT/-/ready' >/dev/null" \
  || { cat "$WORK/prom/log" >&2; fail "prometheus did not become ready"; }
wait_until 30 leaders_are 1 || fail "PromQL does not count 1 leader: $(promql 'count(raftdns_raft_role{role="leader"} == 1)')"
# Each target is scraped on its own schedule: wait for the last one's first scrape.
targets_up_are() { [ "$(promql 'count(up{job="raftdns"} == 1)')" = "$1" ]; }
wait_until 30 targets_up_are 3 ||
  fail "prometheus does not see 3 targets up: $(promql 'count(up{job="raftdns"} == 1)')"
[ "$(leader_instance)" = "127.0.0.1:$(metrics_port "$L")" ] \
  || fail "PromQL's leader $(leader_instance) is not n$L"
log "prometheus counts one leader: n$L"

log "killing leader n$L"
kill_node "$L"
t0=$SECONDS
# Failover: an election timeout or two, plus a scrape interval; generous for
# a loaded machine, as the cluster tests are.
# One query, so the count and the instance come from the same evaluation.
one_new_leader() {
  local r
  r=$(curl -sf --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" \
    --data-urlencode 'query=raftdns_raft_role{role="leader"} == 1') || return 1
  [ "$(echo "$r" | jq '.data.result | length')" = 1 ] &&
    [ "$(echo "$r" | jq -r '.data.result[0].metric.instance')" != "127.0.0.1:$(metrics_port "$L")" ]
}
wait_until 20 one_new_leader \
  || fail "PromQL does not count 1 new leader after the kill: $(promql 'count(raftdns_raft_role{role="leader"} == 1)') ($(leader_instance))"
leaders_are 1 || fail "PromQL count of leaders is not 1 after the failover"
log "prometheus counts one leader again, $(leader_instance), $((SECONDS - t0)) s after the kill"
[ "$(promql 'count(up{job="raftdns"} == 0)')" = 1 ] || fail "prometheus does not see the killed node down"
log "PASS"
