#!/usr/bin/env bash
# Big-zone benchmark: one zone of RECORDS A records imported into a fresh
# 3-node raftdnsd cluster with one `dnsadm zone add`, timed until every node
# answers its last record, beside NSD's and Knot's start-to-first-answer of
# the last record on the same file. During each import every raftdnsd node
# is polled every 20 ms (tests/bigzones/poll.py) for the longest gap in its
# answers, and the Raft term is read before and after (leader changes).
#
# Usage: bench/zones/run.sh
# Environment:
#   RAFTDNSD, DNSADM  the binaries (default: ./build/daemon/server/raftdnsd, ./build/tools/dnsadm/dnsadm)
#   RECORDS           records in the zone (default 1000000)
#   BIG=1             also run 10,000,000 records (about 1 GB of store per node)
#   RUNS              runs per size and server (default 3); medians are reported
#   BIG_RUNS          runs of the 10,000,000-record size (default: RUNS)
#   PORT_BASE         first port of the 100 the benchmark uses (default 25400)
#   RESULTS           where the markdown goes (default: stdout only; a path writes it there)
#   KEEP_TMP=1        keep the scratch directory
#
# Ports (loopback, from PORT_BASE, default 25400): raftdnsd DNS +1..+3, peers
# +51..+53; NSD +10; Knot +11.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
RAFTDNSD=${RAFTDNSD:-$repo/build/daemon/server/raftdnsd}
DNSADM=${DNSADM:-$repo/build/tools/dnsadm/dnsadm}
POLL=$repo/tests/bigzones/poll.py
runs=${RUNS:-3}
big_runs=${BIG_RUNS:-$runs}
port_base=${PORT_BASE:-25400}
sizes=${RECORDS:-1000000}
[ "${BIG:-0}" = 1 ] && sizes="$sizes 10000000"
results=${RESULTS:--}
nsd_port=$((port_base + 10))
knot_port=$((port_base + 11))
bench_name=zones
source "$here/lib.sh"
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

write_zone() {  # write_zone FILE COUNT
  awk -v n="$2" 'BEGIN {
    print "$ORIGIN big.bench."
    print "$TTL 3600"
    print "@ IN SOA ns1 hostmaster 1 3600 900 604800 300"
    print "@ IN NS ns1"
    print "ns1 IN A 192.0.2.1"
    print "www IN A 192.0.2.10"
    for (i = 0; i < n - 4; i++)
      printf "h%d IN A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
  }' >"$1"
}

raftdns_cluster() {  # starts 3 fresh nodes in $work/r
  local i j
  rm -rf "$work/r"; mkdir -p "$work/r"
  "$RAFTDNSD" --init-key "$work/r/cluster.key" >/dev/null
  for i in 1 2 3; do
    mkdir -p "$work/r/n$i"
    {
      printf '[node]\nid = "n%s"\ndata_dir = "%s"\n' "$i" "$work/r/n$i/data"
      printf '[dns]\nlisten = ["127.0.0.1:%s"]\nworkers = 1\n' $((port_base + i))
      printf '[control]\nsocket = "%s"\n' "$work/r/n$i/control.sock"
      printf '[cluster]\nlisten = "127.0.0.1:%s"\nkey_file = "%s"\n' $((port_base + 50 + i)) "$work/r/cluster.key"
      for j in 1 2 3; do
        [ "$j" = "$i" ] && continue
        printf '[[cluster.peer]]\nid = "n%s"\naddress = "127.0.0.1:%s"\n' "$j" $((port_base + 50 + j))
      done
    } >"$work/r/n$i/raftdns.toml"
    "$RAFTDNSD" --config "$work/r/n$i/raftdns.toml" >"$work/r/n$i/log" 2>&1 &
    pids[r$i]=$!
  done
  for i in 1 2 3; do wait_for 20 test -S "$work/r/n$i/control.sock" || fail "node n$i did not start"; done
}
adm() { "$DNSADM" --socket "$work/r/n$1/control.sock" "${@:2}"; }
# The terms of the three nodes, joined, from their logs ("raft: role ... at
# term N"). Not from `dnsadm status`: status computes the digest of the whole
# store, which at 10M records holds a node for seconds, long enough for an
# election that the import did not cause.
term_sum() {
  local i out=""
  for i in 1 2 3; do
    out+="$(grep -o 'raft: role [a-z-]* at term [0-9]*' "$work/r/n$i/log" | awk 'END { print $NF + 0 }')/"
  done
  echo "$out"
}
leader_of() {
  local i
  for i in 1 2 3; do
    [ "$(adm "$i" --timeout 2 status --json 2>/dev/null | jq -r .cluster.role)" = leader ] && { echo "$i"; return 0; }
  done
  return 1
}

declare -A secs=() changes=() gaps=()
for n in $sizes; do
  zone_file="$work/big.bench.zone"
  echo "bench/zones: writing a $n-record zone"
  write_zone "$zone_file" "$n"
  last="h$((n - 5)).big.bench"
  k=$((n - 5))
  last_addr="10.$((k / 65536 % 256)).$((k / 256 % 256)).$((k % 256))"
  size_runs=$runs
  [ "$n" -ge 10000000 ] && size_runs=$big_runs
  # Every wait is bounded; a 10M-record zone gets longer bounds than 1M.
  limit=$((600 + n / 10000))
  for run in $(seq 1 "$size_runs"); do
    # --- raftdnsd: a fresh cluster, one import
    raftdns_cluster
    wait_for 30 leader_of || fail "no leader"
    L=$(leader_of)
    # A small zone first, so the poller has an answer before the import.
    printf '$ORIGIN big.bench.\n@ 3600 IN SOA ns1 hostmaster 0 3600 900 604800 300\n@ 3600 IN NS ns1\nns1 3600 IN A 192.0.2.1\nwww 3600 IN A 192.0.2.10\n' >"$work/small.zone"
    wait_for 30 adm "$L" zone add big.bench --file "$work/small.zone" --wait all || fail "first import"
    terms0=$(term_sum)
    rm -f "$work/poll.stop"
    /usr/bin/python3 "$POLL" "$work/poll.stop" 3600 0.02 www.big.bench 192.0.2.10 \
      127.0.0.1:$((port_base + 1)) 127.0.0.1:$((port_base + 2)) 127.0.0.1:$((port_base + 3)) >"$work/poll.out" &
    poller=$!
    t0=$(now_ms)
    adm "$L" --timeout "$limit" zone add big.bench --file "$zone_file" >/dev/null 2>"$work/import.err" ||
      fail "raftdnsd import: $(cat "$work/import.err")"
    for i in 1 2 3; do wait_for "$limit" answers $((port_base + i)) "$last" "$last_addr" || fail "n$i never answered $last"; done
    t1=$(now_ms)
    touch "$work/poll.stop"; wait "$poller"
    terms1=$(term_sum)
    ch=$(awk -v a="$terms0" -v b="$terms1" 'BEGIN { split(a, x, "/"); split(b, y, "/"); m = 0
      for (i = 1; i <= 3; i++) if (y[i] - x[i] > m) m = y[i] - x[i]; print m }')
    gap=$(awk '{ split($3, g, "="); if (g[2] > m) m = g[2] } END { print m + 0 }' "$work/poll.out")
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
    secs[raftdnsd-$n]+="$s "; changes[raftdnsd-$n]+="$ch "; gaps[raftdnsd-$n]+="$gap "
    echo "run $run, $n records, raftdnsd: $s s to every node answering, term moved by $ch, longest gap $gap ms"
    stop_all

    # --- NSD: start to the first answer of the last record
    rm -rf "$work/nsd"
    write_nsd_conf "$nsd_port"
    t0=$(now_ms)
    nsd -d -c "$work/nsd/nsd.conf" >"$work/nsd/stdout" 2>&1 &
    pids[nsd]=$!
    wait_for "$limit" answers $nsd_port "$last" "$last_addr" || fail "NSD never answered $last"
    t1=$(now_ms)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
    secs[nsd-$n]+="$s "
    echo "run $run, $n records, NSD: $s s"
    stop_all

    # --- Knot
    rm -rf "$work/knot"
    write_knot_conf "$knot_port"
    t0=$(now_ms)
    knotd -c "$work/knot/knot.conf" >"$work/knot/log" 2>&1 &
    pids[knot]=$!
    wait_for "$limit" answers $knot_port "$last" "$last_addr" || fail "Knot never answered $last"
    t1=$(now_ms)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
    secs[knot-$n]+="$s "
    echo "run $run, $n records, Knot: $s s"
    stop_all
  done
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
{
  echo "| records | server | seconds to answer the last record (median of the runs) | leader changes (max) | longest answer gap, ms (max) | all runs (s) |"
  echo "|---|---|---|---|---|---|"
  for n in $sizes; do
    for s in raftdnsd nsd knot; do
      if [ "$s" = raftdnsd ]; then
        lc=$(tr ' ' '\n' <<<"${changes[$s-$n]}" | sort -n | tail -1)
        gp=$(tr ' ' '\n' <<<"${gaps[$s-$n]}" | sort -n | tail -1)
      else
        lc=-; gp=-
      fi
      echo "| $n | $s | $(median "${secs[$s-$n]}") | $lc | $gp | ${secs[$s-$n]% } |"
    done
  done
} >"$work/table"
cat "$work/table"
if [ "$results" != - ]; then
  {
    echo "# Importing a big zone"
    echo
    echo "Measured $(date -u +%Y-%m-%d) with \`bench/zones/run.sh\` (RUNS=$runs, BIG_RUNS=$big_runs), on loopback."
    echo "raftdnsd: a fresh 3-node cluster, one \`dnsadm zone add\` of the file sent to the"
    echo "leader, timed from dnsadm's start until every node answers the zone's last"
    echo "record (dnsadm's parse of the file included). NSD and Knot: from starting"
    echo "the server on the file until it answers the last record. Leader changes are"
    echo "the largest rise of any node's Raft term over the import; the gap is the"
    echo "longest time any node went without answering, polled every 20 ms."
    echo "The machine (2 cores) was shared with other builds during the run (load"
    echo "average $(cut -d' ' -f1 /proc/loadavg) at the end), so times vary from run to run."
    echo
    cat "$work/table"
  } >"$results"
fi
