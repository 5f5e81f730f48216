#!/bin/bash
# The TCP idle timeout: a connection that never sends, and one that goes
# quiet after a query, are both closed after tcp_idle_timeout seconds, not
# before and not much later.
source "$(dirname "$0")/../integration/lib.sh"
setup "$@" 15902
TOOL=$PROBE
write_config  # lib.sh sets tcp_idle_timeout = 2
grep -qx 'tcp_idle_timeout = 2' "$CONFIG" || fail "expected lib.sh to set tcp_idle_timeout = 2"
write_zone
start_daemon
adm zone add example.com --file "$WORK/example.com.zone"

check_idle() {
  local what=$1 query_first=$2 ms
  ms=$("$TOOL" tcp-idle 127.0.0.1 "$PORT" 127.0.0.1 "$query_first" 6000 | sed -n 's/^closed_after_ms=//p')
  echo "$what: closed after ${ms} ms"
  (( ms >= 1800 )) || fail "$what: closed after $ms ms, before the 2 s timeout"
  (( ms <= 3500 )) || fail "$what: still open ${ms} ms into a 2 s timeout (-1: never)"
}
# Both at once: each connection has its own timer.
check_idle "silent connection" 0 &
silent=$!
check_idle "connection idle after a query" 1
wait "$silent" || fail "silent connection check failed"
expect_eq "TCP still served" "192.0.2.10" "$(q +tcp www.example.com A)"
stop_daemon
echo PASS
