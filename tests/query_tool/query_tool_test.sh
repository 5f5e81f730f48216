#!/usr/bin/env bash
# Integration test of raftdns-query against a real DNS server on loopback serving a known zone.
#
# usage: query_tool_test.sh --query BIN --blackhole BIN --base-port N
#                           --server nsd | --server raftdnsd --raftdnsd BIN --dnsadm BIN
#
# The server under the test is a parameter, so the same checks run against
# NSD (an independent reference) and against raftdnsd. Ports used: N (the
# server), N+1 (a socket that never answers), N+2 (nothing listening).
set -uo pipefail

query="" blackhole="" server="nsd" raftdnsd="" dnsadm="" base_port=15400
while [ $# -gt 0 ]; do
  case "$1" in
    --query) query=$2; shift 2 ;;
    --blackhole) blackhole=$2; shift 2 ;;
    --server) server=$2; shift 2 ;;
    --raftdnsd) raftdnsd=$2; shift 2 ;;
    --dnsadm) dnsadm=$2; shift 2 ;;
    --base-port) base_port=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$query" ] || { echo "FAIL: raftdns-query binary '$query' not found" >&2; exit 1; }
[ -x "$blackhole" ] || { echo "FAIL: blackhole helper '$blackhole' not found" >&2; exit 1; }

port=$base_port
silent_port=$((base_port + 1))
closed_port=$((base_port + 2))
work=$(mktemp -d /tmp/raftdns-query-test.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
checks=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { checks=$((checks + 1)); }

cat >"$work/example.com.zone" <<'ZONE'
$ORIGIN example.com.
$TTL 300
@           IN SOA   ns1.example.com. hostmaster.example.com. 2024010101 3600 900 604800 60
@           IN NS    ns1.example.com.
ns1         IN A     192.0.2.1
www         IN A     192.0.2.10
www         IN A     192.0.2.11
www         IN AAAA  2001:db8::10
@           IN MX    10 mail.example.com.
@           IN MX    20 mail2.example.com.
mail        IN A     192.0.2.25
mail2       IN A     192.0.2.26
txt         IN TXT   "hello world"
multi       IN TXT   "part one" "part two"
_sip._tcp   IN SRV   10 60 5060 sip.example.com.
sip         IN A     192.0.2.50
alias       IN CNAME www.example.com.
caa         IN CAA   0 issue "ca.example.net"
opaque      IN TYPE65280 \# 4 0A0B0C0D
ZONE

# --- the server under test ------------------------------------------------
start_nsd() {
  command -v nsd >/dev/null || { fail "nsd is not installed"; exit 1; }
  cat >"$work/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$port
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonesdir: "$work"
  pidfile: "$work/nsd.pid"
  xfrdfile: "$work/xfrd.state"
  zonelistfile: "$work/zone.list"
  xfrdir: "$work"
  logfile: "$work/nsd.log"
  do-ip6: no
  rrl-ratelimit: 0
  tcp-count: 200
remote-control:
  control-enable: no
zone:
  name: example.com
  zonefile: "$work/example.com.zone"
CONF
  nsd -d -c "$work/nsd.conf" >"$work/server.log" 2>&1 &
  pids+=($!)
}

start_raftdnsd() {
  [ -x "$raftdnsd" ] || { fail "raftdnsd binary '$raftdnsd' not found"; exit 1; }
  [ -x "$dnsadm" ] || { fail "dnsadm binary '$dnsadm' not found"; exit 1; }
  mkdir -p "$work/data"
  cat >"$work/raftdns.toml" <<CONF
[node]
id = "query-tool-test"
data_dir = "$work/data"

[dns]
listen = ["127.0.0.1:$port"]
workers = 1

[control]
socket = "$work/control.sock"
CONF
  "$raftdnsd" --config "$work/raftdns.toml" >"$work/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -S "$work/control.sock" ] && break; sleep 0.1; done
  "$dnsadm" --socket "$work/control.sock" zone add example.com --file "$work/example.com.zone" ||
    { fail "dnsadm zone add failed"; cat "$work/server.log" >&2; exit 1; }
}

case "$server" in
  nsd) start_nsd ;;
  raftdnsd) start_raftdnsd ;;
  *) echo "unknown server kind $server" >&2; exit 2 ;;
esac

ready=0
for _ in $(seq 100); do
  if "$query" @127.0.0.1 -p "$port" --timeout 0.2 --tries 1 -q ns1.example.com A 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.1
done
[ $ready = 1 ] || { fail "$server did not start answering on port $port"; cat "$work/server.log" >&2; exit 1; }

# --- helpers ----------------------------------------------------------------
# expect_exit CODE DESCRIPTION -- raftdns-query arguments...
expect_exit() {
  local want=$1 what=$2
  shift 3
  "$query" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    fail "$what: exit $got, expected $want (raftdns-query $*)"
    sed 's/^/    stdout: /' "$work/out" >&2
    sed 's/^/    stderr: /' "$work/err" >&2
    return 1
  fi
  pass
}

expect_output() {
  local what=$1 pattern=$2 file=${3:-$work/out}
  if grep -qE -- "$pattern" "$file"; then pass; else
    fail "$what: output lacks /$pattern/"
    sed 's/^/    /' "$file" >&2
  fi
}

# --- each type with a passing and a failing --expect, over UDP and TCP -------
for transport in udp tcp; do
  t=()
  [ $transport = tcp ] && t=(--tcp)
  s=(@127.0.0.1 -p "$port" --timeout 3 "${t[@]}")

  expect_exit 0 "$transport A matches" -- "${s[@]}" www.example.com A --expect 192.0.2.11 192.0.2.10
  expect_output "$transport A full output" 'status: NOERROR'
  expect_output "$transport A flags" 'flags: qr aa'
  expect_output "$transport A answer" '^www\.example\.com\.	300	IN	A	192\.0\.2\.10$'
  expect_output "$transport transport shown" "\(${transport^^}\)"
  expect_exit 1 "$transport A mismatch" -- "${s[@]}" www.example.com A --expect 192.0.2.10 192.0.2.99
  expect_output "$transport A diff missing" '^- 192\.0\.2\.99$' "$work/err"
  expect_output "$transport A diff unexpected" '^\+ 192\.0\.2\.11$' "$work/err"
  expect_output "$transport A reason" 'expectation failed: .*1 missing, 1 unexpected' "$work/err"

  expect_exit 0 "$transport AAAA matches (normalised)" -- "${s[@]}" www.example.com AAAA --expect 2001:DB8:0::10
  expect_exit 1 "$transport AAAA mismatch" -- "${s[@]}" www.example.com AAAA --expect 2001:db8::99

  expect_exit 0 "$transport MX matches" -- "${s[@]}" example.com MX --expect "20 MAIL2.example.com" "10 mail.example.com."
  expect_output "$transport MX additional" '^mail\.example\.com\.	300	IN	A	192\.0\.2\.25$'
  expect_exit 1 "$transport MX mismatch" -- "${s[@]}" example.com MX --expect "10 mail.example.com."

  expect_exit 0 "$transport TXT matches" -- "${s[@]}" txt.example.com TXT --expect "hello world"
  expect_output "$transport TXT presentation" 'IN	TXT	"hello world"$'
  expect_exit 0 "$transport TXT multi-string matches" -- "${s[@]}" multi.example.com TXT --expect '"part one" "part two"'
  expect_exit 1 "$transport TXT mismatch" -- "${s[@]}" txt.example.com TXT --expect "hello"

  expect_exit 0 "$transport SRV matches" -- "${s[@]}" _sip._tcp.example.com SRV --expect "10 60 5060 sip.example.com."
  expect_exit 1 "$transport SRV mismatch" -- "${s[@]}" _sip._tcp.example.com SRV --expect "10 60 5061 sip.example.com."

  expect_exit 0 "$transport CNAME matches" -- "${s[@]}" alias.example.com CNAME --expect www.example.com
  expect_exit 1 "$transport CNAME mismatch" -- "${s[@]}" alias.example.com CNAME --expect mail.example.com.
  expect_exit 0 "$transport A through CNAME" -- "${s[@]}" alias.example.com A --expect 192.0.2.10 192.0.2.11
  expect_output "$transport CNAME in answer" 'alias\.example\.com\.	300	IN	CNAME	www\.example\.com\.$'

  expect_exit 0 "$transport NXDOMAIN matches" -- "${s[@]}" nothing.example.com A --expect-rcode NXDOMAIN --expect
  expect_output "$transport NXDOMAIN status" 'status: NXDOMAIN'
  expect_output "$transport NXDOMAIN SOA" 'AUTHORITY SECTION'
  expect_exit 1 "$transport NXDOMAIN mismatch" -- "${s[@]}" www.example.com A --expect-rcode NXDOMAIN
  expect_output "$transport rcode reason" 'got rcode NOERROR, expected NXDOMAIN' "$work/err"
  expect_exit 1 "$transport NXDOMAIN with values" -- "${s[@]}" nothing.example.com A --expect 192.0.2.10

  expect_exit 0 "$transport CAA" -- "${s[@]}" caa.example.com CAA --expect '0 issue "ca.example.net"'
  expect_exit 0 "$transport unknown type in RFC 3597 form" -- "${s[@]}" opaque.example.com TYPE65280 --expect '\# 4 0A0B0C0D'
  expect_exit 0 "$transport two types at once" -- "${s[@]}" www.example.com A AAAA --expect 192.0.2.10 192.0.2.11 2001:db8::10
  expect_exit 0 "$transport short output" -- "${s[@]}" --short www.example.com AAAA
  expect_output "$transport short output value" '^2001:db8::10$'
done

# --- batch of 10,000 queries: the statistics count every one -----------------
batch=$work/batch.txt
names=("www.example.com A" "www.example.com AAAA" "example.com MX" "txt.example.com TXT"
       "alias.example.com A" "_sip._tcp.example.com SRV" "missing.example.com A" "example.com SOA")
for i in $(seq 0 9999); do echo "${names[$((i % 8))]}"; done >"$batch"
start=$(date +%s.%N)
expect_exit 0 "batch of 10000 over UDP" -- @127.0.0.1 -p "$port" --timeout 5 --batch "$batch" --stats
end=$(date +%s.%N)
expect_output "batch count" '^queries: 10000$'
expect_output "batch answered" '^answered: 10000$'
expect_output "batch errors" '^errors: 0$'
expect_output "batch NXDOMAIN share" '^rcode NXDOMAIN: 1250$'
expect_output "batch NOERROR share" '^rcode NOERROR: 8750$'
expect_output "batch latency" '^latency p99: [0-9]+\.[0-9]{3} ms$'
echo "batch of 10000 over UDP against $server: $(grep -E '^(rate|latency)' "$work/out" | tr '\n' ' ') (wall $(echo "$end - $start" | bc) s)"

head -n 2000 "$batch" >"$work/batch-tcp.txt"
expect_exit 0 "batch of 2000 over TCP" -- @127.0.0.1 -p "$port" --tcp --timeout 5 --batch "$work/batch-tcp.txt" --stats
expect_output "TCP batch answered" '^answered: 2000$'

printf 'www.example.com A\nmissing.example.com\n' >"$work/batch-lines.txt"
expect_exit 0 "batch per-query lines" -- @127.0.0.1 -p "$port" --batch "$work/batch-lines.txt"
expect_output "batch line for a hit" '^www\.example\.com A NOERROR 192\.0\.2\.1[01] 192\.0\.2\.1[01]$'
expect_output "batch line for a miss" '^missing\.example\.com A NXDOMAIN$'
expect_exit 1 "batch rcode expectation" -- @127.0.0.1 -p "$port" --batch "$work/batch-lines.txt" --expect-rcode NOERROR --quiet

# --- servers that do not answer: exit 3 within the timeout ------------------
"$blackhole" "$silent_port" 60 >"$work/blackhole.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$work/blackhole.out" 2>/dev/null && break; sleep 0.1; done

timed_exit3() {
  local what=$1 limit_ms=$2
  shift 2
  local t0 t1 elapsed
  t0=$(date +%s%N)
  expect_exit 3 "$what" -- "$@" || return
  t1=$(date +%s%N)
  elapsed=$(((t1 - t0) / 1000000))
  if [ "$elapsed" -le "$limit_ms" ]; then pass; else fail "$what took ${elapsed} ms, limit ${limit_ms} ms"; fi
  expect_output "$what reason" '^raftdns-query: (timeout|network error): ' "$work/err"
  [ "$(wc -l <"$work/err")" -eq 1 ] && pass || fail "$what: reason is not one line"
}
timed_exit3 "silent UDP server" 1800 @127.0.0.1 -p "$silent_port" --timeout 1 www.example.com A
expect_output "silent UDP names the timeout" 'timeout: no reply to www\.example\.com A .* within 1 s' "$work/err"
timed_exit3 "silent TCP server" 1800 @127.0.0.1 -p "$silent_port" --tcp --timeout 1 www.example.com A
timed_exit3 "nothing listening (UDP)" 1800 @127.0.0.1 -p "$closed_port" --timeout 1 www.example.com A
timed_exit3 "nothing listening (TCP)" 1800 @127.0.0.1 -p "$closed_port" --tcp --timeout 1 www.example.com A
printf 'www.example.com A\nwww.example.com AAAA\n' >"$work/batch-small.txt"
timed_exit3 "silent server in batch" 1800 @127.0.0.1 -p "$silent_port" --timeout 1 --batch "$work/batch-small.txt" --stats
expect_output "silent batch stats" '^errors: 2$'

# A silent first server fails over to the second within the budget.
expect_exit 0 "fail over to the second server" -- "@127.0.0.1:$silent_port,127.0.0.1:$port" --timeout 4 www.example.com A --expect 192.0.2.10 192.0.2.11

# --- usage errors ----------------------------------------------------------
expect_exit 2 "no name" -- @127.0.0.1 -p "$port"
expect_exit 2 "unknown type" -- @127.0.0.1 -p "$port" www.example.com NOTATYPE
expect_exit 2 "host name as server" -- @localhost www.example.com
expect_exit 2 "unknown option" -- --frobnicate www.example.com
expect_exit 2 "bad batch line" -- @127.0.0.1 -p "$port" --batch <(echo "www.example.com BOGUS")
expect_output "bad batch line reason" ':1: unknown type "BOGUS"' "$work/err"

# --- the system resolver is never read --------------------------------------
if command -v strace >/dev/null; then
  strace -f -e trace=open,openat -o "$work/strace" "$query" @127.0.0.1 -p "$port" -q www.example.com A
  if grep -E 'resolv\.conf|/etc/hosts|nsswitch|host\.conf' "$work/strace" >/dev/null; then
    fail "raftdns-query opened system resolver files: $(grep -E 'resolv|hosts|nsswitch' "$work/strace" | head -3)"
  else
    pass
  fi
fi

kill -0 "${pids[0]}" 2>/dev/null && pass || fail "$server died during the test"

echo "$checks checks passed, $failures failed (server: $server)"
[ $failures -eq 0 ]
