#!/usr/bin/env bash
# Differential test: the same generated zones served by NSD and raftdnsd must answer alike.
#
# Usage: differential.sh RAFTDNSD DNSADM
#        differential.sh --knot        (checks the harness itself: NSD against Knot)
#
# NSD listens on 127.0.0.1:15600 and the server under test on 127.0.0.1:15601.
# Each query in the generated list goes to both through one batched dig per server.
# Per query we compare:
#   - the rcode, and the header flags (qr aa tc rd ra ad cd), exactly;
#   - the question section, byte for byte (the question's case must come back);
#   - the answer section, as a sorted set of normalized records (owner lower-cased);
#   - when the answer is empty: the authority section, and the glue in the additional
#     section (A/AAAA records at or below an NS target of the authority section);
#   - when the answer holds MX or SRV records: the A/AAAA additional records of their
#     targets that lie in the same zone as the MX/SRV owner.
# Known, intentional differences are handled in KNOWN DIFFERENCES below; each says why.
# Set KEEP_TMP=1 to keep the scratch directory (zones, configs, logs, raw dig output).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/differential/zones.sh
. "$here/zones.sh"

nsd_port=15600
subject_port=15601
subject=raftdnsd
if [[ ${1:-} == --knot ]]; then
  subject=knot
elif [[ $# -eq 2 ]]; then
  raftdnsd_bin=$1
  dnsadm_bin=$2
else
  echo "usage: $0 RAFTDNSD DNSADM | $0 --knot" >&2
  exit 2
fi

zones=(example.test kid.example.test other.test)
scratch=$(mktemp -d /tmp/raftdns-differential.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then
    echo "scratch kept in $scratch" >&2
  else
    rm -rf "$scratch"
  fi
}
trap cleanup EXIT

fail() {
  echo "differential: $*" >&2
  exit 1
}

# Waits until the server on PORT answers the SOA of every zone (it has loaded them).
wait_for_zones() {
  local port=$1 who=$2 zone tries
  for zone in "${zones[@]}"; do
    for ((tries = 0; ; tries++)); do
      if dig @127.0.0.1 -p "$port" +norec +time=1 +tries=1 +short "$zone" SOA 2>/dev/null |
        grep -q .; then
        break
      fi
      ((tries < 50)) || return 1
      sleep 0.2
    done
  done
  echo "$who answers on port $port" >&2
}

start_nsd() {
  local conf=$scratch/nsd/nsd.conf zone
  mkdir -p "$scratch/nsd"
  {
    cat <<EOF
server:
  ip-address: 127.0.0.1@$nsd_port
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonesdir: "$scratch/zones"
  pidfile: "$scratch/nsd/nsd.pid"
  xfrdfile: "$scratch/nsd/xfrd.state"
  zonelistfile: "$scratch/nsd/zone.list"
  logfile: "$scratch/nsd/nsd.log"
  rrl-ratelimit: 0
remote-control:
  control-enable: no
EOF
    for zone in "${zones[@]}"; do
      printf 'zone:\n  name: %s\n  zonefile: "%s"\n' "$zone" "$scratch/zones/$zone.zone"
    done
  } >"$conf"
  nsd -d -c "$conf" >"$scratch/nsd/stdout.log" 2>&1 &
  pids+=($!)
  if ! wait_for_zones "$nsd_port" nsd; then
    cat "$scratch/nsd/nsd.log" "$scratch/nsd/stdout.log" >&2 || true
    fail "NSD did not load the zones"
  fi
  if grep -Ei 'error|fail' "$scratch/nsd/nsd.log"; then
    fail "NSD logged errors loading the zones (see above)"
  fi
}

start_knot() {
  local conf=$scratch/knot/knot.conf zone
  mkdir -p "$scratch/knot/db"
  {
    cat <<EOF
server:
  listen: 127.0.0.1@$subject_port
  rundir: "$scratch/knot"
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
database:
  storage: "$scratch/knot/db"
log:
  - target: "$scratch/knot/knot.log"
    any: info
zone:
EOF
    for zone in "${zones[@]}"; do
      printf '  - domain: %s\n    file: "%s"\n' "$zone" "$scratch/zones/$zone.zone"
    done
  } >"$conf"
  knotd -c "$conf" >"$scratch/knot/stdout.log" 2>&1 &
  pids+=($!)
  if ! wait_for_zones "$subject_port" knot; then
    cat "$scratch/knot/knot.log" "$scratch/knot/stdout.log" >&2 || true
    fail "Knot did not load the zones"
  fi
}

start_raftdnsd() {
  local dir=$scratch/raftdnsd zone tries
  mkdir -p "$dir/data"
  cat >"$dir/node.toml" <<EOF
[node]
id = "n1"
data_dir = "$dir/data"

[dns]
listen = ["127.0.0.1:$subject_port"]
workers = 1

[control]
socket = "$dir/control.sock"
EOF
  "$raftdnsd_bin" --config "$dir/node.toml" >"$dir/raftdnsd.log" 2>&1 &
  pids+=($!)
  for ((tries = 0; ; tries++)); do
    [[ -S $dir/control.sock ]] && "$dnsadm_bin" --socket "$dir/control.sock" status \
      >/dev/null 2>&1 && break
    if ((tries >= 50)); then
      cat "$dir/raftdnsd.log" >&2
      fail "raftdnsd did not open its control socket $dir/control.sock"
    fi
    sleep 0.2
  done
  for zone in "${zones[@]}"; do
    if ! "$dnsadm_bin" --socket "$dir/control.sock" zone add "$zone" \
      --file "$scratch/zones/$zone.zone"; then
      cat "$dir/raftdnsd.log" >&2
      fail "dnsadm zone add $zone failed"
    fi
  done
  if ! wait_for_zones "$subject_port" raftdnsd; then
    cat "$dir/raftdnsd.log" >&2
    fail "raftdnsd does not answer for the imported zones"
  fi
}

# Sends every query to PORT with one dig and writes one normalized line per query:
#   index TAB query TAB rcode TAB flags TAB question TAB answer TAB authority TAB additional
# where each section is its records, normalized and sorted, joined by " | ".
run_queries() {
  local port=$1 out=$2
  # +qr prints each query before its answer, so a query that gets no answer still
  # occupies its own slot; +ignore keeps truncated answers as they came.
  # dig picks the transport per batch, not per line, hence one batch per transport.
  local transport
  : >"$out.raw"
  for transport in notcp tcp; do
    dig @127.0.0.1 -p "$port" +"$transport" +norec +noadflag +nocookie +ignore +tries=1 \
      +time=2 +noednsnegotiation +noall +comments +question +answer +authority +additional +qr \
      -f "$scratch/queries.${transport/notcp/udp}" >>"$out.raw" 2>&1 || true
  done
  awk -v queries="$scratch/queries" -f "$here/normalize.awk" "$out.raw" >"$out"
  local count
  count=$(wc -l <"$out")
  [[ $count -eq $(wc -l <"$scratch/queries") ]] ||
    fail "port $port: parsed $count answers for $(wc -l <"$scratch/queries") queries (see $out.raw)"
}

# Compares the two normalized files; prints each mismatch and the number of them.
compare() {
  local reference=$1 subject_file=$2
  awk -F '\t' -v zone_list="${zones[*]}" -v who="$subject" '
    function zone_of(name,   i, best) {
      name = tolower(name); sub(/\.$/, "", name); best = ""
      for (i = 1; i <= nz; i++)
        if ((name == zl[i] || substr(name, length(name) - length(zl[i])) == "." zl[i]) &&
            length(zl[i]) > length(best))
          best = zl[i]
      return best
    }
    function at_or_below(name, parent) {
      name = tolower(name); parent = tolower(parent)
      return name == parent || substr(name, length(name) - length(parent)) == "." parent
    }
    # Keeps the additional records that are A/AAAA of a name in `targets`.
    function filter_additional(ar, targets,   recs, n, i, f, out, owner) {
      n = split(ar, recs, / \| /); out = ""
      for (i = 1; i <= n; i++) {
        split(recs[i], f, " ")
        if ((f[4] == "A" || f[4] == "AAAA") && (f[1] in targets))
          out = out (out == "" ? "" : " | ") recs[i]
      }
      return out
    }
    # MX/SRV targets in the answer that lie in the zone of their owner.
    function mx_srv_targets(an, targets,   recs, n, i, f, t) {
      n = split(an, recs, / \| /)
      for (i = 1; i <= n; i++) {
        split(recs[i], f, " ")
        t = ""
        if (f[4] == "MX") t = f[6]
        else if (f[4] == "SRV") t = f[8]
        if (t != "" && zone_of(t) != "" && zone_of(t) == zone_of(f[1])) targets[tolower(t)] = 1
      }
    }
    # In-bailiwick NS targets of a referral (true glue).
    function glue_targets(ns, targets,   recs, n, i, f) {
      n = split(ns, recs, / \| /)
      for (i = 1; i <= n; i++) {
        split(recs[i], f, " ")
        if (f[4] == "NS" && at_or_below(f[5], f[1])) targets[tolower(f[5])] = 1
      }
    }
    function report(what) {
      mismatches++
      printf "MISMATCH %s: query \"%s\"\n", what, q
      printf "  nsd:      rcode=%s flags=[%s] question=[%s]\n", r[3], r[4], r[5]
      printf "            answer=[%s]\n            authority=[%s]\n            additional=[%s]\n",
        r[6], r[7], r[8]
      printf "  %-9s rcode=%s flags=[%s] question=[%s]\n", who ":", s[3], s[4], s[5]
      printf "            answer=[%s]\n            authority=[%s]\n            additional=[%s]\n",
        s[6], s[7], s[8]
    }
    BEGIN { nz = split(zone_list, zl, " ") }
    NR == FNR { ref[$1] = $0; next }
    {
      split(ref[$1], r, "\t"); split($0, s, "\t"); q = s[2]
      split(q, qwords, " "); qtype = toupper(qwords[2])

      # KNOWN DIFFERENCES (intentional, each with its reason):
      # 1. ANY: RFC 8482 lets a server answer ANY with any non-empty subset of the
      #    RRsets (raftdnsd gives one RRset, NSD all of them). Compare rcode, flags
      #    and whether there is an answer at all.
      # 2. Truncated answers (TC=1): RFC 2181 section 9 lets a server send what fits or
      #    nothing; NSD drops the RRset. Only rcode and flags are compared.
      # 3. The authority and additional sections of positive answers are not compared:
      #    NSD adds the zone NS RRset and its addresses (minimal-responses off), a
      #    server may as well omit them (RFC 2181 section 6.1, RFC 1034 4.3.2 step 6
      #    leaves them optional). Glue on referrals and MX/SRV target addresses are
      #    compared (see the header of this script).
      # 4. The OPT record is not compared: the advertised UDP size is per-server config.
      # 5. NOTIMP (unknown opcode): NSD answers with an empty question section, other
      #    servers echo the question; RFC 1035 leaves it open, and a message with an
      #    opcode the server does not know has no defined sections. Compare rcode and
      #    flags only.
      if (s[3] != r[3]) { report("rcode"); next }
      if (s[4] != r[4]) { report("flags"); next }
      if (r[3] == "NOTIMP") next
      if (s[5] != r[5]) { report("question"); next }
      if (s[4] ~ /(^| )tc( |$)/) next
      if (qtype == "ANY") {
        if ((s[6] == "") != (r[6] == "")) report("ANY answer presence")
        next
      }
      if (s[6] != r[6]) { report("answer"); next }
      if (s[6] == "") {
        if (s[7] != r[7]) { report("authority"); next }
        delete glue; glue_targets(r[7], glue)
        if (filter_additional(s[8], glue) != filter_additional(r[8], glue)) {
          report("glue in additional"); next
        }
      } else {
        delete targets; mx_srv_targets(r[6], targets)
        if (filter_additional(s[8], targets) != filter_additional(r[8], targets)) {
          report("MX/SRV target addresses in additional"); next
        }
      }
    }
    END { printf "%d queries compared, %d mismatches\n", FNR, mismatches + 0; exit(mismatches > 0) }
  ' "$reference" "$subject_file"
}

mkdir -p "$scratch/zones"
write_zones "$scratch/zones"
write_queries "$scratch"
cat "$scratch/queries.udp" "$scratch/queries.tcp" >"$scratch/queries"

start_nsd
if [[ $subject == knot ]]; then
  start_knot
else
  start_raftdnsd
fi

run_queries "$nsd_port" "$scratch/nsd.answers"
run_queries "$subject_port" "$scratch/$subject.answers"
if compare "$scratch/nsd.answers" "$scratch/$subject.answers"; then
  echo "differential: $subject agrees with NSD"
else
  KEEP_TMP=1
  fail "$subject differs from NSD (raw dig output in $scratch/*.answers.raw)"
fi
