#!/usr/bin/env bash
# Signed updates against a 3-node cluster: nsupdate with a TSIG key file,
# the refusals for a wrong secret, an unknown key and a record outside the
# key's grant, and a whole ACME DNS-01 issuance by certbot
# (python3-certbot-dns-rfc2136) from pebble, the ACME test server, which
# resolves the challenge from the cluster. The TXT record is checked on every
# node while certbot waits for it to propagate.
source "$(dirname "$0")/../cluster/lib.sh"
ADMIN_SECRET=$("$RAFTDNSD" --tsig-keygen admin. | awk -F'"' '/secret/ { print $2; exit }')
ACME_SECRET=$("$RAFTDNSD" --tsig-keygen acme. --algorithm hmac-sha512 | awk -F'"' '/secret/ { print $2; exit }')
[ -n "$ADMIN_SECRET" ] && [ -n "$ACME_SECRET" ] || fail "raftdnsd --tsig-keygen printed no secret"
TOML_EXTRA="[[tsig]]
name = \"admin.\"
algorithm = \"hmac-sha256\"
secret = \"$ADMIN_SECRET\"
[[tsig]]
name = \"acme.\"
algorithm = \"hmac-sha512\"
secret = \"$ACME_SECRET\"
[[update.grant]]
key = \"admin.\"
zone = \"example.com.\"
[[update.grant]]
key = \"acme.\"
zone = \"example.com.\"
names = [\"_acme-challenge.example.com.\", \"*._acme-challenge.example.com.\", \"_acme-challenge.www.example.com.\"]
types = [\"TXT\"]"
cluster_init 3 "${PORT_BASE:?}"
start_all
L=$(wait_leader)
write_retry 1 zone add example.com --file "$(demo_zone)"
F=$(( L % 3 + 1 ))
port() { echo $((BASE + $1)); }
answer_of() { ask "$1" "$2" "$3" | sort | tr '\n' ' '; }
answers_are() { [ "$(answer_of "$1" "$2" "$3")" = "$4" ]; }
on_all() {
  local i
  for i in 1 2 3; do
    wait_until 10 answers_are "$i" "$1" "$2" "$3" ||
      fail "n$i answers '$(answer_of "$i" "$1" "$2")' for $1 $2, want '$3'"
  done
}
keyfile() {  # keyfile NAME ALGORITHM SECRET: a key file as nsupdate -k reads it
  printf 'key "%s" {\n  algorithm %s;\n  secret "%s";\n};\n' "$1" "$2" "$3" >"$WORK/$1key"
  echo "$WORK/$1key"
}
ADMIN_KEY=$(keyfile admin. hmac-sha256 "$ADMIN_SECRET")
WRONG_KEY=$(keyfile wrong. hmac-sha256 "$ADMIN_SECRET")
BAD_SECRET=$(printf 'key "admin." {\n  algorithm hmac-sha256;\n  secret "%s";\n};\n' \
  "$("$RAFTDNSD" --tsig-keygen x. | awk -F'"' '/secret/ { print $2; exit }')" >"$WORK/badsecret"; echo "$WORK/badsecret")

# --- signed updates with a key file, through the leader and a follower --------------------
for i in "$L" "$F"; do
  out=$(nsupdate -k "$ADMIN_KEY" -t 10 2>&1 <<EOF
server 127.0.0.1 $(port "$i")
zone example.com
update add signed$i.example.com 60 A 192.0.2.$i
send
EOF
) || fail "a signed nsupdate through n$i failed: $out"
  on_all "signed$i.example.com" A "192.0.2.$i "
done
log "signed updates through the leader and a follower are answered everywhere"

refused_with() {  # refused_with KEYFILE PATTERN: the update on stdin fails, nsupdate says PATTERN
  local out
  out=$(nsupdate -k "$1" -t 10 2>&1 <<EOF
server 127.0.0.1 $(port "$F")
$(cat)
EOF
) && fail "an update that should fail ($2) succeeded"
  grep -Eq "$2" <<<"$out" || fail "expected /$2/, nsupdate said: $out"
}
refused_with "$WRONG_KEY" "NOTAUTH|BADKEY" <<'EOF'
zone example.com
update add unknownkey.example.com 60 A 192.0.2.1
send
EOF
refused_with "$BAD_SECRET" "NOTAUTH|BADSIG|tsig verify failure" <<'EOF'
zone example.com
update add badsig.example.com 60 A 192.0.2.1
send
EOF
ACME_KEY=$(keyfile acme. hmac-sha512 "$ACME_SECRET")
refused_with "$ACME_KEY" "REFUSED" <<'EOF'
zone example.com
update add www.example.com 60 TXT "not the acme key's to change"
send
EOF
on_all unknownkey.example.com A ""
on_all badsig.example.com A ""
log "unknown key, bad signature and a record outside the grant are refused; nothing applied"

# --- certbot, DNS-01, from pebble -----------------------------------------------------------
command -v pebble >/dev/null && command -v certbot >/dev/null ||
  fail "pebble and certbot are needed (scripts/deps.sh installs them)"
PEBBLE=$WORK/pebble
mkdir -p "$PEBBLE"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$PEBBLE/key.pem" -out "$PEBBLE/cert.pem" >/dev/null 2>&1 || fail "openssl failed"
cat >"$PEBBLE/config.json" <<EOF
{ "pebble": {
    "listenAddress": "127.0.0.1:$((BASE + 90))",
    "managementListenAddress": "127.0.0.1:$((BASE + 91))",
    "certificate": "$PEBBLE/cert.pem", "privateKey": "$PEBBLE/key.pem",
    "httpPort": $((BASE + 92)), "tlsPort": $((BASE + 93)),
    "ocspResponderURL": "", "externalAccountBindingRequired": false } }
EOF
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$PEBBLE/config.json" \
  -dnsserver "127.0.0.1:$(port "$F")" >"$PEBBLE/log" 2>&1 &
PIDS[pebble]=$!
wait_until 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$((BASE + 90))" || fail "pebble did not start: $(cat "$PEBBLE/log")"
cat >"$WORK/rfc2136.ini" <<EOF
dns_rfc2136_server = 127.0.0.1
dns_rfc2136_port = $(port "$F")
dns_rfc2136_name = acme.
dns_rfc2136_secret = $ACME_SECRET
dns_rfc2136_algorithm = HMAC-SHA512
EOF
chmod 600 "$WORK/rfc2136.ini"

# While certbot waits for propagation, the challenge must be on every node.
( deadline=$((SECONDS + 120))
  while [ $SECONDS -lt $deadline ] && [ ! -f "$WORK/certbot.done" ]; do
    seen=0
    for i in 1 2 3; do [ -n "$(ask "$i" _acme-challenge.www.example.com TXT)" ] && seen=$((seen + 1)); done
    if [ "$seen" = 3 ]; then touch "$WORK/challenge.everywhere"; break; fi
    sleep 0.2
  done ) &
watcher=$!
REQUESTS_CA_BUNDLE=$PEBBLE/cert.pem certbot certonly --non-interactive --agree-tos \
  -m hostmaster@example.com --server "https://127.0.0.1:$((BASE + 90))/dir" \
  --dns-rfc2136 --dns-rfc2136-credentials "$WORK/rfc2136.ini" \
  --dns-rfc2136-propagation-seconds 3 -d www.example.com \
  --config-dir "$WORK/certbot/config" --work-dir "$WORK/certbot/work" \
  --logs-dir "$WORK/certbot/logs" >"$WORK/certbot.out" 2>&1
rc=$?
touch "$WORK/certbot.done"
wait "$watcher"
if [ $rc -ne 0 ]; then
  cat "$WORK/certbot.out" >&2
  tail -n 30 "$WORK/certbot/logs/letsencrypt.log" >&2
  fail "certbot did not obtain a certificate (exit $rc)"
fi
[ -f "$WORK/challenge.everywhere" ] || fail "the challenge TXT was never on all three nodes while certbot waited"
cert=$WORK/certbot/config/live/www.example.com/cert.pem
openssl x509 -in "$cert" -noout -ext subjectAltName | grep -q "DNS:www.example.com" ||
  fail "the certificate does not name www.example.com"
on_all _acme-challenge.www.example.com TXT ""  # certbot cleaned up through UPDATE too
log "certbot obtained a certificate for www.example.com through DNS-01 and signed UPDATEs"
log "PASS"
