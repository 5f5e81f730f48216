#!/usr/bin/env bash
# --wait all returns once every member has applied the change; when one has
# not by --timeout, dnsadm names it and exits non-zero (the change itself is
# committed and stays).
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
P=$(( L % 3 + 1 ))
log "pausing n$P"
kill -STOP "${PIDS[$P]}"
if adm "$L" add paused.example.com 300 A 192.0.2.44 --wait all --timeout 2 2>"$WORK/err"; then
  kill -CONT "${PIDS[$P]}"
  fail "--wait all succeeded while n$P was paused"
fi
kill -CONT "${PIDS[$P]}"
cat "$WORK/err"
grep -q "missing on n$P" "$WORK/err" || fail "the error does not name n$P: $(cat "$WORK/err")"
[ "$(ask "$L" paused.example.com)" = 192.0.2.44 ] || fail "the change was not applied on n$L"
wait_until 15 converged || fail "n$P did not catch up after SIGCONT"
[ "$(ask "$P" paused.example.com)" = 192.0.2.44 ] || fail "n$P lacks the change after catching up"
log "PASS"
