#!/usr/bin/env bash
# Grow 3 -> 5 and shrink 5 -> 3 under a steady writer, the leader removed on
# the way down: no acknowledged write is lost, every member answers DNS
# throughout, a removed node stops and exits with status 3, and the
# digests end equal.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
declare -A MEMBER=([1]=1 [2]=1 [3]=1)
node_up() { [ -n "${MEMBER[$1]:-}" ] && [ -n "${PIDS[$1]:-}" ]; }

# The writer: bounded in count and time, through whichever member answers.
ACKED=$WORK/acked
: >"$ACKED"
writer() {
  local k i deadline=$((SECONDS + 90))
  for k in $(seq 1 400); do
    [ -f "$WORK/stop" ] || [ $SECONDS -ge $deadline ] && break
    for i in 1 2 3 4 5; do
      [ -S "$(sock_of "$i")" ] || continue
      if adm "$i" --timeout 3 add "w$k.example.com" 300 A "198.51.100.$((k % 250 + 1))" \
        >/dev/null 2>&1; then
        echo "w$k $((k % 250 + 1))" >>"$ACKED"
        break
      fi
    done
    sleep 0.05
  done
}
writer &
WRITER=$!

# Every member answers DNS, at every step.
all_answer() {
  local i
  for i in "${!MEMBER[@]}"; do
    [ "$(ask "$i" www.example.com)" = 192.0.2.10 ] || fail "n$i does not answer ($1)"
  done
}
is_voter() {
  adm 1 member list --json 2>/dev/null | jq -e ".[] | select(.id == \"n$1\" and .role == \"voter\")"
}

N=5
for i in 4 5; do
  CLUSTER_EXTRA="join = true" PEERS="1 2 3 4 5" write_config "$i"
  start_node "$i"
  adm 1 --timeout 20 member add "n$i" "$(peer_listen "$i")" || fail "member add n$i failed"
  MEMBER[$i]=1
  wait_until 60 is_voter "$i" || fail "n$i never became a voter"
  wait_until 20 sh -c "[ \"\$(dig @127.0.0.1 -p $((BASE + i)) www.example.com +short +time=1 +tries=1)\" = 192.0.2.10 ]" ||
    fail "n$i does not answer after joining"
  all_answer "after adding n$i"
  log "n$i is a voter"
done
[ "$(adm 2 member list --json | jq '[.[] | select(.role == "voter")] | length')" = 5 ] ||
  fail "not five voters"

# Shrink: the leader first, then n4.
L=$(wait_leader)
for victim in "$L" 4; do
  pid=${PIDS[$victim]}
  via=$(( victim % 5 + 1 ))
  [ "$via" = "$victim" ] && via=1
  adm "$via" --timeout 20 member remove "n$victim" || fail "member remove n$victim failed"
  unset "MEMBER[$victim]"
  status=0
  wait_until 20 sh -c "! kill -0 $pid" || fail "removed n$victim still runs"
  wait "$pid" || status=$?
  unset "PIDS[$victim]"
  [ "$status" = 3 ] || fail "removed n$victim exited with $status, not 3"
  grep -q "was removed from the cluster" "$WORK/n$victim/log" || fail "n$victim did not log why"
  all_answer "after removing n$victim"
  log "n$victim removed (it exited with status 3)"
done
NL=$(wait_leader)
[ "$NL" != "$L" ] || fail "the removed leader still leads"
touch "$WORK/stop"
wait "$WRITER"
[ "$(adm "$NL" member list --json | jq 'length')" = 3 ] || fail "not three members"
wait_until 30 converged || fail "digests differ"
acked=$(wc -l <"$ACKED")
[ "$acked" -ge 20 ] || fail "the writer got only $acked writes through"
lost=0
while read -r name last; do
  for i in "${!MEMBER[@]}"; do
    [ "$(ask "$i" "$name.example.com")" = "198.51.100.$last" ] || { lost=$((lost + 1)); break; }
  done
done <"$ACKED"
[ "$lost" = 0 ] || fail "$lost of $acked acknowledged writes are missing"
log "PASS: $acked acknowledged writes, 0 lost, 3 -> 5 -> 3 members"
