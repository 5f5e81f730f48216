#!/usr/bin/env bash
# Membership is fixed when a cluster first starts: a node whose store was
# built as a cluster of one refuses to start with peers it never had, rather
# than electing itself and splitting the brain.
source "$(dirname "$0")/lib.sh"
cluster_init 1 "${PORT_BASE:?}"
start_node 1
write_retry 1 zone add example.com --file "$(demo_zone)"
stop_node 1
N=3
write_config 1 "$WORK/cluster.key"
if "$RAFTDNSD" --config "$WORK/n1/raftdns.toml" >"$WORK/n1/refused.log" 2>&1; then
  fail "a node with a different stored membership started"
fi
cat "$WORK/n1/refused.log"
grep -q "belongs to a cluster of 1 (n1), but the config names 3 (" "$WORK/n1/refused.log" ||
  fail "the refusal does not name both memberships"
grep -q "membership is fixed" "$WORK/n1/refused.log" || fail "the refusal does not say why"
log "PASS"
