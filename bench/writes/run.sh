#!/usr/bin/env bash
# Write benchmark: replicated writes on a 3-node raftdnsd cluster against a 3-member etcd.
#
# Usage: bench/writes/run.sh
# Environment:
#   RAFTDNSD, DNSADM  the binaries (default: the first found in ./build/ or /work/build*/)
#   PHASES            any of "etcd etcd-checkperf raftdns failover restart"
#                     (default: all of them)
#   RUNS              repeats of each throughput measurement, medians reported (default 3)
#   WRITERS           concurrent writers (default 8)
#   ADDS_PER_WRITER   single-record writes per writer and run (default 400)
#   BATCH_SIZE        records per batch (default 100); BATCHES_PER_WRITER (default 20)
#   ETCD_WRITES       writes per etcd run (default 8000)
#   ETCDCTL_PUTS      `etcdctl put` runs per writer and run (default 100)
#   WRITEBENCH        raftdns-writebench (default: next to RAFTDNSD in its build tree)
#   WB_ADDS, WB_BATCHES  its requests per writer and run (defaults 1000 and 50)
#   CHECKPERF_LOAD    etcdctl check perf --load (default xl)
#   FAILOVERS         failover repeats (default 5)
#   RESTART_RECORDS   records in the restart test (default 1000000); RESTARTS (default 5);
#                     RESTART_ZONES: zones they are split into, one import each
#                     (default: 1, doubled while the import is too large for one request)
#   RESULTS           markdown output (default bench/writes/RESULTS.md; "-": stdout only)
#   NODES             raftdnsd cluster size (default 3; 1 = one node without [cluster],
#                     for comparison; failover needs more than one)
#   KEEP_TMP=1        keep the scratch directory
#
# Ports: etcd 12379/12380, 22379/22380, 32379/32380; raftdnsd nodes DNS 16611-16613,
# peers 16621-16623; the restart node DNS 16630.
# Everything runs on loopback with fsync on (etcd always syncs its WAL; raftdnsd
# syncs its WAL per batch). Each write is timed from the client's side:
#   - etcd: WRITERS concurrent HTTP/1.1 keep-alive connections to the leader's JSON
#     gateway (/v3/kv/put) via curl --parallel, per-request time from curl;
#     WRITERS concurrent loops of `etcdctl put`, a process per write like dnsadm; and
#     `etcdctl check perf --load=xl`, etcd's own multi-client load (60 s).
#   - raftdnsd: WRITERS persistent connections to the leader's control socket
#     (raftdns-writebench, built from bench/writes), each request timed from send to
#     response, single records and batches of BATCH_SIZE; and WRITERS concurrent
#     shell loops, each write one `dnsadm add` (or `dnsadm batch`) process, timed
#     with $EPOCHREALTIME around the call. A write returns once the change is
#     committed and applied on the node it was sent to.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
phases=" ${PHASES:-etcd etcd-checkperf raftdns failover restart} "
runs=${RUNS:-3}
writers=${WRITERS:-8}
adds_per_writer=${ADDS_PER_WRITER:-400}
batch_size=${BATCH_SIZE:-100}
batches_per_writer=${BATCHES_PER_WRITER:-20}
etcd_writes=${ETCD_WRITES:-8000}
etcdctl_puts=${ETCDCTL_PUTS:-100}
wb_adds=${WB_ADDS:-1000}
wb_batches=${WB_BATCHES:-50}
WRITEBENCH=${WRITEBENCH:-}
checkperf_load=${CHECKPERF_LOAD:-xl}
failovers=${FAILOVERS:-5}
restart_records=${RESTART_RECORDS:-1000000}
restarts=${RESTARTS:-5}
nodes=${NODES:-3}
restart_zones=${RESTART_ZONES:-1}
results=${RESULTS:-$here/RESULTS.md}

fail() {
  echo "bench/writes: $*" >&2
  exit 1
}
note() { echo "bench/writes: $*" >&2; }

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

scratch=$(mktemp -d /tmp/raftdns-bench-writes.XXXXXX)
declare -A pid_of=()
cleanup() {
  local k
  for k in "${!pid_of[@]}"; do kill "${pid_of[$k]}" 2>/dev/null || true; done
  for k in "${!pid_of[@]}"; do wait "${pid_of[$k]}" 2>/dev/null || true; done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "scratch kept in $scratch" >&2; else rm -rf "$scratch"; fi
}
trap cleanup EXIT

stop() {
  local key=$1 signal=${2:-TERM}
  [[ -n ${pid_of[$key]:-} ]] || return 0
  kill "-$signal" "${pid_of[$key]}" 2>/dev/null || true
  wait "${pid_of[$key]}" 2>/dev/null || true
  unset "pid_of[$key]"
}

now_us() { echo "${EPOCHREALTIME/./}"; }

# Fails when something already listens on a port this benchmark is about to use.
require_free_ports() {
  local p
  for p in "$@"; do
    if [[ -n $(ss -Hltun "sport = :$p" 2>/dev/null) ]]; then
      ss -Hltunp "sport = :$p" >&2 || true
      fail "port $p is already in use"
    fi
  done
}

# Reads latencies (µs, one per line) on stdin; prints "p50_ms p99_ms count".
percentiles() {
  sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "- - 0"; exit }
    i50 = int(NR * 0.50 + 0.5); if (i50 < 1) i50 = 1
    i99 = int(NR * 0.99 + 0.5); if (i99 < 1) i99 = 1; if (i99 > NR) i99 = NR
    printf "%.2f %.2f %d\n", v[i50] / 1000, v[i99] / 1000, NR }'
}
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

report=""
add_report() { report+="$*"$'\n'; }

# CPU time (user + system, µs) used so far by the processes named by pid_of
# keys with the given prefix ("etcd", "node"): the servers' side of a run.
cpu_us_of() {
  local prefix=$1 k total=0 ticks
  ticks=$(getconf CLK_TCK)
  for k in "${!pid_of[@]}"; do
    [[ $k == "$prefix"* ]] || continue
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/${pid_of[$k]}/stat")))
  done
  echo $((total * 1000000 / ticks))
}

# --- etcd --------------------------------------------------------------------------
etcd_endpoints=127.0.0.1:12379,127.0.0.1:22379,127.0.0.1:32379
etcdctl_() { ETCDCTL_API=3 etcdctl --endpoints="$etcd_endpoints" "$@"; }

start_etcd_member() {
  local i=$1
  etcd --name "n$i" --data-dir "$scratch/etcd/n$i" \
    --listen-peer-urls "http://127.0.0.1:${i}2380" \
    --initial-advertise-peer-urls "http://127.0.0.1:${i}2380" \
    --listen-client-urls "http://127.0.0.1:${i}2379" \
    --advertise-client-urls "http://127.0.0.1:${i}2379" \
    --initial-cluster "n1=http://127.0.0.1:12380,n2=http://127.0.0.1:22380,n3=http://127.0.0.1:32380" \
    --initial-cluster-state new >>"$scratch/etcd/n$i.log" 2>&1 &
  pid_of[etcd$i]=$!
}

start_etcd() {
  local i tries
  mkdir -p "$scratch/etcd"
  require_free_ports 12379 12380 22379 22380 32379 32380
  for i in 1 2 3; do start_etcd_member "$i"; done
  for ((tries = 0; ; tries++)); do
    etcdctl_ endpoint health >/dev/null 2>&1 && break
    ((tries < 100)) || { tail -n 20 "$scratch"/etcd/n*.log >&2; fail "etcd did not become healthy"; }
    sleep 0.2
  done
  note "etcd cluster up ($(etcd --version | head -1))"
}

# Prints the member number (1-3) of the etcd leader.
etcd_leader() {
  etcdctl_ endpoint status -w simple 2>/dev/null |
    awk -F ', ' '$5 == "true" { split($1, a, ":"); print substr(a[2], 1, 1); exit }'
}

# One run of WRITERS concurrent keep-alive connections putting etcd_writes keys to the
# leader; appends "writes_per_s p50_ms p99_ms" to $scratch/etcd.runs.
etcd_writer_run() {
  local run=$1 leader cfg=$scratch/etcd/curl.$1.cfg out=$scratch/etcd/curl.$1.out t0 t1
  leader=$(etcd_leader)
  [[ -n $leader ]] || fail "no etcd leader"
  # The gateway takes keys base64-encoded; any 16-character string of base64 digits is
  # a valid encoding, and distinct strings are distinct keys.
  awk -v n="$etcd_writes" -v run="$run" -v port="${leader}2379" 'BEGIN {
      for (i = 0; i < n; i++) {
        printf "url = \"http://127.0.0.1:%s/v3/kv/put\"\n", port
        printf "data = \"{\\\"key\\\":\\\"YmVu%04d%08d\\\",\\\"value\\\":\\\"MTAuMC4wLjE=\\\"}\"\n", run, i
        printf "output = \"/dev/null\"\nwrite-out = \"%%{http_code} %%{time_total}\\n\"\n"
        if (i < n - 1) print "next"
      }
    }' >"$cfg"
  local cpu0 cpu1
  cpu0=$(cpu_us_of etcd)
  t0=$(now_us)
  curl --silent --no-progress-meter --parallel --parallel-max "$writers" -K "$cfg" >"$out" || true
  t1=$(now_us)
  cpu1=$(cpu_us_of etcd)
  awk -v c=$((cpu1 - cpu0)) -v n="$etcd_writes" 'BEGIN { printf "%.1f\n", c / n }' >>"$scratch/etcd.cpu.runs"
  local ok
  ok=$(awk '$1 == 200' "$out" | wc -l)
  ((ok == etcd_writes)) || fail "etcd run $run: $ok of $etcd_writes puts succeeded"
  read -r p50 p99 _ < <(awk '{ printf "%d\n", $2 * 1e6 }' "$out" | percentiles)
  awk -v n="$ok" -v us=$((t1 - t0)) -v a="$p50" -v b="$p99" \
    'BEGIN { printf "%.0f %s %s\n", n / (us / 1e6), a, b }' >>"$scratch/etcd.runs"
  note "etcd run $run (leader n$leader): $(tail -1 "$scratch/etcd.runs") (writes/s p50_ms p99_ms)"
}

# One writer of the process-per-write kind, like dnsadm: COUNT `etcdctl put` runs
# against the leader's client port; latencies (µs) to FILE.lat.
etcdctl_writer() {
  local leader=$1 id=$2 run=$3 count=$4 file=$5 k t0 t1 failures=0
  for ((k = 0; k < count; k++)); do
    t0=$(now_us)
    if ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:${leader}2379" put "ctl/$run/$id/$k" 10.0.0.1 \
      >/dev/null 2>>"$file.err"; then
      t1=$(now_us)
      echo $((t1 - t0))
    else
      failures=$((failures + 1))
    fi
  done >"$file.lat"
  echo "$failures" >"$file.failures"
}

# WRITERS concurrent etcdctl loops; appends "writes_per_s p50_ms p99_ms" to
# $scratch/etcd.ctl.runs.
etcdctl_run() {
  local run=$1 leader w t0 t1 failures writer_pids=()
  leader=$(etcd_leader)
  [[ -n $leader ]] || fail "no etcd leader"
  mkdir -p "$scratch/lat"
  t0=$(now_us)
  for ((w = 0; w < writers; w++)); do
    etcdctl_writer "$leader" "$w" "$run" "$etcdctl_puts" "$scratch/lat/ctl.$run.$w" &
    writer_pids+=($!)
  done
  wait "${writer_pids[@]}"
  t1=$(now_us)
  failures=$(cat "$scratch/lat/ctl.$run".*.failures | awk '{ s += $1 } END { print s + 0 }')
  ((failures == 0)) || { head -n 5 "$scratch/lat/ctl.$run".*.err >&2; fail "$failures etcdctl puts failed"; }
  read -r p50 p99 _ < <(cat "$scratch/lat/ctl.$run".*.lat | percentiles)
  awk -v n=$((writers * etcdctl_puts)) -v us=$((t1 - t0)) -v a="$p50" -v b="$p99" \
    'BEGIN { printf "%.0f %s %s\n", n / (us / 1e6), a, b }' >>"$scratch/etcd.ctl.runs"
  note "etcdctl run $run (leader n$leader): $(tail -1 "$scratch/etcd.ctl.runs") (writes/s p50_ms p99_ms)"
}

etcd_check_perf() {
  local out=$scratch/etcd/checkperf.txt
  etcdctl_ check perf --load="$checkperf_load" >"$out" 2>&1 || true
  # Progress bars use carriage returns; keep the verdict lines, or the error.
  tr '\r' '\n' <"$out" | grep -E '^(PASS|FAIL)' >"$out.verdict" || true
  if [[ ! -s $out.verdict ]]; then
    tr '\r' '\n' <"$out" | grep -E '^Error' | tail -1 | sed 's/^/no result: /' >"$out.verdict"
    [[ -s $out.verdict ]] || echo "no result (see $out)" >"$out.verdict"
  fi
  note "etcdctl check perf --load=$checkperf_load: $(tr '\n' ';' <"$out.verdict")"
}

# --- raftdnsd cluster --------------------------------------------------------------
dns_port() { echo $((16610 + $1)); }
peer_port() { echo $((16620 + $1)); }
sock() { echo "$scratch/raftdns/n$1/control.sock"; }
dnsadm_() { "$DNSADM" --socket "$(sock "$1")" "${@:2}"; }

write_node_config() {
  local i=$1 j
  mkdir -p "$scratch/raftdns/n$i/data"
  {
    cat <<EOF
[node]
id = "n$i"
data_dir = "$scratch/raftdns/n$i/data"

[dns]
listen = ["127.0.0.1:$(dns_port "$i")"]
workers = 1

[control]
socket = "$(sock "$i")"
EOF
    ((nodes > 1)) || return 0
    cat <<EOF

[cluster]
listen = "127.0.0.1:$(peer_port "$i")"
key_file = "$scratch/raftdns/cluster.key"
EOF
    for ((j = 1; j <= nodes; j++)); do
      ((j == i)) && continue
      printf '\n[[cluster.peer]]\nid = "n%d"\naddress = "127.0.0.1:%d"\n' "$j" "$(peer_port "$j")"
    done
  } >"$scratch/raftdns/n$i/node.toml"
}

start_node() {
  local i=$1
  "$RAFTDNSD" --config "$scratch/raftdns/n$i/node.toml" >>"$scratch/raftdns/n$i.log" 2>&1 &
  pid_of[node$i]=$!
}

wait_control() {
  local i=$1 tries
  for ((tries = 0; ; tries++)); do
    [[ -S $(sock "$i") ]] && dnsadm_ "$i" status >/dev/null 2>&1 && return 0
    ((tries < 150)) || { tail -n 30 "$scratch/raftdns/n$i.log" >&2; fail "node n$i did not start"; }
    sleep 0.1
  done
}

node_role() { dnsadm_ "$1" --timeout 1 status --json 2>/dev/null | jq -r '.role // empty' 2>/dev/null; }

# Prints the number of the node that calls itself leader, waiting up to 15 s.
raftdns_leader() {
  local tries i
  for ((tries = 0; tries < 150; tries++)); do
    for ((i = 1; i <= nodes; i++)); do
      [[ -n ${pid_of[node$i]:-} ]] || continue
      # A node without a cluster reports the role "single"; it takes writes itself.
      if [[ $(node_role "$i") == @(leader|single) ]]; then
        echo "$i"
        return 0
      fi
    done
    sleep 0.1
  done
  return 1
}

start_raftdns_cluster() {
  local i
  mkdir -p "$scratch/raftdns"
  if ((nodes > 1)); then
    "$RAFTDNSD" --init-key "$scratch/raftdns/cluster.key" >/dev/null ||
      fail "raftdnsd --init-key failed"
  fi
  for ((i = 1; i <= nodes; i++)); do require_free_ports "$(dns_port "$i")" "$(peer_port "$i")"; done
  for ((i = 1; i <= nodes; i++)); do write_node_config "$i"; done
  for ((i = 1; i <= nodes; i++)); do start_node "$i"; done
  for ((i = 1; i <= nodes; i++)); do wait_control "$i"; done
  leader=$(raftdns_leader) || {
    tail -n 20 "$scratch"/raftdns/n*.log >&2
    fail "the raftdnsd cluster elected no leader"
  }
  # shellcheck disable=SC2016 # $ORIGIN and $TTL are zone-file directives
  printf '$ORIGIN writes.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n' \
    >"$scratch/writes.test.zone"
  dnsadm_ "$leader" zone add writes.test --file "$scratch/writes.test.zone" ||
    fail "dnsadm zone add writes.test failed on the leader n$leader"
  note "raftdnsd cluster up, leader n$leader"
}

# One writer: COUNT single-record adds through node NODE; latencies (µs) to FILE.
add_writer() {
  local node=$1 id=$2 run=$3 count=$4 file=$5 k t0 t1 failures=0
  for ((k = 0; k < count; k++)); do
    t0=$(now_us)
    if dnsadm_ "$node" add "r$run-w$id-$k.writes.test" 300 A "10.$id.$((k / 256 % 256)).$((k % 256))" \
      >/dev/null 2>>"$file.err"; then
      t1=$(now_us)
      echo $((t1 - t0))
    else
      failures=$((failures + 1))
    fi
  done >"$file.lat"
  echo "$failures" >"$file.failures"
}

# One writer: COUNT batches from pre-generated files; latencies (µs) to FILE.
batch_writer() {
  local node=$1 id=$2 run=$3 count=$4 file=$5 k t0 t1 failures=0
  for ((k = 0; k < count; k++)); do
    t0=$(now_us)
    if dnsadm_ "$node" batch "$scratch/batches/r$run-w$id-$k" >/dev/null 2>>"$file.err"; then
      t1=$(now_us)
      echo $((t1 - t0))
    else
      failures=$((failures + 1))
    fi
  done >"$file.lat"
  echo "$failures" >"$file.failures"
}

# Runs WRITERS writers of KIND (add|batch) against the leader; appends
# "records_per_s p50_ms p99_ms" to $scratch/raftdns.KIND.runs.
raftdns_run() {
  local kind=$1 run=$2 node w t0 t1 count records failures
  node=$(raftdns_leader) || fail "no raftdnsd leader"
  mkdir -p "$scratch/lat"
  if [[ $kind == batch ]]; then
    mkdir -p "$scratch/batches"
    awk -v run="$run" -v writers="$writers" -v batches="$batches_per_writer" -v size="$batch_size" \
      -v dir="$scratch/batches" 'BEGIN {
        for (w = 0; w < writers; w++)
          for (b = 0; b < batches; b++) {
            f = sprintf("%s/r%d-w%d-%d", dir, run, w, b)
            for (r = 0; r < size; r++)
              printf "ADD: b%d-w%d-%d-%d.writes.test. 300 A 10.%d.%d.%d\n", run, w, b, r, w, b % 256, r % 256 > f
            close(f)
          }
      }'
    count=$batches_per_writer
  else
    count=$adds_per_writer
  fi
  local writer_pids=()
  t0=$(now_us)
  for ((w = 0; w < writers; w++)); do
    "${kind}_writer" "$node" "$w" "$run" "$count" "$scratch/lat/$kind.$run.$w" &
    writer_pids+=($!)
  done
  wait "${writer_pids[@]}"
  t1=$(now_us)
  failures=$(cat "$scratch/lat/$kind.$run".*.failures | awk '{ s += $1 } END { print s + 0 }')
  if ((failures > 0)); then
    head -n 5 "$scratch/lat/$kind.$run".*.err >&2
    fail "raftdnsd $kind run $run: $failures writes failed"
  fi
  records=$((writers * count))
  [[ $kind == batch ]] && records=$((writers * count * batch_size))
  read -r p50 p99 _ < <(cat "$scratch/lat/$kind.$run".*.lat | percentiles)
  awk -v n="$records" -v us=$((t1 - t0)) -v a="$p50" -v b="$p99" \
    'BEGIN { printf "%.0f %s %s\n", n / (us / 1e6), a, b }' >>"$scratch/raftdns.$kind.runs"
  note "raftdnsd $kind run $run (leader n$node): $(tail -1 "$scratch/raftdns.$kind.runs") (records/s p50_ms p99_ms)"
}

# WRITERS persistent control connections to the leader through raftdns-writebench
# (no process per write); KIND add (one record per request) or batch (BATCH_SIZE).
# Appends "records_per_s p50_ms p99_ms" to $scratch/raftdns.wb-KIND.runs.
raftdns_wb_run() {
  local kind=$1 run=$2 node out args
  node=$(raftdns_leader) || fail "no raftdnsd leader"
  if [[ $kind == batch ]]; then
    args=(--writes "$wb_batches" --batch "$batch_size")
  else
    args=(--writes "$wb_adds")
  fi
  local cpu0 cpu1
  cpu0=$(cpu_us_of node)
  out=$("$WRITEBENCH" --socket "$(sock "$node")" --zone writes.test --prefix "wb$kind$run" \
    --writers "$writers" "${args[@]}") || fail "raftdns-writebench $kind run $run failed: $out"
  cpu1=$(cpu_us_of node)
  local writes=$((writers * wb_adds))
  [[ $kind != batch ]] || writes=$((writers * wb_batches * batch_size))
  awk -v c=$((cpu1 - cpu0)) -v n="$writes" 'BEGIN { printf "%.1f\n", c / n }' >>"$scratch/raftdns.wb-$kind.cpu.runs"
  awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
         print v["records_per_s"], v["p50_ms"], v["p99_ms"] }' <<<"$out" >>"$scratch/raftdns.wb-$kind.runs"
  note "raftdns-writebench $kind run $run (leader n$node): $out"
}

# SIGKILL the leader, then time until a write through a surviving node succeeds.
failover_once() {
  local n=$1 leader survivor t0 t1 i tries=0
  leader=$(raftdns_leader) || fail "no leader before failover $n"
  survivor=$((leader % nodes + 1))
  t0=$(now_us)
  stop "node$leader" KILL
  # A short per-attempt timeout keeps the measurement fine-grained: an attempt that
  # went to the dead leader gives up quickly and the next one finds the new leader.
  # Re-adding the same record is harmless if a timed-out attempt did commit.
  until dnsadm_ "$survivor" --timeout 0.25 add "failover-$n.writes.test" 300 A 192.0.2.$((n % 250)) \
    >/dev/null 2>>"$scratch/failover.err"; do
    tries=$((tries + 1))
    ((tries < 400)) || fail "failover $n: no write succeeded through n$survivor"
    sleep 0.02
  done
  t1=$(now_us)
  echo $((t1 - t0)) >>"$scratch/failover.us"
  note "failover $n: leader n$leader killed, write through n$survivor after $(((t1 - t0) / 1000)) ms"
  # Bring the old leader back and let it catch up before the next round.
  start_node "$leader"
  wait_control "$leader"
  for ((i = 0; i < 100; i++)); do
    dnsadm_ "$leader" get "failover-$n.writes.test" A >/dev/null 2>&1 && break
    sleep 0.1
  done
  sleep 1
}

write_restart_zones() {
  local dir=$1
  rm -f "$dir"/big*.test.zone
  awk -v n="$restart_records" -v zones="$restart_zones" -v dir="$dir" 'BEGIN {
    per = int(n / zones)
    for (z = 0; z < zones; z++) {
      f = sprintf("%s/big%d.test.zone", dir, z)
      printf "$ORIGIN big%d.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n", z > f
      printf "@ NS ns1\nns1 A 192.0.2.53\n" > f
      for (i = 0; i < per - 3; i++)
        printf "r%d A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256 > f
      close(f)
    }
  }'
}

# A one-node cluster holding restart_records records; time from start to the first
# answer for the last-imported name, after a clean stop and after SIGKILL.
restart_bench() {
  local dir=$scratch/restart t0 t1 k signal tries
  require_free_ports 16630
  mkdir -p "$dir/data"
  cat >"$dir/node.toml" <<EOF
[node]
id = "solo"
data_dir = "$dir/data"

[dns]
listen = ["127.0.0.1:16630"]
workers = 1

[control]
socket = "$dir/control.sock"
EOF
  "$RAFTDNSD" --config "$dir/node.toml" >>"$dir/raftdnsd.log" 2>&1 &
  pid_of[solo]=$!
  for ((tries = 0; ; tries++)); do
    [[ -S $dir/control.sock ]] && "$DNSADM" --socket "$dir/control.sock" status >/dev/null 2>&1 && break
    ((tries < 150)) || { tail -n 20 "$dir/raftdnsd.log" >&2; fail "restart node did not start"; }
    sleep 0.1
  done
  # The records go into restart_zones zones of equal size (big0.test, big1.test...),
  # each imported with one `dnsadm zone add`. With RESTART_ZONES unset this starts
  # at one zone and doubles the count while dnsadm refuses a request as too large
  # for the control socket (a refused request applies nothing).
  local z err=$dir/import.err
  while :; do
    write_restart_zones "$dir"
    t0=$(now_us)
    "$DNSADM" --socket "$dir/control.sock" --timeout 600 zone add big0.test \
      --file "$dir/big0.test.zone" 2>"$err" && break
    if [[ -z ${RESTART_ZONES:-} ]] && grep -q 'larger than' "$err" && ((restart_zones < 64)); then
      note "$(cat "$err")"
      restart_zones=$((restart_zones * 2))
      note "retrying the import as $restart_zones zones"
      continue
    fi
    cat "$err" >&2
    fail "importing big0.test ($((restart_records / restart_zones)) records) failed"
  done
  for ((z = 1; z < restart_zones; z++)); do
    "$DNSADM" --socket "$dir/control.sock" --timeout 600 zone add "big$z.test" \
      --file "$dir/big$z.test.zone" ||
      fail "importing big$z.test ($((restart_records / restart_zones)) records) failed"
  done
  t1=$(now_us)
  local last=$((restart_records / restart_zones - 4))
  local probe="r$last.big$((restart_zones - 1)).test"
  local want="10.$((last / 65536 % 256)).$((last / 256 % 256)).$((last % 256))"
  import_s=$(awk -v us=$((t1 - t0)) 'BEGIN { printf "%.1f", us / 1e6 }')
  note "imported $restart_records records in $import_s s"
  for signal in TERM KILL; do
    for ((k = 1; k <= restarts; k++)); do
      stop solo "$signal"
      t0=$(now_us)
      "$RAFTDNSD" --config "$dir/node.toml" >>"$dir/raftdnsd.log" 2>&1 &
      pid_of[solo]=$!
      for ((tries = 0; ; tries++)); do
        if [[ $(dig @127.0.0.1 -p 16630 +norec +time=1 +tries=1 +short "$probe" A 2>/dev/null) == "$want" ]]; then
          break
        fi
        ((tries < 6000)) || fail "restarted node does not answer $probe"
        kill -0 "${pid_of[solo]}" 2>/dev/null || { tail -n 20 "$dir/raftdnsd.log" >&2; fail "restarted node exited"; }
        sleep 0.01
      done
      t1=$(now_us)
      echo $((t1 - t0)) >>"$scratch/restart.$signal.us"
      note "restart after SIG$signal $k: answered after $(((t1 - t0) / 1000)) ms"
    done
  done
  stop solo TERM
}

# --- Main ----------------------------------------------------------------------------
machine="$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(uname -sr), data on $(df --output=source,fstype "$scratch" | tail -1 | tr -s ' ')"
add_report "## Write benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
add_report ""
read -r -a phase_words <<<"$phases"
phases_list="${phase_words[*]}"
add_report "Command: \`PHASES=\"$phases_list\" RUNS=$runs WRITERS=$writers ADDS_PER_WRITER=$adds_per_writer BATCH_SIZE=$batch_size BATCHES_PER_WRITER=$batches_per_writer ETCD_WRITES=$etcd_writes ETCDCTL_PUTS=$etcdctl_puts WB_ADDS=$wb_adds WB_BATCHES=$wb_batches NODES=$nodes FAILOVERS=$failovers RESTART_RECORDS=$restart_records${RESTART_ZONES:+ RESTART_ZONES=$RESTART_ZONES} RESTARTS=$restarts bench/writes/run.sh\`"
add_report ""
add_report "Machine: $machine. Everything on loopback, fsync on. Medians of $runs runs. Load average (1 min) at the start: $(cut -d' ' -f1 /proc/loadavg)."
add_report ""

if [[ $phases == *" etcd "* || $phases == *" etcd-checkperf "* ]]; then
  start_etcd
  if [[ $phases == *" etcd "* ]]; then
    for ((r = 1; r <= runs; r++)); do
      etcd_writer_run "$r"
      etcdctl_run "$r"
    done
  fi
  if [[ $phases == *" etcd-checkperf "* ]]; then etcd_check_perf; fi
  for i in 1 2 3; do stop "etcd$i"; done
fi

# The restart test needs one node; the other raftdnsd phases need cluster support.
have_binaries=0
have_cluster=0
if [[ $phases == *" raftdns "* || $phases == *" failover "* || $phases == *" restart "* ]]; then
  RAFTDNSD=${RAFTDNSD:-$(find_binary raftdnsd daemon/server)}
  DNSADM=${DNSADM:-$(find_binary dnsadm tools/dnsadm)}
  if [[ ! -x ${RAFTDNSD:-} || ! -x ${DNSADM:-} ]]; then
    note "raftdnsd/dnsadm not found (set RAFTDNSD and DNSADM): raftdnsd phases skipped"
  else
    have_binaries=1
    WRITEBENCH=${WRITEBENCH:-$(dirname "$RAFTDNSD")/../../bench/writes/raftdns-writebench}
    if [[ ! -x $WRITEBENCH ]]; then
      note "raftdns-writebench not found next to raftdnsd (set WRITEBENCH): only dnsadm writers"
      WRITEBENCH=""
    fi
    if ((nodes == 1)) || "$RAFTDNSD" --help 2>&1 | grep -q -- '--init-key'; then
      have_cluster=1
    else
      note "$RAFTDNSD has no --init-key (no cluster support yet): cluster phases skipped"
    fi
  fi
fi

if ((have_cluster)) && [[ $phases == *" raftdns "* || $phases == *" failover "* ]]; then
  start_raftdns_cluster
  if [[ $phases == *" raftdns "* ]]; then
    for ((r = 1; r <= runs; r++)); do
      if [[ -n $WRITEBENCH ]]; then
        raftdns_wb_run add "$r"
        raftdns_wb_run batch "$r"
      fi
      raftdns_run add "$r"
      raftdns_run batch "$r"
    done
  fi
  if [[ $phases == *" failover "* ]] && ((nodes > 1)); then
    for ((n = 1; n <= failovers; n++)); do failover_once "$n"; done
  fi
  for ((i = 1; i <= nodes; i++)); do stop "node$i"; done
fi
if ((have_binaries)) && [[ $phases == *" restart "* ]]; then restart_bench; fi

# --- Report --------------------------------------------------------------------------
row() { # label file
  local w p50 p99 each
  [[ -s $2 ]] || return 0
  w=$(awk '{ print $1 }' "$2" | median)
  p50=$(awk '{ print $2 }' "$2" | median)
  p99=$(awk '{ print $3 }' "$2" | median)
  each=$(awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }' "$2")
  add_report "| $1 | $w | $p50 | $p99 | $each |"
}
if [[ -s $scratch/etcd.runs || -s $scratch/raftdns.add.runs ]]; then
  add_report "| writer ($writers concurrent) | records/s (median) | p50 ms | p99 ms | records/s, each run |"
  add_report "|---|---:|---:|---:|---|"
  row "etcd 3-member, curl keep-alive puts to the leader ($etcd_writes per run)" "$scratch/etcd.runs"
  row "etcd 3-member, \`etcdctl put\`, a process per write ($((writers * etcdctl_puts)) per run)" \
    "$scratch/etcd.ctl.runs"
  row "raftdnsd $nodes-node, single-record adds, persistent connections ($((writers * wb_adds)) per run)" \
    "$scratch/raftdns.wb-add.runs"
  row "raftdnsd $nodes-node, batches of $batch_size records, persistent connections ($((writers * wb_batches * batch_size)) records per run; latency per batch)" \
    "$scratch/raftdns.wb-batch.runs"
  row "raftdnsd $nodes-node, single-record \`dnsadm add\` ($((writers * adds_per_writer)) per run)" \
    "$scratch/raftdns.add.runs"
  row "raftdnsd $nodes-node, \`dnsadm batch\` of $batch_size records ($((writers * batches_per_writer * batch_size)) records per run; latency per batch)" \
    "$scratch/raftdns.batch.runs"
  add_report ""
fi
cpu_row() { # label file
  [[ -s $2 ]] || return 0
  add_report "| $1 | $(median <"$2") | $(paste -sd' ' "$2" | sed 's/ /, /g') |"
}
if [[ -s $scratch/etcd.cpu.runs || -s $scratch/raftdns.wb-add.cpu.runs ]]; then
  add_report "Server CPU (user + system, summed over the 3 members or nodes, from /proc) per record written, during the runs above:"
  add_report ""
  add_report "| writer ($writers concurrent) | CPU µs per record (median) | each run |"
  add_report "|---|---:|---|"
  cpu_row "etcd 3-member, curl keep-alive puts" "$scratch/etcd.cpu.runs"
  cpu_row "raftdnsd $nodes-node, single-record adds, persistent connections" "$scratch/raftdns.wb-add.cpu.runs"
  cpu_row "raftdnsd $nodes-node, batches of $batch_size records, persistent connections" "$scratch/raftdns.wb-batch.cpu.runs"
  add_report ""
fi
if [[ -s $scratch/etcd/checkperf.txt.verdict ]]; then
  add_report "etcd \`etcdctl check perf --load=$checkperf_load\` (its own load and client count, 60 s):"
  add_report ""
  while read -r line; do add_report "    $line"; done <"$scratch/etcd/checkperf.txt.verdict"
  add_report ""
  cp_rate=$(grep -oE '[0-9]+ writes/s' "$scratch/etcd/checkperf.txt.verdict" | head -1 | cut -d' ' -f1)
  if [[ -n $cp_rate && -s $scratch/raftdns.wb-add.runs ]]; then
    wa=$(awk '{ print $1 }' "$scratch/raftdns.wb-add.runs" | median)
    wbt=$(awk '{ print $1 }' "$scratch/raftdns.wb-batch.runs" | median)
    add_report "$(awk -v cp="$cp_rate" -v a="$wa" -v b="$wbt" -v n="$batch_size" -v w="$writers" 'BEGIN {
      printf "Against check perf'"'"'s %d writes/s: raftdnsd single-record writes %.2fx, records in batches of %d %.2fx (both over %d persistent connections).", cp, a / cp, n, b / cp, w }')"
    add_report ""
  fi
fi
if [[ -s $scratch/etcd.runs && -s $scratch/raftdns.add.runs ]]; then
  e=$(awk '{ print $1 }' "$scratch/etcd.runs" | median)
  c=$(awk '{ print $1 }' "$scratch/etcd.ctl.runs" | median)
  a=$(awk '{ print $1 }' "$scratch/raftdns.add.runs" | median)
  b=$(awk '{ print $1 }' "$scratch/raftdns.batch.runs" | median)
  add_report "Ratios to etcd at the same concurrency ($writers writers):"
  add_report ""
  if [[ -s $scratch/raftdns.wb-add.runs ]]; then
    wa=$(awk '{ print $1 }' "$scratch/raftdns.wb-add.runs" | median)
    wbt=$(awk '{ print $1 }' "$scratch/raftdns.wb-batch.runs" | median)
    add_report "$(awk -v e="$e" -v a="$wa" -v b="$wbt" 'BEGIN {
      printf "- persistent connections, single-record writes, raftdnsd / etcd: %.2fx\n", a / e
      printf "- persistent connections, records/s in batches of '"$batch_size"' / etcd single puts: %.2fx", b / e }')"
  fi
  add_report "$(awk -v e="$e" -v c="$c" -v a="$a" -v b="$b" 'BEGIN {
    printf "- a process per write, `dnsadm add` / `etcdctl put`: %.2fx\n", a / c
    printf "- records/s in `dnsadm batch` of '"$batch_size"' / etcd keep-alive single puts: %.2fx", b / e }')"
  add_report ""
fi
if [[ -s $scratch/failover.us ]]; then
  add_report "Failover (3 nodes; SIGKILL of the leader to the next successful \`dnsadm add\` through a surviving node, retried with \`--timeout 0.25\` every 20 ms), $failovers repeats: median $(awk '{ print $1 / 1000 }' "$scratch/failover.us" | median | xargs printf "%.0f") ms; each: $(awk '{ printf "%s%.0f", (NR > 1 ? ", " : ""), $1 / 1000 }' "$scratch/failover.us") ms."
  add_report ""
fi
for signal in TERM KILL; do
  if [[ -s $scratch/restart.$signal.us ]]; then
    add_report "Restart of a one-node raftdnsd holding $restart_records records in $restart_zones zone(s) (import took ${import_s} s), after SIG$signal: from exec to the first correct answer for the last record imported (dig polled every 10 ms), $restarts repeats: median $(awk '{ print $1 / 1000 }' "$scratch/restart.$signal.us" | median | xargs printf "%.0f") ms; each: $(awk '{ printf "%s%.0f", (NR > 1 ? ", " : ""), $1 / 1000 }' "$scratch/restart.$signal.us") ms."
    add_report ""
  fi
done
if ((!have_cluster)) && [[ $phases == *" raftdns "* || $phases == *" failover "* ]]; then
  add_report "raftdnsd cluster side not measured: no raftdnsd with cluster support (--init-key) was available."
fi

echo "$report"
if [[ $results != - ]]; then
  echo "$report" >"$results"
  note "written to $results"
fi
