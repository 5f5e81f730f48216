#!/usr/bin/env bash
# Knot as a secondary that consumes raftdnsd's catalog zone (RFC 9432):
#  - Knot learns the member zones from the catalog and transfers them;
#  - a zone added later with `dnsadm zone add` is served by Knot with no
#    change to Knot's configuration;
#  - changes to a member reach Knot by IXFR (both sides log it);
#  - a removed zone leaves the catalog, and Knot drops it.
# Ports 22300-22399.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cluster/lib.sh"

KNOT_PORT=22390
SECRET=$("$RAFTDNSD" --tsig-keygen xfr.example. | sed -n 's/.*secret "\(.*\)";/\1/p')
cluster_init 1 22300 "$(cat <<TOML
[[tsig]]
name = "xfr.example."
secret = "$SECRET"
[[transfer.allow]]
key = "xfr.example."
[[transfer.notify]]
address = "127.0.0.1:$KNOT_PORT"
key = "xfr.example."
[catalog]
zone = "catalog.example."
TOML
)"
start_all
wait_leader >/dev/null
write_retry 1 zone add example.com --file "$(demo_zone)"
P=22301
catalog() { dig @127.0.0.1 -p $P -y "hmac-sha256:xfr.example.:$SECRET" catalog.example. AXFR +nocmd +nostats; }
log "the catalog lists example.com"
wait_until 20 bash -c "$(declare -f catalog); P=$P SECRET=$SECRET; catalog | grep -q 'PTR[[:space:]]*example.com.'" ||
  fail "the catalog does not list example.com: $(catalog)"
catalog | grep -q 'version.catalog.example.*TXT.*"2"' || fail "the catalog has no version 2 TXT"


KW=$WORK/knot
mkdir -p "$KW"
cat >"$KW/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$KNOT_PORT
    rundir: "$KW"
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "$KW"
key:
  - id: xfr.example.
    algorithm: hmac-sha256
    secret: $SECRET
remote:
  - id: primary
    address: 127.0.0.1@$P
    key: xfr.example.
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    key: xfr.example.
    action: notify
template:
  - id: default
    storage: "$KW"
  - id: member
    master: primary
    acl: notify_from_primary
    storage: "$KW"
zone:
  - domain: catalog.example.
    master: primary
    acl: notify_from_primary
    catalog-role: interpret
    catalog-template: member
CONF
knotc -c "$KW/knot.conf" conf-check >/dev/null || fail "knotc conf-check rejected the config"
knotd -c "$KW/knot.conf" >"$KW/log" 2>&1 &
PIDS[knot]=$!
knot_has() { [ "$(dig @127.0.0.1 -p $KNOT_PORT "$1" "${2:-A}" +short +time=1 +tries=1)" = "$3" ]; }
knot_fail() { echo "---- knot log" >&2; tail -40 "$KW/log" >&2 || true; fail "$@"; }

log "Knot learns example.com from the catalog"
wait_until 30 knot_has www.example.com A 192.0.2.10 || knot_fail "Knot does not serve example.com"

log "a zone added with dnsadm is served by Knot"
cat >"$WORK/second.test.zone" <<'ZONE'
$ORIGIN second.test.
$TTL 300
@    IN SOA ns1.second.test. hostmaster.second.test. 7 3600 900 604800 300
     IN NS  ns1
ns1  IN A   127.0.0.1
web  IN A   198.51.100.7
ZONE
adm 1 zone add second.test --file "$WORK/second.test.zone" || fail "zone add"
wait_until 30 knot_has web.second.test A 198.51.100.7 || knot_fail "Knot does not serve the new zone"

log "a change to a member goes to Knot by IXFR"
adm 1 add fresh.example.com 300 A 192.0.2.77 || fail "add"
wait_until 20 knot_has fresh.example.com A 192.0.2.77 || knot_fail "Knot missed the change"
grep -q "IXFR of example.com. from serial" "$WORK/n1/log" || fail "raftdnsd served no IXFR: $(grep -i xfr "$WORK/n1/log")"
grep -q "\[example.com.\] IXFR, incoming" "$KW/log" || knot_fail "Knot did not log an IXFR"

log "a removed zone leaves the catalog and Knot"
adm 1 zone remove second.test || fail "zone remove"
wait_until 30 bash -c "! dig @127.0.0.1 -p $KNOT_PORT web.second.test A +time=1 +tries=1 | grep -q 'status: NOERROR'" ||
  knot_fail "Knot still serves the removed zone"
log "PASS"
