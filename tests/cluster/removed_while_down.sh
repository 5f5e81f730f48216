#!/usr/bin/env bash
# A node removed from the membership while it was down learns it when it comes
# back: the members no longer count it a peer, and tell it so in a message
# authenticated with the cluster key (their membership, applied past the
# index the node stopped at, lacks it). It stops answering DNS, says so in its
# log and exits with status 3, as raftdnsd(8) documents.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
[ "$(ask 3 www.example.com)" = 192.0.2.10 ] || fail "n3 does not answer before the test"
kill_node 3
log "n3 is down"
adm 1 --timeout 20 member remove n3 || fail "member remove n3 failed"
write_retry 1 add after.example.com 300 A 192.0.2.77
# A member keeps a removed node dialable for a few election timeouts, to tell
# it directly; let that pass, so that what is tested is a restart long after.
sleep 3

# Started directly, not with start_node: it may be gone before its control
# socket could be seen.
"$RAFTDNSD" --config "$WORK/n3/raftdns.toml" >>"$WORK/n3/log" 2>&1 &
PIDS[3]=$!
status=0
wait_until 30 exited "${PIDS[3]}" || fail "n3 still runs 30 s after its restart"
wait "${PIDS[3]}" || status=$?
unset "PIDS[3]"
[ "$status" = 3 ] || fail "n3 exited with status $status, not 3"
grep "was removed from the cluster" "$WORK/n3/log" | head -1
grep -q "this node (n3) was removed from the cluster by index [0-9]* (told by n[12], whose membership applied through that index lacks it); it no longer serves" \
  "$WORK/n3/log" || fail "n3 does not log that it was removed"
grep -q "stopped: removed from the cluster" "$WORK/n3/log" || fail "n3 does not log why it stopped"
[ "$(ask 3 www.example.com)" != 192.0.2.10 ] || fail "n3 still answers DNS"
grep -q "(claims n3): not a peer of this node; told so and closed" "$WORK/n1/log" "$WORK/n2/log" ||
  fail "neither member logs that it told n3"
# The cluster is untouched.
write_retry 2 add later.example.com 300 A 192.0.2.78
N=2
wait_until 20 converged || fail "n1 and n2 differ"
[ "$(ask 2 after.example.com)" = 192.0.2.77 ] || fail "n2 lost a write"
log "PASS"
