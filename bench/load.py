#!/usr/bin/env python3
"""Loads N keys into a Redis Cluster (or standalone server) fast: routes each SET by slot and
streams RESP to `redis-cli --pipe`, one per master, concurrently.

  bench/load.py --node 127.0.0.1:7000 -n 1000000 --value-size 64 [--mixed] [--prefix k:]
"""
import argparse
import os
import subprocess
import sys


def crc16(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key: bytes) -> int:
    s = key.find(b"{")
    if s != -1:
        e = key.find(b"}", s + 1)
        if e != -1 and e != s + 1:
            key = key[s + 1:e]
    return crc16(key) & 16383


def resp(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def masters(host: str, port: int):
    out = subprocess.run(["redis-cli", "-h", host, "-p", str(port), "cluster", "slots"],
                         capture_output=True, text=True).stdout
    if "cluster support disabled" in out or not out.strip():
        return [((0, 16383), host, port)]
    lines = out.split("\n")
    result = []
    i = 0
    # redis-cli prints CLUSTER SLOTS flattened: start, end, host, port, id, [replicas...]
    info = subprocess.run(["redis-cli", "-h", host, "-p", str(port), "cluster", "nodes"],
                          capture_output=True, text=True).stdout
    for line in info.splitlines():
        f = line.split()
        if len(f) < 9 or "master" not in f[2]:
            continue
        addr = f[1].split("@")[0]
        h, p = addr.rsplit(":", 1)
        for r in f[8:]:
            if r.startswith("["):
                continue
            a, _, b = r.partition("-")
            result.append(((int(a), int(b or a)), h or host, int(p)))
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", required=True)
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--value-size", type=int, default=64)
    ap.add_argument("--mixed", action="store_true", help="hashes, lists, sets, zsets too")
    ap.add_argument("--prefix", default="k:")
    a = ap.parse_args()
    host, port = a.node.rsplit(":", 1)
    ranges = masters(host, int(port))
    owner = [None] * 16384
    nodes = sorted({(h, p) for _, h, p in ranges})
    for (lo, hi), h, p in ranges:
        for s in range(lo, hi + 1):
            owner[s] = nodes.index((h, p))
    pipes = [subprocess.Popen(["redis-cli", "-h", h, "-p", str(p), "--pipe"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
             for h, p in nodes]
    bufs = [[] for _ in nodes]
    value = (b"v" * a.value_size)
    prefix = a.prefix.encode()
    for i in range(a.n):
        key = prefix + str(i).encode()
        kind = i % 5 if a.mixed else 0
        if kind == 0:
            cmd = resp(b"SET", key, value)
        elif kind == 1:
            cmd = resp(b"HSET", key, b"f1", value[:32], b"f2", value[32:])
        elif kind == 2:
            cmd = resp(b"RPUSH", key, value[:16], value[16:32], value[32:])
        elif kind == 3:
            cmd = resp(b"SADD", key, b"a", b"b", value)
        else:
            cmd = resp(b"ZADD", key, b"1", b"a", b"2", value)
        n = owner[key_slot(key)]
        bufs[n].append(cmd)
        if len(bufs[n]) >= 10000:
            pipes[n].stdin.write(b"".join(bufs[n]))
            bufs[n] = []
    for n, p in enumerate(pipes):
        p.stdin.write(b"".join(bufs[n]))
        p.stdin.close()
    rc = 0
    for p in pipes:
        rc |= p.wait()
    sys.exit(rc)


if __name__ == "__main__":
    main()
