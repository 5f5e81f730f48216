#!/usr/bin/env bash
# Kill 2 of 3: the survivor answers every query, a write fails with the
# no-quorum reason and applies nothing; restart them and writes work again.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
adm "$L" add before.example.com 300 A 192.0.2.1 --wait all || fail "initial write"
S=$(( L % 3 + 1 ))
for i in 1 2 3; do [ "$i" = "$S" ] || kill_node "$i"; done
log "only n$S is left"
[ "$(ask "$S" www.example.com)" = 192.0.2.10 ] || fail "survivor stopped answering"
[ "$(ask "$S" before.example.com)" = 192.0.2.1 ] || fail "survivor lost data"
t0=$(date +%s.%N)
if adm "$S" add lost.example.com 300 A 192.0.2.2 --timeout 2 2>"$WORK/err"; then
  fail "a write succeeded without a quorum"
fi
t1=$(date +%s.%N)
cat "$WORK/err"
grep -q "no quorum: 1 of 3 voters reachable" "$WORK/err" || fail "wrong reason: $(cat "$WORK/err")"
[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "reason is not one line"
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 4.0) }' || fail "write took too long to fail"
[ -z "$(ask "$S" lost.example.com)" ] || fail "the refused write was applied"
for i in 1 2 3; do [ "$i" = "$S" ] || start_node "$i"; done
L=$(wait_leader 20)
write_retry "$S" add again.example.com 300 A 192.0.2.3 --wait all
[ -z "$(ask "$L" lost.example.com)" ] || fail "the refused write appeared after healing"
for i in 1 2 3; do
  [ "$(ask "$i" before.example.com)" = 192.0.2.1 ] || fail "n$i lost data"
  [ "$(ask "$i" again.example.com)" = 192.0.2.3 ] || fail "n$i lacks the new write"
done
log "PASS"
