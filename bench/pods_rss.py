#!/usr/bin/env python3
"""The 5,000-pod memory figure: kage's reflector (bench/pods_rss.cpp) lists and watches 5,000
realistic Pod objects (about 8 KB of JSON each, like a Bitnami Redis Cluster pod with a metrics
and a kage sidecar, managedFields and a last-applied annotation) served by tests/fake_kube,
while --updates MODIFIED events flow; it reports the watcher's peak RSS (VmHWM).

    python3 bench/pods_rss.py --binary build/bench/pods_rss [--pods 5000] [--updates 1000]
    python3 bench/pods_rss.py --kage build/tools/kage [--pods 5000] [--updates 1000]

With --binary: runs the watcher twice, as kage keeps pods (k8s::keep_pod_essentials as the
reflector's transform) and, for comparison, keeping whole objects (--full).

With --kage: the real binary, `kage heal --pods ... --namespace bench --lease off` (cluster
mode, watching the pods), healing a real Redis Cluster: six redis-servers (3 masters, 3
replicas) on 127.0.0.231-236 at one port are the first six pods; the other pods' IPs are
loopback addresses where nothing listens (127.1.x.y: connection refused at once), so each
round also tries every one of them, as it would try pods whose Redis is down. kage's peak RSS
(VmHWM) is read once its round output shows the last event applied.

Prints one JSON line per run and a table; exit 1 when kage's figure is over --limit-mib (32).
"""
import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fake_kube"))
from fixture import FakeKube, free_port  # noqa: E402

# Pod index -> podIP, when set (--kage: the real cluster's nodes and refused addresses).
POD_IPS = {}


def pod(i, ns):
    name = "redis-cluster-%d" % i
    labels = {"app.kubernetes.io/name": "redis-cluster", "app.kubernetes.io/instance": "redis",
              "app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "redis-cluster-9.1.3",
              "controller-revision-hash": "redis-cluster-6d9f8c7b5f",
              "statefulset.kubernetes.io/pod-name": name}
    env = [{"name": k, "value": v} for k, v in [
        ("BITNAMI_DEBUG", "false"), ("REDIS_NODES", " ".join(
            "redis-cluster-%d.redis-cluster-headless" % j for j in range(6))),
        ("REDISCLI_TLS", "no"), ("REDIS_TLS_ENABLED", "no"), ("REDIS_AOF_ENABLED", "yes"),
        ("REDIS_PORT_NUMBER", "6379"), ("REDIS_CLUSTER_CREATOR", "no"),
        ("REDIS_CLUSTER_REPLICAS", "1"), ("ALLOW_EMPTY_PASSWORD", "no"),
        ("NODECONF_FILE_PATH", "/bitnami/redis/data/nodes.conf")]]
    env.append({"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {
        "name": "redis-cluster", "key": "redis-password"}}})
    env.append({"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                "fieldPath": "metadata.name"}}})
    mounts = [{"name": n, "mountPath": p} for n, p in [
        ("scripts", "/scripts"), ("redis-data", "/bitnami/redis/data"),
        ("default-config", "/opt/bitnami/redis/etc/redis-default.conf"),
        ("empty-dir", "/opt/bitnami/redis/etc/"), ("empty-dir", "/tmp")]]
    probe = {"exec": {"command": ["sh", "-c", "/scripts/ping_liveness_local.sh 5"]},
             "initialDelaySeconds": 5, "periodSeconds": 5, "timeoutSeconds": 6,
             "successThreshold": 1, "failureThreshold": 5}
    security = {"runAsUser": 1001, "runAsGroup": 1001, "runAsNonRoot": True,
                "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
    containers = [
        {"name": "redis-cluster", "image": "docker.io/bitnami/redis-cluster:7.2.4-debian-12-r9",
         "imagePullPolicy": "IfNotPresent", "command": ["/bin/bash", "-c"],
         "args": ["# Backwards compatibility change\nif ! [[ -f /opt/bitnami/redis/etc/redis.conf"
                  " ]]; then\n    cp /opt/bitnami/redis/etc/redis-default.conf /opt/bitnami/"
                  "redis/etc/redis.conf\nfi\npod_index=($(echo \"$POD_NAME\" | tr \"-\" \"\\n\"))"
                  "\n/opt/bitnami/scripts/redis-cluster/entrypoint.sh /opt/bitnami/scripts/"
                  "redis-cluster/run.sh\n"],
         "env": env, "ports": [{"name": "tcp-redis", "containerPort": 6379, "protocol": "TCP"},
                               {"name": "tcp-redis-bus", "containerPort": 16379,
                                "protocol": "TCP"}],
         "livenessProbe": probe, "readinessProbe": dict(probe, initialDelaySeconds=5),
         "resources": {"limits": {"cpu": "150m", "memory": "192Mi"},
                       "requests": {"cpu": "100m", "memory": "128Mi"}},
         "securityContext": security, "volumeMounts": mounts,
         "terminationMessagePath": "/dev/termination-log",
         "terminationMessagePolicy": "File"},
        {"name": "metrics", "image": "docker.io/bitnami/redis-exporter:1.58.0-debian-12-r4",
         "imagePullPolicy": "IfNotPresent", "command": ["/bin/bash", "-c",
                                                        "redis_exporter"],
         "env": [{"name": "REDIS_ALIAS", "value": "redis-cluster"},
                 {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {
                     "name": "redis-cluster", "key": "redis-password"}}}],
         "ports": [{"name": "metrics", "containerPort": 9121, "protocol": "TCP"}],
         "resources": {}, "securityContext": security,
         "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"},
        {"name": "kage", "image": "ghcr.io/example/kage:0.1.0", "args": ["run"],
         "env": [{"name": "SCHEDULE_TIME", "value": "3600"},
                 {"name": "REDIS_NODE", "value": "127.0.0.1:6379"},
                 {"name": "BACKUP_DIR", "value": "/backups"}],
         "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}},
         "securityContext": security, "volumeMounts": mounts[:2],
         "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}]
    managed = [{"manager": "kube-controller-manager", "operation": "Update",
                "apiVersion": "v1", "time": "2026-11-20T10:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}, **{"f:" + k: {}
                                                                     for k in labels}},
                                            "f:ownerReferences": {".": {}}},
                             "f:spec": {"f:containers": {"k:{\"name\":\"%s\"}" % c["name"]: {
                                 ".": {}, "f:image": {}, "f:env": {".": {}},
                                 "f:resources": {".": {}}} for c in containers}}}},
               {"manager": "kubelet", "operation": "Update", "apiVersion": "v1",
                "time": "2026-11-20T10:00:09Z", "fieldsType": "FieldsV1", "subresource": "status",
                "fieldsV1": {"f:status": {"f:conditions": {}, "f:containerStatuses": {},
                                          "f:hostIP": {}, "f:phase": {}, "f:podIP": {},
                                          "f:podIPs": {}, "f:startTime": {}}}}]
    ip = POD_IPS.get(i, "10.%d.%d.%d" % (i // 65536 % 256, i // 256 % 256, i % 256))
    ready = [{"type": t, "status": "True", "lastProbeTime": None,
              "lastTransitionTime": "2026-11-20T10:00:09Z"}
             for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                       "PodScheduled")]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels,
                     "annotations": {"checksum/config": "4f0c8a0e" * 8,
                                     "checksum/scripts": "9b1d72aa" * 8,
                                     "checksum/secret": "0c5e11f3" * 8},
                     "generateName": "redis-cluster-",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                          "name": "redis-cluster", "controller": True,
                                          "blockOwnerDeletion": True,
                                          "uid": "6f1e3c1a-9b7d-4c55-8a0e-2b8d1e4f%04d" % (
                                              i % 10000)}],
                     "managedFields": managed},
        "spec": {"containers": containers, "restartPolicy": "Always",
                 "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                 "serviceAccountName": "redis-cluster", "nodeName": "node-%d" % (i % 50),
                 "hostname": name, "subdomain": "redis-cluster-headless",
                 "securityContext": {"fsGroup": 1001},
                 "affinity": {"podAntiAffinity": {
                     "preferredDuringSchedulingIgnoredDuringExecution": [
                         {"weight": 1, "podAffinityTerm": {
                             "labelSelector": {"matchLabels": {
                                 "app.kubernetes.io/instance": "redis",
                                 "app.kubernetes.io/name": "redis-cluster"}},
                             "topologyKey": "kubernetes.io/hostname"}}]}},
                 "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                  "effect": "NoExecute", "tolerationSeconds": 300},
                                 {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                  "effect": "NoExecute", "tolerationSeconds": 300}],
                 "volumes": [{"name": "scripts", "configMap": {"name": "redis-cluster-scripts",
                                                               "defaultMode": 493}},
                             {"name": "default-config",
                              "configMap": {"name": "redis-cluster-default"}},
                             {"name": "empty-dir", "emptyDir": {}},
                             {"name": "redis-data", "persistentVolumeClaim": {
                                 "claimName": "redis-data-" + name}},
                             {"name": "kube-api-access", "projected": {"sources": [
                                 {"serviceAccountToken": {"expirationSeconds": 3607,
                                                          "path": "token"}},
                                 {"configMap": {"name": "kube-root-ca.crt",
                                                "items": [{"key": "ca.crt",
                                                           "path": "ca.crt"}]}}]}}]},
        "status": {"phase": "Running", "conditions": ready, "hostIP": "192.168.0.%d" % (i % 50),
                   "podIP": ip, "podIPs": [{"ip": ip}], "startTime": "2026-11-20T10:00:00Z",
                   "qosClass": "Burstable",
                   "containerStatuses": [
                       {"name": c["name"], "ready": True, "restartCount": 0, "started": True,
                        "image": c["image"], "imageID": "docker.io/library/x@sha256:" + "ab" * 32,
                        "containerID": "containerd://" + "%064x" % (i * 7 + k),
                        "state": {"running": {"startedAt": "2026-11-20T10:00:05Z"}}}
                       for k, c in enumerate(containers)]}}


def run_watcher(binary, fk, args, full):
    cmd = [binary, "--kubeconfig", fk.kubeconfig_path, "--namespace", "bench", "--pods",
           str(args.pods), "--updates", str(args.updates), "--deadline", "600"]
    if full:
        cmd.append("--full")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("synced"):
        proc.kill()
        raise RuntimeError("the watcher did not sync: %r" % line)
    for k in range(args.updates):  # MODIFIED events, as readiness flips and restarts make
        i = k % args.pods
        fk.control("patch", resource="pods", namespace="bench", name="redis-cluster-%d" % i,
                   patch={"metadata": {"annotations": {"bench/tick": "%s-%d" % (
                       "full" if full else "kage", k)}},
                          "status": {"containerStatuses": pod(i, "bench")["status"][
                              "containerStatuses"][:1] + [{"name": "metrics", "ready": True,
                                                           "restartCount": k + 1 + (
                                                               100000 if full else 0)}]}})
    out, _ = proc.communicate(timeout=600)
    result = json.loads(out.strip().splitlines()[-1])
    print(json.dumps(result), file=sys.stderr)
    if proc.returncode != 0:
        raise RuntimeError("the watcher did not finish: %s" % result)
    return result


def proc_status(pid):
    """VmRSS, VmHWM (KiB) and the CPU seconds (user + system) of a process."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    out["cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


class RedisCluster:
    """Six redis-servers (3 masters, 3 replicas) on 127.0.0.231-236 at one free port."""

    def __init__(self):
        self.port = free_port()
        self.ips = ["127.0.0.%d" % (231 + k) for k in range(6)]
        self.dir = tempfile.mkdtemp(prefix="pods_rss_redis.")
        self.procs = []

    def cli(self, ip, *words):
        return subprocess.run(["redis-cli", "-h", ip, "-p", str(self.port)] + list(words),
                              capture_output=True, text=True, timeout=30).stdout

    def start(self):
        for ip in self.ips:
            d = os.path.join(self.dir, ip)
            os.makedirs(d)
            self.procs.append(subprocess.Popen(
                ["redis-server", "--bind", ip, "--bind-source-addr", ip, "--port",
                 str(self.port), "--protected-mode", "no", "--cluster-enabled", "yes",
                 "--cluster-announce-ip", ip, "--cluster-node-timeout", "5000", "--dir", d,
                 "--save", "",
                 "--appendonly", "no", "--logfile", os.path.join(d, "log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 20
        while not all(self.cli(ip, "PING").strip() == "PONG" for ip in self.ips):
            if time.monotonic() > deadline:
                raise RuntimeError("the redis-servers did not start")
            time.sleep(0.1)
        subprocess.run(["redis-cli", "--cluster", "create"] +
                       ["%s:%d" % (ip, self.port) for ip in self.ips] +
                       ["--cluster-replicas", "1", "--cluster-yes"], check=True,
                       capture_output=True, timeout=60)
        deadline = time.monotonic() + 60
        while not all("cluster_state:ok" in self.cli(ip, "CLUSTER", "INFO") for ip in self.ips):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not become ok")
            time.sleep(0.2)
        return self

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def run_kage(binary, fk, args, cluster):
    """`kage heal` watching the pods: its RSS after its first round and at the end."""
    log_path = os.path.join(fk.dir, "kage-heal.log")
    log = open(log_path, "w")
    cmd = [binary, "heal", "--pods", "app.kubernetes.io/name=redis-cluster", "--namespace",
           "bench", "--kubeconfig", fk.kubeconfig_path, "--redis-port", str(cluster.port),
           "--lease", "off", "--json", "--log-format", "json", "--interval", "10"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put("")],
                     daemon=True).start()
    rounds = []

    def next_round(deadline_s):
        # Rounds are read from kage's stdout (one JSON line each, --json).
        try:
            line = lines.get(timeout=deadline_s)
        except queue.Empty:
            raise RuntimeError("no round within %d s; see %s" % (deadline_s, log_path))
        if not line:
            raise RuntimeError("kage heal exited (%s); see %s" % (proc.poll(), log_path))
        r = json.loads(line)
        rounds.append(r)
        return r

    try:
        started = time.monotonic()
        first = next_round(600)
        first_s = time.monotonic() - started
        if first["pods"] != args.pods:
            raise RuntimeError("kage's first round saw %d pods, not %d" % (first["pods"],
                                                                         args.pods))
        at_start = proc_status(proc.pid)
        updates_started = time.monotonic()
        for k in range(args.updates):  # MODIFIED events, as in run_watcher
            i = k % args.pods
            fk.control("patch", resource="pods", namespace="bench",
                       name="redis-cluster-%d" % i,
                       patch={"metadata": {"annotations": {"bench/tick": "heal-%d" % k}},
                              "status": {"containerStatuses": pod(i, "bench")["status"][
                                  "containerStatuses"][:1] + [{"name": "metrics", "ready": True,
                                                               "restartCount": k + 1}]}})
        # The last event: a deletion; a round that counts one pod less has applied them all.
        fk.control("delete", resource="pods", namespace="bench",
                   name="redis-cluster-%d" % (args.pods - 1))
        while next_round(600)["pods"] != args.pods - 1:
            pass
        updates_s = time.monotonic() - updates_started
        at_end = proc_status(proc.pid)
        fk.control("create", resource="pods", namespace="bench",
                   object=pod(args.pods - 1, "bench"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    with open(log_path) as f:
        log_lines = f.read().splitlines()
    actions = sum(len(r.get("actions", [])) for r in rounds)
    answered = sorted({r.get("nodes_answered") for r in rounds})
    result = {"binary": "kage heal", "pods": args.pods, "updates": args.updates,
              "peak_rss_kib": at_end["VmHWM"], "rss_kib": at_end["VmRSS"],
              "baseline_rss_kib": at_start["VmRSS"], "baseline_peak_rss_kib": at_start["VmHWM"],
              "first_round_s": round(first_s, 1), "rounds": len(rounds),
              "updates_and_rounds_s": round(updates_s, 1),
              "cpu_s_first_round": at_start["cpu_s"], "cpu_s_total": at_end["cpu_s"],
              "nodes_answered": answered, "actions": actions, "log_lines": len(log_lines)}
    print(json.dumps(result), file=sys.stderr)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", help="the reflector program (build/bench/pods_rss)")
    ap.add_argument("--kage", help="the kage binary (build/tools/kage): measure `kage heal`")
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--updates", type=int, default=1000)
    ap.add_argument("--limit-mib", type=float, default=32)
    args = ap.parse_args()
    if not args.binary and not args.kage:
        args.binary = os.path.join(HERE, "..", "build", "bench", "pods_rss")
    cluster = None
    if args.kage:
        cluster = RedisCluster().start()
        for k, ip in enumerate(cluster.ips):
            POD_IPS[k] = ip
        for i in range(len(cluster.ips), args.pods):  # nothing listens there: refused
            POD_IPS[i] = "127.1.%d.%d" % (i // 250, 1 + i % 250)
    runs = []
    fk = FakeKube(tls=True, history_size=args.updates + 1000).start()
    try:
        fk.kubeconfig_path = fk.kubeconfig()
        started = time.monotonic()
        size = len(json.dumps(pod(0, "bench")))
        for i in range(args.pods):
            fk.control("create", resource="pods", namespace="bench", object=pod(i, "bench"))
        print("created %d pods of ~%d bytes of JSON each (%.1f MiB) in %.0f s" % (
            args.pods, size, args.pods * size / 2**20, time.monotonic() - started),
            file=sys.stderr)
        if args.kage:
            runs.append(("`kage heal` (the kage binary)", run_kage(args.kage, fk, args, cluster)))
        if args.binary:
            runs.append(("reflector program (keep_pod_essentials)",
                         run_watcher(args.binary, fk, args, full=False)))
            runs.append(("reflector program, whole Pod objects",
                         run_watcher(args.binary, fk, args, full=True)))
    finally:
        fk.stop()
        fk.cleanup()
        if cluster:
            cluster.stop()
    for _, r in runs:
        print(json.dumps(r))
    print("| watcher | pods | updates | peak RSS (VmHWM) | RSS at the end | RSS at start |")
    print("|---|---|---|---|---|---|")
    for label, r in runs:
        print("| %s | %d | %d | %.1f MiB | %.1f MiB | %.1f MiB |" % (
            label, r["pods"], r["updates"], r["peak_rss_kib"] / 1024, r["rss_kib"] / 1024,
            r["baseline_rss_kib"] / 1024))
    return 0 if runs[0][1]["peak_rss_kib"] / 1024 <= args.limit_mib else 1


if __name__ == "__main__":
    sys.exit(main())
