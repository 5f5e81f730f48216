# Shared by bench/zones/run.sh and restart.sh: a scratch directory, the
# background processes to stop on exit, bounded waits. The sourcing script
# sets `bench_name` first (messages and the scratch directory's name).
work=$(mktemp -d "/tmp/raftdns-bench-${bench_name:?}.XXXXXX")
declare -A pids=()

fail() { echo "bench/zones/$bench_name: $*" >&2; exit 1; }
stop_all() {
  local k
  for k in "${!pids[@]}"; do
    kill "${pids[$k]}" 2>/dev/null || true
    wait "${pids[$k]}" 2>/dev/null || true
    unset "pids[$k]"
  done
}
cleanup() { stop_all; [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT
wait_for() {  # wait_for SECONDS command...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.02; done
}
answers() { [ "$(dig @127.0.0.1 -p "$1" "$2" A +short +time=1 +tries=1)" = "$3" ]; }
