#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a bounded time.
#
# Usage: tests/fuzz/run.sh [target...]      (default: every target)
# Environment:
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_BUILD    build directory (default <repo>/../build-fuzz)
#   FUZZ_JOBS     parallel build jobs (default 2)
#   FUZZ_WORK     where the growing corpora and crash inputs go (default $FUZZ_BUILD/fuzz-work)
#   FUZZ_SEED     libFuzzer's random seed (default: libFuzzer picks one); with FUZZ_RUNS the
#                 run is repeatable, which CI uses so that a red run replays exactly
#   FUZZ_RUNS     stop each target after this many executions (FUZZ_SECONDS stays the cap)
# Prints one line per target: seconds, executions, crashes. A crash input is copied to
# tests/fuzz/regressions/<target>/ (where the regression tests replay it) and the script
# exits non-zero.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-$repo/../build-fuzz}
jobs=${FUZZ_JOBS:-2}
work=${FUZZ_WORK:-$build/fuzz-work}

all_targets=(dns_query record_text control peer_frame peer_message wal_recovery raft_message command xfr_request update_message)
if [[ $# -gt 0 ]]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

# The peer frame decoder's own target lives with the transport tests, with its corpus.
corpus_of() {
  if [[ $1 == peer_frame ]]; then echo "$repo/tests/transport/fuzz_corpus"; else echo "$here/corpus/$1"; fi
}

if ! command -v clang++ >/dev/null; then
  echo "run.sh: clang++ is needed for libFuzzer (apt-get install clang libclang-rt-dev)" >&2
  exit 2
fi
CC=clang CXX=clang++ cmake -S "$repo" -B "$build" -DRAFTDNS_FUZZ=ON -DRAFTDNS_TESTS=ON \
  -DRAFTDNS_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log" >&2
  exit 2
}
build_targets=()
for t in "${targets[@]}"; do build_targets+=(--target "fuzz_$t"); done
cmake --build "$build" -j"$jobs" "${build_targets[@]}" || exit 2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
summary=()
for t in "${targets[@]}"; do
  exe=$(find "$build" -type f -name "fuzz_$t" -perm -u+x | head -n1)
  if [[ -z $exe ]]; then
    echo "run.sh: fuzz_$t was not built" >&2
    status=1
    continue
  fi
  live="$work/corpus/$t"
  crashes="$work/crashes/$t"
  rm -rf "$crashes"
  mkdir -p "$live" "$crashes"
  log="$work/$t.log"
  start=$(date +%s)
  # The growing corpus comes first (new inputs are written there); the seeds are read only.
  extra=()
  [[ -n ${FUZZ_SEED:-} ]] && extra+=(-seed="$FUZZ_SEED")
  [[ -n ${FUZZ_RUNS:-} ]] && extra+=(-runs="$FUZZ_RUNS")
  "$exe" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -max_len=4096 "${extra[@]}" -artifact_prefix="$crashes/" "$live" "$(corpus_of "$t")" \
    >"$log" 2>&1
  rc=$?
  elapsed=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  found=$(find "$crashes" -type f | wc -l)
  if [[ $rc -ne 0 || $found -gt 0 ]]; then
    status=1
    keep="$here/regressions/$t"
    mkdir -p "$keep"
    for f in "$crashes"/*; do [[ -f $f ]] && cp "$f" "$keep/"; done
    echo "run.sh: fuzz_$t failed (exit $rc); inputs kept in $keep; log: $log" >&2
    grep -m5 -E 'ERROR|invariant broken|runtime error' "$log" >&2
    # The input itself, so a run on another machine (CI) can be replayed
    # from its log alone: `xxd -r -p` turns the hex back into the file.
    for f in "$crashes"/*; do
      [[ -f $f ]] || continue
      echo "run.sh: input $(basename "$f") ($(stat -c %s "$f") bytes), hex:" >&2
      od -An -v -tx1 "$f" | tr -d ' \n' | fold -w 128 >&2
      echo >&2
    done
  fi
  summary+=("$(printf '%-14s %8s %14s %8s' "$t" "$elapsed" "${execs:-?}" "$found")")
done

printf '%-14s %8s %14s %8s\n' target seconds executions crashes
printf '%s\n' "${summary[@]}"
exit $status
