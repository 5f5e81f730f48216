#!/usr/bin/env bash
# Builds raftdns and starts a local cluster on loopback with a demo zone,
# then shows a record added through one node answered by every node.
#   scripts/demo.sh          build, start, show
#   scripts/demo.sh stop     stop the demo cluster
# State lives in .demo/ (configs, data, logs). Ports: DNS 127.0.0.1:5301-5303,
# peers 127.0.0.1:7101-7103.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
demo=$top/.demo
nodes=${RAFTDNS_DEMO_NODES:-3}

stop_demo() {
  for pidf in "$demo"/n*/raftdnsd.pid; do
    [ -f "$pidf" ] || continue
    kill "$(cat "$pidf")" 2>/dev/null || true
    rm -f "$pidf"
  done
}

if [ "${1:-}" = stop ]; then
  stop_demo
  echo "demo stopped"
  exit 0
fi

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target raftdnsd dnsadm
raftdnsd=$top/build/daemon/server/raftdnsd
dnsadm=$top/build/tools/dnsadm/dnsadm

stop_demo
rm -rf "$demo"
mkdir -p "$demo"
"$raftdnsd" --init-key "$demo/cluster.key" >/dev/null

for i in $(seq 1 "$nodes"); do
  d=$demo/n$i
  mkdir -p "$d"
  {
    echo "[node]"
    echo "id = \"n$i\""
    echo "data_dir = \"$d/data\""
    echo "[dns]"
    echo "listen = [\"127.0.0.1:530$i\"]"
    echo "workers = 1"
    echo "[control]"
    echo "socket = \"$d/control.sock\""
    echo "[cluster]"
    echo "listen = \"127.0.0.1:710$i\""
    echo "key_file = \"$demo/cluster.key\""
    for j in $(seq 1 "$nodes"); do
      [ "$j" = "$i" ] && continue
      echo "[[cluster.peer]]"
      echo "id = \"n$j\""
      echo "address = \"127.0.0.1:710$j\""
    done
  } >"$d/raftdns.toml"
  "$raftdnsd" --config "$d/raftdns.toml" >"$d/raftdnsd.log" 2>&1 &
  echo $! >"$d/raftdnsd.pid"
done

cat >"$demo/example.com.zone" <<'ZONE'
$ORIGIN example.com.
$TTL 300
@       IN SOA ns1.example.com. hostmaster.example.com. 1 3600 900 604800 300
        IN NS  ns1
ns1     IN A   127.0.0.1
www     IN A   192.0.2.10
mail    IN A   192.0.2.25
@       IN MX  10 mail
ZONE

adm() { "$dnsadm" --socket "$demo/n$1/control.sock" "${@:2}"; }

# Wait for node 1's control socket, then for a leader to accept the import.
for _ in $(seq 1 100); do [ -S "$demo/n1/control.sock" ] && break; sleep 0.1; done
for _ in $(seq 1 50); do
  adm 1 zone add example.com --file "$demo/example.com.zone" 2>/dev/null && break
  sleep 0.2
done
echo "+ dnsadm (node 1) add demo.example.com 300 A 192.0.2.53 --wait all"
adm 1 add demo.example.com 300 A 192.0.2.53 --wait all

for i in $(seq 1 "$nodes"); do
  echo "+ dig @127.0.0.1 -p 530$i demo.example.com A +short"
  dig @127.0.0.1 -p "530$i" demo.example.com A +short +time=2 +tries=1
done
echo
adm 1 status --cluster || adm 1 status
echo
echo "The cluster keeps running. Query it with: dig @127.0.0.1 -p 5301 www.example.com"
echo "Stop it with: scripts/demo.sh stop"
