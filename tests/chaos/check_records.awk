# check_records.awk: holds one node's zone export to the writes the chaos
# test made. Input: the write log (STATUS add|rm NAME ADDR T0 T1 NODE, STATUS
# ack, rej or fail), then the export. Variables: node, zone (with the final
# dot), serial0 (the zone's serial before any write).
#
# Every acknowledged add is present unless its removal was acknowledged; a
# removed name stays removed (a duplicate of an add applied after its removal
# would bring it back); a name holds only its own value, once; and the
# serial moved by exactly the changes that took effect, one per command.
# Prints one line per problem, then
#   SUMMARY NODE CHECKED PRESENT REMOVED PROBLEMS SERIAL_DELTA
FNR == NR {
  st = $1; op = $2; name = $3 "."; addr = $4
  if (op == "add") { addaddr[name] = addr; addst[name] = st }
  else if (st != "rej") { rmst[name] = (rmst[name] == "ack" ? "ack" : st) }
  next
}
$4 == "SOA" && $1 == zone { serial = $7 }
$4 == "A" && $1 ~ /^[wpr][0-9]+-[0-9]+\./ {
  seen[$1 SUBSEP $5]++
  vals[$1] = vals[$1] " " $5
  count[$1]++
}
END {
  bad = 0; present = 0; removed = 0; checked = 0
  for (n in count) {
    present++
    if (!(n in addaddr)) { printf "%s: %s appears but was never written (%s)\n", node, n, vals[n]; bad++; continue }
    if (count[n] > 1) { printf "%s: %s holds %d values:%s\n", node, n, count[n], vals[n]; bad++ }
    if (vals[n] != " " addaddr[n]) { printf "%s: %s holds%s, written %s\n", node, n, vals[n], addaddr[n]; bad++ }
    if (rmst[n] == "ack") { printf "%s: %s is back after its removal was acknowledged\n", node, n; bad++ }
    if (addst[n] == "rej") { printf "%s: %s appears though its add never reached a daemon\n", node, n; bad++ }
  }
  for (n in addaddr) {
    if (addst[n] != "ack") continue
    checked++
    if (n in count) continue
    if (n in rmst) { removed++; continue }
    printf "%s: LOST acknowledged %s A %s\n", node, n, addaddr[n]; bad++
  }
  for (k in seen) if (seen[k] > 1) { split(k, p, SUBSEP); printf "%s: %s holds %s twice\n", node, p[1], p[2]; bad++ }
  expect = present + 2 * removed
  if (serial - serial0 != expect) {
    printf "%s: serial moved %d, but %d present + 2 x %d removed names make %d\n", node, serial - serial0, present, removed, expect
    bad++
  }
  printf "SUMMARY %s %d %d %d %d %d\n", node, checked, present, removed, bad, serial - serial0
}
