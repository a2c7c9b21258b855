#!/usr/bin/env python3
"""Loads N keys into a Redis Cluster (or standalone server) fast: routes each command by slot and
streams RESP to `redis-cli --pipe`, one per master, concurrently.

  bench/load.py --node 127.0.0.1:7000 -n 1000000 --value-size 64 [--mixed] [--random-values]
                [--prefix k:] [--start 0] [--procs 2]

Keys are PREFIX0 .. PREFIX(N-1), or PREFIX(START) .. PREFIX(START+N-1) with --start (to grow a
keyspace in steps). Every key gets a value of --value-size bytes; with --mixed, keys cycle through
string, hash, list, set and sorted set; with --random-values, each value is random bytes.
--procs splits the key range across that many loader processes (each with its own redis-cli per
master). The exit status is non-zero when a redis-cli reports an error or the masters do not end
up with the expected number of new keys.
"""
import argparse
import binascii
import multiprocessing
import os
import subprocess
import sys


def key_slot(key: bytes) -> int:
    """Redis Cluster hash slot: CRC16/XMODEM (binascii.crc_hqx with init 0) of the hash tag."""
    s = key.find(b"{")
    if s != -1:
        e = key.find(b"}", s + 1)
        if e != -1 and e != s + 1:
            key = key[s + 1:e]
    return binascii.crc_hqx(key, 0) & 16383


def crc16(data: bytes) -> int:
    return binascii.crc_hqx(data, 0)


def resp(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def cli(host: str, port: int, *args: str) -> str:
    return subprocess.run(["redis-cli", "-h", host, "-p", str(port), *args],
                          capture_output=True, text=True, timeout=30).stdout


def masters(host: str, port: int):
    """[((first, last), host, port)] for every slot range of every master."""
    info = cli(host, port, "cluster", "nodes")
    if "cluster support disabled" in info or not info.strip():
        return [((0, 16383), host, port)]
    result = []
    for line in info.splitlines():
        f = line.split()
        if len(f) < 9 or "master" not in f[2] or "fail" in f[2]:
            continue
        addr = f[1].split("@")[0]
        h, p = addr.rsplit(":", 1)
        for r in f[8:]:
            if r.startswith("["):
                continue  # a slot being migrated or imported
            a, _, b = r.partition("-")
            result.append(((int(a), int(b or a)), h or host, int(p)))
    return result


def commands(kind: int, key: bytes, value: bytes) -> bytes:
    if kind == 1:
        return resp(b"HSET", key, b"f1", value[:len(value) // 2], b"f2", value[len(value) // 2:])
    if kind == 2:
        third = max(1, len(value) // 3)
        return resp(b"RPUSH", key, value[:third], value[third:2 * third], value[2 * third:])
    if kind == 3:
        return resp(b"SADD", key, b"a", b"b", value)
    return resp(b"ZADD", key, b"1", b"a", b"2", value)


def load_range(nodes, owner, first, count, prefix, value, mixed, random_values=False):
    """Sends keys first..first+count-1; returns (redis-cli exit status, errors reported)."""
    pipes = [subprocess.Popen(["redis-cli", "-h", h, "-p", str(p), "--pipe"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
             for h, p in nodes]
    bufs = [[] for _ in nodes]
    # The common case (strings) is one formatting operation per key.
    set_tail = b"$%d\r\n%s\r\n" % (len(value), value)
    crc = binascii.crc_hqx
    plain = b"{" not in prefix
    for i in range(first, first + count):
        key = b"%s%d" % (prefix, i)
        n = owner[crc(key, 0) & 16383] if plain else owner[key_slot(key)]
        kind = i % 5 if mixed else 0
        if random_values:
            value = os.urandom(len(value))
            set_tail = b"$%d\r\n%s\r\n" % (len(value), value)
        if kind == 0:
            bufs[n].append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n%s" % (len(key), key, set_tail))
        else:
            bufs[n].append(commands(kind, key, value))
        if len(bufs[n]) >= 20000:
            pipes[n].stdin.write(b"".join(bufs[n]))
            bufs[n] = []
    errors = 0
    rc = 0
    for n, p in enumerate(pipes):
        p.stdin.write(b"".join(bufs[n]))
        p.stdin.close()
    for p in pipes:
        out = p.stdout.read().decode(errors="replace")
        rc |= p.wait()
        for line in out.splitlines():
            if line.startswith("errors:"):
                errors += int(line.split(",")[0].split(":")[1])
    return rc, errors


def _worker(args):
    return load_range(*args)


def dbsize(nodes) -> int:
    return sum(int(cli(h, p, "dbsize").strip() or 0) for h, p in nodes)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--node", required=True)
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--start", type=int, default=0, help="index of the first key")
    ap.add_argument("--value-size", type=int, default=64)
    ap.add_argument("--mixed", action="store_true", help="hashes, lists, sets, zsets too")
    ap.add_argument("--prefix", default="k:")
    ap.add_argument("--random-values", action="store_true",
                    help="random bytes (incompressible) instead of 'vvv...'")
    ap.add_argument("--procs", type=int, default=min(2, os.cpu_count() or 1),
                    help="loader processes (default: min(2, CPUs))")
    a = ap.parse_args()
    if a.value_size < 3:
        ap.error("--value-size must be at least 3")
    host, port = a.node.rsplit(":", 1)
    ranges = masters(host, int(port))
    nodes = sorted({(h, p) for _, h, p in ranges})
    owner = [0] * 16384
    covered = 0
    for (lo, hi), h, p in ranges:
        for s in range(lo, hi + 1):
            owner[s] = nodes.index((h, p))
        covered += hi - lo + 1
    if covered != 16384:
        sys.exit(f"load.py: the masters of {a.node} serve {covered} of 16384 slots")
    before = dbsize(nodes)
    value = b"v" * a.value_size
    prefix = a.prefix.encode()
    procs = max(1, min(a.procs, a.n // 10000 or 1))
    step = -(-a.n // procs)
    jobs = []
    for w in range(procs):
        first = a.start + w * step
        count = min(step, a.start + a.n - first)
        if count > 0:
            jobs.append((nodes, owner, first, count, prefix, value, a.mixed, a.random_values))
    if len(jobs) == 1:
        results = [load_range(*jobs[0])]
    else:
        with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
            results = pool.map(_worker, jobs)
    rc = 0
    errors = 0
    for r, e in results:
        rc |= r
        errors += e
    after = dbsize(nodes)
    if rc or errors:
        sys.exit(f"load.py: redis-cli --pipe failed (exit status {rc}, {errors} error replies)")
    if after - before != a.n:
        sys.exit(f"load.py: expected {a.n} new keys, the masters hold {after - before} more "
                 f"({before} -> {after}; keys that existed already are not new)")


if __name__ == "__main__":
    main()
