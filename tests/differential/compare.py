#!/usr/bin/python3
"""Compares raftdnsd's answers with NSD's and Knot's (see generated.sh).

Usage: compare.py SEED-DIR...   (each holding nsd.answers, knot.answers and
raftdnsd.answers, one normalized line per query from normalize.awk)

Prints the figures; exits 1 when raftdnsd's core answer (rcode, flags,
question, answer section) differs from one that NSD and Knot agree on
(unless rfc_choice() names the RFC rule raftdnsd follows instead), or
matches neither where they disagree.
"""
import sys

FIELDS = ("index", "query", "rcode", "flags", "question", "answer", "authority", "additional")


def load(path):
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            parts += [""] * (len(FIELDS) - len(parts))
            out[parts[0]] = dict(zip(FIELDS, parts))
    return out


def core(a):
    if "tc" in a["flags"].split():
        return (a["rcode"], a["flags"])  # RFC 2181 §9: what a truncated reply holds is open
    return (a["rcode"], a["flags"], a["question"], a["answer"])


def whole(a):
    return core(a) + (a["authority"], a["additional"]) if "tc" not in a["flags"].split() else core(a)


def rfc_choice(query, nsd, knot, ours):
    """Why raftdnsd may differ from agreeing peers, or None. (No case yet:
    on every generated query so far, where NSD and Knot agree, so do we.)"""
    return None


def split_reason(nsd, knot, ours):
    """Where NSD and Knot disagree: which raftdnsd follows, and why."""
    if core(ours) == core(knot) and ours["rcode"] == "YXDOMAIN":
        return ("DNAME substitution past 255 octets after several hops is YXDOMAIN "
                "(RFC 6672 section 2.2), as Knot answers; NSD stops after one hop")
    if core(ours) == core(knot):
        return "as Knot"
    if core(ours) == core(nsd):
        # Seen: CNAME and DNAME chains that lead into another zone this
        # server is authoritative for are followed (RFC 1034 section 4.3.2
        # step 3a; the rcode is the last link's, RFC 6604), as NSD does;
        # Knot stops at the zone's edge. And a DNAME loop, where Knot
        # repeats synthesized CNAMEs.
        return "as NSD"
    return None


def main():
    total = unanimous = agree_unanimous = split = agree_split = whole_nsd = 0
    failures, whole_diffs, choices, sides = [], [], {}, {}
    whole_rfc = 0
    for seed_dir in sys.argv[1:]:
        nsd, knot, ours = (load(f"{seed_dir}/{who}.answers") for who in ("nsd", "knot", "raftdnsd"))
        for idx, n in nsd.items():
            k, o = knot[idx], ours[idx]
            total += 1
            nsd_knot_split = core(n) != core(k)
            if whole(o) == whole(n):
                whole_nsd += 1
            elif nsd_knot_split and split_reason(n, k, o) not in (None, "as NSD", "as Knot"):
                whole_rfc += 1  # an RFC choice, counted below
            elif len(whole_diffs) < 20:
                whole_diffs.append((seed_dir, n, o))
            if core(n) == core(k):
                unanimous += 1
                if core(o) == core(n):
                    agree_unanimous += 1
                else:
                    why = rfc_choice(n["query"], n, k, o)
                    if why:
                        choices[why] = choices.get(why, 0) + 1
                    else:
                        failures.append((seed_dir, n, k, o))
            else:
                split += 1
                why = split_reason(n, k, o)
                if why:
                    agree_split += 1
                    sides[why] = sides.get(why, 0) + 1
                else:
                    failures.append((seed_dir, n, k, o))

    def show(tag, a):
        print(f"    {tag:9} rcode={a['rcode']} flags=[{a['flags']}]")
        for sec in ("answer", "authority", "additional"):
            print(f"              {sec}=[{a[sec]}]")

    for seed_dir, n, k, o in failures[:30]:
        print(f"CORE MISMATCH ({seed_dir}) query \"{n['query']}\"")
        show("nsd+knot:", n)
        show("raftdnsd:", o)
    for seed_dir, n, o in whole_diffs[:10]:
        print(f"whole-answer difference from NSD ({seed_dir}) query \"{n['query']}\"")
        show("nsd:", n)
        show("raftdnsd:", o)
    pct = lambda a, b: f"{100.0 * a / b:.2f}%" if b else "n/a"
    print(f"queries: {total}")
    print(f"core agreement where NSD and Knot agree: {agree_unanimous}/{unanimous} "
          f"({pct(agree_unanimous, unanimous)})")
    for why, count in sorted(choices.items()):
        print(f"  RFC over NSD and Knot, {count} queries: {why}")
    print(f"NSD and Knot split: {split}; raftdnsd sides with one of them in {agree_split}")
    for why, count in sorted(sides.items()):
        print(f"  {count} queries: {why}")
    print(f"whole answer equal to NSD's (minimal_responses = false): {whole_nsd}/{total} "
          f"({pct(whole_nsd, total)}); {whole_rfc} more differ where raftdnsd follows the RFC")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
