#!/bin/bash
# TCP connection caps: one address cannot hold more than tcp_max_per_client
# connections (the extra ones are closed at once, the held ones are served),
# the server as a whole holds at most tcp_max_connections, and while one
# client is at its cap another address is still served over TCP and UDP.
source "$(dirname "$0")/../integration/lib.sh"
setup "$@" 15901
TOOL=$PROBE
write_config 'tcp_max_per_client = 4' 'tcp_max_connections = 10'
# Held connections must outlive the whole test, not lib.sh's 2 s timeout.
sed -i 's/^tcp_idle_timeout = .*/tcp_idle_timeout = 30/' "$CONFIG"
write_zone
start_daemon
adm zone add example.com --file "$WORK/example.com.zone"

# Starts a holder of COUNT connections from SRC in the background and waits
# for its report.
hold() {
  local src=$1 count=$2 out=$WORK/hold-$1
  "$TOOL" tcp-hold 127.0.0.1 "$PORT" "$src" "$count" 6000 > "$out" &
  track $!
  for _ in $(seq 1 100); do
    grep -q '^served=' "$out" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "tcp-hold from $src did not report"
}
held() { sed -n "s/^$2=//p" "$WORK/hold-$1"; }
dig_from() { dig -b "$1" @127.0.0.1 -p "$PORT" +time=2 +tries=1 +short "${@:2}"; }

# A flood of 40 connections from one address: 4 held and served, 36 closed.
hold 127.0.0.1 40
expect_eq "per-client cap: open" 4 "$(held 127.0.0.1 open)"
expect_eq "per-client cap: closed" 36 "$(held 127.0.0.1 closed)"
expect_eq "per-client cap: held ones served" 4 "$(held 127.0.0.1 served)"
expect_eq "another address over TCP" "192.0.2.10" "$(dig_from 127.0.1.1 +tcp www.example.com A)"
expect_eq "same address over UDP" "192.0.2.10" "$(dig_from 127.0.0.1 www.example.com A)"

# Two more addresses fill the total of 10: 4 + 4 + 2.
hold 127.0.0.2 4
expect_eq "second address: open" 4 "$(held 127.0.0.2 open)"
hold 127.0.0.3 4
expect_eq "total cap: third address open" 2 "$(held 127.0.0.3 open)"
expect_eq "total cap: third address closed" 2 "$(held 127.0.0.3 closed)"
# At the total cap a new TCP client is turned away, UDP is untouched.
"$TOOL" tcp-hold 127.0.0.1 "$PORT" 127.0.1.1 1 0 > "$WORK/full"
expect_eq "TCP at the total cap" "open=0" "$(head -n 1 "$WORK/full")"
expect_eq "UDP at the total cap" "192.0.2.10" "$(dig_from 127.0.1.1 www.example.com A)"

# Once the holders let go, TCP is open to everyone again.
for pid in "${HELPER_PIDS[@]}"; do wait "$pid"; done
HELPER_PIDS=()
sleep 0.2
expect_eq "TCP after the flood" "192.0.2.10" "$(dig_from 127.0.1.1 +tcp www.example.com A)"
hold 127.0.0.1 4
expect_eq "per-client budget is released" 4 "$(held 127.0.0.1 open)"
kill -0 "$DAEMON_PID" || fail "daemon died"
stop_daemon
echo PASS
