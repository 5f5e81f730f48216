#!/usr/bin/python3
"""Random zones and queries for the differential test against NSD and Knot.

Usage: generate.py SEED ZONES QUERIES OUTDIR

Writes OUTDIR/zones/<name>.zone, OUTDIR/zones.list (one zone per line) and
OUTDIR/queries.udp / OUTDIR/queries.tcp (dig -f batches: "name type"). The
same seed always gives the same files. The zones hold what answer engines get
wrong: delegations with and without glue (in-domain, sibling and out of
zone), data occluded below cuts and DNAMEs, DNAME chains and loops, CNAME
chains that cross zones, wildcards (also below empty non-terminals), and
names near 255 octets.
"""
import random
import sys


def label(rng, n=None):
    n = n or rng.randint(1, 8)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def long_name(rng, suffix, total):
    """A name below `suffix` of about `total` octets on the wire."""
    labels = []
    length = len(suffix) + 2
    while length + 64 < total:
        labels.append(label(rng, 63))
        length += 64
    room = total - length - 1
    if room > 0:
        labels.append(label(rng, min(room, 63)))
    return ".".join(labels + [suffix])


def make_zone(rng, apex, others):
    recs = [
        f"{apex}. 3600 IN SOA ns1.{apex}. hostmaster.{apex}. 1 7200 3600 1209600 300",
        f"{apex}. 3600 IN NS ns1.{apex}.",
        f"ns1.{apex}. 3600 IN A 192.0.2.{rng.randint(1, 254)}",
    ]
    names = [apex, f"ns1.{apex}"]   # names worth asking about
    other = rng.choice(others) if others else apex

    for _ in range(rng.randint(2, 5)):
        host = f"{label(rng)}.{apex}"
        names.append(host)
        recs.append(f"{host}. 300 IN A 198.51.100.{rng.randint(1, 254)}")
        if rng.random() < 0.5:
            recs.append(f"{host}. 300 IN AAAA 2001:db8::{rng.randint(1, 9999):x}")
        if rng.random() < 0.3:
            recs.append(f'{host}. 300 IN TXT "{label(rng, 12)}"')
    hosts = names[2:]
    recs.append(f"{apex}. 300 IN MX 10 {rng.choice(hosts)}.")
    if rng.random() < 0.5:
        recs.append(f"{apex}. 300 IN MX 20 mail.{other}.")

    # Empty non-terminal with a wildcard below it, and a wildcard with an
    # existing sibling.
    ent = f"{label(rng)}.{label(rng)}.{apex}"
    recs.append(f"x.{ent}. 300 IN TXT \"deep\"")
    names += [ent, f"x.{ent}", f"y.{ent}", ent.split(".", 1)[1]]
    wild = f"w{label(rng, 3)}.{apex}"
    recs.append(f"*.{wild}. 300 IN A 203.0.113.{rng.randint(1, 254)}")
    recs.append(f"here.{wild}. 300 IN TXT \"real\"")
    if rng.random() < 0.5:
        recs.append(f"*.{wild}. 300 IN MX 5 {rng.choice(hosts)}.")
    names += [f"any.{wild}", f"a.b.{wild}", f"here.{wild}", f"*.{wild}", wild]

    # Delegations: in-domain glue, no glue, sibling and out-of-zone servers.
    for kind in ("glue", "noglue", "sibling", "outside"):
        if rng.random() < 0.25:
            continue
        cut = f"{kind}{label(rng, 3)}.{apex}"
        names += [cut, f"host.{cut}", f"a.b.{cut}"]
        if kind == "glue":
            for i in range(rng.randint(1, 4)):
                ns = f"ns{i}.{cut}"
                recs.append(f"{cut}. 3600 IN NS {ns}.")
                recs.append(f"{ns}. 3600 IN A 192.0.2.{rng.randint(1, 254)}")
                if rng.random() < 0.5:
                    recs.append(f"{ns}. 3600 IN AAAA 2001:db8:53::{i + 1}")
                names.append(ns)
        elif kind == "noglue":
            recs.append(f"{cut}. 3600 IN NS ns.{cut}.")
        elif kind == "sibling":
            recs.append(f"{cut}. 3600 IN NS ns1.{apex}.")
        else:
            recs.append(f"{cut}. 3600 IN NS ns.{other}.")
            recs.append(f"{cut}. 3600 IN NS ns.example.net.")
        if rng.random() < 0.5:
            recs.append(f"{cut}. 3600 IN DS 12345 8 2 {'ab' * 32}")
        # Occluded data below the cut and at it.
        if rng.random() < 0.6:
            recs.append(f"hidden.{cut}. 300 IN TXT \"occluded\"")
            names.append(f"hidden.{cut}")
        if rng.random() < 0.3:
            recs.append(f"{cut}. 300 IN TXT \"at the cut\"")
        if rng.random() < 0.3:
            recs.append(f"{apex}. 300 IN MX 30 {f'ns0.{cut}' if kind == 'glue' else 'ns.' + cut}.")

    # DNAME: to another zone, a chain inside this one, a loop, an overflow.
    dn = f"dn{label(rng, 3)}.{apex}"
    recs.append(f"{dn}. 300 IN DNAME {other}.")
    # (No data below a DNAME here: NSD 4.6 refuses such zones, though Knot,
    # BIND and raftdnsd load them; tests/integration/occluded_data.sh covers it.)
    names += [dn, f"{rng.choice(hosts).split('.')[0]}.{dn}", f"nothere.{dn}", f"occluded.{dn}"]
    if rng.random() < 0.7:
        d1, d2 = f"c1{label(rng, 2)}.{apex}", f"c2{label(rng, 2)}.{apex}"
        recs.append(f"{d1}. 300 IN DNAME {d2}.")
        recs.append(f"{d2}. 300 IN DNAME {dn}.")
        names.append(f"{rng.choice(hosts).split('.')[0]}.{d1}")
    if rng.random() < 0.5:
        l1, l2 = f"loop1.{apex}", f"loop2.{apex}"
        recs.append(f"{l1}. 300 IN DNAME {l2}.")
        recs.append(f"{l2}. 300 IN DNAME {l1}.")
        names.append(f"x.{l1}")
    if rng.random() < 0.5:
        grow = f"grow.{apex}"
        recs.append(f"{grow}. 300 IN DNAME {label(rng, 60)}.{grow}.")
        names.append(f"a.{grow}")

    # CNAME chains, within the zone and across zones, and a dangling one.
    c = f"cn{label(rng, 3)}.{apex}"
    recs.append(f"{c}. 300 IN CNAME {rng.choice(hosts)}.")
    names.append(c)
    x = f"cx{label(rng, 3)}.{apex}"
    recs.append(f"{x}. 300 IN CNAME cn.{other}.")
    names.append(x)
    recs.append(f"cn.{apex}. 300 IN CNAME {rng.choice(hosts)}.")
    names.append(f"cn.{apex}")
    recs.append(f"dangle.{apex}. 300 IN CNAME nothere.{apex}.")
    names.append(f"dangle.{apex}")
    recs.append(f"mail.{apex}. 300 IN A 192.0.2.25")

    # A name near the 255-octet limit, and a query just past what exists.
    ln = long_name(rng, apex, rng.randint(200, 250))
    recs.append(f"{ln}. 300 IN A 192.0.2.250")
    names += [ln, ln.split(".", 1)[1]]

    names += [f"{label(rng)}.{apex}", f"{label(rng)}.{label(rng)}.{apex}"]
    return recs, names


def main():
    seed, nzones, nqueries, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rng = random.Random(seed)
    zones = [f"g{i}-{seed}.test" for i in range(nzones)]
    all_names = []
    import os
    os.makedirs(f"{out}/zones", exist_ok=True)
    for apex in zones:
        recs, names = make_zone(rng, apex, [z for z in zones if z != apex])
        with open(f"{out}/zones/{apex}.zone", "w") as f:
            f.write("\n".join(recs) + "\n")
        all_names += names
    with open(f"{out}/zones.list", "w") as f:
        f.write("\n".join(zones) + "\n")
    types = ["A", "A", "A", "AAAA", "TXT", "MX", "NS", "DS", "CNAME", "DNAME", "SOA"]
    udp, tcp = [], []
    for _ in range(nqueries):
        name = rng.choice(all_names)
        # Mixed case: the question's case must come back.
        if rng.random() < 0.2:
            name = "".join(ch.upper() if rng.random() < 0.5 else ch for ch in name)
        line = f"{name}. {rng.choice(types)}"
        (tcp if rng.random() < 0.2 else udp).append(line)
    with open(f"{out}/queries.udp", "w") as f:
        f.write("\n".join(udp) + "\n")
    with open(f"{out}/queries.tcp", "w") as f:
        f.write("\n".join(tcp) + "\n")


if __name__ == "__main__":
    main()
