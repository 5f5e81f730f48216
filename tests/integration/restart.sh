#!/bin/bash
# Restart the daemon (cleanly, then with SIGKILL): all data is still there.
source "$(dirname "$0")/lib.sh"
setup "$@" 15302
write_zone
start_daemon

adm zone add example.com --file "$WORK/example.com.zone"
adm add kept.example.com 300 A 192.0.2.70
adm remove www.example.com A 192.0.2.10
adm add www.example.com 300 A 192.0.2.11
export_before=$(adm zone export example.com)
index_before=$(adm status --json | sed 's/.*"applied_index":\([0-9]*\).*/\1/')

stop_daemon
[[ ! -e "$SOCK" ]] || fail "control socket left behind after SIGTERM"
start_daemon
expect_eq "kept record after restart" "192.0.2.70" "$(q kept.example.com A)"
expect_eq "changed record after restart" "192.0.2.11" "$(q www.example.com A)"
expect_eq "export after restart" "$export_before" "$(adm zone export example.com)"
index_after=$(adm status --json | sed 's/.*"applied_index":\([0-9]*\).*/\1/')
# The log never goes backwards; a new leader term may add one empty entry.
[[ "$index_after" -ge "$index_before" ]] || fail "applied index went back: $index_before -> $index_after"

# A write acknowledged just before SIGKILL survives it.
adm add crash.example.com 300 A 192.0.2.80
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
start_daemon  # replaces the stale control socket
expect_eq "record written before SIGKILL" "192.0.2.80" "$(q crash.example.com A)"
adm add after.example.com 300 A 192.0.2.81
index_final=$(adm status --json | sed 's/.*"applied_index":\([0-9]*\).*/\1/')
[[ "$index_final" -ge "$((index_before + 2))" ]] ||
  fail "indexes did not continue after restarts: $index_before -> $index_final"

stop_daemon
echo PASS
