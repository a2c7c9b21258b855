#!/usr/bin/env python3
"""fake_kube's fidelity, checked with the real kubectl: get (tables, selectors, JSON), get -w,
exec (WebSocket, exit codes, stdin), patch, label, create -f, leases, a custom resource and its
/status, auth can-i (SelfSubjectAccessReview), delete, and the 401 of a wrong token.
Exits 77 (skipped) when kubectl is not installed."""
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import FakeKube  # noqa: E402

KUBECTL = shutil.which("kubectl")
NS = "default"


class KubectlTest(unittest.TestCase):
    failed = False

    @classmethod
    def setUpClass(cls):
        cls.fk = FakeKube(tls=True).start()
        cls.kubeconfig = cls.fk.kubeconfig()
        cls.env = dict(os.environ, HOME=cls.fk.dir, KUBECONFIG=cls.kubeconfig)
        cls.env.pop("KUBERNETES_SERVICE_HOST", None)

    @classmethod
    def tearDownClass(cls):
        cls.fk.stop()
        if cls.failed:
            print("---- fake_kube log ----\n" + cls.fk.server_log())
        cls.fk.cleanup()

    def setUp(self):
        self.fk.control("configure", rbac=[{"verbs": ["*"], "resources": ["*"]}], rbac_deny=[])

    def tearDown(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not getattr(outcome, "success", True):
            type(self).failed = True

    def kubectl(self, *args, stdin=None, kubeconfig=None, check=True, timeout=30):
        cmd = [KUBECTL, "--cache-dir", os.path.join(self.fk.dir, "kube-cache"),
               "--request-timeout=20s"] + list(args)
        env = dict(self.env)
        if kubeconfig:
            env["KUBECONFIG"] = kubeconfig
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env,
                           timeout=timeout)
        if check and r.returncode != 0:
            self.fail("%s exited %d:\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def add_pod(self, name, **kw):
        kw.setdefault("labels", {"app": "redis"})
        return self.fk.control("add_pod", namespace=NS, name=name, **kw)

    def delete_pod(self, name):
        self.fk.control("delete", resource="pods", namespace=NS, name=name)

    def test_get_pods_table_selector_and_json(self):
        self.add_pod("redis-0", podIP="10.0.0.10")
        self.add_pod("web-0", labels={"app": "web"}, phase="Pending")
        try:
            out = self.kubectl("get", "pods").stdout.splitlines()
            self.assertEqual(out[0].split(), ["NAME", "READY", "STATUS", "RESTARTS", "AGE"])
            rows = {l.split()[0]: l.split() for l in out[1:]}
            self.assertEqual(rows["redis-0"][1:4], ["1/1", "Running", "0"])
            self.assertEqual(rows["web-0"][1:3], ["0/1", "Pending"])
            wide = self.kubectl("get", "pods", "-o", "wide").stdout
            self.assertIn("10.0.0.10", wide)
            doc = json.loads(self.kubectl("get", "pods", "-l", "app=redis", "-o", "json").stdout)
            self.assertEqual([p["metadata"]["name"] for p in doc["items"]], ["redis-0"])
            self.assertEqual(doc["items"][0]["status"]["podIP"], "10.0.0.10")
            doc = json.loads(self.kubectl("get", "pods", "-l", "app notin (redis)", "-o",
                                          "json").stdout)
            self.assertEqual([p["metadata"]["name"] for p in doc["items"]], ["web-0"])
            names = self.kubectl("get", "pods", "-o", "name", "--chunk-size=1").stdout.split()
            self.assertEqual(names, ["pod/redis-0", "pod/web-0"])  # paged with limit=1
        finally:
            self.delete_pod("redis-0")
            self.delete_pod("web-0")

    def test_get_watch_streams_changes(self):
        self.add_pod("watch-0")
        proc = subprocess.Popen([KUBECTL, "--cache-dir", os.path.join(self.fk.dir, "kube-cache"),
                                 "get", "pods", "-w"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout], daemon=True).start()

        def expect(pred, what, deadline_s=15):
            deadline = time.monotonic() + deadline_s
            seen = []
            while time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
                except queue.Empty:
                    break
                seen.append(line)
                if pred(line.split()):
                    return line
            self.fail("kubectl get -w: no line with %s within %ss; got %r" % (what, deadline_s,
                                                                              seen))
        try:
            expect(lambda f: f[:1] == ["NAME"], "the header")
            expect(lambda f: f[:3] == ["watch-0", "1/1", "Running"], "watch-0 running")
            self.add_pod("watch-1", phase="Pending")
            expect(lambda f: f[:3] == ["watch-1", "0/1", "Pending"], "watch-1 pending")
            self.fk.control("update_pod", namespace=NS, name="watch-1", phase="Running")
            expect(lambda f: f[:3] == ["watch-1", "1/1", "Running"], "watch-1 running")
        finally:
            proc.kill()
            proc.wait(timeout=10)
            proc.stdout.close()
            proc.stderr.close()
            self.delete_pod("watch-0")
            self.delete_pod("watch-1")

    def test_exec(self):
        self.add_pod("exec-0", env={"NODECONF_FILE_PATH": "/data/nodes.conf"})
        try:
            d = self.fk.control("pod_runtime", namespace=NS, name="exec-0")["dir"]
            with open(os.path.join(d, "nodes.conf"), "w") as f:
                f.write("abc myself,master - 0 0 1 connected 0-16383\n")
            r = self.kubectl("exec", "exec-0", "--", "cat", "nodes.conf")
            self.assertEqual(r.stdout, "abc myself,master - 0 0 1 connected 0-16383\n")
            r = self.kubectl("exec", "exec-0", "--", "sh", "-c", "echo $NODECONF_FILE_PATH")
            self.assertEqual(r.stdout, "/data/nodes.conf\n")
            r = self.kubectl("exec", "exec-0", "--", "sh", "-c", "echo bye >&2; exit 3",
                             check=False)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn("bye", r.stderr)
            r = self.kubectl("exec", "-i", "exec-0", "--", "sh", "-c", "tr a-z A-Z",
                             stdin="hello\n")
            self.assertEqual(r.stdout, "HELLO\n")
            r = self.kubectl("exec", "exec-0", "-c", "nope", "--", "true", check=False)
            self.assertNotEqual(r.returncode, 0)
        finally:
            self.delete_pod("exec-0")

    def test_patch_label_and_delete(self):
        self.add_pod("patch-0")
        self.kubectl("patch", "pod", "patch-0", "--type=merge", "-p",
                     '{"metadata":{"annotations":{"kage.io/role":"master"}}}')
        self.kubectl("label", "pod", "patch-0", "tier=cache")
        self.kubectl("patch", "pod", "patch-0", "-p", '{"metadata":{"labels":{"x":"y"}}}')
        pod = self.fk.control("get", resource="pods", namespace=NS, name="patch-0")
        self.assertEqual(pod["metadata"]["annotations"], {"kage.io/role": "master"})
        self.assertEqual(pod["metadata"]["labels"], {"app": "redis", "tier": "cache", "x": "y"})
        r = self.kubectl("label", "pod", "patch-0", "tier=other", check=False)
        self.assertNotEqual(r.returncode, 0)  # needs --overwrite, as with a real server
        self.kubectl("delete", "pod", "patch-0")
        r = self.kubectl("get", "pod", "patch-0", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("NotFound", r.stderr)

    def test_leases(self):
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": "kage-leader"},
                 "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15}}
        self.kubectl("create", "-f", "-", stdin=json.dumps(lease))
        out = self.kubectl("get", "leases").stdout.splitlines()
        self.assertEqual(out[0].split(), ["NAME", "HOLDER", "AGE"])
        self.assertEqual(out[1].split()[:2], ["kage-leader", "pod-a"])
        got = json.loads(self.kubectl("get", "lease", "kage-leader", "-o", "json").stdout)
        self.assertEqual(got["spec"]["leaseDurationSeconds"], 15)
        r = self.kubectl("create", "-f", "-", stdin=json.dumps(lease), check=False)
        self.assertIn("AlreadyExists", r.stderr)
        self.kubectl("delete", "lease", "kage-leader")

    def test_custom_resource_and_status(self):
        self.fk.control("create", resource="redisbackups", namespace=NS, object={
            "metadata": {"name": "nightly"}, "spec": {"cluster": "redis"}})
        out = self.kubectl("get", "redisbackups").stdout.splitlines()
        self.assertEqual(out[1].split()[0], "nightly")
        self.kubectl("patch", "redisbackup", "nightly", "--subresource=status", "--type=merge",
                     "-p", '{"status":{"phase":"Succeeded"}}')
        out = self.kubectl("get", "rb", "nightly").stdout.splitlines()
        self.assertEqual(out[1].split()[:2], ["nightly", "Succeeded"])
        r = self.kubectl("patch", "redisbackup", "nightly", "-p", '{"spec":{"keep":1}}',
                         check=False)
        self.assertNotEqual(r.returncode, 0)  # strategic merge patch is not for custom resources
        self.kubectl("delete", "redisbackup", "nightly")

    def test_redisbackup_crd_apply_get_describe(self):
        crd = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "k8s",
                           "deploy", "redisbackup-crd.yaml")
        self.kubectl("apply", "-f", crd)
        self.kubectl("get", "crd", "redisbackups.redis.io")
        rb = ("apiVersion: redis.io/v1\nkind: RedisBackup\nmetadata:\n  name: once\n"
              "spec:\n  clusterName: cache\n  target: prefer-replica\n  method: rdb\n"
              "  destination: s3://bucket/backups\n")
        self.kubectl("apply", "-f", "-", stdin=rb)
        self.kubectl("patch", "rb", "once", "--subresource=status", "--type=merge", "-p",
                     '{"status":{"phase":"Completed","backupSize":1234,'
                     '"backupPath":"s3://bucket/backups/x"}}')
        out = self.kubectl("get", "rb").stdout.splitlines()
        self.assertEqual(out[0].split(), ["NAME", "PHASE", "SIZE", "AGE", "PATH"])
        cells = out[1].split()
        self.assertEqual(cells[:3], ["once", "Completed", "1234"])
        self.assertEqual(cells[4], "s3://bucket/backups/x")
        d = self.kubectl("describe", "rb", "once").stdout
        self.assertIn("prefer-replica", d)
        self.assertIn("Completed", d)
        self.kubectl("apply", "-f", "-", stdin=rb)  # unchanged: applies again cleanly
        self.kubectl("delete", "rb", "once")

    def test_events(self):
        self.add_pod("ev-0")
        event = {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "ev-0."},
                 "involvedObject": {"kind": "Pod", "name": "ev-0", "namespace": NS},
                 "reason": "FailoverDone", "message": "replica promoted", "type": "Normal",
                 "source": {"component": "kage"}, "count": 1}
        code, _, body = self.fk.request("POST", "/api/v1/namespaces/%s/events" % NS, event)
        self.assertEqual(code, 201, body)
        out = self.kubectl("get", "events").stdout.splitlines()
        self.assertEqual(out[0].split(), ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"])
        self.assertEqual(out[1].split()[1:5], ["Normal", "FailoverDone", "pod/ev-0", "replica"])
        self.delete_pod("ev-0")

    def test_auth_can_i(self):
        self.fk.control("configure", rbac=[{"verbs": ["get", "list", "watch"],
                                            "resources": ["pods"]},
                                           {"verbs": ["create"], "resources": ["pods/exec"]}])
        self.assertEqual(self.kubectl("auth", "can-i", "list", "pods").stdout.strip(), "yes")
        self.assertEqual(self.kubectl("auth", "can-i", "create", "pods", "--subresource=exec")
                         .stdout.strip(), "yes")
        r = self.kubectl("auth", "can-i", "delete", "pods", check=False)
        self.assertEqual((r.returncode, r.stdout.split()[0]), (1, "no"))
        r = self.kubectl("get", "leases", check=False)
        self.assertIn("Forbidden", r.stderr)
        # The deny-list takes one permission away from an allow-everything list (kage doctor's
        # tests deny this way).
        self.fk.control("configure", rbac=[{"verbs": ["*"], "resources": ["*"]}],
                        rbac_deny=[{"verbs": ["create"], "resources": ["pods/exec"]}])
        r = self.kubectl("auth", "can-i", "create", "pods", "--subresource=exec", check=False)
        self.assertEqual((r.returncode, r.stdout.split()[0]), (1, "no"))
        self.assertEqual(self.kubectl("auth", "can-i", "list", "pods").stdout.strip(), "yes")
        self.assertEqual(self.kubectl("auth", "can-i", "create", "leases.coordination.k8s.io")
                         .stdout.strip(), "yes")

    def test_wrong_token_is_unauthorized_and_client_cert_works(self):
        r = self.kubectl("get", "pods", kubeconfig=self.fk.kubeconfig(token="wrong"),
                         check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Unauthorized", r.stderr)
        self.kubectl("get", "pods", kubeconfig=self.fk.kubeconfig(token="", client_cert=True))


if __name__ == "__main__":
    if KUBECTL is None:
        print("SKIP: kubectl is not installed; the fake_kube kubectl tests need it")
        sys.exit(77)
    unittest.main(verbosity=2)
