# Shared helpers for the cluster tests: N real raftdnsd processes on loopback.
# Usage: source lib.sh; cluster_init N BASE_PORT [extra [cluster] toml lines]
# Node i listens for DNS on BASE+i and for peers on BASE+50+i.
set -euo pipefail

RAFTDNSD=${RAFTDNSD:?path to raftdnsd}
DNSADM=${DNSADM:?path to dnsadm}
WORK=$(mktemp -d /tmp/raftdns-cluster.XXXXXX)
declare -A PIDS=()

log() { echo "[$(date +%T.%3N)] $*"; }
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

cluster_init() {
  N=$1
  BASE=$2
  EXTRA=${3:-}
  "$RAFTDNSD" --init-key "$WORK/cluster.key" >/dev/null
  for i in $(seq 1 "$N"); do write_config "$i" "$WORK/cluster.key"; done
}

write_config() {
  local i=$1 key=$2 d=$WORK/n$1
  mkdir -p "$d"
  {
    echo "[node]"
    echo "id = \"n$i\""
    echo "data_dir = \"$d/data\""
    echo "[dns]"
    echo "listen = [\"127.0.0.1:$((BASE + i))\"]"
    echo "workers = 1"
    echo "[control]"
    echo "socket = \"$d/control.sock\""
    echo "[cluster]"
    echo "listen = \"127.0.0.1:$((BASE + 50 + i))\""
    echo "key_file = \"$key\""
    [ -n "$EXTRA" ] && printf '%s\n' "$EXTRA"
    for j in $(seq 1 "$N"); do
      [ "$j" = "$i" ] && continue
      echo "[[cluster.peer]]"
      echo "id = \"n$j\""
      echo "address = \"127.0.0.1:$((BASE + 50 + j))\""
    done
  } >"$d/raftdns.toml"
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

adm() { local i=$1; shift; "$DNSADM" --socket "$WORK/n$i/control.sock" "$@"; }

# dig +short against node i
ask() { dig @127.0.0.1 -p $((BASE + $1)) "$2" "${3:-A}" +short +time=1 +tries=2; }

wait_until() {  # wait_until SECONDS command...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

role_of() { adm "$1" status --json 2>/dev/null | jq -r '.cluster.role // empty'; }
applied_of() { adm "$1" status --json 2>/dev/null | jq -r '.cluster.applied // 0'; }
digest_of() { adm "$1" status --json 2>/dev/null | jq -r '.cluster.digest // empty'; }

leader() {  # prints the index of the node that is leader, or fails
  for i in "${!PIDS[@]}"; do
    [ "$(role_of "$i")" = leader ] && { echo "$i"; return 0; }
  done
  return 1
}

wait_leader() { wait_until "${1:-15}" leader || fail "no leader elected"; leader; }

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

# All running nodes have applied the same index and have equal digests.
converged() {
  local a="" d=""
  for i in "${!PIDS[@]}"; do
    local ai di
    ai=$(applied_of "$i"); di=$(digest_of "$i")
    [ -n "$di" ] || return 1
    if [ -z "$a" ]; then a=$ai; d=$di; continue; fi
    [ "$ai" = "$a" ] && [ "$di" = "$d" ] || return 1
  done
}
