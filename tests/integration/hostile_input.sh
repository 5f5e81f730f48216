#!/bin/bash
# Hostile input never kills or stalls the server: malformed UDP, broken TCP
# framing, garbled, oversized and wrong-version control frames. TCP queries
# pipelined in one write are all answered, in order.
source "$(dirname "$0")/lib.sh"
setup "$@" 15304
write_config 'tcp_max_per_client = 4'
write_zone
start_daemon
adm zone add example.com --file "$WORK/example.com.zone"

"$PROBE" udp-garbage 127.0.0.1 "$PORT"
"$PROBE" udp-garbage ::1 "$PORT"
# Garbage through bash's own socket too.
head -c 512 /dev/urandom > "/dev/udp/127.0.0.1/$PORT"
expect_eq "answers after UDP garbage" "192.0.2.10" "$(q www.example.com A)"
expect_eq "QDCOUNT 0 gets FORMERR" "FORMERR" "$(rcode +header-only www.example.com)"
expect_eq "unknown opcode gets NOTIMP" "NOTIMP" "$(rcode +opcode=3 www.example.com)"
# Opcode 5 is UPDATE (RFC 2136): a zone section that is not one SOA is FORMERR.
expect_eq "UPDATE whose zone section is not SOA gets FORMERR" "FORMERR" "$(rcode +opcode=5 www.example.com)"

"$PROBE" tcp-pipeline 127.0.0.1 "$PORT" 50 www.example.com
"$PROBE" tcp-pipeline ::1 "$PORT" 5 mail.example.com
"$PROBE" tcp-zero-length 127.0.0.1 "$PORT"
"$PROBE" tcp-idle 127.0.0.1 "$PORT" 6
expect_eq "answers after TCP abuse" "192.0.2.10" "$(q +tcp www.example.com A)"

# kdig sends several queries over one TCP connection.
if command -v kdig >/dev/null; then
  answers=$(kdig @127.0.0.1 -p "$PORT" +tcp +keepopen +short www.example.com A mail.example.com A ns1.example.com A)
  expect_eq "kdig keepopen" "$(printf '192.0.2.10\n192.0.2.25\n192.0.2.1')" "$answers"
fi

# The per-client cap: 4 idle connections are held, the 5th is closed at once.
exec 3<>"/dev/tcp/127.0.0.1/$PORT" 4<>"/dev/tcp/127.0.0.1/$PORT" \
     5<>"/dev/tcp/127.0.0.1/$PORT" 6<>"/dev/tcp/127.0.0.1/$PORT"
sleep 0.2
"$PROBE" tcp-idle 127.0.0.1 "$PORT" 1 > "$WORK/capped" || fail "5th connection was not refused"
exec 3>&- 4>&- 5>&- 6>&-
sleep 0.2
expect_eq "TCP works once connections close" "192.0.2.10" "$(q +tcp www.example.com A)"

# Control socket: each bad frame gets an error reply, and the daemon lives.
out=$("$PROBE" control-version "$SOCK" 2)
[[ "$out" == *'"ok":false'* && "$out" == *'version 2'* ]] || fail "version mismatch: $out"
out=$("$PROBE" control-raw "$SOCK" 'this is not json')
[[ "$out" == *'"ok":false'* && "$out" == *'not valid JSON'* ]] || fail "garbled: $out"
out=$("$PROBE" control-raw "$SOCK" '{"v":1,"op":"launch"}')
[[ "$out" == *'unknown operation'* ]] || fail "unknown op: $out"
out=$("$PROBE" control-raw "$SOCK" '{"v":1,"op":"add","records":[{"owner":"zz","type":1}]}')
[[ "$out" == *'"ok":false'* ]] || fail "bad hex: $out"
out=$("$PROBE" control-raw "$SOCK" '{"v":1,"op":"add","records":[{"owner":"0377777700","type":1,"rdata":"01"}]}')
[[ "$out" == *'"ok":false'* ]] || fail "bad rdata accepted: $out"
out=$("$PROBE" control-oversized "$SOCK")
[[ "$out" == *'larger than the limit'* ]] || fail "oversized: $out"
"$PROBE" control-garbled-then-status "$SOCK" >/dev/null
adm status >/dev/null || fail "status after control garbage"
expect_eq "DNS after control garbage" "192.0.2.10" "$(q www.example.com A)"
kill -0 "$DAEMON_PID" || fail "daemon died"

stop_daemon
echo PASS
