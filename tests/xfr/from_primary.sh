#!/usr/bin/env bash
# `dnsadm zone add ZONE --from-primary ADDR:PORT [--tsig NAME]` migrates a
# zone in from another primary:
#  - from NSD with TSIG, and from Knot without: the zone is imported whole
#    and served;
#  - a primary that refuses the transfer, a wrong key and an unreachable
#    primary give a clear error naming the primary, and import nothing.
# Ports 22400-22499.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cluster/lib.sh"

SECRET=$("$RAFTDNSD" --tsig-keygen xfr.example. | sed -n 's/.*secret "\(.*\)";/\1/p')
OTHER=$("$RAFTDNSD" --tsig-keygen xfr.example. | sed -n 's/.*secret "\(.*\)";/\1/p')
cluster_init 1 22400 "$(cat <<TOML
[[tsig]]
name = "xfr.example."
secret = "$SECRET"
[[tsig]]
name = "wrong.example."
secret = "$OTHER"
TOML
)"
start_all
wait_leader >/dev/null
P=22401
NSD_PORT=22490
KNOT_PORT=22491

# The zone the old primaries serve: enough records for several messages.
ZW=$WORK/zones
mkdir -p "$ZW"
{
  echo '$ORIGIN migrate.test.'
  echo '$TTL 3600'
  echo '@ IN SOA ns1 hostmaster 2024052001 7200 3600 1209600 3600'
  echo '@ IN NS ns1'
  echo '@ IN MX 10 mail'
  echo 'ns1 IN A 192.0.2.1'
  echo 'mail IN A 192.0.2.2'
  echo 'alias IN CNAME www'
  echo 'sub IN NS ns.sub'
  echo 'ns.sub IN A 192.0.2.53'
  for i in $(seq 1 3000); do echo "h$i IN A 10.$((i / 250)).$((i % 250)).1"; done
  echo 'txt IN TXT "a long text record to fill the messages"'
} >"$ZW/migrate.test.zone"
sed 's/migrate.test./knot.test./' "$ZW/migrate.test.zone" >"$ZW/knot.test.zone"
EXPECTED=$(grep -vc '^\$' "$ZW/migrate.test.zone")

mkdir -p "$WORK/nsd"
cat >"$WORK/nsd/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  server-count: 1
  username: ""
  database: ""
  zonesdir: "$ZW"
  pidfile: "$WORK/nsd/nsd.pid"
  xfrdfile: "$WORK/nsd/xfrd.state"
  zonelistfile: "$WORK/nsd/zone.list"
  logfile: "$WORK/nsd/nsd.log"
remote-control:
  control-enable: no
key:
  name: "xfr.example."
  algorithm: hmac-sha256
  secret: "$SECRET"
zone:
  name: "migrate.test"
  zonefile: "migrate.test.zone"
  provide-xfr: 127.0.0.1 xfr.example.
CONF
nsd -d -c "$WORK/nsd/nsd.conf" >"$WORK/nsd/stdout" 2>&1 &
PIDS[nsd]=$!

mkdir -p "$WORK/knot"
cat >"$WORK/knot/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$KNOT_PORT
    rundir: "$WORK/knot"
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "$WORK/knot"
acl:
  - id: transfer
    address: 127.0.0.1
    action: transfer
zone:
  - domain: knot.test.
    storage: "$ZW"
    file: knot.test.zone
    acl: transfer
  - domain: closed.test.
    storage: "$ZW"
    file: knot.test.zone.closed
CONF
sed 's/knot.test./closed.test./' "$ZW/knot.test.zone" >"$ZW/knot.test.zone.closed"
knotd -c "$WORK/knot/knot.conf" >"$WORK/knot/log" 2>&1 &
PIDS[knot]=$!
wait_until 20 dig @127.0.0.1 -p $NSD_PORT migrate.test SOA +short +time=1 +tries=1 || fail "NSD did not start"
wait_until 20 dig @127.0.0.1 -p $KNOT_PORT knot.test SOA +short +time=1 +tries=1 || fail "Knot did not start"
zones() { adm 1 zone list; }
served() { [ "$(dig @127.0.0.1 -p $P "$1" A +short +time=1 +tries=1)" = "$2" ]; }

expect_failure() {  # expect_failure TEXT-IN-ERROR ZONE ARGS...
  local want=$1 zone=$2; shift 2
  if adm 1 zone add "$zone" "$@" --config "$WORK/n1/raftdns.toml" 2>"$WORK/err"; then
    fail "zone add $zone $* succeeded"
  fi
  grep -q "$want" "$WORK/err" || fail "zone add $zone $*: error lacks \"$want\": $(cat "$WORK/err")"
  grep -q "nothing was imported" "$WORK/err" || fail "the error does not say nothing was imported"
  zones | grep -q "^$zone" && fail "$zone was imported after a failure"
  return 0
}
log "NSD with a key it does not know: the TSIG error, nothing imported"
expect_failure "AXFR of migrate.test. from 127.0.0.1:$NSD_PORT: .*BADKEY\|AXFR of migrate.test. from 127.0.0.1:$NSD_PORT: .*NOTAUTH" \
  migrate.test --from-primary 127.0.0.1:$NSD_PORT --tsig wrong.example.

log "from NSD, with TSIG"
adm 1 zone add migrate.test --from-primary 127.0.0.1:$NSD_PORT --tsig xfr.example. \
  --config "$WORK/n1/raftdns.toml" --timeout 30 2>"$WORK/err" || fail "from NSD: $(cat "$WORK/err")"
served h2999.migrate.test 10.11.249.1 || fail "the zone from NSD is not served"
zones | grep -q "^migrate.test.[[:space:]]serial 2024052001[[:space:]]$EXPECTED records" ||
  fail "zone list after the NSD import: $(zones) (want $EXPECTED records)"

log "from Knot, unsigned"
adm 1 zone add knot.test --from-primary 127.0.0.1:$KNOT_PORT --timeout 30 2>"$WORK/err" ||
  fail "from Knot: $(cat "$WORK/err")"
served alias.knot.test 192.0.2.2 || served mail.knot.test 192.0.2.2 || fail "the zone from Knot is not served"
zones | grep -q "^knot.test.[[:space:]].*$EXPECTED records" || fail "zone list after the Knot import: $(zones)"

log "Knot refuses a zone it does not allow: REFUSED, nothing imported"
expect_failure "from 127.0.0.1:$KNOT_PORT: the primary answered REFUSED\|from 127.0.0.1:$KNOT_PORT: the primary answered NOTAUTH" \
  closed.test --from-primary 127.0.0.1:$KNOT_PORT
log "an unreachable primary: connection refused, nothing imported"
expect_failure "AXFR of unreach.test. from 127.0.0.1:22499: cannot connect: Connection refused" \
  unreach.test --from-primary 127.0.0.1:22499
log "PASS"
