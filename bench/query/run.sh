#!/usr/bin/env bash
# Query benchmark: raftdnsd, NSD and Knot serve one 110,000-name zone (or a zone of
# HOSTS hosts) in turn under dnsperf.
#
# Usage: bench/query/run.sh
# Environment:
#   RAFTDNSD, DNSADM  the binaries (default: the first found in /work/build*/ or ./build/)
#   RUNS              measured runs per server (default 3); medians are reported
#   DURATION          seconds per dnsperf run (default 10)
#   SERVERS           which servers, in order (default "raftdnsd nsd nsd-min knot floor";
#                     nsd-min is NSD with minimal-responses: yes; floor is
#                     bench/query/floor.c, a responder that echoes each query with
#                     QR set, with the same recvmmsg/sendmmsg batching and no
#                     lookup: the kernel's share, which no server can go below;
#                     raftdnsd-scraped is
#                     raftdnsd with [metrics] listen on and a client scraping /metrics
#                     every second for the whole benchmark; raftdnsd-base is
#                     $RAFTDNSD_BASE, another build to compare with, such as main's)
#   NX                "fixed" (default): the 10% NXDOMAIN queries name 100,000
#                     nonexistent hosts, repeated as dnsperf loops over the file;
#                     "random": every NXDOMAIN query names a different random
#                     host, and the query file is QUERIES lines long
#   HOSTS             hosts in the zone (default 100000); the CNAMEs and MX names are
#                     HOSTS/20 each, and the queries spread over all of them
#   QUERIES           lines in the query file (default 100000; with NX=random,
#                     default 2000000 so that no run loops over the file)
#   PROTOCOL          "udp" (default) or "tcp": dnsperf -m tcp, 4 connections with up
#                     to 200 queries in flight (RFC 7766 pipelining); the floor
#                     answers UDP only and is left out
#   RESULTS           where the markdown table is written (default bench/query/RESULTS.md;
#                     "-" for stdout only)
#   DNSSEC            "" (default) or "nsec3": the zone is signed with dnssec-signzone
#                     (NSEC3, RFC 9276 parameters: no salt, no extra iterations,
#                     ECDSA P-256) before every server loads it, and every query
#                     has the DO bit (dnsperf -D): each answer carries its RRSIGs,
#                     each NXDOMAIN the closest encloser proof. The floor is left
#                     out; RESULTS defaults to bench/query/RESULTS-dnssec.md
#   PORT_BASE         the first of the 8 ports below (default 16600)
#   KEEP_TMP=1        keep the scratch directory
#
# Each server runs with one worker, pinned to CPU 0; dnsperf runs pinned to CPU 1.
# Ports (loopback, from PORT_BASE, default 16600): raftdnsd +0, NSD +1, Knot +2,
# NSD minimal +3, raftdnsd-scraped +4 (metrics on +5), raftdnsd-base +6, floor +7.
# The runs are interleaved (run 1 of every server, then run 2...) so that load from
# anything else on the machine spreads over all servers alike. The servers stay up
# between runs, idle when not measured.
#
# The figure that compares servers is the server's CPU time per completed query:
# utime+stime summed over /proc/PID/task/*/stat of every server process, read before
# and after the dnsperf run, divided by dnsperf's "Queries completed". On a 2-core
# machine dnsperf, not the server, caps the query rate, so qps alone says little.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${RUNS:-3}
duration=${DURATION:-10}
read -r -a servers <<<"${SERVERS:-raftdnsd nsd nsd-min knot floor}"
nx_mode=${NX:-fixed}
[[ $nx_mode == fixed || $nx_mode == random ]] || { echo "bench/query: NX must be fixed or random" >&2; exit 1; }
protocol=${PROTOCOL:-udp}
[[ $protocol == udp || $protocol == tcp ]] || { echo "bench/query: PROTOCOL must be udp or tcp" >&2; exit 1; }
if [[ $protocol == tcp ]]; then
  kept=()
  for s in "${servers[@]}"; do [[ $s == floor ]] || kept+=("$s"); done
  servers=("${kept[@]}")
fi
dnssec=${DNSSEC:-}
[[ -z $dnssec || $dnssec == nsec3 ]] || { echo "bench/query: DNSSEC must be empty or nsec3" >&2; exit 1; }
do_flag=()
if [[ -n $dnssec ]]; then
  # The floor echoes queries: nothing to compare a signed answer with.
  kept=()
  for s in "${servers[@]}"; do [[ $s == floor ]] || kept+=("$s"); done
  servers=("${kept[@]}")
  do_flag=(-D)
fi
if [[ $nx_mode == random ]]; then queries=${QUERIES:-2000000}; else queries=${QUERIES:-100000}; fi
if [[ -n $dnssec ]]; then results=${RESULTS:-$here/RESULTS-dnssec.md}; else results=${RESULTS:-$here/RESULTS.md}; fi
hosts=${HOSTS:-100000}
if ! [[ $hosts =~ ^[0-9]+$ ]] || ((hosts < 20 || hosts > 16000000)); then
  echo "bench/query: HOSTS must be a number from 20 to 16000000" >&2
  exit 1
fi
extras=$((hosts / 20))  # CNAMEs, and MX names
zone=bench.test
pb=${PORT_BASE:-16600}
declare -A port=([raftdnsd]=$pb [nsd]=$((pb + 1)) [knot]=$((pb + 2)) [nsd-min]=$((pb + 3))
  [raftdnsd-scraped]=$((pb + 4)) [raftdnsd-base]=$((pb + 6)) [floor]=$((pb + 7)))
metrics_port=$((pb + 5))
# Loading a big zone takes longer: every wait for it is bounded by this many seconds.
load_limit=$((120 + hosts / 20000))
clk_tck=$(getconf CLK_TCK)

fail() {
  echo "bench/query: $*" >&2
  exit 1
}

# The first optimized, non-sanitizer build that has the binary: ./build, then any
# /work/build*/ (a benchmark of a Debug or ASan build would mean nothing).
find_binary() {
  local name=$1 subdir=$2 dir cache
  for dir in "$repo/build" /work/build*; do
    cache=$dir/CMakeCache.txt
    [[ -x $dir/$subdir/$name && -f $cache ]] || continue
    grep -qE '^CMAKE_BUILD_TYPE:STRING=(Release|RelWithDebInfo)$' "$cache" || continue
    grep -qE '^RAFTDNS_(SANITIZE|FUZZ):BOOL=ON$' "$cache" && continue
    printf '%s' "$dir/$subdir/$name"
    return
  done
}

for s in "${servers[@]}"; do
  [[ -n ${port[$s]:-} ]] ||
    fail "unknown server '$s' (known: raftdnsd raftdnsd-scraped raftdnsd-base nsd nsd-min knot floor)"
done
if [[ " ${servers[*]} " == *" raftdnsd"* ]]; then
  RAFTDNSD=${RAFTDNSD:-$(find_binary raftdnsd daemon/server)}
  DNSADM=${DNSADM:-$(find_binary dnsadm tools/dnsadm)}
  [[ -x ${RAFTDNSD:-} && -x ${DNSADM:-} ]] ||
    fail "set RAFTDNSD and DNSADM (or SERVERS without raftdnsd)"
fi
if [[ " ${servers[*]} " == *" raftdnsd-base "* ]]; then
  [[ -x ${RAFTDNSD_BASE:-} ]] || fail "set RAFTDNSD_BASE to the raftdnsd to compare with"
fi
for tool in dnsperf dig taskset nsd knotd curl cc ${dnssec:+dnssec-keygen dnssec-signzone}; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done

scratch=$(mktemp -d /tmp/raftdns-bench-query.XXXXXX)
declare -A main_pid=()
scraper_pid=""
cleanup() {
  local s
  [[ -z $scraper_pid ]] || { kill "$scraper_pid" 2>/dev/null || true; wait "$scraper_pid" 2>/dev/null || true; }
  for s in "${!main_pid[@]}"; do kill "${main_pid[$s]}" 2>/dev/null || true; done
  for s in "${!main_pid[@]}"; do wait "${main_pid[$s]}" 2>/dev/null || true; done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "scratch kept in $scratch" >&2; else rm -rf "$scratch"; fi
}
trap cleanup EXIT

# --- The zone and the queries -------------------------------------------------------
# HOSTS (100,000) hosts with an A record (every tenth also AAAA), HOSTS/20 (5,000)
# CNAMEs to hosts and HOSTS/20 mail names with an MX to a host: 110,000 names plus
# the apex by default.
generate_zone() {
  awk -v zone="$zone" -v hosts="$hosts" -v extras="$extras" 'BEGIN {
    printf "$ORIGIN %s.\n$TTL 3600\n", zone
    printf "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n"
    for (i = 0; i < hosts; i++) {
      printf "h%d A 10.%d.%d.%d\n", i, int(i / 65536), int(i / 256) % 256, i % 256
      if (i % 10 == 0) printf "h%d AAAA 2001:db8::%x:%x\n", i, int(i / 65536), i % 65536
    }
    for (i = 0; i < extras; i++) printf "c%d CNAME h%d\n", i, i * 20
    for (i = 0; i < extras; i++) printf "m%d MX 10 h%d\n", i, i * 20 + 1
  }' >"$scratch/$zone.zone"
}

# DNSSEC=nsec3: the zone signed in place, keys made for this run only.
sign_zone() {
  local keys=$scratch/keys
  mkdir -p "$keys"
  dnssec-keygen -q -K "$keys" -a 13 -f KSK "$zone" >/dev/null
  dnssec-keygen -q -K "$keys" -a 13 "$zone" >/dev/null
  local t0=$SECONDS
  dnssec-signzone -q -K "$keys" -d "$keys" -S -3 - -H 0 -o "$zone" -f "$scratch/$zone.signed" \
    "$scratch/$zone.zone" >/dev/null || fail "dnssec-signzone failed"
  mv "$scratch/$zone.signed" "$scratch/$zone.zone"
  echo "zone $zone signed (NSEC3) in $((SECONDS - t0)) s" >&2
}

# $queries queries, a fixed pseudo-random sequence: 70% A hits, 10% AAAA hits, 5% A
# through a CNAME, 10% NXDOMAIN, 5% MX (with the target's address as additional data).
# With NX=random each NXDOMAIN query names a host no other query names.
generate_queries() {
  awk -v zone="$zone" -v count="$queries" -v nx="$nx_mode" -v hosts="$hosts" -v extras="$extras" 'BEGIN {
    srand(20240101)
    for (n = 0; n < count; n++) {
      r = rand() * 100
      if (r < 70)      printf "h%d.%s A\n", int(rand() * hosts), zone
      else if (r < 80) printf "h%d.%s AAAA\n", int(rand() * int((hosts + 9) / 10)) * 10, zone
      else if (r < 85) printf "c%d.%s A\n", int(rand() * extras), zone
      else if (r < 95 && nx == "random") printf "nx%d-%d.%s A\n", n, int(rand() * 1000000000), zone
      else if (r < 95) printf "nx%d.%s A\n", int(rand() * 100000), zone
      else             printf "m%d.%s MX\n", int(rand() * extras), zone
    }
  }' >"$scratch/queries.txt"
}

# Waits until the server on PORT answers for the last names of the zone. Gives up
# early when the server exits or its log reports a zone error.
wait_loaded() {
  local s=$1 log deadline=$((SECONDS + load_limit))
  local last_h=$((hosts - 1)) last_m=$((extras - 1))
  local last_addr=10.$((last_h / 65536)).$((last_h / 256 % 256)).$((last_h % 256))
  log=$(server_log "$s")
  while ((SECONDS < deadline)); do
    if [[ $s == floor ]]; then
      dig @127.0.0.1 -p "${port[$s]}" +norec +time=1 +tries=1 "h1.$zone" A >/dev/null && return 0
    elif dig @127.0.0.1 -p "${port[$s]}" +norec +time=1 +tries=1 +short "m$last_m.$zone" MX |
      grep -q "h$((last_m * 20 + 1)).$zone" &&
      dig @127.0.0.1 -p "${port[$s]}" +norec +time=1 +tries=1 +short "h$last_h.$zone" A |
      grep -qx "${last_addr//./\\.}"; then
      return 0
    fi
    kill -0 "${main_pid[$s]}" 2>/dev/null || return 1
    if [[ $s != raftdnsd* ]] && grep -qiE 'error' "$log" 2>/dev/null; then return 1; fi
    sleep 0.25
  done
  return 1
}

# --- Starting each server on CPU 0 ----------------------------------------------------
start_raftdnsd() { start_raftdnsd_variant raftdnsd "$RAFTDNSD"; }
start_raftdnsd-base() { start_raftdnsd_variant raftdnsd-base "$RAFTDNSD_BASE"; }
start_raftdnsd-scraped() {
  start_raftdnsd_variant raftdnsd-scraped "$RAFTDNSD" "[metrics]
listen = \"127.0.0.1:$metrics_port\""
  # One scrape a second, as a Prometheus with a 1 s interval would do; bounded
  # to two hours. On CPU 1 with dnsperf; the server's side of each scrape runs
  # on its metrics thread and counts in its CPU time.
  taskset -c 1 bash -c "for i in \$(seq 1 7200); do
      curl -s -o /dev/null --max-time 2 http://127.0.0.1:$metrics_port/metrics; sleep 1; done" &
  scraper_pid=$!
}
start_raftdnsd_variant() {
  local s=$1 binary=$2 extra=${3:-} dir=$scratch/$1 tries
  mkdir -p "$dir/data"
  cat >"$dir/node.toml" <<EOF
[node]
id = "n1"
data_dir = "$dir/data"

[dns]
listen = ["127.0.0.1:${port[$s]}"]
workers = 1

[control]
socket = "$dir/control.sock"
$extra
EOF
  taskset -c 0 "$binary" --config "$dir/node.toml" >"$dir/raftdnsd.log" 2>&1 &
  main_pid[$s]=$!
  for ((tries = 0; ; tries++)); do
    [[ -S $dir/control.sock ]] && "$DNSADM" --socket "$dir/control.sock" status >/dev/null 2>&1 &&
      break
    ((tries < 100)) || { cat "$dir/raftdnsd.log" >&2; fail "raftdnsd did not start"; }
    sleep 0.1
  done
  local t0=$SECONDS
  # A loaded machine can take longer than the default 5 s to import.
  if ! "$DNSADM" --socket "$dir/control.sock" --timeout "$((300 + hosts / 10000))" zone add "$zone" --file "$scratch/$zone.zone"; then
    cat "$dir/raftdnsd.log" >&2
    fail "$s: dnsadm zone add $zone failed"
  fi
  echo "$s: zone imported in $((SECONDS - t0)) s" >&2
}

# nsd runs NSD's defaults; nsd-min adds minimal-responses, so that NSD, like Knot and
# raftdnsd, leaves the zone's NS RRset out of positive answers (compare the mean
# response sizes in the table).
start_nsd() { start_nsd_variant nsd no; }
start_nsd-min() { start_nsd_variant nsd-min yes; }
start_nsd_variant() {
  local s=$1 minimal=$2 dir=$scratch/$1
  mkdir -p "$dir"
  cat >"$dir/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@${port[$s]}
  minimal-responses: $minimal
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonesdir: "$scratch"
  pidfile: "$dir/nsd.pid"
  xfrdfile: "$dir/xfrd.state"
  zonelistfile: "$dir/zone.list"
  logfile: "$dir/nsd.log"
  rrl-ratelimit: 0
  verbosity: 2
remote-control:
  control-enable: no
zone:
  name: $zone
  zonefile: "$scratch/$zone.zone"
EOF
  taskset -c 0 nsd -d -c "$dir/nsd.conf" >"$dir/stdout.log" 2>&1 &
  main_pid[$s]=$!
}

start_knot() {
  local dir=$scratch/knot
  mkdir -p "$dir/db"
  cat >"$dir/knot.conf" <<EOF
server:
  listen: 127.0.0.1@${port[knot]}
  rundir: "$dir"
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
database:
  storage: "$dir/db"
log:
  - target: "$dir/knot.log"
    any: info
zone:
  - domain: $zone
    file: "$scratch/$zone.zone"
EOF
  taskset -c 0 knotd -c "$dir/knot.conf" >"$dir/stdout.log" 2>&1 &
  main_pid[knot]=$!
}

# The floor responder, built from bench/query/floor.c into the scratch directory. It
# serves no zone: check_loaded only waits for it to answer.
start_floor() {
  mkdir -p "$scratch/floor"
  cc -O2 -o "$scratch/floor/floor" "$here/floor.c" || fail "cannot build bench/query/floor.c"
  taskset -c 0 "$scratch/floor/floor" 127.0.0.1 "${port[floor]}" >"$scratch/floor/stdout.log" 2>&1 &
  main_pid[floor]=$!
}

# Every process of a server: NSD forks a server child and xfrd.
server_pids() {
  case $1 in
    nsd | nsd-min) pgrep -f -- "$scratch/$1/nsd.conf" ;;
    *) echo "${main_pid[$1]}" ;;
  esac
}

server_log() {
  case $1 in
    raftdnsd*) echo "$scratch/$1/raftdnsd.log" ;;
    nsd | nsd-min) echo "$scratch/$1/nsd.log" ;;
    knot) echo "$scratch/knot/knot.log" ;;
    floor) echo "$scratch/floor/stdout.log" ;;
  esac
}

# Fails loudly unless the server loaded the zone: it answers the last names, and its
# log shows no error about the zone.
check_loaded() {
  local s=$1 log
  log=$(server_log "$s")
  if ! wait_loaded "$s"; then
    tail -n 20 "$log" "$scratch/$s/stdout.log" >&2 2>/dev/null || true
    fail "$s did not load $zone (log above)"
  fi
  case $s in
    nsd | nsd-min)
      grep -q "zone $zone read with success" "$log" ||
        { cat "$log" >&2; fail "NSD did not report loading $zone"; } ;;
    knot)
      grep -q "\[$zone.\] zone file parsed" "$log" ||
        { cat "$log" >&2; fail "Knot did not report parsing $zone"; }
      if grep -Ei "\[$zone.\].*(error|failed)" "$log"; then fail "Knot logged zone errors"; fi ;;
  esac
  echo "$s: $zone loaded, answering on port ${port[$s]}" >&2
}

# Sum of utime+stime, in clock ticks, over every thread of every process of server $1.
cpu_ticks() {
  local pid total=0 ticks
  for pid in $(server_pids "$1"); do
    # Fields after the ")" that closes the command name: utime and stime are 12 and 13.
    ticks=$(cat /proc/"$pid"/task/*/stat 2>/dev/null |
      awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }')
    total=$((total + ticks))
  done
  echo "$total"
}

median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# One dnsperf run against server $1; appends "qps us_per_query completed lost ticks".
measure() {
  local s=$1 out before after completed lost qps
  out=$scratch/dnsperf.$s.$2.txt
  before=$(cpu_ticks "$s")
  taskset -c 1 dnsperf -m "$protocol" -s 127.0.0.1 -p "${port[$s]}" -d "$scratch/queries.txt" \
    -l "$duration" -c 4 -T 1 -q 200 "${do_flag[@]}" >"$out" 2>&1 || { cat "$out" >&2; fail "dnsperf failed on $s"; }
  after=$(cpu_ticks "$s")
  completed=$(awk '/Queries completed:/ { print $3 }' "$out")
  lost=$(awk '/Queries lost:/ { print $3 }' "$out")
  qps=$(awk '/Queries per second:/ { print $4 }' "$out")
  # Same answers from every server is a precondition: keep the rcode mix and the mean
  # response size (which also shows how much authority/additional data each adds).
  awk '/Response codes:/ { sub(/^ *Response codes: */, ""); codes = $0 }
       /Average packet size:/ { size = $NF }
       END { print codes "\t" size }' "$out" >"$scratch/shape.$s"
  [[ -n $completed && $completed -gt 0 ]] || { cat "$out" >&2; fail "no completed queries on $s"; }
  awk -v q="$qps" -v t=$((after - before)) -v c="$completed" -v l="$lost" -v hz="$clk_tck" \
    'BEGIN { printf "%.0f %.3f %d %d %d\n", q, t / hz / c * 1e6, c, l, t }' \
    >>"$scratch/runs.$s"
  echo "$s run $2: $(tail -1 "$scratch/runs.$s") (qps us/query completed lost ticks)" >&2
}

# --- Main ----------------------------------------------------------------------------
load_before=$(cut -d' ' -f1 /proc/loadavg)
binary_note=""
variant_notes=""
if [[ " ${servers[*]} " == *" raftdnsd-scraped "* ]]; then
  variant_notes+="- raftdnsd-scraped: the same binary with \`[metrics] listen\` on and curl fetching
  /metrics once a second (on CPU 1) for the whole benchmark; its CPU includes the metrics
  thread. raftdnsd: no endpoint, no scraper (the per-worker counters are always kept)."$'\n'
fi
if [[ " ${servers[*]} " == *" raftdnsd-base "* ]]; then
  variant_notes+="- raftdnsd-base: $RAFTDNSD_BASE (tree at $(git -C "$(dirname "$RAFTDNSD_BASE")" rev-parse --short HEAD 2>/dev/null || echo unknown)), for comparison."$'\n'
fi
if [[ " ${servers[*]} " == *" raftdnsd"* ]]; then
  binary_note="- raftdnsd: $RAFTDNSD ($(grep -E '^CMAKE_BUILD_TYPE' "$(dirname "$RAFTDNSD")/../../CMakeCache.txt" 2>/dev/null | cut -d= -f2 || true) build, tree at $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown) plus uncommitted work)."
fi
generate_zone
names=$(awk '$1 !~ /^\$/ { n[$1] = 1 } END { print length(n) }' "$scratch/$zone.zone")
[[ -z $dnssec ]] || sign_zone
generate_queries
echo "zone $zone: $names distinct owner names, $(wc -l <"$scratch/queries.txt") queries" >&2

for s in "${servers[@]}"; do
  if [[ -n $(ss -Hltun "sport = :${port[$s]}" 2>/dev/null) ]]; then
    fail "port ${port[$s]} (for $s) is already in use"
  fi
done
for s in "${servers[@]}"; do
  "start_$s"
  check_loaded "$s"
done

# A short warm-up per server (page cache, allocator), not counted.
for s in "${servers[@]}"; do
  taskset -c 1 dnsperf -m "$protocol" -s 127.0.0.1 -p "${port[$s]}" -d "$scratch/queries.txt" \
    -l 2 -c 4 -T 1 -q 200 "${do_flag[@]}" >/dev/null 2>&1 || true
done
for ((r = 1; r <= runs; r++)); do
  for s in "${servers[@]}"; do measure "$s" "$r"; done
done

declare -A med_qps=() med_us=()
table=$(
  echo "| server | qps (median) | CPU µs/query (median) | CPU µs/query, each run | queries lost (total) | response codes (last run) | mean response bytes |"
  echo "|---|---:|---:|---|---:|---|---:|"
  for s in "${servers[@]}"; do
    q=$(awk '{ print $1 }' "$scratch/runs.$s" | median)
    u=$(awk '{ print $2 }' "$scratch/runs.$s" | median)
    each=$(awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $2 }' "$scratch/runs.$s")
    lost=$(awk '{ l += $4 } END { print l + 0 }' "$scratch/runs.$s")
    IFS=$'\t' read -r codes size <"$scratch/shape.$s"
    printf '| %s | %.0f | %.2f | %s | %s | %s | %s |\n' "$s" "$q" "$u" "$each" "$lost" "$codes" "$size"
  done
)
for s in "${servers[@]}"; do
  med_qps[$s]=$(awk '{ print $1 }' "$scratch/runs.$s" | median)
  med_us[$s]=$(awk '{ print $2 }' "$scratch/runs.$s" | median)
done
ratios=""
for ref in raftdnsd-base nsd nsd-min knot; do
  if [[ -n ${med_us[raftdnsd]:-} && -n ${med_us[$ref]:-} ]]; then
    ratios+=$(awk -v a="${med_us[raftdnsd]}" -v b="${med_us[$ref]}" -v qa="${med_qps[raftdnsd]}" \
      -v qb="${med_qps[$ref]}" -v ref="$ref" 'BEGIN {
        printf "- raftdnsd/%s: CPU per query %.2f, qps %.2f\n", ref, a / b, qa / qb }')
    ratios+=$'\n'
  fi
done
# Every server against the floor: the CPU it spends per query, as a multiple of
# what the kernel alone costs, and what it spends above that.
if [[ -n ${med_us[floor]:-} ]]; then
  for s in "${servers[@]}"; do
    [[ $s == floor ]] && continue
    ratios+=$(awk -v a="${med_us[$s]}" -v b="${med_us[floor]}" -v s="$s" 'BEGIN {
      printf "- %s/floor: CPU per query %.2f (%+.2f µs/query above the floor)\n", s, a / b, a - b }')
    ratios+=$'\n'
  done
fi
if [[ -n ${med_us[raftdnsd]:-} && -n ${med_us[raftdnsd-scraped]:-} ]]; then
  ratios+=$(awk -v a="${med_us[raftdnsd-scraped]}" -v b="${med_us[raftdnsd]}" 'BEGIN {
    printf "- raftdnsd-scraped/raftdnsd: CPU per query %.3f (%+.3f µs/query)\n", a / b, a - b }')
  ratios+=$'\n'
fi
# The resolution of the CPU figure: one clock tick spread over the queries of a run.
resolution=$(cat "$scratch"/runs.* | awk -v hz="$clk_tck" \
  'NR == 1 || $3 < min { min = $3 } END { printf "%.4f", 1 / hz / min * 1e6 }')

floor_note=""
if [[ " ${servers[*]} " == *" floor "* ]]; then
  floor_note="- floor: bench/query/floor.c, which echoes each query with QR set (recvmmsg/sendmmsg,
  32 a batch, no lookup); its CPU per query is the kernel's share of every server's.
"
fi
dnssec_note=""
if [[ -n $dnssec ]]; then
  dnssec_note="
- DNSSEC: the zone signed by dnssec-signzone with NSEC3 (no salt, 0 extra iterations,
  ECDSA P-256 KSK and ZSK) and served pre-signed by every server; every query has DO
  set (\`dnsperf -D\`), so answers carry RRSIGs and each NXDOMAIN three NSEC3 records
  with theirs. Mean response size shows the servers send the same sections."
fi
if [[ $nx_mode == random ]]; then
  nx_note="each a different random name"
else
  nx_note="100,000 names, repeated as dnsperf loops over the file"
fi
report=$(
  cat <<EOF
## Query benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')

Command: \`${dnssec:+DNSSEC=$dnssec }HOSTS=$hosts RUNS=$runs DURATION=$duration NX=$nx_mode QUERIES=$queries PROTOCOL=$protocol SERVERS="${servers[*]}" bench/query/run.sh\`
$dnssec_note
- Zone: $zone, $names owner names ($hosts hosts with A, every tenth also AAAA,
  $extras CNAMEs, $extras MX names). Queries: $queries, 70% A hits, 10% AAAA, 5% CNAME,
  10% NXDOMAIN ($nx_note), 5% MX.
$floor_note- Each server: one worker, pinned to CPU 0 (\`taskset -c 0\`). Load: \`taskset -c 1
  dnsperf -m $protocol -s 127.0.0.1 -p PORT -d queries.txt -l $duration -c 4 -T 1 -q 200\`, $runs
  interleaved runs per server after a 2 s warm-up; medians shown.
- nsd is NSD with its defaults, which add the zone's NS RRset (and addresses) to
  positive answers; nsd-min is NSD with \`minimal-responses: yes\`, answering like
  Knot and raftdnsd (see the mean response size).
- CPU µs/query = (utime+stime over all threads of all server processes, from /proc)
  / queries completed. Clock tick 1/$clk_tck s, so the resolution is about
  $resolution µs/query per run.
- Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); $(uname -sr).
  Versions: $(nsd -v 2>&1 | head -1), $(knotd --version 2>&1 | head -1),
  dnsperf $(dpkg-query -W -f="\${Version}" dnsperf 2>/dev/null).
- Machine load (1-minute average) before and after: $load_before / $(cut -d' ' -f1 /proc/loadavg).
$binary_note
$variant_notes

$table

$ratios
EOF
)
echo "$report"
if [[ $results != - ]]; then
  echo "$report" >"$results"
  echo "written to $results" >&2
fi
