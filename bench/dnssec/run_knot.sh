#!/bin/sh
# Knot's signing time for the zone bench_sign signs: knotd CPU seconds from
# start to "successfully signed", RUNS runs (default 3).
# Usage: [RUNS=n] [KNOT_PORT=p] run_knot.sh RECORDS [BUILD_DIR]  (port default 28900)
set -eu
records=${1:-20000}
build=${2:-build}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$build/bench/dnssec/bench_sign" --records "$records" --runs 1 --write-unsigned "$dir/bench.zone" >/dev/null
cat >"$dir/knot.conf" <<CONF
server:
  listen: 127.0.0.1@${KNOT_PORT:-28900}
  rundir: $dir
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
database:
  storage: $dir/db
log:
  - target: stderr
    any: info
policy:
  - id: bench
    algorithm: ecdsap256sha256
    nsec3: on
    nsec3-iterations: 0
    nsec3-salt-length: 0
template:
  - id: default
    storage: $dir
zone:
  - domain: bench.example.
    file: $dir/bench.zone
    dnssec-signing: on
    dnssec-policy: bench
    zonefile-sync: -1
    journal-content: none
CONF
for run in $(seq 1 "${RUNS:-3}"); do
  rm -rf "$dir/db"
  mkdir "$dir/db"
  knotd -c "$dir/knot.conf" >"$dir/knot.log" 2>&1 &
  pid=$!
  deadline=$(($(date +%s) + 3600))
  until grep -qE "successfully signed|error" "$dir/knot.log"; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "knotd did not sign within an hour" >&2; kill "$pid"; exit 1; }
    sleep 0.25
  done
  grep -q "successfully signed" "$dir/knot.log" || { cat "$dir/knot.log" >&2; kill "$pid"; exit 1; }
  awk -v run="$run" '{printf "run %s: knotd %.2f CPU s\n", run, ($14 + $15) / 100}' "/proc/$pid/stat"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
