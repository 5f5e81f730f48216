#!/usr/bin/env bash
# A node with the wrong cluster key is refused and the refusal is logged;
# the others keep working.
source "$(dirname "$0")/lib.sh"
cluster_init 3 "${PORT_BASE:?}"
"$RAFTDNSD" --init-key "$WORK/other.key" >/dev/null
write_config 3 "$WORK/other.key"
start_all
wait_until 15 leader || fail "n1 and n2 did not elect a leader"
L=$(leader)
[ "$L" != 3 ] || fail "the node with the wrong key became leader"
write_retry "$L" zone add example.com --file "$(demo_zone)"
adm "$L" add k.example.com 300 A 192.0.2.9 || fail "write with 2 of 3 failed"
sleep 1
[ -z "$(ask 3 k.example.com)" ] || fail "the wrong-key node received data"
grep -q "claims n3): refused the handshake: handshake MAC mismatch" "$WORK/n1/log" "$WORK/n2/log" || fail "no refusal of n3 logged by n1/n2"
grep -h "MAC mismatch" "$WORK/n1/log" "$WORK/n2/log" | head -2
log "PASS"
