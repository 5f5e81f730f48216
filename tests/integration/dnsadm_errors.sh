#!/bin/bash
# Every dnsadm failure exits non-zero with exactly one line on stderr, and
# raftdnsd --check-config names the bad key.
source "$(dirname "$0")/lib.sh"
setup "$@" 15306
write_zone

expect_fail() {  # $1 = exit code, $2 = text in the message, rest = dnsadm args
  local want=$1 text=$2 rc=0
  shift 2
  "$DNSADM" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  [[ $rc -eq $want ]] || fail "dnsadm $* exited $rc, want $want ($(cat "$WORK/err"))"
  [[ $(wc -l < "$WORK/err") -eq 1 ]] || fail "dnsadm $*: stderr is not one line: $(cat "$WORK/err")"
  grep -q '^dnsadm: ' "$WORK/err" || fail "dnsadm $*: no 'dnsadm:' prefix"
  grep -qF -- "$text" "$WORK/err" || fail "dnsadm $*: [$text] not in $(cat "$WORK/err")"
}

# No daemon yet.
expect_fail 3 "$SOCK" --socket "$SOCK" status
expect_fail 3 "$SOCK" --socket "$SOCK" add www.example.com 300 A 192.0.2.1
# Usage errors.
expect_fail 2 "required" --socket "$SOCK"
expect_fail 2 "TYPE" --socket "$SOCK" add www.example.com 300
expect_fail 2 "" --socket "$SOCK" status --frobnicate
expect_fail 2 "" --socket "$SOCK" --timeout 0 status

"$RAFTDNSD" --check-config --config "$CONFIG" | grep -qx 'config OK' || fail "check-config OK"
cp "$CONFIG" "$WORK/bad.toml"
echo 'colour = "blue"' >> "$WORK/bad.toml"
rc=0; "$RAFTDNSD" --check-config --config "$WORK/bad.toml" 2>"$WORK/err" || rc=$?
[[ $rc -eq 1 ]] || fail "check-config on a bad file exited $rc"
grep -q 'unknown key "control.colour"' "$WORK/err" || fail "check-config: $(cat "$WORK/err")"
"$RAFTDNSD" --version | grep -q '^raftdnsd ' || fail "--version"

start_daemon
adm zone add example.com --file "$WORK/example.com.zone"
# Bad input, refused before or by the daemon.
expect_fail 1 "1.2.3.400" --socket "$SOCK" add www.example.com 300 A 1.2.3.400
expect_fail 1 "unknown record type" --socket "$SOCK" add www.example.com 300 BOGUS x
expect_fail 1 "" --socket "$SOCK" add www.example.org 300 A 192.0.2.1
expect_fail 1 "" --socket "$SOCK" zone remove example.net
expect_fail 1 "" --socket "$SOCK" zone export example.net
expect_fail 1 "no records" --socket "$SOCK" get nothing.example.com
expect_fail 1 "/nonexistent.zone" --socket "$SOCK" zone add example.net --file /nonexistent.zone
printf 'ADD: ok.example.com. 300 A 192.0.2.9\nADD: bad.example.com. 300 A nope\n' > "$WORK/b"
expect_fail 1 "b:2:" --socket "$SOCK" batch "$WORK/b"
printf 'CHANGE: x\n' > "$WORK/c"
expect_fail 1 "c:1:" --socket "$SOCK" batch "$WORK/c"
expect_eq "failed batch applied nothing" "NXDOMAIN" "$(rcode ok.example.com A)"

# A daemon that does not answer in time: a socket nobody accepts on.
"$PROBE" control-silent "$WORK/silent.sock" 5 &
track $!
sleep 0.2
start=$(date +%s%N)
expect_fail 3 "timed out" --socket "$WORK/silent.sock" --timeout 0.5 status
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[[ $elapsed_ms -lt 3000 ]] || fail "--timeout 0.5 took $elapsed_ms ms"

# --json is one object with the documented fields.
json=$(adm status --json)
for field in version node_id uptime_seconds zones records queries applied_index; do
  [[ "$json" == *"\"$field\":"* ]] || fail "status --json lacks $field: $json"
done
adm status | grep -q '^queries served:' || fail "status text"

stop_daemon
echo PASS
