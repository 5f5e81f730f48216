# Shared by the online-signing tests: a 3-node cluster whose [dnssec]
# policy runs in seconds, a validating unbound that sends every zone to the
# cluster (and nothing beyond loopback), delv, and AXFR comparisons.
# The sourcing script sets PORT_BASE; the cluster takes PORT_BASE..+99
# (tests/cluster/lib.sh layout) and unbound PORT_BASE+100.
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/unbound.sh"
for tool in unbound delv dig dnssec-verify ldns-verify-zone nsupdate jq; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh)"
done

# Seconds, so renewals and rollovers happen within the test.
TOML_EXTRA='[dnssec]
tick_interval = 1
signature_validity = 60
signature_refresh = 30
signature_jitter = 5
dnskey_ttl = 2
publish_wait = 3
retire_wait = 3
ds_wait = 3
zsk_lifetime = 20
[[transfer.allow]]
from = "127.0.0.0/8"'

# zone_ds NODE ZONE [TAG]: the DS lines `dnsadm zone keys` prints (of the KSK
# with key tag TAG only, when given).
zone_ds() {
  adm "$1" zone keys "$2" | awk -v tag="${3:-}" '$4 == "DS" && (tag == "" || $5 == tag)'
}
# key_tags NODE ZONE ROLE [STATE]: the tags of the zone's keys of ROLE.
key_tags() {
  adm "$1" zone keys "$2" |
    awk -v role="$3" -v state="${4:-}" '$1 == role && (state == "" || $6 == state) { print $3 }'
}

# ---- unbound ----
UNBOUND_PORT=$((PORT_BASE + 100))
U=$WORK/unbound
mkdir -p "$U"
# start_unbound ANCHOR_FILE ZONE...: (re)starts unbound with the DS lines
# of ANCHOR_FILE as its only trust anchors and a stub per zone listing
# every node (a node that is down is skipped).
start_unbound() {
  local anchors=$1 zone; shift
  stop_unbound
  {
    unbound_server_conf "$U" "$UNBOUND_PORT" "$anchors"
    for zone in "$@"; do
      echo "stub-zone:"
      echo "  name: \"$zone\""
      for i in $(seq 1 "$N"); do echo "  stub-addr: 127.0.0.1@$((BASE + i))"; done
    done
    unbound_root_stub $((BASE + 99))
  } >"$U/unbound.conf"
  unbound -d -c "$U/unbound.conf" >>"$U/stdout" 2>&1 &
  PIDS[unbound]=$!
  # (CD: up and reaching the cluster, whatever validation says.)
  wait_until 15 bash -c "dig @127.0.0.1 -p $UNBOUND_PORT +cd +time=2 +tries=1 $1 SOA | grep -q 'status: NOERROR'" ||
    fail "unbound did not start: $(tail -20 "$U/stdout" "$U/log" 2>/dev/null)"
}
stop_unbound() {
  [ -n "${PIDS[unbound]:-}" ] || return 0
  kill "${PIDS[unbound]}" 2>/dev/null || true
  wait "${PIDS[unbound]}" 2>/dev/null || true
  unset "PIDS[unbound]"
}

# check NAME TYPE RCODE [secure|insecure] ANCHOR_ZONE DELV_ANCHOR_FILE:
# unbound's answer has RCODE and AD (or, insecure, no AD); for a secure
# answer delv on node DELV_NODE (default 2) with the zone's DS as its
# anchor says "fully validated". Prints the reason and returns 1 otherwise.
check() {
  local name=$1 type=$2 rcode=$3 mode=$4 zone=$5 anchor=$6 out flags
  out=$(dig @127.0.0.1 -p "$UNBOUND_PORT" +dnssec +time=5 +tries=2 "$name" "$type")
  if ! grep -q "status: $rcode," <<<"$out"; then
    echo "unbound: $name $type: want $rcode: $out" >&2
    tail -5 "$U/log" >&2
    return 1
  fi
  flags=$(grep -o 'flags:[^;]*;' <<<"$out" | head -1)
  if [ "$mode" = secure ] && ! grep -qw ad <<<"$flags"; then
    echo "unbound: $name $type: no AD ($flags)" >&2
    tail -5 "$U/log" >&2
    return 1
  fi
  if [ "$mode" = insecure ]; then
    grep -qw ad <<<"$flags" && { echo "unbound: $name $type: AD on an insecure answer" >&2; return 1; }
    return 0
  fi
  out=$(delv @127.0.0.1 -p $((BASE + ${DELV_NODE:-2})) -a "$anchor" +root="$zone" "$name" "$type" 2>&1 || true)
  if ! grep -q "fully validated" <<<"$out"; then
    echo "delv: $name $type: not fully validated: $out" >&2
    return 1
  fi
}

# delv_anchor DS_FILE OUT: a delv trust-anchors clause of the DS lines.
delv_anchor() {
  awk 'BEGIN { print "trust-anchors {" }
       $4 == "DS" { printf "  \"%s\" static-ds %s %s %s \"%s\";\n", $1, $5, $6, $7, $8 }
       END { print "};" }' "$1" >"$2"
}

# axfr NODE ZONE: the zone's records as node NODE transfers them (the
# closing SOA dropped, so the file loads as a master file).
axfr() {
  dig @127.0.0.1 -p $((BASE + $1)) +tcp +time=5 +tries=1 +noall +answer +nocomments "$2" AXFR |
    sed '$d'
}
# axfr_same ZONE OUT: every node transfers the same records in the same
# order (OUT gets node 1's copy).
axfr_same() {
  local i
  axfr 1 "$1" >"$2"
  [ -s "$2" ] || return 1
  for i in 2 3; do
    axfr "$i" "$1" | cmp -s - "$2" || return 1
  done
}
# verify_zone ZONE FILE: dnssec-verify and ldns-verify-zone accept it.
verify_zone() {
  dnssec-verify -q -o "$1" "$2" >"$WORK/verify.out" 2>&1 ||
    fail "dnssec-verify $1: $(cat "$WORK/verify.out")"
  ldns-verify-zone "$2" >"$WORK/verify.out" 2>&1 ||
    fail "ldns-verify-zone $1: $(cat "$WORK/verify.out")"
}
