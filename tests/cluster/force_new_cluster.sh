#!/usr/bin/env bash
# Disaster recovery: two of three nodes are lost for good. The survivor,
# restarted with --force-new-cluster, is a one-voter cluster with everything
# it had; writes work again, the last voter cannot be removed, and two new
# members join from empty data directories.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
for k in $(seq 1 10); do write_retry "$L" add "d$k.example.com" 300 A "192.0.2.$k"; done
wait_until 20 converged || fail "not converged before the disaster"
S=$(( L % 3 + 1 ))  # a follower survives
for i in 1 2 3; do kill_node "$i"; done
log "n1, n2 and n3 are down; n$S survives"

"$RAFTDNSD" --config "$WORK/n$S/raftdns.toml" --force-new-cluster >>"$WORK/n$S/log" 2>&1 &
PIDS[$S]=$!
wait_until 10 test -S "$(sock_of "$S")" || fail "n$S did not start"
grep -q "force-new-cluster: n$S is now the only voter" "$WORK/n$S/log" || fail "no log line"
write_retry "$S" add after.example.com 300 A 192.0.2.99
for k in $(seq 1 10); do
  [ "$(ask "$S" "d$k.example.com")" = "192.0.2.$k" ] || fail "the survivor lost d$k"
done
[ "$(adm "$S" member list --json | jq -r '[.[].id] | join(",")')" = "n$S" ] ||
  fail "the survivor is not alone"
status=0
adm "$S" member remove "n$S" 2>"$WORK/err" || status=$?
[ "$status" = 1 ] && grep -q "it is the last voter" "$WORK/err" ||
  fail "removing the last voter was not refused: $status $(cat "$WORK/err")"

# A restart without the flag keeps the new cluster of one.
stop_node "$S"
start_node "$S"
write_retry "$S" add again.example.com 300 A 192.0.2.98

# Two new members join at new addresses.
N=5
for i in 4 5; do
  CLUSTER_EXTRA="join = true" PEERS="$S 4 5" write_config "$i"
  start_node "$i"
  adm "$S" --timeout 20 member add "n$i" "$(peer_listen "$i")" || fail "member add n$i failed"
  wait_until 60 sh -c "'$DNSADM' --socket '$(sock_of "$S")' member list --json |
    jq -e '.[] | select(.id == \"n$i\" and .role == \"voter\")'" || fail "n$i never became a voter"
done
node_up() { [ "$1" = "$S" ] || [ "$1" = 4 ] || [ "$1" = 5 ]; }
wait_until 30 converged || fail "digests differ"
for i in 4 5; do
  [ "$(ask "$i" d7.example.com)" = 192.0.2.7 ] || fail "n$i lacks the old data"
  [ "$(ask "$i" again.example.com)" = 192.0.2.98 ] || fail "n$i lacks the new data"
done
kill_node "$S"
write_retry 4 add quorum.example.com 300 A 192.0.2.97
log "PASS"
