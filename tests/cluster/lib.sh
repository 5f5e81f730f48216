# Shared helpers for the cluster tests: N real raftdnsd processes on loopback.
# Usage: source lib.sh; cluster_init N BASE_PORT [extra [cluster] toml lines]
# The helpers shared with the chaos run are in tests/lib/nodes.sh.
set -euo pipefail

RAFTDNSD=${RAFTDNSD:?path to raftdnsd}
DNSADM=${DNSADM:?path to dnsadm}
WORK=$(mktemp -d /tmp/raftdns-cluster.XXXXXX)
declare -A PIDS=()

HERE_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/nodes.sh
source "$HERE_LIB/../lib/nodes.sh"

fail() { echo "FAIL: $*" >&2; dump_logs; exit 1; }

dump_logs() {
  for f in "$WORK"/n*/log; do
    [ -f "$f" ] || continue
    echo "---- $f (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
}

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    { wait "$pid"; } 2>/dev/null || true
  done
  [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

# Node i answers DNS on BASE+i and listens for peers on BASE+50+i, so a test
# owns the 100 ports from BASE (tests/cluster/CMakeLists.txt hands them out).
dns_listen() { echo "127.0.0.1:$((BASE + $1))"; }
peer_listen() { echo "127.0.0.1:$((BASE + 50 + $1))"; }

cluster_init() {
  N=$1
  BASE=$2
  CLUSTER_EXTRA=${3:-}
  "$RAFTDNSD" --init-key "$WORK/cluster.key" >/dev/null
  for i in $(seq 1 "$N"); do write_config "$i"; done
}

start_node() {
  local i=$1
  "$RAFTDNSD" --config "$WORK/n$i/raftdns.toml" >>"$WORK/n$i/log" 2>&1 &
  PIDS[$i]=$!
  wait_until 10 test -S "$WORK/n$i/control.sock" || fail "n$i did not open its control socket"
}

start_all() { for i in $(seq 1 "$N"); do start_node "$i"; done; }

kill_node() {  # SIGKILL: a crash
  local i=$1
  kill -9 "${PIDS[$i]}" 2>/dev/null || true
  wait "${PIDS[$i]}" 2>/dev/null || true
  unset "PIDS[$i]"
  rm -f "$WORK/n$i/control.sock"
}

stop_node() {  # SIGTERM: a clean shutdown
  local i=$1
  kill -TERM "${PIDS[$i]}" 2>/dev/null || true
  wait "${PIDS[$i]}" 2>/dev/null || true
  unset "PIDS[$i]"
}

# The process has exited (it may still be an unreaped child of this shell,
# for which kill -0 still succeeds).
exited() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
  [ -z "$state" ] || [ "$state" = Z ]
}

# dig +short against node i
ask() { dig @127.0.0.1 -p $((BASE + $1)) "$2" "${3:-A}" +short +time=1 +tries=2; }

wait_leader() { await_leader "${1:-15}" || fail "no leader elected"; }

# Retries a write until a leader accepts it (elections take a moment).
write_retry() {
  local i=$1; shift
  local deadline=$((SECONDS + 20))
  until adm "$i" "$@" >/dev/null 2>"$WORK/last_err"; do
    [ $SECONDS -ge $deadline ] && fail "write on n$i failed: $(cat "$WORK/last_err")"
    sleep 0.2
  done
}

demo_zone() {
  cat >"$WORK/example.com.zone" <<'ZONE'
$ORIGIN example.com.
$TTL 300
@    IN SOA ns1.example.com. hostmaster.example.com. 1 3600 900 604800 300
     IN NS  ns1
ns1  IN A   127.0.0.1
www  IN A   192.0.2.10
ZONE
  echo "$WORK/example.com.zone"
}

