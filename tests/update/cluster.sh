#!/usr/bin/env bash
# RFC 2136 UPDATE against a 3-node cluster, with the clients operators use:
# nsupdate (every update and prerequisite kind, against each node), knsupdate
# and dnspython through a follower, the refusals, and 20 concurrent nsupdate
# clients. Every change must be answered by all three nodes.
source "$(dirname "$0")/../cluster/lib.sh"
PY=/usr/bin/python3  # Debian's, where python3-dnspython is installed
TOML_EXTRA='[update]
timeout = 3
[[update.grant]]
from = "127.0.0.0/8"
zone = "example.com."
[[update.grant]]
from = "127.0.0.0/8"
zone = "acme.test."
names = ["_acme-challenge.acme.test.", "*.dyn.acme.test."]
types = ["TXT"]'
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry 1 zone add example.com --file "$(demo_zone)"
cat >"$WORK/acme.test.zone" <<'ZONE'
$ORIGIN acme.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 604800 300
  IN NS ns1
ns1 IN A 127.0.0.1
ZONE
write_retry 1 zone add acme.test --file "$WORK/acme.test.zone"
F=$(( L % 3 + 1 ))  # a follower
log "leader n$L, follower n$F"

port() { echo $((BASE + $1)); }
# nsupdate against node i with the commands on stdin; prints its output.
nsu() { nsupdate -t 10 2>&1 <<<"server 127.0.0.1 $(port "$1")
$(cat)"; }
answer_of() { ask "$1" "$2" "$3" | sort | tr '\n' ' '; }
answers_are() { [ "$(answer_of "$1" "$2" "$3")" = "$4" ]; }
# Every node answers `dig +short NAME TYPE` with exactly EXPECTED (sorted, space-separated).
on_all() {
  local name=$1 type=$2 want=$3 i
  for i in 1 2 3; do
    wait_until 10 answers_are "$i" "$name" "$type" "$want" ||
      fail "n$i answers '$(ask "$i" "$name" "$type" | sort | tr '\n' ' ')' for $name $type, want '$want'"
  done
}
serial_on() { ask "$1" example.com SOA | awk '{ print $3 }'; }

# --- every kind of update, each sent to a different node ------------------------------
for i in 1 2 3; do
  out=$(nsu "$i" <<EOF
zone example.com
update add host$i.example.com 60 A 192.0.2.$i
update add host$i.example.com 60 A 198.51.100.$i
update add host$i.example.com 60 TXT "sent to n$i"
send
EOF
) || fail "nsupdate add via n$i: $out"
  on_all "host$i.example.com" A "192.0.2.$i 198.51.100.$i "
  on_all "host$i.example.com" TXT "\"sent to n$i\" "
done
log "adds through every node are answered by every node"

nsu 1 <<'EOF' >/dev/null || fail "delete one record"
zone example.com
update delete host1.example.com A 198.51.100.1
send
EOF
on_all host1.example.com A "192.0.2.1 "
nsu 2 <<'EOF' >/dev/null || fail "delete an RRset"
zone example.com
update delete host2.example.com A
send
EOF
on_all host2.example.com A ""
on_all host2.example.com TXT '"sent to n2" '
nsu 3 <<'EOF' >/dev/null || fail "delete a name"
zone example.com
update delete host3.example.com
send
EOF
on_all host3.example.com A ""
on_all host3.example.com TXT ""
log "record, RRset and name deletes applied everywhere"

# --- prerequisites: each kind passing, then failing with its rcode ---------------------
out=$(nsu "$F" <<'EOF'
zone example.com
prereq yxdomain www.example.com
prereq nxdomain free.example.com
prereq yxrrset www.example.com A
prereq yxrrset www.example.com A 192.0.2.10
prereq nxrrset www.example.com AAAA
update add free.example.com 60 A 192.0.2.77
send
EOF
) || fail "all prerequisites hold, yet: $out"
on_all free.example.com A "192.0.2.77 "
before=$(serial_on 1)
check_refused() {  # check_refused RCODE: the update on stdin fails with RCODE and changes nothing
  local want=$1 out
  out=$(nsu "$F" 2>&1) && fail "an update expected to fail with $want succeeded"
  grep -q "update failed: $want" <<<"$out" || fail "expected $want, nsupdate said: $out"
}
check_refused YXDOMAIN <<'EOF'
zone example.com
prereq nxdomain www.example.com
update add changed.example.com 60 A 192.0.2.1
send
EOF
check_refused NXDOMAIN <<'EOF'
zone example.com
prereq yxdomain nothing.example.com
update add changed.example.com 60 A 192.0.2.1
send
EOF
check_refused YXRRSET <<'EOF'
zone example.com
prereq nxrrset www.example.com A
update add changed.example.com 60 A 192.0.2.1
send
EOF
check_refused NXRRSET <<'EOF'
zone example.com
prereq yxrrset www.example.com A 192.0.2.99
update add changed.example.com 60 A 192.0.2.1
send
EOF
for i in 1 2 3; do
  [ "$(serial_on "$i")" = "$before" ] || fail "n$i: the serial moved after failed prerequisites"
done
on_all changed.example.com A ""
log "failed prerequisites change nothing; the serial stays at $before"

# --- refusals ---------------------------------------------------------------------------
check_refused REFUSED <<'EOF'
zone acme.test
update add www.acme.test 60 TXT "not granted"
send
EOF
check_refused REFUSED <<'EOF'
zone acme.test
update add y.dyn.acme.test 60 A 192.0.2.1
send
EOF
check_refused NOTZONE <<'EOF'
zone example.com
update add www.example.org 60 A 192.0.2.1
send
EOF
check_refused NOTAUTH <<'EOF'
zone example.org
update add www.example.org 60 A 192.0.2.1
send
EOF
# A malformed UPDATE (two zones) gets FORMERR, over UDP.
formerr=$("$PY" - "$(port "$F")" <<'PYEOF'
import socket, struct, sys
port = int(sys.argv[1])
def q(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack("!HH", 6, 1)
msg = struct.pack("!HHHHHH", 0x1234, 5 << 11, 2, 0, 0, 0) + q("example.com") + q("acme.test")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(msg, ("127.0.0.1", port))
reply = s.recv(4096)
print(struct.unpack("!H", reply[:2])[0] == 0x1234, reply[3] & 0xF)
PYEOF
)
[ "$formerr" = "True 1" ] || fail "a two-zone UPDATE got '$formerr', want the same ID and FORMERR"
# A granted challenge record is accepted, and the daemon is healthy after all of the above.
nsu "$F" >/dev/null <<'EOF' || fail "the granted _acme-challenge TXT was refused"
zone acme.test
update add _acme-challenge.acme.test 60 TXT "token-1"
update add x.dyn.acme.test 60 TXT "below dyn"
send
EOF
on_all _acme-challenge.acme.test TXT '"token-1" '
on_all x.dyn.acme.test TXT '"below dyn" '
log "REFUSED, NOTZONE, NOTAUTH and FORMERR as expected; grants honoured"

# --- knsupdate and dnspython through a follower -----------------------------------------
knsupdate <<EOF || fail "knsupdate failed"
server 127.0.0.1 $(port "$F")
zone example.com.
update add knot.example.com. 60 AAAA 2001:db8::53
send
EOF
on_all knot.example.com AAAA "2001:db8::53 "
"$PY" - "$(port "$F")" <<'PYEOF' || fail "dnspython update failed"
import sys
import dns.query, dns.rcode, dns.update
port = int(sys.argv[1])
u = dns.update.UpdateMessage("example.com")
u.present("www.example.com.", "A")
u.replace("py.example.com.", 60, "MX", "10 www.example.com.")
r = dns.query.tcp(u, "127.0.0.1", port=port, timeout=10)
assert r.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(r.rcode())
u = dns.update.UpdateMessage("example.com")
u.absent("www.example.com.")
u.add("never.example.com.", 60, "A", "192.0.2.1")
r = dns.query.udp(u, "127.0.0.1", port=port, timeout=10)
assert r.rcode() == dns.rcode.YXDOMAIN, dns.rcode.to_text(r.rcode())
PYEOF
on_all py.example.com MX "10 www.example.com. "
on_all never.example.com A ""
# The other prerequisite rcodes and the deletes, from dnspython.
"$PY" - "$(port "$F")" <<'PY2EOF' || fail "dnspython prerequisites and deletes failed"
import sys
import dns.query, dns.rcode, dns.update
port = int(sys.argv[1])
def send(u, want):
    r = dns.query.udp(u, "127.0.0.1", port=port, timeout=10)
    assert r.rcode() == want, (dns.rcode.to_text(r.rcode()), dns.rcode.to_text(want))
def upd():
    return dns.update.UpdateMessage("example.com.")
u = upd(); u.present("nothing.example.com."); u.add("x1.example.com.", 60, "A", "192.0.2.1")
send(u, dns.rcode.NXDOMAIN)
u = upd(); u.present("www.example.com.", "A", "192.0.2.99"); u.add("x1.example.com.", 60, "A", "192.0.2.1")
send(u, dns.rcode.NXRRSET)
u = upd(); u.absent("www.example.com.", "A"); u.add("x1.example.com.", 60, "A", "192.0.2.1")
send(u, dns.rcode.YXRRSET)
u = upd(); u.add("py2.example.com.", 60, "A", "192.0.2.21"); u.add("py2.example.com.", 60, "A", "192.0.2.22")
u.add("py2.example.com.", 60, "TXT", "two")
send(u, dns.rcode.NOERROR)
u = upd(); u.delete("py2.example.com.", "A", "192.0.2.21"); send(u, dns.rcode.NOERROR)
u = upd(); u.delete("py2.example.com.", "TXT"); send(u, dns.rcode.NOERROR)
PY2EOF
on_all x1.example.com A ""
on_all py2.example.com A "192.0.2.22 "
on_all py2.example.com TXT ""
knsupdate <<EOF || fail "knsupdate delete failed"
server 127.0.0.1 $(port "$F")
zone example.com.
prereq yxrrset py2.example.com. A
update delete py2.example.com.
send
EOF
on_all py2.example.com A ""
log "knsupdate and dnspython (UDP and TCP) through follower n$F: adds, every prerequisite rcode, record, RRset and name deletes"

# --- 20 concurrent clients, 50 updates each ----------------------------------------------
start_serial=$(serial_on 1)
( prev=0
  while [ ! -f "$WORK/load.done" ]; do
    s=$(serial_on 1); [ -n "$s" ] || { sleep 0.05; continue; }
    [ "$s" -ge "$prev" ] || echo "serial fell from $prev to $s" >>"$WORK/serial.errors"
    prev=$s; sleep 0.05
  done ) &
watcher=$!
clients=()
for c in $(seq 1 20); do
  ( node=$(( c % 3 + 1 ))
    for k in $(seq 1 50); do
      if nsupdate -t 10 >/dev/null 2>&1 <<EOF
server 127.0.0.1 $(port "$node")
zone example.com
update add c$c-$k.load.example.com 60 A 10.0.$c.$k
send
EOF
      then echo "c$c-$k.load.example.com. 10.0.$c.$k"; fi
    done >"$WORK/acked.$c" ) &
  clients+=($!)
done
wait "${clients[@]}"
touch "$WORK/load.done"
wait "$watcher"
[ ! -s "$WORK/serial.errors" ] || fail "$(cat "$WORK/serial.errors")"
acked=$(cat "$WORK"/acked.* | wc -l)
wait_until 30 converged || fail "the nodes did not converge after the load"
for i in 1 2 3; do
  adm "$i" zone export example.com | awk '$1 ~ /\.load\.example\.com\.$/ { print $1, $NF }' |
    sort >"$WORK/stored.$i"
done
sort "$WORK"/acked.* >"$WORK/acked.all"
for i in 1 2 3; do
  cmp -s "$WORK/acked.all" "$WORK/stored.$i" ||
    fail "n$i: stored records differ from the $acked acknowledged updates: $(diff "$WORK/acked.all" "$WORK/stored.$i" | head -5)"
done
end_serial=$(serial_on 1)
[ $((end_serial - start_serial)) -eq "$acked" ] ||
  fail "serial rose by $((end_serial - start_serial)) for $acked acknowledged updates (each applies once)"
[ "$acked" -ge 950 ] || fail "only $acked of 1000 updates were acknowledged on a healthy cluster"
log "concurrency: $acked of 1000 updates acknowledged, each applied exactly once on every node; serial $start_serial -> $end_serial"

# --- dnsadm status counts the updates node F answered, by result -------------------------
# (At least: a UDP retry of a slow answer is counted again.) F answered 4 + 4
# failed prerequisites, 2 REFUSED, a NOTZONE and a FORMERR, and a NOTAUTH.
count_of() { adm "$F" status --json | jq -r ".updates.$1 // 0"; }
[ "$(count_of prerequisite_failed)" -ge 8 ] || fail "status: prerequisite_failed $(count_of prerequisite_failed), want >= 8"
[ "$(count_of refused)" -ge 2 ] || fail "status: refused $(count_of refused), want >= 2"
[ "$(count_of malformed)" -ge 2 ] || fail "status: malformed $(count_of malformed), want >= 2"
[ "$(count_of notauth)" -ge 1 ] || fail "status: notauth $(count_of notauth), want >= 1"
[ "$(count_of applied)" -ge 5 ] || fail "status: applied $(count_of applied), want >= 5"
adm "$F" status | grep -q "^updates: .*applied [0-9]" || fail "dnsadm status shows no update counts"
log "dnsadm status on n$F counts its updates by result"

# --- no quorum: SERVFAIL within the timeout, nothing applied ------------------------------
for i in 1 2 3; do [ "$i" = "$F" ] || kill_node "$i"; done
t0=$SECONDS
check_refused SERVFAIL <<'EOF'
zone example.com
update add noquorum.example.com 60 A 192.0.2.1
send
EOF
[ $((SECONDS - t0)) -le 8 ] || fail "the update took $((SECONDS - t0)) s to fail without a quorum"
[ -z "$(ask "$F" noquorum.example.com A)" ] || fail "an update without a quorum was applied"
log "without a quorum: SERVFAIL in $((SECONDS - t0)) s, nothing applied"
log "PASS"
