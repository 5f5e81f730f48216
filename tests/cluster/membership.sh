#!/usr/bin/env bash
# The config's peer list is the bootstrap membership only: a node whose store
# was built as a cluster of one starts with a config that names peers it never
# had, warns that the replicated membership rules, and stays a cluster of one
# (it does not elect itself into a new three-node cluster, nor refuse to run).
source "$(dirname "$0")/lib.sh"
cluster_init 1 "${PORT_BASE:?}"
start_node 1
write_retry 1 zone add example.com --file "$(demo_zone)"
stop_node 1
N=3
write_config 1 "$WORK/cluster.key"
N=1
start_node 1
grep -q "warning: the config's peers (.*) differ from the replicated membership (n1=" \
  "$WORK/n1/log" || fail "no warning about the config's peer list"
write_retry 1 add later.example.com 300 A 192.0.2.7
[ "$(ask 1 later.example.com)" = 192.0.2.7 ] || fail "the cluster of one does not take writes"
members=$(adm 1 member list --json | jq -r '[.[].id] | join(",")')
[ "$members" = n1 ] || fail "membership changed to $members"
log "PASS"
