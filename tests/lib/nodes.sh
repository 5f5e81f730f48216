# Helpers shared by the cluster tests (tests/cluster) and the chaos run
# (tests/chaos): N real raftdnsd processes, node I living in $WORK/nI.
#
# The sourcing script sets RAFTDNSD, DNSADM, WORK and N, keeps the running
# nodes' pids in the associative array PIDS, and defines how nodes are
# addressed:
#   dns_listen I     the address node I answers DNS on (host:port)
#   peer_listen I    the address node I listens for peers on
#   peer_target I J  the address node I dials to reach node J
# It may also define node_up I (default: node I has a pid in PIDS) and
# node_name I (default: nI, the node id in its config and its peers'), set
# CLUSTER_EXTRA to extra [cluster] lines and TOML_EXTRA to more tables at the
# end of every node's file, and PEERS to the node numbers a config names as
# peers (default: 1 to N).

log() { echo "[$(date +%T.%3N)] $*"; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

wait_until() {  # wait_until SECONDS command...: polls until the command succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

sock_of() { echo "$WORK/n$1/control.sock"; }
adm() { local i=$1; shift; "$DNSADM" --socket "$(sock_of "$i")" "$@"; }

if ! declare -F node_up >/dev/null; then
  node_up() { [ -n "${PIDS[$1]:-}" ]; }
fi
if ! declare -F node_name >/dev/null; then
  node_name() { echo "n$1"; }
fi
if ! declare -F peer_target >/dev/null; then
  peer_target() { peer_listen "$2"; }
fi

write_config() {  # write_config I [KEYFILE]: node I's raftdns.toml, every other node a peer
  local i=$1 key=${2:-$WORK/cluster.key} d=$WORK/n$1 j
  mkdir -p "$d"
  {
    echo "[node]"
    echo "id = \"$(node_name "$i")\""
    echo "data_dir = \"$d/data\""
    echo "[dns]"
    echo "listen = [\"$(dns_listen "$i")\"]"
    echo "workers = 1"
    echo "[control]"
    echo "socket = \"$(sock_of "$i")\""
    echo "[cluster]"
    echo "listen = \"$(peer_listen "$i")\""
    echo "key_file = \"$key\""
    [ -n "${CLUSTER_EXTRA:-}" ] && printf '%s\n' "$CLUSTER_EXTRA"
    for j in ${PEERS:-$(seq 1 "$N")}; do
      [ "$j" = "$i" ] && continue
      echo "[[cluster.peer]]"
      echo "id = \"$(node_name "$j")\""
      echo "address = \"$(peer_target "$i" "$j")\""
    done
    [ -n "${TOML_EXTRA:-}" ] && printf '%s\n' "$TOML_EXTRA"
    true
  } >"$d/raftdns.toml"
}

status_field() {  # status_field I JQ-PATH: one field of node I's status, empty when unknown
  adm "$1" --timeout 1 status --json 2>/dev/null | jq -r "$2 // empty" 2>/dev/null
}
role_of() { status_field "$1" '.cluster.role'; }
applied_of() { status_field "$1" '(.cluster.applied // .applied_index)'; }
digest_of() { status_field "$1" '.cluster.digest'; }

leader() {  # prints the number of the running node that says it leads, or fails
  local i
  for i in $(seq 1 "$N"); do
    node_up "$i" || continue
    [ "$(role_of "$i")" = leader ] && { echo "$i"; return 0; }
  done
  return 1
}

await_leader() {  # await_leader SECONDS: prints the leader's number once there is one
  local deadline=$((SECONDS + $1))
  until leader >/dev/null; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
  leader
}

converged() {  # every running node has applied the same index and has the same digest
  local a="" d="" i ai di
  for i in $(seq 1 "$N"); do
    node_up "$i" || continue
    ai=$(applied_of "$i"); di=$(digest_of "$i")
    [ -n "$ai" ] && [ -n "$di" ] || return 1
    if [ -z "$a" ]; then a=$ai; d=$di; continue; fi
    [ "$ai" = "$a" ] && [ "$di" = "$d" ] || return 1
  done
}
