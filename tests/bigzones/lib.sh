# Helpers for the big-zone tests: the cluster helpers, plus a generated zone
# and the polling of every node's answers.
# shellcheck source=../cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"
ZONES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# big_zone FILE COUNT SERIAL: example.com with COUNT A records h0..h(COUNT-1)
# (h<i> has 10.<i>>16>.<i>>8&255>.<i&255>), plus the SOA, NS, ns1 and www of
# demo_zone (www keeps 192.0.2.10, so it answers the same before and after).
big_zone() {
  awk -v n="$2" -v serial="$3" 'BEGIN {
    print "$ORIGIN example.com."
    print "$TTL 300"
    print "@ IN SOA ns1.example.com. hostmaster.example.com. " serial " 3600 900 604800 300"
    print "  IN NS ns1"
    print "ns1 IN A 127.0.0.1"
    print "www IN A 192.0.2.10"
    for (i = 0; i < n; i++)
      printf "h%d IN A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
  }' >"$1"
}
# The address big_zone gives h<i>.
big_zone_address() { echo "10.$(($1 / 65536 % 256)).$(($1 / 256 % 256)).$(($1 % 256))"; }

term_of() { status_field "$1" '.cluster.term'; }
serial_on() { ask "$1" example.com SOA | awk '{print $3}'; }

# Every node's term equals $1.
terms_are() {
  local i t
  for i in $(seq 1 "$N"); do
    t=$(term_of "$i")
    [ "$t" = "$1" ] || { echo "n$i is at term ${t:-?}, not $1"; return 1; }
  done
}

# poll_start OUT NODE...: polls www.example.com on the nodes every 30 ms
# (for at most 600 s) until poll_stop; the report goes to OUT.
poll_start() {
  local out=$1 specs=() i; shift
  for i in "$@"; do specs+=("$(dns_listen "$i")"); done
  rm -f "$out.stop"
  /usr/bin/python3 "$ZONES_DIR/poll.py" "$out.stop" 600 0.03 www.example.com 192.0.2.10 \
    "${specs[@]}" >"$out" &
  POLLERS[$out]=$!
}
declare -A POLLERS=()
# A test that fails leaves no poller behind (it would hold ctest's output
# open, and the test would end as a timeout instead of its failure).
stop_pollers() {
  local out
  for out in "${!POLLERS[@]}"; do
    touch "$out.stop"
    kill "${POLLERS[$out]}" 2>/dev/null || true
  done
}
trap 'stop_pollers; cleanup' EXIT
poll_stop() {  # poll_stop OUT: stops the poller and prints its report
  touch "$1.stop"
  wait "${POLLERS[$1]}" || fail "the poller writing $1 failed"
  unset "POLLERS[$1]"
  cat "$1"
}
# gaps_below OUT MS: every server in the report answered, never silent for MS or more.
gaps_below() {
  awk -v limit="$2" '{
    split($2, a, "="); split($3, g, "=")
    if (a[2] == 0 || g[2] >= limit) { print "  " $0 " (limit " limit " ms)"; bad = 1 }
  } END { exit bad }' "$1"
}
