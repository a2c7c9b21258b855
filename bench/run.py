#!/usr/bin/env python3
"""kage beside its peers, in one run: bench/README.md says what each number is.

  bench/run.py [--masters 3] [--replicas 1] [-n 1000000] [--value-size 64] [--mixed] [--reps 3]
               [--out DIR] [--port BASE] [--kage PATH] [--rss-sweep [--sweep-sizes 1e5,1e6,1e7]]
               [--time-limit SECONDS] [--keep]

Starts a throwaway source cluster and an empty target cluster of the same shape with
tools/local-cluster.sh, loads N keys with bench/load.py, runs kage and each peer on the same data
(back to back, in rotating order, --reps times), prints a table of medians and ratios, and writes
DIR/results.json and DIR/results.md. Every redis-server it started is stopped when it exits, also
on failure, Ctrl-C, SIGTERM or --time-limit. Exit status: 0 when every measurement ran (a missed
target is reported, not an error), 1 when one failed, 2 for bad usage.
"""
import argparse
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_CLUSTER = ROOT / "tools" / "local-cluster.sh"
LOADER = ROOT / "bench" / "load.py"
S3_PEER = ROOT / "bench" / "s3_peer.py"
S3_BUCKET = "kage-bench"
HOST = "127.0.0.1"
MIB = 1024 * 1024

# Client ports come from here; the cluster bus adds 10000, which must stay below the kernel's
# ephemeral range (32768) and clear of the test fixtures' client ports (20000-22767).
PORT_LOW, PORT_HIGH = 13000, 19999

# DUMP + PTTL for every key that `redis-cli --scan` prints, as RESP (keys are bytes; mawk and
# LC_ALL=C count bytes). A key containing a newline would be split: bench keys never do.
AWK_DUMP_PTTL = (r'BEGIN { ORS = "" } { n = length($0); '
                 r'printf "*2\r\n$4\r\nDUMP\r\n$%d\r\n%s\r\n*2\r\n$4\r\nPTTL\r\n$%d\r\n%s\r\n", '
                 r'n, $0, n, $0 }')


class BenchError(Exception):
    pass


class TimeLimit(BenchError):
    pass


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Processes: everything this harness starts is in its own session and killed on the way out.

_live = set()  # Popen objects not yet reaped


def spawn(argv, out_path, stdin=None, env=None):
    with open(out_path.with_suffix(".out"), "wb") as out, \
            open(out_path.with_suffix(".err"), "wb") as err:
        p = subprocess.Popen(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                             stdout=out, stderr=err, start_new_session=True, env=env)
    _live.add(p)
    return p


def gnu_time():
    """GNU time, to read a child's peak RSS: wait4 on a child of this (Python) process would
    report at least this process's own peak, which exec() carries over into the child's
    accounting (the kernel keeps the larger of the old and new address spaces' high-water
    marks). GNU time forks from its own tiny address space."""
    path = "/usr/bin/time"
    try:
        r = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    return path if "GNU" in r.stdout + r.stderr else None


class HwmPoller(threading.Thread):
    """Without GNU time: polls VmHWM (the peak RSS of the current address space, so not
    inflated like wait4's) every 10 ms; the last reading before exit is the peak so far."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.path = f"/proc/{pid}/status"
        self.kib = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            try:
                m = re.search(r"VmHWM:\s+(\d+) kB", Path(self.path).read_text())
            except OSError:
                m = None
            if m:
                self.kib = max(self.kib, int(m.group(1)))
            self.done.wait(0.01)


def reap(p):
    """Waits for p; returns its rusage (its own plus that of every descendant it waited for)."""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    _live.discard(p)
    return ru


def kill_live():
    for p in list(_live):
        try:
            os.killpg(p.pid, signal.SIGTERM)  # its own session: the pipeline it runs, not more
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    for p in list(_live):
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        _live.discard(p)


def kill_live_one(p):
    if p in _live:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        _live.discard(p)


def tail(path, n=20):
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def run(argv, timeout=120, check=True, env=None):
    """A short helper command; output returned. Not timed."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise BenchError(f"{' '.join(map(str, argv))} exited {r.returncode}: "
                         f"{(r.stderr or r.stdout).strip()[-2000:]}")
    return r.stdout


def rcli(port, *args, timeout=60):
    return run(["redis-cli", "-h", HOST, "-p", str(port), *map(str, args)], timeout=timeout)


# ----------------------------------------------------------------------------------------------
# Clusters

def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Redis listens with SO_REUSEADDR: a port in TIME_WAIT is free for it too.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def ports_free(base, count):
    return all(port_free(p) and port_free(p + 10000) for p in range(base, base + count))


def pick_base_port(count):
    for _ in range(200):
        base = random.randrange(PORT_LOW, PORT_HIGH - count)
        if ports_free(base, count):
            return base
    raise BenchError(f"no {count} free consecutive ports (and bus ports +10000) found in "
                     f"{PORT_LOW}-{PORT_HIGH}")


class Cluster:
    def __init__(self, name, directory, port, masters, replicas):
        self.name = name
        self.dir = directory
        self.port = port
        self.masters = masters
        self.replicas = replicas
        self.size = masters * (1 + replicas)
        self.seed = f"{HOST}:{port}"
        self.started = False

    def start(self):
        self.started = True  # from here on, stop() runs at exit whatever happens
        log(f"starting the {self.name} cluster: {self.masters} masters x {self.replicas} "
            f"replicas on {HOST}:{self.port}-{self.port + self.size - 1}")
        run(["bash", str(LOCAL_CLUSTER), "start", str(self.dir), "--masters", str(self.masters),
             "--replicas", str(self.replicas), "--port", str(self.port), "--host", HOST],
            timeout=180)

    def stop(self):
        if self.started and self.dir.exists():
            subprocess.run(["bash", str(LOCAL_CLUSTER), "stop", str(self.dir)],
                           capture_output=True, timeout=60)
        self.started = False

    def nodes(self):
        """[{id, port, master, master_id, slots}] from CLUSTER NODES."""
        out = []
        for line in rcli(self.port, "cluster", "nodes").splitlines():
            f = line.split()
            if len(f) < 8:
                continue
            master = "master" in f[2].split(",")
            slots = []
            for r in f[8:]:
                if not r.startswith("["):
                    a, _, b = r.partition("-")
                    slots.append((int(a), int(b or a)))
            out.append({"id": f[0], "port": int(f[1].split("@")[0].rsplit(":", 1)[1]),
                        "master": master, "master_id": f[3] if not master else "",
                        "slots": slots})
        return out

    def master_ports(self):
        ms = [n for n in self.nodes() if n["master"] and n["slots"]]
        return [n["port"] for n in sorted(ms, key=lambda n: n["slots"][0])]

    def owner_of_slot(self):
        owner = {}
        for n in self.nodes():
            if n["master"]:
                for a, b in n["slots"]:
                    for s in range(a, b + 1):
                        owner[s] = n["port"]
        return owner

    def pids(self):
        """{port: pid} of this cluster's redis-servers."""
        result = {}
        for p in range(self.port, self.port + self.size):
            try:
                result[p] = int((self.dir / str(p) / "redis.pid").read_text())
            except (OSError, ValueError):
                pass
        return result

    def cpu_seconds(self, extra_pids=()):
        """CPU seconds (user + sys) used so far by all of this cluster's redis-servers, with the
        children they reaped (the RDB child a SYNC forks), and by extra_pids."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in list(self.pids().values()) + list(extra_pids):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        return total / tick

    def keys(self):
        return sum(int(rcli(p, "dbsize").strip()) for p in self.master_ports())

    def flush(self):
        for p in self.master_ports():
            rcli(p, "flushall")
        self.settle()
        left = {p: int(rcli(p, "dbsize").strip()) for p in range(self.port, self.port + self.size)}
        if any(left.values()):
            raise BenchError(f"{self.name} cluster not empty after FLUSHALL: {left}")

    def settle(self, timeout=300):
        """Waits until every replica has applied all of its master's replication stream."""
        deadline = time.monotonic() + timeout
        while True:
            lagging = []
            for p in self.master_ports():
                info = rcli(p, "info", "replication")
                m = re.search(r"master_repl_offset:(\d+)", info)
                offsets = re.findall(r"slave\d+:.*?offset=(\d+)", info)
                if len(offsets) < self.replicas or \
                        any(int(o) != int(m.group(1)) for o in offsets):
                    lagging.append(p)
            if not lagging:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"replicas of {lagging} did not catch up within {timeout}s")
            time.sleep(0.2)


class SentinelSet:
    """A primary, its replicas and three sentinels on loopback, each a process this harness
    spawned (so the exit paths kill them), for the Sentinel rows. Same interface as Cluster
    where Bench.measure needs it (cpu_seconds)."""

    def __init__(self, directory, logs, replicas=2, sentinels=3, master_name="mymaster"):
        self.name = "sentinel"
        self.dir = directory
        self.logs = logs
        self.replicas = replicas
        self.sentinel_count = sentinels
        self.master_name = master_name
        self.servers = {}  # port -> Popen
        self.sentinels = {}  # port -> Popen
        self.primary = 0

    def start(self):
        n = 1 + self.replicas + self.sentinel_count
        base = pick_base_port(n)
        ports = list(range(base, base + n))
        self.primary = ports[0]
        log(f"starting the Sentinel deployment: a primary and {self.replicas} replicas on "
            f"{HOST}:{ports[0]}-{ports[self.replicas]}, {self.sentinel_count} sentinels on "
            f"{HOST}:{ports[self.replicas + 1]}-{ports[-1]}")
        for i, port in enumerate(ports[:1 + self.replicas]):
            d = self.dir / str(port)
            d.mkdir(parents=True, exist_ok=True)
            argv = ["redis-server", "--port", str(port), "--bind", HOST, "--dir", str(d),
                    "--pidfile", str(d / "redis.pid"), "--logfile", str(d / "redis.log"),
                    "--save", "", "--appendonly", "no", "--daemonize", "no"]
            if i:
                argv += ["--replicaof", HOST, str(self.primary)]
            self.servers[port] = spawn(argv, self.logs / f"sentinel-redis-{port}")
        for port in ports[1 + self.replicas:]:
            d = self.dir / str(port)
            d.mkdir(parents=True, exist_ok=True)
            conf = d / "sentinel.conf"
            conf.write_text(
                f"port {port}\nbind {HOST}\ndir \"{d}\"\nlogfile \"{d / 'sentinel.log'}\"\n"
                f"sentinel monitor {self.master_name} {HOST} {self.primary} "
                f"{self.sentinel_count // 2 + 1}\n"
                f"sentinel down-after-milliseconds {self.master_name} 5000\n"
                f"sentinel failover-timeout {self.master_name} 10000\n")
            self.sentinels[port] = spawn(["redis-sentinel", str(conf)],
                                         self.logs / f"sentinel-{port}")
        self.wait_ready()

    def addresses(self):
        return ",".join(f"{HOST}:{p}" for p in self.sentinels)

    def wait_ready(self, timeout=60):
        """Every sentinel names the primary, lists every replica and knows the others."""
        deadline = time.monotonic() + timeout
        while True:
            last = ""
            for port, p in list(self.servers.items()) + list(self.sentinels.items()):
                if p.poll() is not None:
                    raise BenchError(f"process on port {port} exited {p.returncode}")
            try:
                for port in self.sentinels:
                    addr = rcli(port, "sentinel", "get-master-addr-by-name", self.master_name,
                                timeout=5).split()
                    # redis-cli prints one element a line; every entry starts with "name".
                    replicas = rcli(port, "sentinel", "replicas", self.master_name,
                                    timeout=5).split().count("name")
                    others = rcli(port, "sentinel", "sentinels", self.master_name,
                                  timeout=5).split().count("name")
                    if addr != [HOST, str(self.primary)] or replicas < self.replicas or \
                            others < self.sentinel_count - 1:
                        last = (f"sentinel {port}: names {addr}, lists {replicas} replicas, "
                                f"knows {others} sentinels")
                        break
            except (BenchError, subprocess.SubprocessError) as e:
                last = str(e)
            if not last:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"the Sentinel deployment did not settle in {timeout}s: {last}")
            time.sleep(0.2)

    def settle(self, timeout=300):
        deadline = time.monotonic() + timeout
        while True:
            info = rcli(self.primary, "info", "replication")
            m = re.search(r"master_repl_offset:(\d+)", info)
            offsets = re.findall(r"slave\d+:.*?offset=(\d+)", info)
            if len(offsets) >= self.replicas and all(int(o) == int(m.group(1)) for o in offsets):
                return
            if time.monotonic() > deadline:
                raise BenchError(f"the replicas did not catch up within {timeout}s")
            time.sleep(0.2)

    def cpu_seconds(self, extra_pids=()):
        """As Cluster.cpu_seconds: the redis-servers (primary and replicas), not the sentinels."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in [p.pid for p in self.servers.values()] + list(extra_pids):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            total += sum(int(f) for f in fields[11:15])
        return total / tick

    def stop(self):
        for p in list(self.sentinels.values()) + list(self.servers.values()):
            kill_live_one(p)


# ----------------------------------------------------------------------------------------------
# Measurements

class Sample:
    """One timed span: wall clock from the first spawn to the last exit; CPU and peak RSS of the
    processes started (from wait4, so from outside them); CPU of the redis-servers."""

    def __init__(self, wall, cpu, maxrss_kib, server_cpu, outputs):
        self.wall = wall
        self.cpu = cpu
        self.maxrss_kib = maxrss_kib
        self.server_cpu = server_cpu
        self.outputs = outputs

    def to_json(self):
        j = {"wall_s": round(self.wall, 4), "cpu_s": round(self.cpu, 4),
             "server_cpu_s": round(self.server_cpu, 3)}
        if self.maxrss_kib is not None:
            j["maxrss_mib"] = round(self.maxrss_kib / 1024, 2)
        return j


class Bench:
    def __init__(self, args):
        self.args = args
        self.out = args.out
        self.work = self.out / "work"
        self.logs = self.out / "logs"
        self.kage = args.kage
        self.clusters = []
        self.rows = []
        self.sweep = []
        self.seq = 0
        self.moto = None
        self.sentinel_set = None

    # -- helpers ---------------------------------------------------------------------------

    def measure(self, name, commands, cluster, rss=False, env=None):
        """Runs commands ([argv, stdin path or None]) at the same time and waits for all. With
        rss (one command), also measures that command's peak RSS."""
        self.seq += 1
        extra = [self.moto.pid] if self.moto else []  # the S3 server works for both sides too
        before = cluster.cpu_seconds(extra)
        procs = []
        files = []
        rss_file = self.logs / f"{self.seq:03d}-{name}.rss"
        poller = None
        if rss and GNU_TIME:
            commands = [([GNU_TIME, "-f", "%M", "-o", str(rss_file), *commands[0][0]],
                         commands[0][1])]
        t0 = time.monotonic()
        try:
            for i, (argv, stdin_path) in enumerate(commands):
                stdin = open(stdin_path, "rb") if stdin_path else None
                if stdin:
                    files.append(stdin)
                base = self.logs / f"{self.seq:03d}-{name}-{i}"
                procs.append((spawn(argv, base, stdin=stdin, env=env), base))
            if rss and not GNU_TIME:
                poller = HwmPoller(procs[0][0].pid)
                poller.start()
            usage = [reap(p) for p, _ in procs]
        finally:
            for f in files:
                f.close()
            if poller:
                poller.done.set()
        wall = time.monotonic() - t0
        server = cluster.cpu_seconds(extra) - before
        outputs = []
        for p, base in procs:
            if p.returncode != 0:
                raise BenchError(f"{name}: {' '.join(map(str, p.args))} exited {p.returncode}:\n"
                                 f"{tail(base.with_suffix('.err'))}\n"
                                 f"{tail(base.with_suffix('.out'))}")
            outputs.append(base.with_suffix(".out").read_text(errors="replace"))
        cpu = sum(u.ru_utime + u.ru_stime for u in usage)
        maxrss = None
        if rss:
            maxrss = int(rss_file.read_text().split()[-1]) if GNU_TIME else poller.kib
        return Sample(wall, cpu, maxrss, server, outputs)

    @staticmethod
    def pipe_replies(output, what):
        """(errors, replies) from redis-cli --pipe's summary line."""
        m = re.search(r"errors: (\d+), replies: (\d+)", output)
        if not m:
            raise BenchError(f"{what}: redis-cli --pipe printed no summary: {output[-500:]}")
        return int(m.group(1)), int(m.group(2))

    def rotate(self, rep, runners):
        """Runs every runner once, starting with a different one each repetition."""
        k = rep % len(runners)
        for name, fn in runners[k:] + runners[:k]:
            fn(rep)

    def add_row(self, **row):
        self.rows.append(row)
        return row

    # -- setup -----------------------------------------------------------------------------

    def start_clusters(self):
        a = self.args
        n = a.masters * (1 + a.replicas)
        for attempt in range(3):
            base = a.port if a.port else pick_base_port(2 * n)
            if a.port and not ports_free(base, 2 * n):
                raise BenchError(f"ports {base}-{base + 2 * n - 1} (or their bus ports +10000) "
                                 f"are not free")
            source = Cluster("source", self.work / "source", base, a.masters, a.replicas)
            target = Cluster("target", self.work / "target", base + n, a.masters, a.replicas)
            self.clusters += [source, target]
            try:
                source.start()
                target.start()
                self.source, self.target = source, target
                return
            except BenchError as e:
                source.stop()
                target.stop()
                # Another process may have taken a port between the check and the start.
                if a.port or attempt == 2:
                    raise
                log(f"cluster start failed, trying other ports: {e}")
                shutil.rmtree(source.dir, ignore_errors=True)
                shutil.rmtree(target.dir, ignore_errors=True)

    def load(self, start, count, extra=None):
        a = self.args
        argv = [sys.executable, str(LOADER), "--node", self.source.seed, "-n", str(count),
                "--start", str(start)]
        if extra:
            argv += extra
        else:
            argv += ["--value-size", str(a.value_size)] + (["--mixed"] if a.mixed else [])
        log(f"loading {count:,} keys (from k:{start}) into the source cluster")
        t0 = time.monotonic()
        run(argv, timeout=3600)
        self.source.settle()
        took = time.monotonic() - t0
        log(f"loaded in {took:.1f} s")
        return took

    # -- kage --------------------------------------------------------------------------------

    def kage_backup(self, name, backups, env=None):
        """backups: one location, or a list of them (one backup written to all)."""
        to = []
        for b in backups if isinstance(backups, (list, tuple)) else [backups]:
            to += ["--to", str(b)]
        s = self.measure(name, [([str(self.kage), "backup", "--node", self.source.seed, *to,
                                  "--quiet", "--json"], None)],
                         self.source, rss=True, env=env)
        result = json.loads(s.outputs[0])
        if result.get("keys") != self.keys or result.get("vanished") != 0:
            raise BenchError(f"kage backup saved {result.get('keys')} keys "
                             f"({result.get('vanished')} vanished), expected {self.keys}")
        s.id = result["id"]
        return s

    # -- backup --------------------------------------------------------------------------------

    def bench_backup(self):
        a = self.args
        backups = self.work / "backups"
        backups.mkdir(parents=True, exist_ok=True)
        masters = self.source.master_ports()
        per_master = {p: int(rcli(p, "dbsize").strip()) for p in masters}

        # The pipe-only peer's input: DUMP + PTTL of every key, prepared before timing.
        prepared = {}
        for p in masters:
            f = self.work / f"dump-pttl-{p}.resp"
            run(["bash", "-c", f"set -o pipefail; redis-cli -h {HOST} -p {p} --scan | "
                               f"LC_ALL=C awk '{AWK_DUMP_PTTL}' > '{f}'"], timeout=3600)
            prepared[p] = f

        samples = {"kage": [], "scan_pipe": [], "pipe_only": []}

        def check_pipe(s, what):
            for p, out in zip(masters, s.outputs):
                errors, replies = self.pipe_replies(out, what)
                if errors or replies != 2 * per_master[p]:
                    raise BenchError(f"{what} on {p}: {errors} errors, {replies} replies, "
                                     f"expected {2 * per_master[p]}")

        def run_kage(rep):
            s = self.kage_backup("backup-kage", backups)
            keep = backups / s.id
            for d in backups.iterdir():  # keep only the newest: the restore bench's input
                if d != keep:
                    shutil.rmtree(d)
            self.backup_id = s.id
            samples["kage"].append(s)

        def run_scan_pipe(rep):
            cmds = [(["bash", "-c",
                      f"set -o pipefail; redis-cli -h {HOST} -p {p} --scan | "
                      f"LC_ALL=C awk '{AWK_DUMP_PTTL}' | redis-cli -h {HOST} -p {p} --pipe"], None)
                    for p in masters]
            s = self.measure("backup-scan-pipe", cmds, self.source)
            check_pipe(s, "redis-cli --scan | --pipe")
            samples["scan_pipe"].append(s)

        def run_pipe_only(rep):
            cmds = [(["redis-cli", "-h", HOST, "-p", str(p), "--pipe"], prepared[p])
                    for p in masters]
            s = self.measure("backup-pipe-only", cmds, self.source)
            check_pipe(s, "redis-cli --pipe (DUMP+PTTL)")
            samples["pipe_only"].append(s)

        for rep in range(a.reps):
            log(f"backup repetition {rep + 1}/{a.reps}")
            self.rotate(rep, [("kage", run_kage), ("scan_pipe", run_scan_pipe),
                              ("pipe_only", run_pipe_only)])
        for f in prepared.values():
            f.unlink()

        k, sp, po = samples["kage"], samples["scan_pipe"], samples["pipe_only"]
        self.add_row(id="backup.wall", label="logical backup, wall (s)",
                     kage=k, peer=sp, metric="wall",
                     peer_label="per master: redis-cli --scan | DUMP+PTTL | redis-cli --pipe",
                     target=("<=", 1.0), aim=0.75)
        self.add_row(id="backup.wall_pipe_only", label="logical backup vs pipe phase alone, wall (s)",
                     kage=k, peer=po, metric="wall",
                     peer_label="per master: prepared DUMP+PTTL file | redis-cli --pipe (no SCAN)")
        self.add_row(id="backup.client_cpu", label="logical backup, client CPU (s)",
                     kage=k, peer=sp, metric="cpu",
                     peer_label="redis-cli x2 + awk per master")
        self.add_row(id="backup.server_cpu", label="logical backup, redis-server CPU (s)",
                     kage=k, peer=sp, metric="server_cpu",
                     peer_label="same, during the scan|pipe peer")
        self.add_row(id="backup.cpu_per_key", label="kage backup CPU per key (us)",
                     kage=k, metric="cpu_per_key", target=("<=", 1.5))
        self.add_row(id="backup.peak_rss", label=f"kage backup peak RSS at {self.keys:,} keys (MiB)",
                     kage=k, metric="rss", target=("<=", 128))

    # -- restore -------------------------------------------------------------------------------

    def bench_restore(self):
        a = self.args
        backups = self.work / "backups"
        folder = backups / self.backup_id
        manifest = json.loads((folder / "manifest.json").read_text())
        owner = self.target.owner_of_slot()
        # Each shard object goes, whole, to the target master that owns all of its slots (the
        # target has the source's shape, so one does).
        routes = []
        for o in manifest["objects"]:
            ports = {owner.get(s) for a_, b in o["slots"] for s in range(a_, b + 1)}
            if len(ports) != 1 or None in ports:
                raise BenchError(f"{o['name']}: its slots are not owned by one target master "
                                 f"({sorted(map(str, ports))}); the shapes differ")
            routes.append((folder / o["name"], ports.pop(), o["keys"]))
        prepared = {}
        for path, port, _ in routes:
            f = self.work / (path.name.replace(".resp.zst", ".resp"))
            run(["bash", "-c", f"zstd -q -dc '{path}' > '{f}'"], timeout=3600)
            prepared[path] = f

        samples = {"kage": [], "zstd_pipe": [], "pipe_only": []}

        def check(s, what):
            for (path, port, keys), out in zip(routes, s.outputs):
                errors, replies = self.pipe_replies(out, what)
                if errors or replies != keys + 2:  # + the header and trailer ECHOs
                    raise BenchError(f"{what} {path.name} -> {port}: {errors} errors, "
                                     f"{replies} replies, expected {keys + 2}")
            self.check_target()

        def run_kage(rep):
            self.target.flush()
            s = self.measure("restore-kage", [([str(self.kage), "restore", "--node",
                                                self.target.seed, "--from", str(backups), "--id",
                                                self.backup_id, "--quiet", "--json"], None)],
                             self.target, rss=True)
            result = json.loads(s.outputs[0])
            if result.get("restored") != self.keys:
                raise BenchError(f"kage restore restored {result.get('restored')} keys, "
                                 f"expected {self.keys}")
            self.check_target()
            samples["kage"].append(s)

        def run_zstd_pipe(rep):
            self.target.flush()
            cmds = [(["bash", "-c", f"set -o pipefail; zstd -q -dc '{path}' | "
                                    f"redis-cli -h {HOST} -p {port} --pipe"], None)
                    for path, port, _ in routes]
            s = self.measure("restore-zstd-pipe", cmds, self.target)
            check(s, "zstd -dc | redis-cli --pipe")
            samples["zstd_pipe"].append(s)

        def run_pipe_only(rep):
            self.target.flush()
            cmds = [(["redis-cli", "-h", HOST, "-p", str(port), "--pipe"], prepared[path])
                    for path, port, _ in routes]
            s = self.measure("restore-pipe-only", cmds, self.target)
            check(s, "redis-cli --pipe (RESTORE)")
            samples["pipe_only"].append(s)

        for rep in range(a.reps):
            log(f"restore repetition {rep + 1}/{a.reps}")
            self.rotate(rep, [("kage", run_kage), ("zstd_pipe", run_zstd_pipe),
                              ("pipe_only", run_pipe_only)])
        for f in prepared.values():
            f.unlink()
        self.target.flush()

        k, zp, po = samples["kage"], samples["zstd_pipe"], samples["pipe_only"]
        self.add_row(id="restore.wall", label="restore into an empty cluster, wall (s)",
                     kage=k, peer=zp, metric="wall",
                     peer_label="per master: zstd -dc shard-NN.resp.zst | redis-cli --pipe",
                     target=("<=", 1.1))
        self.add_row(id="restore.wall_pipe_only", label="restore vs pipe phase alone, wall (s)",
                     kage=k, peer=po, metric="wall",
                     peer_label="per master: decompressed file | redis-cli --pipe")
        self.add_row(id="restore.client_cpu", label="restore, client CPU (s)",
                     kage=k, peer=zp, metric="cpu", peer_label="zstd + redis-cli per master")
        self.add_row(id="restore.server_cpu", label="restore, redis-server CPU (s)",
                     kage=k, peer=zp, metric="server_cpu",
                     peer_label="same, during the zstd|pipe peer")

    def check_target(self):
        got = self.target.keys()
        if got != self.keys:
            raise BenchError(f"the target cluster holds {got} keys after the restore, "
                             f"expected {self.keys}")

    # -- snapshot (physical) ---------------------------------------------------------------------

    def kage_has(self, command):
        r = subprocess.run([str(self.kage), "help", command], capture_output=True, timeout=30)
        return r.returncode == 0

    def bench_snapshot(self):
        row = dict(id="snapshot.wall", label="physical snapshot, wall (s)", metric="wall",
                   peer_label="redis-cli --cluster backup (RDB of each master)",
                   target=("<=", 0.7))
        if not self.kage_has("snapshot"):
            self.add_row(**row, skipped="kage has no 'snapshot' command in this build "
                                        "('kage help snapshot' fails)")
            return
        snaps = self.work / "snapshots"
        peer_dir = self.work / "cluster-backup"
        samples = {"kage": [], "peer": []}

        def run_kage(rep):
            shutil.rmtree(snaps, ignore_errors=True)
            snaps.mkdir(parents=True)
            s = self.measure("snapshot-kage",
                             [([str(self.kage), "snapshot", "--node", self.source.seed,
                                "--to", str(snaps), "--quiet", "--json"], None)],
                             self.source, rss=True)
            result = json.loads(s.outputs[0])
            if result.get("result") != "ok":
                raise BenchError(f"kage snapshot: {s.outputs[0][:500]}")
            samples["kage"].append(s)

        def run_peer(rep):
            shutil.rmtree(peer_dir, ignore_errors=True)
            peer_dir.mkdir(parents=True)
            s = self.measure(
                "snapshot-cluster-backup",
                [(["redis-cli", "--cluster", "backup", self.source.seed, str(peer_dir)], None)],
                self.source)
            rdbs = list(peer_dir.glob("*.rdb"))
            if len(rdbs) != self.args.masters:
                raise BenchError(f"redis-cli --cluster backup wrote {len(rdbs)} RDB files, "
                                 f"expected {self.args.masters}")
            samples["peer"].append(s)

        try:
            for rep in range(self.args.reps):
                log(f"snapshot repetition {rep + 1}/{self.args.reps}")
                self.rotate(rep, [("kage", run_kage), ("peer", run_peer)])
        except BenchError as e:
            self.add_row(**row, error=str(e))
            return
        finally:
            shutil.rmtree(snaps, ignore_errors=True)
            shutil.rmtree(peer_dir, ignore_errors=True)
        self.add_row(**row, kage=samples["kage"], peer=samples["peer"])

    # -- S3 ------------------------------------------------------------------------------------

    def s3_unavailable(self):
        if self.args.no_s3:
            return "not asked for (--no-s3)"
        if not shutil.which("moto_server"):
            return "no S3-compatible server here (moto_server not found)"
        if subprocess.run([sys.executable, "-c", "import boto3, s3transfer"],
                          capture_output=True).returncode != 0:
            return f"boto3 is not importable by {sys.executable}"
        if b"s3" not in subprocess.run([str(self.kage), "help", "backup"],
                                       capture_output=True).stdout:
            return "this kage cannot write to S3"
        return None

    def start_moto(self):
        for _ in range(20):
            port = random.randrange(PORT_LOW, PORT_HIGH)
            if port_free(port):
                break
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4")  # setup's 4 calls: unsigned
        self.moto = spawn([shutil.which("moto_server"), "-H", HOST, "-p", str(port)],
                          self.logs / "moto", env=env)
        endpoint = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if self.moto.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"moto_server did not start: {tail(self.logs / 'moto.err')}")
                time.sleep(0.1)
        keys = run([sys.executable, str(S3_PEER), "setup", endpoint, S3_BUCKET]).split()
        return endpoint, {"AWS_ACCESS_KEY_ID": keys[0], "AWS_SECRET_ACCESS_KEY": keys[1],
                          "S3_ENDPOINT_URL": endpoint}

    def bench_s3(self):
        """kage backup --to s3:// against the same backup written locally by kage and uploaded
        by boto3's TransferManager, on a data set of random (incompressible) values, so the
        objects are as large as the data."""
        a = self.args
        data = f"{a.s3_keys:,} keys x {a.s3_value_size} random bytes"
        wall_row = dict(id="s3.upload_wall", label=f"backup into S3 ({data}), wall (s)",
                        metric="wall",
                        target=("<=", 1.0),
                        peer_label="kage backup to a local directory, then boto3 TransferManager "
                                   "uploads that backup (the transfer itself timed, without the "
                                   "interpreter's start and imports)")
        cpu_row = dict(id="s3.upload_cpu", label=f"S3 upload CPU ({data}) (s)", metric="value",
                       target=("<=", 0.5),
                       peer_label="boto3 TransferManager uploading the same objects (CPU of the "
                                  "transfer itself, interpreter start and imports excluded); "
                                  "kage: CPU of backup --to s3:// minus backup --to a directory")
        # The same samples in the units operators compare: object MB per second of the walls
        # above (higher is better), and CPU seconds per GB uploaded.
        mbps_row = dict(id="s3.upload_mb_s", label=f"S3 backup throughput ({data}), object MB/s "
                        "of the wall row (higher is better)", metric="value",
                        peer_label="object bytes / (local backup wall + boto3 transfer wall)")
        cpu_gb_row = dict(id="s3.upload_cpu_per_gb", label=f"S3 upload CPU per GB ({data}) (s/GB)",
                          metric="value", peer_label="the CPU row's values / GB uploaded")
        two_row = dict(id="s3.two_locations_wall",
                       label=f"backup to two locations (local + S3) ({data}), wall (s)",
                       metric="wall", target=("<=", 1.1),
                       peer_label="the same backup to one location: kage backup --to s3:// "
                                  "(the backup-into-S3 row's kage samples)")
        all_rows = (wall_row, cpu_row, mbps_row, cpu_gb_row, two_row)
        why = self.s3_unavailable()
        if why:
            for row in all_rows:
                self.add_row(**row, skipped=why)
            return
        try:
            endpoint, s3_env = self.start_moto()
            env = dict(os.environ, **s3_env)
            self.source.flush()
            self.keys = 0
            load_argv = ["--value-size", str(a.s3_value_size), "--random-values"]
            self.load(0, a.s3_keys, extra=load_argv)
            self.keys = a.s3_keys
            local = self.work / "s3-local"
            two_local = self.work / "s3-two-local"
            k_s3, k_local, peer, k_two = [], [], [], []

            def clear():
                run([sys.executable, str(S3_PEER), "clear", endpoint, S3_BUCKET], env=env)

            def run_kage(rep):
                clear()
                k_s3.append(self.kage_backup("s3-kage", f"s3://{S3_BUCKET}/kage", env=env))

            def run_two_step(rep):
                clear()
                shutil.rmtree(local, ignore_errors=True)
                local.mkdir(parents=True)
                s = self.kage_backup("s3-local-kage", local)
                k_local.append(s)
                u = self.measure("s3-boto3", [([sys.executable, str(S3_PEER), "upload", endpoint,
                                                S3_BUCKET, f"boto3/{s.id}", str(local / s.id)],
                                               None)], self.source, env=env)
                u.transfer = json.loads(u.outputs[0])
                peer.append(u)

            def run_two_locations(rep):
                clear()
                shutil.rmtree(two_local, ignore_errors=True)
                two_local.mkdir(parents=True)
                k_two.append(self.kage_backup("s3-two-locations",
                                              [two_local, f"s3://{S3_BUCKET}/two"], env=env))

            for rep in range(a.s3_reps):
                log(f"S3 repetition {rep + 1}/{a.s3_reps} ({self.keys:,} keys of "
                    f"{a.s3_value_size} random bytes)")
                self.rotate(rep, [("kage", run_kage), ("two_step", run_two_step),
                                  ("two_locations", run_two_locations)])
            clear()
        except BenchError as e:
            for row in all_rows:
                self.add_row(**row, error=str(e))
            return
        finally:
            if self.moto:
                kill_live_one(self.moto)
                self.moto = None
            shutil.rmtree(self.work / "s3-local", ignore_errors=True)
            shutil.rmtree(self.work / "s3-two-local", ignore_errors=True)
            if self.keys != a.n:  # the S3 data set is not the one later rows expect
                self.source.flush()
                self.keys = 0
        self.add_row(**wall_row, kage=k_s3,
                     peer_values=[l.wall + u.transfer["transfer_wall_s"]
                                  for l, u in zip(k_local, peer)],
                     kage_values=[s.wall for s in k_s3])
        self.add_row(**cpu_row, kage=k_s3,
                     kage_values=[s.cpu - l.cpu for s, l in zip(k_s3, k_local)],
                     peer_values=[u.transfer["transfer_cpu_s"] for u in peer])
        mb = [u.transfer["bytes"] / 1e6 for u in peer]
        self.add_row(**mbps_row, kage=k_s3,
                     kage_values=[m / s.wall for m, s in zip(mb, k_s3)],
                     peer_values=[m / (l.wall + u.transfer["transfer_wall_s"])
                                  for m, l, u in zip(mb, k_local, peer)])
        self.add_row(**cpu_gb_row, kage=k_s3,
                     kage_values=[(s.cpu - l.cpu) / (m / 1e3) for m, s, l in zip(mb, k_s3, k_local)],
                     peer_values=[u.transfer["transfer_cpu_s"] / (m / 1e3) for m, u in zip(mb, peer)])
        self.add_row(**two_row, kage=k_two, peer=k_s3)
        self.s3_info = {"keys": a.s3_keys, "value_size": a.s3_value_size,
                        "object_bytes": peer[-1].transfer["bytes"],
                        "boto3_transfer_wall_s": [u.transfer["transfer_wall_s"] for u in peer],
                        "boto3_process_cpu_s": [u.cpu for u in peer],
                        "servers_cpu_s_kage_s3": [k.server_cpu for k in k_s3],
                        "servers_cpu_s_boto3": [u.server_cpu for u in peer],
                        "kage_local": [s.to_json() for s in k_local]}

    # -- RSS sweep -------------------------------------------------------------------------------

    def bench_rss_sweep(self):
        a = self.args
        backups = self.work / "sweep-backups"
        for size in sorted(a.sweep_sizes):
            if size < self.keys:
                self.source.flush()
                self.keys = 0
            if size > self.keys:
                self.load(self.keys, size - self.keys)
                self.keys = size
            got = self.source.keys()
            if got != size:
                raise BenchError(f"the source holds {got} keys, expected {size}")
            samples = []
            for rep in range(a.reps):
                log(f"RSS sweep at {size:,} keys, repetition {rep + 1}/{a.reps}")
                shutil.rmtree(backups, ignore_errors=True)
                backups.mkdir(parents=True)
                samples.append(self.kage_backup(f"sweep-{size}", backups))
            shutil.rmtree(backups, ignore_errors=True)
            self.sweep.append({"keys": size, "samples": [s.to_json() for s in samples],
                               "maxrss_mib": med([s.maxrss_kib / 1024 for s in samples]),
                               "wall_s": med([s.wall for s in samples]),
                               "cpu_per_key_us": med([s.cpu for s in samples]) / size * 1e6})
        rss = [p["maxrss_mib"] for p in self.sweep]
        spread = (max(rss) - min(rss)) / min(rss)
        met = max(rss) <= 128 and spread <= 0.10
        self.add_row(id="rss_sweep", label="kage backup peak RSS over "
                     + ", ".join(f"{p['keys']:,}" for p in self.sweep) + " keys (MiB)",
                     metric="sweep", sweep=self.sweep, spread=spread,
                     verdict="met" if met else "missed",
                     target_text=f"<= 128 MiB each, spread <= 10% (is {spread:.1%})")

    # -- Sentinel ------------------------------------------------------------------------------

    def bench_sentinel(self):
        """The cluster rows' keys, restored by kage into a primary watched by three sentinels,
        backed up through the sentinels (one shard) against the same peer on that primary."""
        rows = [dict(id="sentinel.backup_wall",
                     label="Sentinel logical backup (primary + 2 replicas, 3 sentinels), wall (s)",
                     metric="wall", target=("<=", 1.0),
                     peer_label="redis-cli --scan | DUMP+PTTL | redis-cli --pipe on the primary"),
                dict(id="sentinel.backup_client_cpu",
                     label="Sentinel logical backup, client CPU (s)", metric="cpu",
                     peer_label="redis-cli x2 + awk"),
                dict(id="sentinel.backup_cpu_per_key",
                     label="kage Sentinel backup CPU per key (us)", metric="cpu_per_key")]
        why = None
        if self.args.no_sentinel:
            why = "--no-sentinel"
        elif not shutil.which("redis-sentinel"):
            why = "redis-sentinel not found (Debian package redis-sentinel)"
        if why:
            for row in rows:
                self.add_row(**row, skipped=why)
            return
        a = self.args
        ss = SentinelSet(self.work / "sentinel", self.logs)
        self.sentinel_set = ss
        ss.start()
        log(f"restoring backup {self.backup_id} ({self.keys:,} keys) into the Sentinel primary")
        run([str(self.kage), "restore", "--sentinel", ss.addresses(), "--from",
             str(self.work / "backups"), "--id", self.backup_id, "--quiet"], timeout=3600)
        ss.settle()
        keys = int(rcli(ss.primary, "dbsize").strip())
        if keys != self.keys:
            raise BenchError(f"the Sentinel primary holds {keys} keys after the restore, "
                             f"expected {self.keys}")
        backups = self.work / "sentinel-backups"
        backups.mkdir(parents=True, exist_ok=True)
        samples = {"kage": [], "peer": []}

        def run_kage(rep):
            s = self.measure("sentinel-backup-kage",
                             [([str(self.kage), "backup", "--sentinel", ss.addresses(), "--to",
                                str(backups), "--quiet", "--json"], None)], ss, rss=True)
            result = json.loads(s.outputs[0])
            if result.get("keys") != self.keys or result.get("vanished") != 0:
                raise BenchError(f"kage backup via sentinels saved {result.get('keys')} keys, "
                                 f"expected {self.keys}")
            shutil.rmtree(backups / result["id"])
            samples["kage"].append(s)

        def run_peer(rep):
            p = ss.primary
            s = self.measure("sentinel-backup-scan-pipe",
                             [(["bash", "-c",
                                f"set -o pipefail; redis-cli -h {HOST} -p {p} --scan | "
                                f"LC_ALL=C awk '{AWK_DUMP_PTTL}' | redis-cli -h {HOST} -p {p} "
                                f"--pipe"], None)], ss)
            errors, replies = self.pipe_replies(s.outputs[0], "Sentinel scan | pipe")
            if errors or replies != 2 * self.keys:
                raise BenchError(f"Sentinel scan | pipe: {errors} errors, {replies} replies, "
                                 f"expected {2 * self.keys}")
            samples["peer"].append(s)

        for rep in range(a.reps):
            log(f"Sentinel backup repetition {rep + 1}/{a.reps}")
            self.rotate(rep, [("kage", run_kage), ("peer", run_peer)])
        ss.stop()
        self.add_row(**rows[0], kage=samples["kage"], peer=samples["peer"])
        self.add_row(**rows[1], kage=samples["kage"], peer=samples["peer"])
        self.add_row(**rows[2], kage=samples["kage"])

    # -- main ------------------------------------------------------------------------------------

    def run(self):
        a = self.args
        self.started = time.time()
        self.logs.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.machine = machine_info(self.kage)
        self.start_clusters()
        self.load_seconds = self.load(0, a.n)
        self.keys = a.n
        self.bench_backup()
        self.bench_restore()
        self.bench_sentinel()
        self.bench_snapshot()
        self.bench_s3()
        if a.rss_sweep:
            self.bench_rss_sweep()
        self.finished = time.time()

    def cleanup(self):
        kill_live()
        if self.sentinel_set:
            self.sentinel_set.stop()
        for c in self.clusters:
            try:
                c.stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping the {c.name} cluster failed: {e}")
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Results

def med(xs):
    return statistics.median(xs)


def metric_value(s, metric, keys):
    if metric == "wall":
        return s.wall
    if metric == "cpu":
        return s.cpu
    if metric == "server_cpu":
        return s.server_cpu
    if metric == "rss":
        return s.maxrss_kib / 1024
    if metric == "cpu_per_key":
        return s.cpu / keys * 1e6
    raise ValueError(metric)


def summarize(row, keys):
    """Medians, the paired ratios (kage/peer of each repetition, run back to back), verdict."""
    out = {"id": row["id"], "label": row["label"]}
    if row.get("peer_label"):
        out["peer"] = row["peer_label"]
    if "target" in row:
        op, limit = row["target"]
        out["target"] = f"{op} {limit}"
        if row.get("aim"):
            out["target"] += f" (aim {row['aim']})"
    if row.get("target_text"):
        out["target"] = row["target_text"]
    if row.get("skipped") or row.get("error"):
        out["verdict"] = "skipped" if row.get("skipped") else "error"
        out["note"] = row.get("skipped") or row.get("error")
        return out
    if row["metric"] == "sweep":
        out.update(verdict=row["verdict"], sweep=row["sweep"], spread=round(row["spread"], 4))
        return out
    m = row["metric"]
    kv = row.get("kage_values") or [metric_value(s, m, keys) for s in row["kage"]]
    out["kage"] = {"median": med(kv), "samples": kv}
    value = med(kv)
    if row.get("peer") or row.get("peer_values"):
        pv = row.get("peer_values") or [metric_value(s, m, keys) for s in row["peer"]]
        out["peer_values"] = {"median": med(pv), "samples": pv}
        if all(pv):
            out["ratios"] = [k / p for k, p in zip(kv, pv)]
            out["ratio"] = med(out["ratios"])
            value = out["ratio"]
        else:
            value = None  # too short to measure (CPU is counted in clock ticks)
    if "target" in row and value is not None:
        op, limit = row["target"]
        out["verdict"] = "met" if value <= limit else "missed"
    else:
        out["verdict"] = "info"
    return out


def fmt(v, metric):
    if v is None:
        return "-"
    if metric == "cpu_per_key":
        return f"{v:.2f}"
    if metric in ("rss",):
        return f"{v:.1f}"
    return f"{v:.2f}"


def table(rows, summaries):
    header = ["measurement", "kage", "peer", "kage/peer", "target", "verdict"]
    lines = []
    for row, s in zip(rows, summaries):
        m = row.get("metric")
        if s["verdict"] in ("skipped", "error"):
            lines.append([s["label"], "-", "-", "-", s.get("target", ""), s["verdict"]])
            continue
        if m == "sweep":
            for p in s["sweep"]:
                lines.append([f"kage backup peak RSS at {p['keys']:,} keys (MiB)",
                              f"{p['maxrss_mib']:.1f}", "-", "-", "", ""])
            lines.append([s["label"], f"max {max(p['maxrss_mib'] for p in s['sweep']):.1f}",
                          "-", "-", s["target"], s["verdict"]])
            continue
        lines.append([s["label"], fmt(s["kage"]["median"], m),
                      fmt(s["peer_values"]["median"], m) if "peer_values" in s else "-",
                      f"{s['ratio']:.2f}" if "ratio" in s else "-",
                      s.get("target", ""), s["verdict"]])
    return header, lines


def markdown(header, lines):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for line in lines:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in line) + " |")
    return "\n".join(out)


def text_table(header, lines):
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
    widths[-1] = min(widths[-1], 60)
    fmt_line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    return "\n".join([fmt_line(header), fmt_line(["-" * w for w in widths])] +
                     [fmt_line(r) for r in lines])


def machine_info(kage):
    def first(path, key):
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    def cmd(*argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                  cwd=ROOT).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    commit = cmd("git", "rev-parse", "--short=12", "HEAD")
    built = datetime.datetime.fromtimestamp(kage.stat().st_mtime, datetime.timezone.utc)
    dirty = cmd("git", "status", "--porcelain", "--untracked-files=no")
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu_model": first("/proc/cpuinfo", "model name"),
        "memory": f"{int(first('/proc/meminfo', 'MemTotal').split()[0]) / 1024 / 1024:.1f} GiB",
        "kernel": os.uname().release,
        "os": cmd("sh", "-c", ". /etc/os-release && echo \"$PRETTY_NAME\""),
        "redis": cmd("redis-server", "--version"),
        "kage_commit": commit + (" (work tree has uncommitted changes)" if dirty else ""),
        "kage_binary": f"{kage} (built {built:%Y-%m-%d %H:%M UTC})",
        "kage_version": cmd(str(kage), "version"),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        "rss_measured_by": "GNU time (%M)" if GNU_TIME else "polling /proc/PID/status VmHWM",
    }


def report(bench, error=None):
    a = bench.args
    keys = a.n
    summaries = [summarize(r, keys) for r in bench.rows]
    header, lines = table(bench.rows, summaries)
    m = getattr(bench, "machine", {})
    m["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    runtime = time.time() - bench.t_start
    doc = {
        "schema": 1,
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
        "config": {"masters": a.masters, "replicas": a.replicas, "keys": a.n,
                   "value_size": a.value_size, "mixed": a.mixed, "reps": a.reps, "s3_reps": a.s3_reps,
                   "rss_sweep": a.sweep_sizes if a.rss_sweep else None},
        "machine": m,
        "load_seconds": getattr(bench, "load_seconds", None),
        "s3": getattr(bench, "s3_info", None),
        "runtime_s": round(runtime, 1),
        "rows": summaries,
        "samples": {r["id"]: {"kage": [s.to_json() for s in r.get("kage", [])],
                              "peer": [s.to_json() for s in r.get("peer", []) or []]}
                    for r in bench.rows if r.get("kage")},
    }
    if error:
        doc["error"] = error
    (a.out / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    shape = (f"{a.masters} masters x {a.replicas} replicas, {a.n:,} keys "
             f"({'mixed types' if a.mixed else 'strings'}, {a.value_size}-byte values), "
             f"{a.reps} repetitions ({a.s3_reps} of the S3 rows)")
    md = [f"Shape: {shape}. Machine: {m.get('nproc')} CPUs ({m.get('cpu_model')}), "
          f"{m.get('memory')}, Linux {m.get('kernel')}, {m.get('os')}, "
          f"{m.get('redis', '').split(' sha=')[0]}, source tree {m.get('kage_commit')}, "
          f"kage binary {m.get('kage_binary')}, "
          f"{m.get('date_utc')}, load average {' '.join(m.get('loadavg_start', []))} at the "
          f"start and {' '.join(m['loadavg_end'])} at the end; run took {runtime / 60:.1f} min.",
          "", markdown(header, lines), ""]
    notes = [s for s in summaries if s.get("note")]
    if notes:
        md += [f"- {s['label']}: {s['verdict']}: {s['note']}" for s in notes] + [""]
    peers = [(s["label"], s["peer"]) for s in summaries if s.get("peer")]
    if peers:
        md.append("Peers:")
        md += [f"- {label}: {peer}" for label, peer in peers]
    (a.out / "results.md").write_text("\n".join(md) + "\n")
    print(f"\nkage beside its peers: {shape}")
    print(text_table(header, lines))
    for s in summaries:
        if s.get("note"):
            print(f"  {s['label']}: {s['verdict']}: {s['note']}")
    print(f"\nratio = median of per-repetition kage/peer (run back to back); "
          f"runtime {runtime / 60:.1f} min; results in {a.out}/results.json and results.md")


GNU_TIME = gnu_time()


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--masters", type=int, default=3)
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("-n", type=int, default=1_000_000, help="keys (default 1,000,000)")
    ap.add_argument("--value-size", type=int, default=64)
    ap.add_argument("--mixed", action="store_true", help="strings, hashes, lists, sets, zsets")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of every measurement")
    ap.add_argument("--out", type=Path, help="results directory (default: a new one in /tmp)")
    ap.add_argument("--port", type=int, default=0,
                    help="first port (source cluster; the target follows); default: random free "
                         f"ports in {PORT_LOW}-{PORT_HIGH}")
    ap.add_argument("--kage", type=Path,
                    default=Path(os.environ.get("KAGE_BINARY") or ROOT / "build/tools/kage"),
                    help="the kage binary (default: $KAGE_BINARY, else build/tools/kage)")
    ap.add_argument("--rss-sweep", action="store_true",
                    help="also back up at each --sweep-sizes key count (kage's peak RSS)")
    ap.add_argument("--sweep-sizes", default="100000,1000000,10000000",
                    help="comma-separated key counts for --rss-sweep")
    ap.add_argument("--s3-keys", type=int, default=100_000,
                    help="keys of the S3 rows' own data set (default 100,000)")
    ap.add_argument("--s3-value-size", type=int, default=1024,
                    help="bytes of random value per key in the S3 data set (default 1024)")
    ap.add_argument("--s3-reps", type=int, default=0,
                    help="repetitions of the S3 rows (default: --reps, at least 5: the CPU row "
                         "is the difference of two measurements, and noisier)")
    ap.add_argument("--no-s3", action="store_true", help="skip the S3 rows")
    ap.add_argument("--no-sentinel", action="store_true",
                    help="skip the Sentinel rows (they need redis-sentinel)")
    ap.add_argument("--time-limit", type=float, default=0,
                    help="give up (and clean up) after this many seconds")
    ap.add_argument("--keep", action="store_true", help="keep the clusters' and backups' files")
    a = ap.parse_args(argv)
    if a.s3_reps == 0:
        a.s3_reps = max(a.reps, 5)
    try:
        a.sweep_sizes = sorted({int(float(x)) for x in a.sweep_sizes.split(",") if x.strip()})
    except ValueError:
        ap.error("--sweep-sizes takes comma-separated numbers")
    if a.s3_reps < 1:
        ap.error("--s3-reps must be at least 1")
    if a.masters < 3 or a.replicas < 0 or a.n < 1 or a.reps < 1 or not a.sweep_sizes or \
            min(a.sweep_sizes) < 1 or a.value_size < 3:
        ap.error("need --masters >= 3, --replicas >= 0, -n >= 1, --reps >= 1, --value-size >= 3 "
                 "and positive --sweep-sizes")
    if a.port and not (1024 <= a.port and a.port + 2 * a.masters * (1 + a.replicas) + 10000
                       < 32768):
        ap.error("--port: the ports and their bus ports (+10000) must stay below 32768")
    if not os.access(a.kage, os.X_OK):
        ap.error(f"no kage binary at {a.kage}: build it with 'bash tools/build.sh' or pass --kage")
    a.kage = a.kage.resolve()
    for tool in ("redis-server", "redis-cli", "zstd", "awk", "bash"):
        if not shutil.which(tool):
            ap.error(f"{tool} not found: run 'bash tools/install-deps.sh' (or bench/run.sh)")
    a.out = (a.out or Path(tempfile.mkdtemp(prefix="kage-bench."))).resolve()
    a.out.mkdir(parents=True, exist_ok=True)
    return a


def main(argv):
    a = parse_args(argv)
    bench = Bench(a)
    bench.t_start = time.time()

    def on_signal(signum, _frame):
        if signum == signal.SIGALRM:
            raise TimeLimit(f"--time-limit of {a.time_limit:g}s reached")
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, on_signal)
    if a.time_limit:
        signal.setitimer(signal.ITIMER_REAL, a.time_limit)
    error = None
    try:
        bench.run()
    except (BenchError, KeyboardInterrupt, subprocess.SubprocessError, OSError,
            json.JSONDecodeError) as e:
        error = f"{type(e).__name__}: {e}"
    except Exception as e:  # a bug here: still clean up and report what was measured
        error = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # cleanup runs to the end
        bench.cleanup()
    report(bench, error)
    if error:
        log(f"FAILED: {error} (logs in {bench.logs})")
        return 1
    errors = [r["id"] for r in bench.rows if r.get("error")]
    if errors:
        log(f"measurements that failed: {', '.join(errors)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
