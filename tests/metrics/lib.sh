# Helpers for the metrics tests, on top of the cluster tests' lib.sh.
# Node i serves metrics on BASE+100+i.
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"

MONITORING_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../packaging/monitoring" && pwd)"

metrics_port() { echo $((BASE + 100 + $1)); }

# Appends a [metrics] table to every node's config (after cluster_init).
enable_metrics() {
  for i in $(seq 1 "$N"); do
    printf '[metrics]\nlisten = "127.0.0.1:%s"\n' "$(metrics_port "$i")" >>"$WORK/n$i/raftdns.toml"
  done
}

# http_code i PATH -> the status code (000 when nothing answers)
http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$(metrics_port "$1")$2" || true
}
http_body() { curl -s --max-time 5 "http://127.0.0.1:$(metrics_port "$1")$2"; }
scrape() { curl -sf --max-time 10 "http://127.0.0.1:$(metrics_port "$1")/metrics"; }

# metric_value FILE 'name{labels}' -> the value, or 0 when the series is absent
# (the exporter writes only label sets that occurred). Labels must be given
# in the order the exporter writes them.
metric_value() {
  awk -v key="$2" '$1 == key { print $2; found = 1; exit } END { if (!found) print 0 }' "$1"
}
