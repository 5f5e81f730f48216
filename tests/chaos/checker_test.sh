#!/usr/bin/env bash
# The chaos checker (check_records.awk) flags each way a cluster can betray
# its writers, and passes a store that kept every promise.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/raftdns-chaos-check.XXXXXX)
trap 'rm -rf "$T"' EXIT
failures=0

# The writes: w1-1 and w1-2 acknowledged; w1-3 acknowledged, then its removal
# acknowledged; w1-4 acknowledged, its removal timed out; w1-5 timed out;
# w1-6 never reached a daemon; w1-7 acknowledged, its removal refused.
cat >"$T/ops" <<'OPS'
ack add w1-1.chaos.test 10.101.0.2 1 2 1
ack add w1-2.chaos.test 10.101.0.3 3 4 2
ack add w1-3.chaos.test 10.101.0.4 5 6 3
ack rm w1-3.chaos.test 10.101.0.4 7 8 1
ack add w1-4.chaos.test 10.101.0.5 9 10 2
fail rm w1-4.chaos.test 10.101.0.5 11 12 3
fail add w1-5.chaos.test 10.101.0.6 13 14 1
rej add w1-6.chaos.test 10.101.0.7 15 16 2
ack add w1-7.chaos.test 10.101.0.8 17 18 3
rej rm w1-7.chaos.test 10.101.0.8 19 20 1
OPS

# A store that kept every promise: w1-4's removal took effect, w1-5 did too.
# Changes: 1, 2, 3, 3-removed, 4, 4-removed, 5, 7 = serial 1 + 8.
good() {
  cat <<'ZONE'
$ORIGIN chaos.test.
chaos.test. 300 IN SOA ns1.chaos.test. hostmaster.chaos.test. 9 3600 900 604800 300
chaos.test. 300 IN NS ns1.chaos.test.
probe.chaos.test. 300 IN A 192.0.2.1
w1-1.chaos.test. 300 IN A 10.101.0.2
w1-2.chaos.test. 300 IN A 10.101.0.3
w1-5.chaos.test. 300 IN A 10.101.0.6
w1-7.chaos.test. 300 IN A 10.101.0.8
ZONE
}

check() {  # check NAME EXPECTED-PATTERN (empty: no problem) < export
  local name=$1 want=$2 out
  cat >"$T/export"
  out=$(awk -v node=n1 -v zone=chaos.test. -v serial0=1 -f "$HERE/check_records.awk" "$T/ops" "$T/export")
  local problems
  problems=$(grep -v '^SUMMARY' <<<"$out")
  if [ -z "$want" ]; then
    if [ -n "$problems" ]; then echo "FAIL $name: expected no problem, got: $problems"; failures=$((failures + 1)); return; fi
  elif ! grep -q -- "$want" <<<"$problems"; then
    echo "FAIL $name: expected '$want', got: ${problems:-nothing}"; failures=$((failures + 1)); return
  fi
  echo "ok   $name"
}

good | check KeptPromisesPass ""
good | sed '/^w1-5/d; s/ 9 3600/ 8 3600/' | check UnacknowledgedAddMayBeAbsent ""
good | sed '/^w1-2/d; s/ 9 3600/ 8 3600/' | check LostAcknowledgedAddIsFlagged "LOST acknowledged w1-2.chaos.test."
good | sed '/^w1-7/d; s/ 9 3600/ 8 3600/' | check RefusedRemovalDoesNotExcuseMissingAdd "LOST acknowledged w1-7.chaos.test."
good | sed 's/ 9 3600/ 10 3600/' | { cat; echo "w1-3.chaos.test. 300 IN A 10.101.0.4"; } |
  check RemovedNameComingBackIsFlagged "w1-3.chaos.test. is back after its removal"
good | { cat; echo "w1-1.chaos.test. 300 IN A 10.101.0.9"; } | check SecondValueIsFlagged "w1-1.chaos.test. holds 2 values"
good | { cat; echo "w1-1.chaos.test. 300 IN A 10.101.0.2"; } | check SameValueTwiceIsFlagged "holds 10.101.0.2 twice"
good | sed 's/^w1-2.chaos.test. 300 IN A 10.101.0.3/w1-2.chaos.test. 300 IN A 10.101.0.99/' |
  check WrongValueIsFlagged "w1-2.chaos.test. holds 10.101.0.99, written 10.101.0.3"
good | { cat; echo "w9-1.chaos.test. 300 IN A 10.109.0.2"; } | check PhantomNameIsFlagged "w9-1.chaos.test. appears but was never written"
good | { cat; echo "w1-6.chaos.test. 300 IN A 10.101.0.7"; } | check AddThatNeverArrivedIsFlagged "w1-6.chaos.test. appears though its add never reached"
good | sed 's/ 9 3600/ 10 3600/' | check ExtraSerialBumpIsFlagged "serial moved 9, but"

[ "$failures" = 0 ] || { echo "$failures checker cases failed"; exit 1; }
echo "PASS"
