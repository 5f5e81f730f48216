#!/bin/bash
# max_message_size: a query over the limit is dropped over UDP and ends its
# connection over TCP; a query just under it is answered; the server keeps
# serving everyone.
source "$(dirname "$0")/../integration/lib.sh"
setup "$@" 15903
TOOL=$PROBE
write_config 'max_message_size = 1024'
write_zone
start_daemon
adm zone add example.com --file "$WORK/example.com.zone"

ask() { "$TOOL" oversized "$1" "$PORT" "$2" "$3" www.example.com; }
expect_eq "UDP 1024 bytes" "$(printf 'size=1024\nanswered=1')" "$(ask 127.0.0.1 udp 1024)"
expect_eq "UDP 1025 bytes" "$(printf 'size=1025\nanswered=0')" "$(ask 127.0.0.1 udp 1025)"
expect_eq "UDP 8000 bytes over IPv6" "$(printf 'size=8000\nanswered=0')" "$(ask ::1 udp 8000)"
expect_eq "TCP 1024 bytes" "$(printf 'size=1024\nanswered=1\nclosed=0')" "$(ask 127.0.0.1 tcp 1024)"
expect_eq "TCP 1025 bytes" "$(printf 'size=1025\nanswered=0\nclosed=1')" "$(ask 127.0.0.1 tcp 1025)"
expect_eq "TCP 65535 bytes" "$(printf 'size=65535\nanswered=0\nclosed=1')" "$(ask 127.0.0.1 tcp 65535)"
expect_eq "UDP after oversized queries" "192.0.2.10" "$(q www.example.com A)"
expect_eq "TCP after oversized queries" "192.0.2.10" "$(q +tcp www.example.com A)"
kill -0 "$DAEMON_PID" || fail "daemon died"
stop_daemon
echo PASS
