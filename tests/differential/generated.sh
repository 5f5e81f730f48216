#!/usr/bin/env bash
# Generated differential test: random zones and queries (generate.py) served
# by NSD, Knot and raftdnsd (with [dns] minimal_responses = false), every
# answer compared (compare.py):
#   - core (rcode, flags, question, answer) against NSD and Knot's majority:
#     where they agree raftdnsd must agree, except for the documented cases
#     where raftdnsd follows the RFC instead (see compare.py);
#   - the whole answer (authority and additional too) against NSD.
# Usage: generated.sh RAFTDNSD DNSADM [SEEDS] [QUERIES-PER-SEED]
# Defaults: 2 seeds of 150 queries; RAFTDNS_LONG=1 runs 20 seeds of 300.
# Ports 23100-23102. KEEP_TMP=1 keeps the scratch directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
raftdnsd_bin=$1
dnsadm_bin=$2
if [[ ${RAFTDNS_LONG:-0} == 1 ]]; then
  seeds=${3:-20} per_seed=${4:-300}
else
  seeds=${3:-2} per_seed=${4:-150}
fi
nsd_port=23100 knot_port=23101 subject_port=23102

scratch=$(mktemp -d /tmp/raftdns-generated.XXXXXX)
pids=()
stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_all
  if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "scratch kept in $scratch" >&2; else rm -rf "$scratch"; fi
}
trap cleanup EXIT
fail() {
  echo "generated: $*" >&2
  exit 1
}

# Waits until PORT answers the SOA of every zone of the run.
wait_for_zones() {
  local port=$1 zone tries
  while read -r zone; do
    for ((tries = 0; ; tries++)); do
      dig @127.0.0.1 -p "$port" +norec +time=1 +tries=1 +short "$zone" SOA 2>/dev/null |
        grep -q . && break
      ((tries < 100)) || return 1
      sleep 0.2
    done
  done <"$run/zones.list"
}

start_nsd() {
  local dir=$run/nsd zone
  mkdir -p "$dir"
  {
    printf 'server:\n  ip-address: 127.0.0.1@%s\n  server-count: 1\n  username: ""\n' "$nsd_port"
    printf '  chroot: ""\n  database: ""\n  pidfile: "%s/nsd.pid"\n' "$dir"
    printf '  xfrdfile: "%s/xfrd.state"\n  zonelistfile: "%s/zone.list"\n' "$dir" "$dir"
    printf '  logfile: "%s/nsd.log"\n  rrl-ratelimit: 0\n' "$dir"
    printf 'remote-control:\n  control-enable: no\n'
    while read -r zone; do
      printf 'zone:\n  name: %s\n  zonefile: "%s"\n' "$zone" "$run/zones/$zone.zone"
    done <"$run/zones.list"
  } >"$dir/nsd.conf"
  nsd -d -c "$dir/nsd.conf" >"$dir/stdout.log" 2>&1 &
  pids+=($!)
  wait_for_zones "$nsd_port" || { cat "$dir"/*.log >&2; fail "NSD did not load seed $seed"; }
}

start_knot() {
  local dir=$run/knot zone
  mkdir -p "$dir/db"
  {
    printf 'server:\n  listen: 127.0.0.1@%s\n  rundir: "%s"\n' "$knot_port" "$dir"
    printf '  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\n'
    printf 'database:\n  storage: "%s/db"\n' "$dir"
    printf 'log:\n  - target: "%s/knot.log"\n    any: info\nzone:\n' "$dir"
    while read -r zone; do
      printf '  - domain: %s\n    file: "%s"\n' "$zone" "$run/zones/$zone.zone"
    done <"$run/zones.list"
  } >"$dir/knot.conf"
  knotd -c "$dir/knot.conf" >"$dir/stdout.log" 2>&1 &
  pids+=($!)
  wait_for_zones "$knot_port" || { cat "$dir"/*.log >&2; fail "Knot did not load seed $seed"; }
}

start_raftdnsd() {
  local dir=$run/raftdnsd zone tries
  mkdir -p "$dir/data"
  printf '[node]\nid = "n1"\ndata_dir = "%s/data"\n[dns]\nlisten = ["127.0.0.1:%s"]\n' \
    "$dir" "$subject_port" >"$dir/node.toml"
  printf 'workers = 1\nminimal_responses = false\n[control]\nsocket = "%s/control.sock"\n' \
    "$dir" >>"$dir/node.toml"
  "$raftdnsd_bin" --config "$dir/node.toml" >"$dir/raftdnsd.log" 2>&1 &
  pids+=($!)
  for ((tries = 0; ; tries++)); do
    [[ -S $dir/control.sock ]] &&
      "$dnsadm_bin" --socket "$dir/control.sock" status >/dev/null 2>&1 && break
    ((tries < 100)) || { cat "$dir/raftdnsd.log" >&2; fail "raftdnsd did not start"; }
    sleep 0.2
  done
  while read -r zone; do
    "$dnsadm_bin" --socket "$dir/control.sock" zone add "$zone" --file "$run/zones/$zone.zone" \
      2>>"$dir/dnsadm.log" || fail "raftdnsd refused zone $zone of seed $seed, which NSD and Knot load"
  done <"$run/zones.list"
  wait_for_zones "$subject_port" || fail "raftdnsd does not answer for seed $seed"
}

run_queries() {
  local port=$1 out=$2 transport
  : >"$out.raw"
  for transport in notcp tcp; do
    dig @127.0.0.1 -p "$port" +"$transport" +norec +noadflag +nocookie +ignore +tries=1 \
      +time=3 +noednsnegotiation +noall +comments +question +answer +authority +additional +qr \
      -f "$run/queries.${transport/notcp/udp}" >>"$out.raw" 2>&1 || true
  done
  awk -v queries="$run/queries" -f "$here/normalize.awk" "$out.raw" >"$out"
  [[ $(wc -l <"$out") -eq $(wc -l <"$run/queries") ]] || fail "port $port: answers missing ($out.raw)"
}

for ((seed = 1; seed <= seeds; seed++)); do
  run=$scratch/seed$seed
  mkdir -p "$run"
  /usr/bin/python3 "$here/generate.py" "$seed" 4 "$per_seed" "$run"
  cat "$run/queries.udp" "$run/queries.tcp" >"$run/queries"
  start_nsd
  start_knot
  start_raftdnsd
  run_queries "$nsd_port" "$run/nsd.answers"
  run_queries "$knot_port" "$run/knot.answers"
  run_queries "$subject_port" "$run/raftdnsd.answers"
  stop_all
done

/usr/bin/python3 "$here/compare.py" "$scratch"/seed*/ || { KEEP_TMP=1; fail "raftdnsd disagrees (see above)"; }
