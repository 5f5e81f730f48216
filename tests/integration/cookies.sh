#!/bin/bash
# DNS Cookies (RFC 7873, RFC 9018) as dig sees them: a server cookie comes
# back, is accepted when sent back, and a forged one gets BADCOOKIE.
source "$(dirname "$0")/lib.sh"
setup "$@" 23003
write_zone
start_daemon
adm zone add example.com --file "$WORK/example.com.zone"

ask() { dig @127.0.0.1 -p "$PORT" +time=2 +tries=1 +norec "$@"; }
out=$(ask +cookie www.example.com A)
[[ "$out" == *"status: NOERROR"* ]] || fail "cookie query answered: $out"
line=$(grep -o 'COOKIE: [0-9a-f]* (good)' <<<"$out") || fail "a good server cookie: $out"
cookie=$(awk '{print $2}' <<<"$line")
expect_eq "client + RFC 9018 server cookie length" 48 "${#cookie}"
expect_eq "RFC 9018 version 1" "01000000" "${cookie:16:8}"

out=$(ask +cookie="$cookie" www.example.com A)
[[ "$out" == *"status: NOERROR"* && "$out" == *"192.0.2.10"* ]] || fail "valid cookie: $out"

forged="${cookie:0:32}0000000000000000"
out=$(ask +cookie="$forged" +nobadcookie www.example.com A)
[[ "$out" == *"status: BADCOOKIE"* ]] || fail "forged server cookie: $out"
out=$(ask +tcp +cookie="$forged" www.example.com A)
[[ "$out" == *"status: NOERROR"* ]] || fail "forged cookie over TCP is answered: $out"

# Malformed (9 octets): FORMERR.
out=$(ask +cookie=0102030405060708ff www.example.com A)
[[ "$out" == *"status: FORMERR"* ]] || fail "malformed cookie: $out"
# Rate limiting lets clients with a valid server cookie through: their
# address is proven, so they cannot be a spoofed reflection victim.
stop_daemon
write_config "rate_limit = 1" "rate_limit_slip = 0"
start_daemon
burst() {  # burst COUNT DIG-ARGS...: answered replies among COUNT parallel queries
  local count=$1; shift
  for i in $(seq 1 "$count"); do
    dig @127.0.0.1 -p "$PORT" +time=2 +tries=1 +norec "$@" www.example.com A > "$WORK/burst.$i" 2>&1 &
  done
  wait
  grep -l "status: NOERROR" "$WORK"/burst.* | wc -l
  rm -f "$WORK"/burst.*
}
out=$(ask +cookie www.example.com A)
cookie=$(grep -o 'COOKIE: [0-9a-f]*' <<<"$out" | awk '{print $2}')
expect_eq "every query with a valid cookie answered" 20 "$(burst 20 +cookie="$cookie")"
limited=$(burst 20 +nocookie)
[[ $limited -lt 20 ]] || fail "without a cookie the burst is rate limited: $limited of 20 answered"
echo "PASS"
