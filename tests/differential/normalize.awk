# Turns the output of one batched dig (+qr +comments +question +answer
# +authority +additional) into one line per query:
#   index TAB query TAB rcode TAB flags TAB question TAB answer TAB authority TAB additional
# with each section's records normalized (owner lower-cased, names in
# name-only RDATA lower-cased) and sorted, joined by " | ".
# Usage: awk -v queries=QUERYFILE -f normalize.awk DIG-OUTPUT

    function sort_join(list, n,   i, j, tmp, s) {
      for (i = 2; i <= n; i++) {
        tmp = list[i]
        for (j = i - 1; j >= 1 && list[j] > tmp; j--) list[j + 1] = list[j]
        list[j + 1] = tmp
      }
      s = ""
      for (i = 1; i <= n; i++) s = s (i > 1 ? " | " : "") list[i]
      return s
    }
    function flush(   k) {
      if (n == 0) return
      if (!got) rcode = "NO-ANSWER"
      printf "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n, query[n], rcode, flags, question,
        sort_join(an, nan), sort_join(ns, nns), sort_join(ar, nar)
    }
    BEGIN {
      while ((getline line < queries) > 0) query[++nq] = line
    }
    /^;; Sending:/ {
      flush(); n++; got = 0; state = "send"; rcode = ""; flags = ""; question = ""
      nan = nns = nar = 0; sec = ""
      next
    }
    /^;; Got answer:/ { state = "recv"; got = 1; next }
    state != "recv" { next }
    /->>HEADER<<-/ {
      rcode = $0; sub(/.*status: /, "", rcode); sub(/,.*/, "", rcode); next
    }
    /^;; flags:/ {
      flags = $0; sub(/^;; flags: */, "", flags); sub(/;.*/, "", flags); next
    }
    /^;; QUESTION SECTION:/ { sec = "q"; next }
    /^;; ANSWER SECTION:/ { sec = "an"; next }
    /^;; AUTHORITY SECTION:/ { sec = "ns"; next }
    /^;; ADDITIONAL SECTION:/ { sec = "ar"; next }
    /^;; OPT PSEUDOSECTION:/ { sec = "opt"; next }
    /^[ \t]*$/ { next }
    sec == "q" && /^;/ {
      question = substr($0, 2); gsub(/[ \t]+/, " ", question); sec = ""; next
    }
    /^;/ { next }
    sec == "an" || sec == "ns" || sec == "ar" {
      rec = $0; gsub(/[ \t]+/, " ", rec)
      # Names are compared case-insensitively, as DNS matches them: servers differ
      # in whether a name repeats the case of the query (through compression) or of
      # the zone. Records whose data is only names, numbers and addresses are
      # lower-cased whole; others (TXT, CAA...) keep the case of their data.
      split(rec, field, " ")
      head = field[1] " " field[2] " " field[3] " " field[4]
      data = substr(rec, length(head) + 2)
      if (field[4] ~ /^(A|AAAA|NS|CNAME|DNAME|PTR|MX|SRV|SOA)$/) data = tolower(data)
      rec = tolower(field[1]) " " field[2] " " field[3] " " field[4] " " data
      if (sec == "an") an[++nan] = rec
      else if (sec == "ns") ns[++nns] = rec
      else ar[++nar] = rec
    }
    END { flush() }
