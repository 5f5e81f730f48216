#!/usr/bin/env bash
# A follower catching up by snapshot after a big import, timed.
#
# A fresh 3-node cluster (compact_entries = 50, so the leader compacts its log
# during the import) serves a small example.com. One follower is stopped
# (SIGSTOP), a zone of RECORDS A records is imported through the leader with
# one `dnsadm zone add`, and once the leader has compacted its log past what
# the follower holds, the follower is resumed (SIGCONT). Measured: the time
# from the resumption until the follower answers the zone's last record, the
# Raft term before and after (leader changes), and the answers of every node,
# polled every 20 ms (tests/bigzones/poll.py): the two running
# nodes over the whole import and catch-up, the follower from its resumption
# on. The follower must have caught up through a snapshot install (its log
# says so) and all nodes must converge to the same digest.
#
# The terms are read from the nodes' logs ("raft: role ... at term N"), not
# with `dnsadm status`, so that reading them asks nothing of the nodes. The
# digests are compared after everything else is measured, with `dnsadm
# status` on every node: each one reads the whole store (3 s at 10M records,
# on a thread beside the node's loop), and the terms are read again after it,
# since that comparison must not move them either.
#
# Usage: bench/zones/catchup.sh
# Environment:
#   RAFTDNSD, DNSADM  the binaries (default: ./build/daemon/server/raftdnsd, ./build/tools/dnsadm/dnsadm)
#   RECORDS           A records in the zone (default 10000000)
#   RUNS              runs, each on a fresh cluster (default 1); medians are reported
#   PORT_BASE         first of the 100 ports used (default 25460): node i answers
#                     DNS on PORT_BASE+i and listens for peers on PORT_BASE+50+i
#   RESULTS           where the markdown table goes (default: stdout only)
#   KEEP_WORK=1       keep the scratch directory
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
export RAFTDNSD=${RAFTDNSD:-$repo/build/daemon/server/raftdnsd}
export DNSADM=${DNSADM:-$repo/build/tools/dnsadm/dnsadm}
# shellcheck source-path=SCRIPTDIR source=../../tests/bigzones/lib.sh
source "$repo/tests/bigzones/lib.sh"
n=${RECORDS:-10000000}
runs=${RUNS:-1}
port_base=${PORT_BASE:-25460}
results=${RESULTS:--}
limit=$((300 + n / 10000))  # every wait is bounded, by more for bigger zones

BIG=$WORK/big.zone
big_zone "$BIG" "$n" 2
LAST=h$((n - 1)).example.com
LAST_ADDR=$(big_zone_address $((n - 1)))

# poll OUT NODE...: poll.py on the nodes every 20 ms, for at most $limit s.
declare -A POLL_PIDS=()
poll() {
  local out=$1 specs=() i; shift
  for i in "$@"; do specs+=("$(dns_listen "$i")"); done
  rm -f "$out.stop"
  /usr/bin/python3 "$repo/tests/bigzones/poll.py" "$out.stop" "$limit" 0.02 www.example.com 192.0.2.10 \
    "${specs[@]}" >"$out" &
  POLL_PIDS[$out]=$!
}
unpoll() { touch "$1.stop"; wait "${POLL_PIDS[$1]}" || fail "the poller writing $1 failed"; unset "POLL_PIDS[$1]"; }
max_gap() { awk '{ split($3, g, "="); if (g[2] > m) m = g[2] } END { print m + 0 }' "$@"; }
log_term() { grep -o 'raft: role [a-z-]* at term [0-9]*' "$WORK/n$1/log" | awk 'END { print $NF + 0 }'; }
min_answers() { awk '{ split($2, a, "="); if (NR == 1 || a[2] < m) m = a[2] } END { print m + 0 }' "$@"; }

declare -a r_import=() r_catchup=() r_changes=() r_by_status=() r_gap_live=() r_gap_resumed=() r_answers=()
for run in $(seq 1 "$runs"); do
  if [ "$run" -gt 1 ]; then
    for i in 1 2 3; do kill_node "$i"; done
    rm -rf "$WORK"/n? "$WORK/cluster.key"
  fi
  cluster_init 3 "$port_base" "compact_entries = 50"
  start_all
  L=$(wait_leader)
  write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
  wait_until 60 converged || fail "the nodes did not converge on the small zone"
  F=$(( L % 3 + 1 ))
  O=$(( F % 3 + 1 )); [ "$O" = "$L" ] && O=$(( O % 3 + 1 ))
  declare -A term0=()
  for i in 1 2 3; do term0[$i]=$(log_term "$i"); done

  poll "$WORK/poll.live" "$L" "$O"
  kill -STOP "${PIDS[$F]}"
  log "run $run: n$F stopped; importing $n records through n$L (term ${term0[$L]})"
  t0=$(now_ms)
  adm "$L" --timeout "$limit" zone add example.com --file "$BIG" 2>"$WORK/import.err" ||
    fail "the import failed: $(cat "$WORK/import.err")"
  t1=$(now_ms)
  wait_until "$limit" grep -q compacted "$WORK/n$L/log" || fail "the leader did not compact its WAL"

  kill -CONT "${PIDS[$F]}"
  poll "$WORK/poll.resumed" "$F"
  start=$(now_ms)
  caught_up() { [ "$(ask "$F" "$LAST")" = "$LAST_ADDR" ]; }
  wait_until "$limit" caught_up || fail "n$F did not catch up within $limit s"
  end=$(now_ms)
  grep -q "snapshot: installed" "$WORK/n$F/log" || fail "n$F caught up without a snapshot"
  sleep 1  # a moment of answers after the install, on the new content
  unpoll "$WORK/poll.live"
  unpoll "$WORK/poll.resumed"
  changes=0
  for i in 1 2 3; do
    t=$(log_term "$i")
    [ $((t - term0[$i])) -gt "$changes" ] && changes=$((t - term0[$i]))
  done
  declare -A term1=()
  for i in 1 2 3; do term1[$i]=$(log_term "$i"); done
  wait_until "$limit" converged || fail "the nodes did not converge to the same digest"
  by_status=0
  for i in 1 2 3; do
    t=$(log_term "$i")
    [ $((t - term1[$i])) -gt "$by_status" ] && by_status=$((t - term1[$i]))
  done
  imp=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
  cu=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
  gl=$(max_gap "$WORK/poll.live"); gr=$(max_gap "$WORK/poll.resumed")
  an=$(min_answers "$WORK/poll.live" "$WORK/poll.resumed")
  r_import+=("$imp"); r_catchup+=("$cu"); r_changes+=("$changes"); r_by_status+=("$by_status")
  r_gap_live+=("$gl"); r_gap_resumed+=("$gr"); r_answers+=("$an")
  log "run $run: import ${imp} s (n$F stopped); n$F caught up in ${cu} s; term moved by $changes," \
    "then by $by_status during the digest comparison;" \
    "longest gap ${gl} ms (n$L, n$O), ${gr} ms (n$F after resuming); store $(du -sh "$WORK/n$L/data" | cut -f1)"
  cat "$WORK/poll.live" "$WORK/poll.resumed"
  grep -h "snapshot" "$WORK/n$F/log" "$WORK/n$L/log" | tail -n 6
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -1; }
{
  echo "| records | runs | import with one follower stopped, s (median) | follower's catch-up to the last record, s (median) | leader changes (max) | leader changes during the digest comparison (max) | longest gap, running nodes, ms (max) | longest gap, follower after resuming, ms (max) | all runs: catch-up s |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
  echo "| $n | $runs | $(median "${r_import[@]}") | $(median "${r_catchup[@]}") | $(maxof "${r_changes[@]}") | $(maxof "${r_by_status[@]}") | $(maxof "${r_gap_live[@]}") | $(maxof "${r_gap_resumed[@]}") | ${r_catchup[*]} |"
} >"$WORK/table"
cat "$WORK/table"
[ "$results" = - ] || cp "$WORK/table" "$results"
