#!/usr/bin/env bash
# Runs the WAL group-commit benchmark and the raw fdatasync cost on the same disk.
# usage: bench/wal/run.sh [build-dir] [work-dir] [runs]
#   build-dir  a configured CMake build of the repo (default: <repo>/build)
#   work-dir   where the logs are written (default: a fresh dir under /var/tmp)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${1:-$repo/build}"
runs="${3:-5}"
if [[ -n "${2:-}" ]]; then
  work="$2"
  mkdir -p "$work"
else
  work="$(mktemp -d /var/tmp/raftdns-bench-wal.XXXXXX)"
  trap 'rm -rf "$work"' EXIT
fi

cmake --build "$build" --target bench_wal fsync_cost -j2 >/dev/null
bench="$(find "$build" -type f -name bench_wal -perm -u+x | head -1)"
fsync="$(find "$build" -type f -name fsync_cost -perm -u+x | head -1)"

echo "disk: $(df -hT "$work" | awk 'NR==2 {print $1, $2}') ($work)"
echo
echo "raw cost of one sync on this disk:"
"$fsync" "$work" 500 "$runs"
echo
echo "raftdns::wal, 100-byte entries, one sync() per batch:"
"$bench" "$work" "$runs"
