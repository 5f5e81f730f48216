# Shared by bench/zones/run.sh and restart.sh: a scratch directory, the
# background processes to stop on exit, bounded waits. The sourcing script
# sets `bench_name` first (messages and the scratch directory's name).
work=$(mktemp -d "/tmp/raftdns-bench-${bench_name:?}.XXXXXX")
declare -A pids=()

fail() { echo "bench/zones/$bench_name: $*" >&2; exit 1; }
stop_all() {
  local k
  for k in "${!pids[@]}"; do
    kill "${pids[$k]}" 2>/dev/null || true
    wait "${pids[$k]}" 2>/dev/null || true
    unset "pids[$k]"
  done
}
cleanup() { stop_all; [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT
wait_for() {  # wait_for SECONDS command...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.02; done
}
answers() { [ "$(dig @127.0.0.1 -p "$1" "$2" A +short +time=1 +tries=1)" = "$3" ]; }

# write_nsd_conf PORT / write_knot_conf PORT: the peers serving
# $work/big.bench.zone, with their state under $work/nsd and $work/knot.
write_nsd_conf() {
  mkdir -p "$work/nsd"
  cat >"$work/nsd/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$1
  server-count: 1
  username: ""
  database: ""
  zonesdir: "$work"
  pidfile: "$work/nsd/nsd.pid"
  xfrdfile: "$work/nsd/xfrd.state"
  zonelistfile: "$work/nsd/zone.list"
  logfile: "$work/nsd/log"
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: "big.bench"
  zonefile: "big.bench.zone"
CONF
}
write_knot_conf() {
  mkdir -p "$work/knot"
  cat >"$work/knot/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$1
    rundir: "$work/knot"
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$work/knot"
zone:
  - domain: big.bench.
    storage: "$work"
    file: big.bench.zone
    zonefile-sync: -1
    journal-content: none
CONF
}
