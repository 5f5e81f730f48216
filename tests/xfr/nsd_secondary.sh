#!/usr/bin/env bash
# NSD 4.6 as the secondary of a 3-node cluster, with n1 and n2 as its
# primaries and TSIG on transfers and NOTIFY:
#  - NSD takes the zone by AXFR at start;
#  - `dnsadm add` on any node reaches NSD within 2 s (NOTIFY from every node);
#  - kill -9 of the primary NSD last transferred from: the next change still
#    reaches NSD, from the other primary.
# Ports 22100-22199.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cluster/lib.sh"

NSD_PORT=22190
SECRET=$("$RAFTDNSD" --tsig-keygen xfr.example. | sed -n 's/.*secret "\(.*\)";/\1/p')
cluster_init 3 22100 "$(cat <<TOML
[[tsig]]
name = "xfr.example."
secret = "$SECRET"
[[transfer.allow]]
from = "127.0.0.0/8"
key = "xfr.example."
[[transfer.notify]]
address = "127.0.0.1:$NSD_PORT"
key = "xfr.example."
TOML
)"
start_all
L=$(wait_leader)
write_retry "$L" zone add example.com --file "$(demo_zone)" --wait all

NSDW=$WORK/nsd
mkdir -p "$NSDW"
cat >"$NSDW/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  server-count: 1
  username: ""
  database: ""
  zonesdir: "$NSDW"
  pidfile: "$NSDW/nsd.pid"
  xfrdfile: "$NSDW/xfrd.state"
  zonelistfile: "$NSDW/zone.list"
  logfile: "$NSDW/nsd.log"
  verbosity: 2
  rrl-ratelimit: 0
remote-control:
  control-enable: no
key:
  name: "xfr.example."
  algorithm: hmac-sha256
  secret: "$SECRET"
zone:
  name: "example.com"
  zonefile: "example.com.zone"
  request-xfr: 127.0.0.1@22101 xfr.example.
  request-xfr: 127.0.0.1@22102 xfr.example.
  allow-notify: 127.0.0.1 xfr.example.
CONF
nsd-checkconf "$NSDW/nsd.conf" || fail "nsd-checkconf rejected the config"
nsd -d -c "$NSDW/nsd.conf" >"$NSDW/stdout" 2>&1 &
PIDS[nsd]=$!
nsd_ask() { dig @127.0.0.1 -p $NSD_PORT "$1" "${2:-A}" +short +time=1 +tries=1; }
nsd_has() { [ "$(nsd_ask "$1" "${2:-A}")" = "$3" ]; }
nsd_fail() { echo "---- nsd.log" >&2; cat "$NSDW/nsd.log" >&2 || true; fail "$@"; }

log "NSD takes the zone by AXFR"
wait_until 30 nsd_has www.example.com A 192.0.2.10 || nsd_fail "NSD did not load the zone"
grep -q "TSIG verified with key xfr.example." "$NSDW/nsd.log" || nsd_fail "NSD did not verify TSIG"

# Within 2 s of the write returning (the NOTIFY leaves as each node applies).
check_change() {
  local node=$1 name=$2 addr=$3
  write_retry "$node" add "$name" 300 A "$addr"
  local start=$SECONDS deadline=$(( $(date +%s%N) / 1000000 + 2000 ))
  until nsd_has "$name" A "$addr"; do
    [ $(( $(date +%s%N) / 1000000 )) -ge $deadline ] && nsd_fail "NSD does not serve $name 2 s after the write on n$node"
    sleep 0.05
  done
}
for n in 1 2 3; do
  log "dnsadm add on n$n reaches NSD"
  check_change "$n" "host$n.example.com." "192.0.2.$((20 + n))"
done

# The primary NSD took the last transfer from.
used=$(grep -o "from 127.0.0.1@2210[12]" "$NSDW/nsd.log" | tail -1 | sed 's/.*@2210//')
[ -n "$used" ] || nsd_fail "cannot tell which primary NSD used"
other=$((3 - used))
log "kill -9 n$used (NSD's last primary); a change via n$other still reaches NSD"
kill_node "$used"
wait_until 20 leader || fail "no leader after killing n$used"
write_retry "$other" add after-kill.example.com. 300 A 192.0.2.99
wait_until 30 nsd_has after-kill.example.com A 192.0.2.99 ||
  nsd_fail "NSD did not refresh from n$other after n$used died"
grep -q "from 127.0.0.1@2210$other" "$NSDW/nsd.log" || nsd_fail "NSD never transferred from n$other"
log "PASS"
