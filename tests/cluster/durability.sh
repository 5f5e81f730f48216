#!/usr/bin/env bash
# kill -9 nodes at random moments under a write load: no write that dnsadm
# acknowledged is ever missing afterwards. Bounded: 5 kills, ~40 s.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all
SEED=${SEED:-$RANDOM}
log "seed $SEED"
RANDOM=$SEED
stop_at=$((SECONDS + 30))
writer() {
  local w=$1 k=0
  while [ $SECONDS -lt $stop_at ]; do
    k=$((k + 1))
    local node=$(( (k + w) % 3 + 1 ))
    if "$DNSADM" --socket "$WORK/n$node/control.sock" add "w$w-$k.example.com" 300 A "10.$w.$((k / 250)).$((k % 250))" --timeout 2 2>/dev/null; then
      echo "w$w-$k.example.com 10.$w.$((k / 250)).$((k % 250))" >>"$WORK/acked.$w"
    fi
  done
}
wpids=()
for w in 1 2 3; do writer "$w" & wpids+=($!); done
for n in 1 2 3 4 5; do
  sleep $(( RANDOM % 4 + 2 ))
  v=$(( RANDOM % 3 + 1 ))
  log "kill -9 n$v"
  kill_node "$v"
  sleep 1
  start_node "$v"
done
wait "${wpids[@]}"
sleep 0.5
wait_until 30 converged || fail "nodes did not converge after the kills"
acked=$(cat "$WORK"/acked.* 2>/dev/null | wc -l)
log "checking $acked acknowledged writes on 3 nodes"
[ "$acked" -gt 20 ] || fail "too few acknowledged writes ($acked)"
missing=0
sort -u "$WORK"/acked.* >"$WORK/acked"
for i in 1 2 3; do
  # "owner ttl class A address" lines -> "owner address", to compare as sets.
  adm "$i" zone export example.com | awk '$4 == "A" { sub(/\.$/, "", $1); print $1, $5 }' |
    sort -u >"$WORK/have.$i"
  lost=$(comm -23 "$WORK/acked" "$WORK/have.$i" | wc -l)
  [ "$lost" -eq 0 ] || { comm -23 "$WORK/acked" "$WORK/have.$i" | head -5; missing=$((missing + lost)); }
done
[ "$missing" -eq 0 ] || fail "$missing acknowledged writes missing"
log "PASS ($acked acknowledged writes, 0 lost, seed $SEED)"
