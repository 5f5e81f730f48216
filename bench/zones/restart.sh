#!/usr/bin/env bash
# Restart of a big zone: time from exec to the first answer, and memory once
# serving, for raftdnsd (a 1-node cluster holding the zone in its store,
# stopped with SIGTERM and started again), NSD and Knot (each started on the
# zone file).
#
# The time runs from just before the server's exec until it answers a query
# for the zone's last record correctly; bench/zones/first_answer.py asks every
# 2 ms from before the exec on. Memory is read once the server has answered a
# query for every 1000th name of the zone (dig -f, one after the other):
# VmRSS and Pss (/proc/PID/smaps_rollup) summed over every process of the
# server (NSD forks a server child and xfrd, which share pages with their
# parent: Pss counts a shared page once in all, RSS once per process).
# raftdnsd maps its LMDB store, so its RSS includes the store's pages it
# touched, which are page cache shared with no other process.
#
# The runs are interleaved (run 1 of every server, then run 2...); the files
# and the store are in the page cache for every run (warm restarts).
#
# Usage: bench/zones/restart.sh
# Environment:
#   RAFTDNSD, DNSADM  the binaries (default: ./build/daemon/server/raftdnsd, ./build/tools/dnsadm/dnsadm)
#   RECORDS           records in the zone (default 10000000)
#   RUNS              restarts per server (default 3); medians are reported
#   SERVERS           which servers (default "raftdnsd nsd knot")
#   PORT_BASE         first of the ports used (default 25420): raftdnsd +1, NSD +2, Knot +3
#   RESULTS           where the markdown table goes (default: stdout only)
#   KEEP_TMP=1        keep the scratch directory
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
RAFTDNSD=${RAFTDNSD:-$repo/build/daemon/server/raftdnsd}
DNSADM=${DNSADM:-$repo/build/tools/dnsadm/dnsadm}
FIRST=$here/first_answer.py
n=${RECORDS:-10000000}
runs=${RUNS:-3}
read -r -a servers <<<"${SERVERS:-raftdnsd nsd knot}"
port_base=${PORT_BASE:-25420}
results=${RESULTS:--}
declare -A port=([raftdnsd]=$((port_base + 1)) [nsd]=$((port_base + 2)) [knot]=$((port_base + 3)))
# Every wait is bounded, by more for bigger zones.
limit=$((300 + n / 10000))
bench_name=restart
source "$here/lib.sh"
for tool in dig nsd knotd jq /usr/bin/python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done

# The zone of bench/zones/run.sh: SOA, NS, ns1, www and n-4 hosts h<i>.
awk -v n="$n" 'BEGIN {
  print "$ORIGIN big.bench."
  print "$TTL 3600"
  print "@ IN SOA ns1 hostmaster 1 3600 900 604800 300"
  print "@ IN NS ns1"
  print "ns1 IN A 192.0.2.1"
  print "www IN A 192.0.2.10"
  for (i = 0; i < n - 4; i++)
    printf "h%d IN A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
}' >"$work/big.bench.zone"
k=$((n - 5))
last="h$k.big.bench"
last_addr="10.$((k / 65536 % 256)).$((k / 256 % 256)).$((k % 256))"
# Every 1000th host, for the memory reading.
awk -v n="$n" 'BEGIN { for (i = 0; i < n - 4; i += 1000) printf "h%d.big.bench A\n", i }' >"$work/sample"
sample_count=$(wc -l <"$work/sample")

# --- The servers: each start_* execs the server in the background -----------------
mkdir -p "$work/raftdnsd"
cat >"$work/raftdnsd/raftdns.toml" <<EOF
[node]
id = "n1"
data_dir = "$work/raftdnsd/data"
[dns]
listen = ["127.0.0.1:${port[raftdnsd]}"]
workers = 1
[control]
socket = "$work/raftdnsd/control.sock"
EOF
start_raftdnsd() {
  "$RAFTDNSD" --config "$work/raftdnsd/raftdns.toml" >>"$work/raftdnsd/log" 2>&1 &
  pids[raftdnsd]=$!
}
write_nsd_conf "${port[nsd]}"
start_nsd() {
  rm -f "$work/nsd/xfrd.state" "$work/nsd/zone.list" "$work/nsd/nsd.pid"
  nsd -d -c "$work/nsd/nsd.conf" >>"$work/nsd/stdout" 2>&1 &
  pids[nsd]=$!
}
write_knot_conf "${port[knot]}"
start_knot() {
  knotd -c "$work/knot/knot.conf" >>"$work/knot/log" 2>&1 &
  pids[knot]=$!
}

# Every process of a server: NSD's children too.
server_pids() {
  case $1 in
    nsd) pgrep -f -- "$work/nsd/nsd.conf" ;;
    *) echo "${pids[$1]}" ;;
  esac
}
memory_mb() {  # memory_mb SERVER: "RSS PSS" in MB, summed over its processes
  local p rss=0 pss=0 r q
  for p in $(server_pids "$1"); do
    r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")
    q=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup")
    rss=$((rss + r)); pss=$((pss + q))
  done
  echo "$((rss / 1024)) $((pss / 1024))"
}

# --- raftdnsd's store: one import into the 1-node cluster -------------------------
if [[ " ${servers[*]} " == *" raftdnsd "* ]]; then
  echo "bench/zones/restart: importing $n records into raftdnsd" >&2
  start_raftdnsd
  wait_for 30 "$DNSADM" --socket "$work/raftdnsd/control.sock" status || fail "raftdnsd did not start"
  t0=$SECONDS
  "$DNSADM" --socket "$work/raftdnsd/control.sock" --timeout "$limit" zone add big.bench \
    --file "$work/big.bench.zone" >/dev/null 2>"$work/import.err" || fail "import: $(cat "$work/import.err")"
  wait_for "$limit" answers "${port[raftdnsd]}" "$last" "$last_addr" || fail "raftdnsd never answered $last"
  echo "bench/zones/restart: imported in $((SECONDS - t0)) s; store $(du -sh "$work/raftdnsd/data" | cut -f1)" >&2
  stop_all
fi

declare -A secs=() rss=() pss=()
for run in $(seq 1 "$runs"); do
  for s in "${servers[@]}"; do
    rm -f "$work/ready"
    /usr/bin/python3 "$FIRST" "$work/ready" "$limit" 0.002 "$last" "$last_addr" \
      "127.0.0.1:${port[$s]}" >"$work/first" &
    poller=$!
    wait_for 10 test -e "$work/ready" || fail "the poller did not start"
    t0=$EPOCHREALTIME
    "start_$s"
    wait "$poller" || fail "$s never answered $last (run $run)"
    t=$(awk -v a="$t0" '{ printf "%.3f", $1 - a }' "$work/first")
    # Memory once serving: a query for every 1000th name, each answered.
    got=$(dig @127.0.0.1 -p "${port[$s]}" +short +time=2 +tries=2 -f "$work/sample" | grep -c '^10\.' || true)
    [ "$got" = "$sample_count" ] || fail "$s answered $got of the $sample_count sampled names"
    read -r r q < <(memory_mb "$s")
    secs[$s]+="$t "; rss[$s]+="$r "; pss[$s]+="$q "
    echo "run $run, $n records, $s: first answer after $t s; RSS $r MB, PSS $q MB" >&2
    stop_all
  done
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
{
  echo "| records | server | exec to first answer, s (median of $runs) | RSS, MB (median) | PSS, MB (median) | all runs: s / RSS / PSS |"
  echo "|---|---|---:|---:|---:|---|"
  for s in "${servers[@]}"; do
    echo "| $n | $s | $(median "${secs[$s]}") | $(median "${rss[$s]}") | $(median "${pss[$s]}") | ${secs[$s]% } / ${rss[$s]% } / ${pss[$s]% } |"
  done
} >"$work/table"
cat "$work/table"
[ "$results" = - ] || cp "$work/table" "$results"
