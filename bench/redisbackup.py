#!/usr/bin/env python3
"""An rdb RedisBackup's wall time against `kage snapshot` of the same cluster, side by side.

  python3 bench/redisbackup.py [--keys N] [--value-size B] [--reps N] [--kage PATH]

Six redis-server "pods" (3 masters x 1 replica) on 127.0.0.61-66 at one port, listed by the fake
API server (tests/fake_kube) as pods labelled app.kubernetes.io/instance=bench; moto_server as
S3. Each repetition: `kage snapshot --node SEED --to s3://kage-test/snap --target
prefer-replica`, timed from start to exit; then a RedisBackup (rdb, prefer-replica) created
through the API, timed from its creation until `kage controller` (already running, watching)
has patched it Completed, as a client polling every 10 ms sees it. The ratio is
RedisBackup / snapshot (target <= 1.1). Everything is started here and stopped at exit.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "fake_kube"))
from fixture import FakeKube, free_port  # noqa: E402

HOSTS = ["127.0.0.%d" % (61 + i) for i in range(6)]


def cli(host, port, *args, timeout=120):
    return subprocess.run(["redis-cli", "-h", host, "-p", str(port)] + list(args),
                          capture_output=True, text=True, timeout=timeout, check=True).stdout


def wait(what, done, deadline_s):
    until = time.monotonic() + deadline_s
    while not done():
        if time.monotonic() > until:
            raise RuntimeError("timed out waiting: " + what)
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--kage", default=os.environ.get("KAGE_BINARY",
                                                     os.path.join(ROOT, "build/tools/kage")))
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="kage-rb-bench.")
    procs = []
    kube = FakeKube(tls=False)
    try:
        port = free_port()
        for h in HOSTS:
            d = os.path.join(work, h)
            os.makedirs(d)
            procs.append(subprocess.Popen(
                ["redis-server", "--bind", h, "--bind-source-addr", h, "--protected-mode", "no", "--port", str(port), "--dir", d,
                 "--cluster-enabled", "yes", "--save", "", "--appendonly", "no",
                 "--logfile", os.path.join(d, "log")], stdout=subprocess.DEVNULL))
        for h in HOSTS:
            wait("redis at " + h, lambda h=h: subprocess.run(
                ["redis-cli", "-h", h, "-p", str(port), "ping"], capture_output=True,
                text=True).stdout.strip() == "PONG", 20)
        subprocess.run(["redis-cli", "--cluster", "create"] + ["%s:%d" % (h, port) for h in HOSTS]
                       + ["--cluster-replicas", "1", "--cluster-yes"], check=True,
                       capture_output=True, timeout=120)
        wait("cluster ok", lambda: all("cluster_state:ok" in cli(h, port, "cluster", "info")
                                       for h in HOSTS), 60)
        print("loading %d keys of %d bytes" % (a.keys, a.value_size), flush=True)
        subprocess.run(["redis-benchmark", "-h", HOSTS[0], "-p", str(port), "--cluster", "-q",
                        "-t", "set", "-n", str(a.keys), "-r", str(a.keys), "-d",
                        str(a.value_size), "-P", "64"], check=True, capture_output=True,
                       timeout=900)
        def synced():
            infos = [cli(h, port, "info", "replication") for h in HOSTS]
            return sum("master_link_status:up" in i for i in infos) == 3

        try:
            wait("replicas in sync", synced, 120)
        except RuntimeError:
            for h in HOSTS:
                print(h, cli(h, port, "info", "replication").split("\r\n")[1:4])
                print(open(os.path.join(work, h, "log")).read()[-1500:])
            raise

        mport = free_port()
        procs.append(subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(mport)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        endpoint = "http://127.0.0.1:%d" % mport
        wait("moto", lambda: subprocess.run(["curl", "-s", endpoint], capture_output=True)
             .returncode == 0, 30)
        keys = subprocess.run([sys.executable, os.path.join(ROOT, "tests/common/s3_tool.py"),
                               "setup", endpoint], capture_output=True, text=True, check=True,
                              env=dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4")).stdout.split()
        env = dict(os.environ, AWS_ACCESS_KEY_ID=keys[0], AWS_SECRET_ACCESS_KEY=keys[1],
                   S3_ENDPOINT_URL=endpoint)

        kube.start()
        for i, h in enumerate(HOSTS):
            kube.control("add_pod", name="bench-%d" % i, podIP=h, ready=True,
                         labels={"app.kubernetes.io/instance": "bench"})
        kc = kube.kubeconfig()
        env["KUBECONFIG"] = kc
        ctl_log = open(os.path.join(work, "controller.log"), "w")
        ctl = subprocess.Popen([a.kage, "controller", "--namespace", "default", "--redis-port",
                                str(port), "--lease", "off", "--identity", "bench"],
                               env=env, stdout=ctl_log, stderr=subprocess.STDOUT)
        procs.append(ctl)

        def get(name):
            return kube.control("get", resource="redisbackups", namespace="default", name=name)

        snap, rb, rb_status = [], [], []
        for rep in range(a.reps):
            t = time.monotonic()
            subprocess.run([a.kage, "snapshot", "--node", "%s:%d" % (HOSTS[0], port), "--to",
                            "s3://kage-test/snap", "--target", "prefer-replica", "--quiet",
                            "--json"], env=env, check=True, capture_output=True, timeout=900)
            snap.append(time.monotonic() - t)
            name = "rep-%d" % rep
            t = time.monotonic()
            kube.control("create", resource="redisbackups", namespace="default", object={
                "apiVersion": "redis.io/v1", "kind": "RedisBackup", "metadata": {"name": name},
                "spec": {"clusterName": "bench", "target": "prefer-replica", "method": "rdb",
                         "destination": "s3://kage-test/rb"}})
            until = t + 900
            while True:
                o = get(name)
                phase = (o.get("status") or {}).get("phase")
                if phase in ("Completed", "Failed"):
                    break
                if time.monotonic() > until:
                    raise RuntimeError("the RedisBackup did not finish")
                time.sleep(0.01)
            rb.append(time.monotonic() - t)
            if phase != "Completed":
                raise RuntimeError("RedisBackup failed: %s" % o["status"].get("error"))
            size = o["status"]["backupSize"]
            print("rep %d: snapshot %.2f s, RedisBackup %.2f s (%d bytes)"
                  % (rep + 1, snap[-1], rb[-1], size), flush=True)
        s, r = statistics.median(snap), statistics.median(rb)
        print(json.dumps({"keys": a.keys, "value_size": a.value_size, "reps": a.reps,
                          "snapshot_s": round(s, 3), "redisbackup_s": round(r, 3),
                          "ratio": round(r / s, 3), "bytes": size}))
        print("| rdb RedisBackup vs kage snapshot (%d keys, %d B values, %s, median of %d) | "
              "%.2f s | %.2f s | %.2f | <= 1.1 | %s |"
              % (a.keys, a.value_size, "3 x 1, S3 (moto), prefer-replica", a.reps, r, s, r / s,
                 "met" if r / s <= 1.1 else "missed"))
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        kube.stop()
        kube.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
