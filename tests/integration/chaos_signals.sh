#!/bin/bash
# CHAOS id.server and version.bind; SIGHUP reloads them and the log level;
# sd_notify READY=1 and STOPPING=1; SIGTERM exits 0 and cleans up.
source "$(dirname "$0")/lib.sh"
setup "$@" 15305
write_config 'identity = "ns-test"' 'version = "test-version"'

"$PROBE" notify-listen "$WORK/notify.sock" 30 "$WORK/notify.log" &
LISTENER=$!
track "$LISTENER"
sleep 0.2
NOTIFY_SOCKET=$WORK/notify.sock start_daemon
expect_eq "id.server" '"ns-test"' "$(q id.server CH TXT)"
expect_eq "hostname.bind" '"ns-test"' "$(q hostname.bind CH TXT)"
expect_eq "version.bind" '"test-version"' "$(q version.bind CH TXT)"
expect_eq "version.server" '"test-version"' "$(q version.server CH TXT)"

# Reload: new identity, version turned off, a key that needs a restart.
write_config 'identity = "ns-renamed"' 'version = ""' 'max_udp_size = 1400'
sed -i '1i [log]\nlevel = "debug"' "$CONFIG"
kill -HUP "$DAEMON_PID"
for _ in $(seq 1 50); do
  [[ "$(q id.server CH TXT)" == '"ns-renamed"' ]] && break
  sleep 0.05
done
expect_eq "id.server after SIGHUP" '"ns-renamed"' "$(q id.server CH TXT)"
expect_eq "version.bind turned off" "REFUSED" "$(rcode version.bind CH TXT)"
grep -q 'dns.max_udp_size changed; it takes effect after a restart' "$WORK/daemon.log" \
  || fail "reload did not name the key it could not apply"
grep -q 'log level debug' "$WORK/daemon.log" || fail "log level not reloaded"

# A broken config on reload keeps the running one.
echo 'bogus = 1' >> "$CONFIG"
kill -HUP "$DAEMON_PID"
sleep 0.3
grep -q 'unknown key "control.bogus"' "$WORK/daemon.log" || fail "bad reload not logged"
expect_eq "still serving after a bad reload" '"ns-renamed"' "$(q id.server CH TXT)"

stop_daemon
sleep 0.2
kill "$LISTENER" 2>/dev/null || true
wait "$LISTENER" 2>/dev/null || true
grep -q '^READY=1' "$WORK/notify.log" || fail "no READY=1: $(cat "$WORK/notify.log")"
grep -q '^RELOADING=1' "$WORK/notify.log" || fail "no RELOADING=1"
grep -q '^STOPPING=1' "$WORK/notify.log" || fail "no STOPPING=1"
[[ ! -e "$SOCK" ]] || fail "control socket left behind"
grep -q 'store closed' "$WORK/daemon.log" || fail "store not closed on SIGTERM"
echo PASS
