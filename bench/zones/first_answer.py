#!/usr/bin/python3
"""Waits for the first correct answer from one DNS server, asking every
INTERVAL seconds, and prints when it came (seconds since the epoch).

usage: first_answer.py READYFILE LIMIT INTERVAL NAME EXPECTED HOST:PORT
It creates READYFILE once its socket is open, so that a caller can start the
server after it and time from the server's exec; queries sent before the
server listens are refused or lost and simply asked again. Exits 1, printing
nothing, when LIMIT seconds pass without an answer carrying an A record with
EXPECTED."""
import random
import socket
import struct
import sys
import time


def query(name, qid):
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split("."))
    return struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", 1, 1)


def answered(resp, qid, want):
    if len(resp) < 12:
        return False
    rid, flags, _, an = struct.unpack(">HHHH", resp[:8])
    return rid == qid and flags & 0xF == 0 and an > 0 and want in resp[12:]


def main():
    ready, limit, interval, name, expected, spec = sys.argv[1:7]
    limit, interval = float(limit), float(interval)
    host, port = spec.rsplit(":", 1)
    addr = (host, int(port))
    want = socket.inet_aton(expected)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(interval)
    open(ready, "w").close()
    start = time.monotonic()
    while time.monotonic() - start < limit:
        qid = random.randrange(65536)
        t0 = time.monotonic()
        try:
            s.sendto(query(name, qid), addr)
            while True:
                resp, _ = s.recvfrom(4096)
                if resp[:2] == struct.pack(">H", qid):
                    break
            if answered(resp, qid, want):
                print(f"{time.time():.6f}", flush=True)
                return 0
        except OSError:
            pass  # not listening yet (refused) or no answer within INTERVAL
        rest = interval - (time.monotonic() - t0)
        if rest > 0:
            time.sleep(rest)
    return 1


if __name__ == "__main__":
    sys.exit(main())
