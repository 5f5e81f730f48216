#!/usr/bin/env bash
# Zone transfer benchmark: raftdnsd, NSD and Knot each serve the same
# 1,000,000-record zone; `kdig AXFR` pulls it from each, output to /dev/null.
#
# Usage: bench/xfr/run.sh
# Environment:
#   RAFTDNSD, DNSADM  the binaries (default: ./build/daemon/server/raftdnsd, ./build/tools/dnsadm/dnsadm)
#   RECORDS           records in the zone (default 1000000)
#   RUNS              measured transfers per server (default 5); medians are reported
#   RESULTS           where the markdown table goes (default bench/xfr/RESULTS.md; "-" for stdout)
#   KEEP_TMP=1        keep the scratch directory
#
# Ports (loopback): raftdnsd 22501, NSD 22502, Knot 22503.
# Loading the zone into raftdnsd: one `dnsadm zone add` of a million records
# would exceed the control socket's 64 MiB frame, so the bench imports the
# first 200,000 records as the zone and adds the rest with `dnsadm batch` in
# 200,000-record requests: the result is one zone of RECORDS records, as the
# other servers load it from the file.
# Runs are interleaved (run 1 of every server, then run 2, ...). For each
# transfer: wall seconds from kdig's start to its end, the bytes kdig reports
# received, and MB/s (10^6 bytes). raftdnsd's and Knot's CPU seconds per
# transfer (utime+stime of their processes, from /proc) are shown too; NSD's
# are not, as its readings here were zero (the work is not attributed to the
# processes the bench can see).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
RAFTDNSD=${RAFTDNSD:-$repo/build/daemon/server/raftdnsd}
DNSADM=${DNSADM:-$repo/build/tools/dnsadm/dnsadm}
records=${RECORDS:-1000000}
runs=${RUNS:-5}
results=${RESULTS:-$here/RESULTS.md}
zone=xfr.bench
declare -A port=([raftdnsd]=22501 [nsd]=22502 [knot]=22503)
declare -A pids=()
clk_tck=$(getconf CLK_TCK)
work=$(mktemp -d /tmp/raftdns-bench-xfr.XXXXXX)

fail() { echo "bench/xfr: $*" >&2; exit 1; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
wait_for() {  # wait_for SECONDS command...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.2; done
}

echo "bench/xfr: writing a $records-record zone"
{
  echo "\$ORIGIN $zone."
  echo '$TTL 3600'
  echo "@ IN SOA ns1 hostmaster 1 3600 900 604800 300"
  echo "@ IN NS ns1"
  echo "ns1 IN A 192.0.2.1"
  awk -v n="$records" 'BEGIN { for (i = 0; i < n - 3; i++)
    printf "h%d IN A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256 }'
} >"$work/$zone.zone"

# --- raftdnsd
mkdir -p "$work/raftdnsd"
cat >"$work/raftdnsd/raftdns.toml" <<CONF
[node]
id = "bench"
data_dir = "$work/raftdnsd/data"
[dns]
listen = ["127.0.0.1:${port[raftdnsd]}"]
workers = 1
[control]
socket = "$work/raftdnsd/control.sock"
[[transfer.allow]]
from = "127.0.0.1"
CONF
"$RAFTDNSD" --config "$work/raftdnsd/raftdns.toml" >"$work/raftdnsd/log" 2>&1 &
pids[raftdnsd]=$!
wait_for 20 test -S "$work/raftdnsd/control.sock" || fail "raftdnsd did not start"
adm() { "$DNSADM" --socket "$work/raftdnsd/control.sock" --timeout 600 "$@"; }
chunk=200000
head -n $((5 + chunk)) "$work/$zone.zone" >"$work/first.zone"
echo "bench/xfr: importing into raftdnsd"
wait_for 30 adm zone add "$zone" --file "$work/first.zone" || fail "raftdnsd import: $(adm zone add "$zone" --file "$work/first.zone" 2>&1)"
tail -n +$((6 + chunk)) "$work/$zone.zone" | awk -v z="$zone" '{ print "ADD: " $1 "." z ". 3600 " $3 " " $4 }' |
  split -l $chunk - "$work/batch."
for b in "$work"/batch.*; do adm batch "$b" >/dev/null || fail "raftdnsd batch $b"; done
have=$(adm zone list | awk -v z="$zone." '$1 == z { print $4 }')
[ "$have" = "$records" ] || fail "raftdnsd holds $have records, not $records"

# --- NSD
mkdir -p "$work/nsd"
cat >"$work/nsd/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@${port[nsd]}
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
  name: "$zone"
  zonefile: "$zone.zone"
  provide-xfr: 127.0.0.1 NOKEY
CONF
nsd -d -c "$work/nsd/nsd.conf" >"$work/nsd/stdout" 2>&1 &
pids[nsd]=$!

# --- Knot
mkdir -p "$work/knot"
cat >"$work/knot/knot.conf" <<CONF
server:
    listen: 127.0.0.1@${port[knot]}
    rundir: "$work/knot"
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$work/knot"
acl:
  - id: transfer
    address: 127.0.0.1
    action: transfer
zone:
  - domain: $zone.
    storage: "$work"
    file: $zone.zone
    acl: transfer
    zonefile-sync: -1
    journal-content: none
CONF
knotd -c "$work/knot/knot.conf" >"$work/knot/log" 2>&1 &
pids[knot]=$!
soa_of() { dig @127.0.0.1 -p "$1" "$zone" SOA +short +time=1 +tries=1 | grep -q hostmaster; }
wait_for 300 soa_of "${port[nsd]}" || fail "NSD did not load the zone"
wait_for 300 soa_of "${port[knot]}" || fail "Knot did not load the zone"

cpu_of() {  # utime+stime in ticks of every process of a server
  local total=0 p
  for p in $(pgrep -f "$1"); do
    for t in /proc/"$p"/task/*/stat; do
      total=$((total + $(awk '{ print $14 + $15 }' "$t" 2>/dev/null || echo 0)))
    done
  done
  echo "$total"
}
declare -A match=([raftdnsd]="$work/raftdnsd/raftdns.toml" [nsd]="$work/nsd/nsd.conf" [knot]="$work/knot/knot.conf")
declare -A secs=() mbs=() cpus=() bytes=()
for run in $(seq 1 "$runs"); do
  for s in raftdnsd nsd knot; do
    c0=$(cpu_of "${match[$s]}")
    t0=$(date +%s%N)
    kdig @127.0.0.1 -p "${port[$s]}" "$zone" AXFR >"$work/out" 2>&1 || fail "kdig AXFR from $s"
    t1=$(date +%s%N)
    c1=$(cpu_of "${match[$s]}")
    stats=$(grep ';; Received' "$work/out") || fail "$s: no transfer statistics"
    n=$(sed -n 's/.*Received \([0-9]*\) B.*records.*/\1/p' <<<"$stats")
    recs=$(sed -n 's/.*messages, \([0-9]*\) records.*/\1/p' <<<"$stats")
    [ "$recs" = $((records + 1)) ] || fail "$s sent $recs records, not $((records + 1)) (with the closing SOA)"
    sec=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    secs[$s]+="$sec "
    mbs[$s]+="$(awk -v n="$n" -v s="$sec" 'BEGIN { printf "%.1f", n / s / 1e6 }') "
    cpus[$s]+="$(awk -v a="$c0" -v b="$c1" -v hz="$clk_tck" 'BEGIN { printf "%.2f", (b - a) / hz }') "
    bytes[$s]=$n
    echo "run $run $s: $sec s, $n bytes"
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
{
  echo "| server | seconds (median of $runs) | MB/s | server CPU s | bytes | all runs (s) |"
  echo "|---|---|---|---|---|---|"
  for s in raftdnsd nsd knot; do
    cpu=$(median "${cpus[$s]}")
    [ "$s" = nsd ] && cpu="-"
    echo "| $s | $(median "${secs[$s]}") | $(median "${mbs[$s]}") | $cpu | ${bytes[$s]} | ${secs[$s]% } |"
  done
} >"$work/table"
cat "$work/table"
if [ "$results" != - ]; then
  {
    echo "# AXFR of a $records-record zone"
    echo
    echo "Measured $(date -u +%Y-%m-%d) with \`bench/xfr/run.sh\` (RUNS=$runs): \`kdig AXFR\` to"
    echo "/dev/null from each server on loopback, one worker each, same zone file."
    echo "Seconds are wall time of the whole kdig run (its own parsing and printing"
    echo "included, the same for every server); MB/s is the bytes kdig received over"
    echo "that time; server CPU is utime+stime of the server's processes (not"
    echo "attributable for NSD). The machine (2 cores) was shared with other builds"
    echo "during the run (load average $(cut -d' ' -f1 /proc/loadavg) at the end), so wall times vary"
    echo "run to run; the runs are interleaved so all servers see the same load."
    echo "raftdnsd holds the zone as one zone of $records records, loaded with one"
    echo "\`dnsadm zone add\` of the first 200,000 records and \`dnsadm batch\` requests of"
    echo "200,000 more each (one import of it all would pass the control socket's 64 MiB"
    echo "frame limit)."
    echo
    echo "    bench/xfr/run.sh            # RECORDS=1000000 RUNS=5"
    echo
    cat "$work/table"
  } >"$results"
fi
