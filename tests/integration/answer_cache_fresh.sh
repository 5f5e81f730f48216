#!/bin/bash
# The answer cache never outlives a change: once dnsadm reports a change
# applied, every answer the node gives shows it, though the answer before
# the change was cached in every worker (over UDP with and without EDNS, and
# over TCP). Repeated for adds, changes and removals; the cache is shown to
# have answered (its hit counter in /metrics), so the test would catch a
# stale one.
source "$(dirname "$0")/lib.sh"
setup "$@" 26000
METRICS_PORT=26001
write_config "answer_cache_size = 4096" "[metrics]" "listen = \"127.0.0.1:$METRICS_PORT\""
write_zone
start_daemon
adm zone add example.com --file "$WORK/example.com.zone"

# Queries without a DNS cookie (dig sends one by default, and a query with
# EDNS options is never cached). One dig sends each query from its own
# port, so SO_REUSEPORT spreads them over both workers.
ROUNDS=4
ask() {
  local name=$1 type=$2 args=() i
  shift 2
  for ((i = 0; i < ROUNDS; i++)); do args+=("$name" "$type"); done
  dig @127.0.0.1 -p "$PORT" +time=5 +tries=2 +nocookie +short "$@" "${args[@]}"
}
# Every transport and EDNS form, ROUNDS queries each.
ask_all() {
  ask "$1" "$2"
  ask "$1" "$2" +noedns
  ask "$1" "$2" +tcp
}
# ROUNDS x 3 lines of `want`, or none when `want` is empty.
expect_all() {
  local what=$1 want=$2 got=$3 expected=""
  if [[ -n $want ]]; then expected=$(for ((i = 0; i < ROUNDS * 3; i++)); do echo "$want"; done); fi
  expect_eq "$what" "$expected" "$got"
}

expect_all "www before" "192.0.2.10" "$(ask_all www.example.com A)"
for i in $(seq 1 8); do
  name=t$i.example.com
  # NXDOMAIN, cached; then added: the next answers have it.
  expect_all "$name before" "" "$(ask_all "$name" A)"
  adm add "$name" 300 A "192.0.2.$((100 + i))"
  expect_all "$name added" "192.0.2.$((100 + i))" "$(ask_all "$name" A)"
  # A cached positive answer that changes.
  adm remove "$name" A
  adm add "$name" 300 A "198.51.100.$i"
  expect_all "$name changed" "198.51.100.$i" "$(ask_all "$name" A)"
  # A NODATA at a cached name that gains the type.
  expect_all "$name TXT before" "" "$(ask_all "$name" TXT)"
  adm add "$name" 300 TXT "round $i"
  expect_all "$name TXT added" "\"round $i\"" "$(ask_all "$name" TXT)"
  # And gone again.
  adm remove "$name" A
  expect_all "$name removed" "" "$(ask_all "$name" A)"
done

hits=$(curl -s --max-time 10 "http://127.0.0.1:$METRICS_PORT/metrics" |
  awk '$1 == "raftdns_dns_answer_cache_total{result=\"hit\"}" { print $2 }')
[[ -n $hits && $hits -gt 0 ]] || fail "the answer cache answered nothing (hits: '${hits}')"
echo "answer cache hits: $hits"

stop_daemon
echo PASS
