#!/usr/bin/env bash
# Builds raftdns and runs the default test suite (unit + integration; long
# soak, fuzz and simulation runs are behind RAFTDNS_LONG=1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=${RAFTDNS_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${RAFTDNS_CMAKE_ARGS:-}
cmake --build "$build" -j2
# RAFTDNS_EXCLUDE_LABELS: a ctest label regex to leave out (default "long").
labels=(-LE "${RAFTDNS_EXCLUDE_LABELS:-long}")
[ "${RAFTDNS_LONG:-0}" = 1 ] && labels=()
# RAFTDNS_EXCLUDE_TESTS: a ctest name regex to leave out as well (default none).
[ -n "${RAFTDNS_EXCLUDE_TESTS:-}" ] && labels+=(-E "$RAFTDNS_EXCLUDE_TESTS")
ctest --test-dir "$build" --output-on-failure -j2 --timeout 900 "${labels[@]}"
