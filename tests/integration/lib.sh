# Shared helpers for the integration tests: a temp dir per test, a daemon on
# loopback, and cleanup that kills whatever the test started.
# Usage (from a test): source lib.sh; setup RAFTDNSD DNSADM PROBE PORT
set -euo pipefail

setup() {
  RAFTDNSD=$1
  DNSADM=$2
  PROBE=$3
  PORT=$4
  WORK=$(mktemp -d /tmp/raftdns-it.XXXXXX)
  SOCK=$WORK/control.sock
  CONFIG=$WORK/node.toml
  DAEMON_PID=
  HELPER_PIDS=()
  trap cleanup EXIT
  write_config
}

cleanup() {
  local status=$?
  for pid in "${HELPER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ -n "${DAEMON_PID:-}" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -f "$WORK/daemon.log" ]]; then
    echo "--- daemon log ---" >&2
    tail -n 40 "$WORK/daemon.log" >&2
  fi
  rm -rf "$WORK"
  exit $status
}

# Extra [dns] lines may be passed as arguments.
write_config() {
  {
    echo '[node]'
    echo 'id = "it1"'
    echo "data_dir = \"$WORK/data\""
    echo '[dns]'
    echo "listen = [\"127.0.0.1:$PORT\", \"[::1]:$PORT\"]"
    echo 'workers = 2'
    echo 'tcp_idle_timeout = 2'
    for line in "$@"; do echo "$line"; done
    echo '[control]'
    echo "socket = \"$SOCK\""
  } > "$CONFIG"
}

# Background helpers (listeners) die with the test.
track() { HELPER_PIDS+=("$1"); }

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

start_daemon() {
  "$RAFTDNSD" --config "$CONFIG" >>"$WORK/daemon.log" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 1 100); do
    if "$DNSADM" --socket "$SOCK" --timeout 1 status >/dev/null 2>&1; then return 0; fi
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "raftdnsd exited during start-up"
    sleep 0.05
  done
  fail "raftdnsd did not come up"
}

stop_daemon() {
  kill -TERM "$DAEMON_PID"
  local rc=0
  wait "$DAEMON_PID" || rc=$?
  DAEMON_PID=
  [[ $rc -eq 0 ]] || fail "raftdnsd exited with $rc after SIGTERM"
}

adm() { "$DNSADM" --socket "$SOCK" "$@"; }

# dig against the daemon; prints the short answer.
q() { dig @127.0.0.1 -p "$PORT" +time=2 +tries=1 +short "$@"; }
q6() { dig @::1 -p "$PORT" +time=2 +tries=1 +short "$@"; }
# The status (rcode) of a query.
rcode() {
  dig @127.0.0.1 -p "$PORT" +time=2 +tries=1 "$@" | sed -n "s/.*status: \\([A-Z]*\\),.*/\\1/p" | head -n 1
}

expect_eq() {
  local what=$1 want=$2 got=$3
  [[ "$got" == "$want" ]] || fail "$what: want [$want] got [$got]"
}

write_zone() {
  cat > "$WORK/example.com.zone" <<'ZONE'
$ORIGIN example.com.
$TTL 300
@        IN SOA ns1 hostmaster 2024010101 3600 600 86400 300
@        IN NS  ns1
ns1      IN A   192.0.2.1
www      IN A   192.0.2.10
alias    IN CNAME www
@        IN MX  10 mail
mail     IN A   192.0.2.25
ZONE
}
