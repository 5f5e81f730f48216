#!/usr/bin/env bash
# dnsadm backup under a steady writer, then raftdnsd --restore into a fresh
# three-node cluster: every node of the new cluster has the backup's digest,
# holds every write acknowledged (through another node) before the backup
# began and an unbroken prefix of the rest, and takes writes. Without a
# quorum a backup fails unless --local. A restore into a non-empty data
# directory is refused.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all

ACKED=$WORK/acked
: >"$ACKED"
writer() {
  local k deadline=$((SECONDS + 60))
  for k in $(seq 1 300); do
    [ -f "$WORK/stop" ] || [ $SECONDS -ge $deadline ] && break
    adm 1 --timeout 3 add "w$k.example.com" 300 A 198.51.100.7 >/dev/null 2>&1 && echo "$k" >>"$ACKED"
  done
}
writer &
WRITER=$!
wait_until 30 sh -c "[ \$(wc -l <'$ACKED') -ge 20 ]" || fail "the writer made no progress"
before=$(tail -n 1 "$ACKED")
# Small chunks, so the copy takes many requests.
adm 2 backup --chunk-size 4096 "$WORK/store.backup" | tee "$WORK/backup.out" || fail "dnsadm backup failed"
[ -s "$WORK/store.backup" ] && [ ! -e "$WORK/store.backup.tmp" ] || fail "no complete backup file"
touch "$WORK/stop"
wait "$WRITER"
index=$(sed -n 's/^backup at applied index \([0-9]*\) .*/\1/p' "$WORK/backup.out")
[ -n "$index" ] || fail "no index in: $(cat "$WORK/backup.out")"
size=$(stat -c %s "$WORK/store.backup")
chunks=$(sed -n 's/.* bytes in \([0-9]*\) chunks.*/\1/p' "$WORK/backup.out")
[ "$chunks" = $(( (size + 4095) / 4096 )) ] && [ "$chunks" -gt 1 ] ||
  fail "$size bytes came in $chunks chunks"
log "backup at index $index; write w$before was acknowledged before it began"
ls "$WORK/n2/data/snapshots" | grep -q backup && fail "the daemon kept its copy of the backup"

# Without a quorum a backup cannot vouch for the cluster's latest writes: it
# fails and says so, leaving no file; --local copies what the node applied.
kill_node 1
kill_node 3
status=0
adm 2 --timeout 2 backup "$WORK/noquorum.backup" >"$WORK/out" 2>&1 || status=$?
[ "$status" = 1 ] && grep -q "cannot catch up with the cluster's commit index" "$WORK/out" &&
  grep -q -- "--local" "$WORK/out" ||
  fail "a backup without a quorum did not fail as it should (exit $status): $(cat "$WORK/out")"
[ ! -e "$WORK/noquorum.backup" ] && [ ! -e "$WORK/noquorum.backup.tmp" ] ||
  fail "a failed backup left a file behind"
adm 2 backup --local "$WORK/local.backup" >"$WORK/out" 2>&1 ||
  fail "dnsadm backup --local failed without a quorum: $(cat "$WORK/out")"
local_index=$(sed -n 's/^backup at applied index \([0-9]*\) .*/\1/p' "$WORK/out")
[ -s "$WORK/local.backup" ] && [ "${local_index:-0}" -ge "$index" ] ||
  fail "--local wrote no copy at or past index $index: $(cat "$WORK/out")"

# A new cluster of three (nodes 4, 5, 6) from the backup.
kill_node 2
N=6
for i in 4 5 6; do
  PEERS="4 5 6" write_config "$i"
  "$RAFTDNSD" --config "$WORK/n$i/raftdns.toml" --restore "$WORK/store.backup" \
    >"$WORK/n$i/restore.out" 2>&1 || fail "restore on n$i failed: $(cat "$WORK/n$i/restore.out")"
  cat "$WORK/n$i/restore.out"
done
digest=$(sed -n 's/.*digest \([0-9a-f]*\)).*/\1/p' "$WORK/n4/restore.out")
[ -n "$digest" ] || fail "no digest in the restore summary"

status=0
"$RAFTDNSD" --config "$WORK/n4/raftdns.toml" --restore "$WORK/store.backup" 2>"$WORK/err" || status=$?
[ "$status" = 1 ] && grep -q "is not empty" "$WORK/err" ||
  fail "a restore into a non-empty data_dir was not refused: $(cat "$WORK/err")"

node_up() { [ "$1" -ge 4 ] && [ -n "${PIDS[$1]:-}" ]; }
for i in 4 5 6; do start_node "$i"; done
wait_leader >/dev/null
wait_until 30 converged || fail "the restored nodes differ"
for i in 4 5 6; do
  [ "$(digest_of "$i")" = "$digest" ] || fail "n$i's digest $(digest_of "$i") is not the backup's $digest"
done
[ "$(adm 4 member list --json | jq -r '[.[].id] | join(",")')" = n4,n5,n6 ] ||
  fail "the membership is not the config's"
# Every write acknowledged before the backup, then a prefix of the rest.
present=1
for k in $(seq 1 300); do
  if [ -n "$(ask 5 "w$k.example.com")" ]; then
    [ "$present" = 1 ] || fail "w$k is present after a missing write: not a consistent copy"
  else
    present=0
    [ "$k" -gt "$before" ] || fail "w$k was acknowledged before the backup but is missing"
  fi
done
write_retry 6 add restored.example.com 300 A 192.0.2.66
wait_until 20 converged || fail "not converged after a write"
log "PASS"
