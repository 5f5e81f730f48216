#!/usr/bin/python3
"""Asks DNS servers one question each every INTERVAL seconds, until FILE
exists or LIMIT seconds have passed, and writes the longest time each server
went without a correct answer.

usage: poll.py STOPFILE LIMIT INTERVAL NAME EXPECTED HOST:PORT...
Output, one line per server: HOST:PORT answers=N longest_gap_ms=G
A server counts as answering when its response carries an A record with
EXPECTED. The gap runs from the poller's first question, so a server that
never answers has a gap as long as the run."""
import os
import random
import socket
import struct
import sys
import time


def query(name, qid):
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split("."))
    return struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", 1, 1)


def answers_with(resp, qid, expected):
    if len(resp) < 12:
        return False
    rid, flags, qd, an = struct.unpack(">HHHH", resp[:8])
    if rid != qid or flags & 0xF != 0 or an == 0:
        return False
    want = socket.inet_aton(expected)
    return want in resp[12:]


def main():
    stop, limit, interval, name, expected = sys.argv[1:6]
    limit, interval = float(limit), float(interval)
    servers = []
    for spec in sys.argv[6:]:
        host, port = spec.rsplit(":", 1)
        servers.append((host, int(port)))
    socks = []
    for _ in servers:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.25)
        socks.append(s)
    start = time.monotonic()
    last_ok = [start] * len(servers)
    gap = [0.0] * len(servers)
    count = [0] * len(servers)
    while time.monotonic() - start < limit and not os.path.exists(stop):
        t0 = time.monotonic()
        for i, (addr, s) in enumerate(zip(servers, socks)):
            qid = random.randrange(65536)
            try:
                s.sendto(query(name, qid), addr)
                while True:
                    resp, _ = s.recvfrom(4096)
                    if resp[:2] == struct.pack(">H", qid):
                        break
                ok = answers_with(resp, qid, expected)
            except OSError:
                ok = False
            now = time.monotonic()
            if ok:
                count[i] += 1
                gap[i] = max(gap[i], now - last_ok[i])
                last_ok[i] = now
        rest = interval - (time.monotonic() - t0)
        if rest > 0:
            time.sleep(rest)
    end = time.monotonic()
    for i, (host, port) in enumerate(servers):
        g = max(gap[i], end - last_ok[i])
        print(f"{host}:{port} answers={count[i]} longest_gap_ms={int(g * 1000)}", flush=True)


if __name__ == "__main__":
    main()
