#!/bin/bash
# Response rate limiting under a real, bounded UDP flood: 20000 queries from
# 127.0.0.1 in about 1.5 s (over 13,000 a second, with the rate limit at 100
# a second). Most responses to the flooding
# /24 are withheld, every 2nd withheld one goes out truncated (slip), and
# clients in other /24s (127.0.1.1 to 127.0.16.1) keep getting every answer,
# quickly. Prints the figures: share withheld, the others' p50/p99 latency.
# The flooding network itself is still served over TCP, and over UDP once
# it slows down.
source "$(dirname "$0")/../integration/lib.sh"
setup "$@" 15900
TOOL=$PROBE
RATE=100
COUNT=${RAFTDNS_FLOOD_COUNT:-20000}
# The other clients: 16 addresses in 16 other /24s taking turns, one query
# per millisecond in all, so each /24 stays well under RATE.
PROBES=$(seq -s, -f '127.0.%g.1' 1 16)
write_config "rate_limit = $RATE" 'rate_limit_slip = 2'
write_zone
start_daemon
adm zone add example.com --file "$WORK/example.com.zone"
expect_eq "answers before the flood" "192.0.2.10" "$(q www.example.com A)"
sleep 1.1  # the check above spent from 127.0.0.1's budget

drops_before=$(awk '/^Udp:/ { if (++n == 2) print $6 }' /proc/net/snmp)
"$TOOL" rrl 127.0.0.1 "$PORT" 127.0.0.1 "$PROBES" "$COUNT" www.example.com 1000 > "$WORK/figures"
drops_after=$(awk '/^Udp:/ { if (++n == 2) print $6 }' /proc/net/snmp)
cat "$WORK/figures"
# Host-wide, so other traffic may add to it; for the record only.
echo "kernel_udp_receive_buffer_drops=$(( drops_after - drops_before ))"
figure() { sed -n "s/^$1=//p" "$WORK/figures"; }
sent=$(figure flood_sent) full=$(figure flood_full) tc=$(figure flood_truncated)
seconds=$(figure flood_seconds) limited=$(figure flood_limited_percent)
expect_eq "flood size" "$COUNT" "$sent"
# One client socket reaches one worker: its budget is one burst of RATE plus
# RATE per second of flood (the drain after the flood adds under a second).
budget=$(awk -v r="$RATE" -v s="$seconds" 'BEGIN { printf "%d", r * (s + 2) + 10 }')
(( full <= budget )) || fail "the flood got $full full answers, more than the budget of $budget (is dns.rate_limit reaching the workers?)"
(( full >= RATE / 2 )) || fail "the flood got only $full full answers; the budget is $RATE/s"
awk -v p="$limited" 'BEGIN { exit !(p >= 90) }' || fail "only $limited% of the flood was limited"
# slip = 2: half of the withheld responses go out truncated. Fewer when the
# kernel dropped queries before the server saw them (a flood beyond what the
# machine can answer), never more.
withheld=$(( sent - full ))
(( tc * 10 <= withheld * 6 )) || fail "$tc truncated of $withheld limited responses; slip 2 truncates half"
(( tc * 10 >= withheld )) || fail "only $tc truncated of $withheld limited responses; slip 2 truncates half"

p_sent=$(figure probe_sent) p_answered=$(figure probe_answered) p_lost=$(figure probe_lost)
p50=$(figure probe_p50_us) p99=$(figure probe_p99_us)
(( p_sent >= 5 )) || fail "the other client only got $p_sent queries in during the flood"
expect_eq "other /24: answered, none lost or truncated" "$p_sent" "$p_answered"
expect_eq "other /24: lost" 0 "$p_lost"
(( p50 < 25000 )) || fail "other /24s: p50 latency ${p50}us during the flood"
(( p99 < 250000 )) || fail "other /24s: p99 latency ${p99}us during the flood"

# The flooding network gets through over TCP at once, and over UDP again
# once its budget refills.
expect_eq "flooding /24 over TCP" "192.0.2.10" "$(q +tcp www.example.com A)"
sleep 1.1
expect_eq "flooding /24 over UDP after the flood" "192.0.2.10" "$(q www.example.com A)"
kill -0 "$DAEMON_PID" || fail "daemon died"
stop_daemon
echo "RRL: ${limited}% of $sent flood responses withheld ($tc sent truncated, $full full);" \
     "other client p50 ${p50}us p99 ${p99}us over $p_sent queries"
echo PASS
