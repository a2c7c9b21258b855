#!/usr/bin/env python3
"""fake_kube's wire protocol, checked with plain HTTP clients, raw sockets and a WebSocket client:
auth, list (selectors, paging), watch (resourceVersions, 410 both ways, bookmarks, chunking),
Leases (409), merge-patch and /status, Events, SSAR, exec, failure injection, restarts."""
import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import FakeKube  # noqa: E402

DEFAULTS = {"history_size": 1000, "bookmark_interval": 5.0, "too_old_watch": "status",
            "exec_protocols": ["v5.channel.k8s.io", "v4.channel.k8s.io"],
            "rbac": [{"verbs": ["*"], "resources": ["*"]}]}


class ServerTest(unittest.TestCase):
    tls = True

    @classmethod
    def setUpClass(cls):
        cls.fk = FakeKube(tls=cls.tls).start()

    @classmethod
    def tearDownClass(cls):
        cls.fk.stop()
        if cls.failed:
            print("---- fake_kube log ----\n" + cls.fk.server_log())
        cls.fk.cleanup()

    failed = False

    def setUp(self):
        self.fk.control("clear_injections")
        self.fk.control("set_tokens", tokens=[self.fk.token])
        self.fk.control("configure", **DEFAULTS)
        self.ns = self.id().split(".")[-1].replace("_", "-").lower()[:60]

    def tearDown(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not getattr(outcome, "success", True):
            type(self).failed = True

    def add_pod(self, name, **kw):
        kw.setdefault("namespace", self.ns)
        return self.fk.control("add_pod", name=name, **kw)

    def pods_path(self, query=""):
        return "/api/v1/namespaces/%s/pods%s" % (self.ns, "?" + query if query else "")

    def assertStatus(self, body, code, reason):
        self.assertEqual(body["kind"], "Status", body)
        self.assertEqual(body["apiVersion"], "v1")
        self.assertEqual(body["status"], "Failure")
        self.assertEqual(body["code"], code, body)
        self.assertEqual(body["reason"], reason, body)
        self.assertTrue(body["message"])


class AuthTest(ServerTest):
    def test_wrong_or_missing_token_is_401_with_a_status(self):
        for token in ("wrong", ""):
            code, _, body = self.fk.request("GET", "/api/v1/namespaces/default/pods", token=token)
            self.assertEqual(code, 401)
            self.assertStatus(body, 401, "Unauthorized")
        code, _, body = self.fk.request("GET", "/version", token="")
        self.assertEqual((code, body["major"]), (200, "1"))

    def test_token_rotation_takes_effect_at_once(self):
        self.fk.control("set_tokens", tokens={"new-token": "system:serviceaccount:x:kage"})
        self.assertEqual(self.fk.request("GET", self.pods_path())[0], 401)
        self.assertEqual(self.fk.request("GET", self.pods_path(), token="new-token")[0], 200)

    def test_an_open_watch_survives_token_rotation(self):
        w = self.fk.watch(self.pods_path("watch=1"))
        self.fk.control("set_tokens", tokens=["rotated"])
        self.add_pod("after-rotation")
        self.assertEqual(w.next()["object"]["metadata"]["name"], "after-rotation")
        w.close()
        w = self.fk.watch(self.pods_path("watch=1"))
        self.assertEqual(w.status, 401)
        w.close()

    def test_client_certificate_authenticates_without_token(self):
        code, _, _ = self.fk.request("GET", self.pods_path(), token="", client_cert=True)
        self.assertEqual(code, 200)

    def test_rbac_allow_list_answers_ssar_and_forbids(self):
        self.fk.control("configure", rbac=[{"verbs": ["get", "list", "watch"],
                                            "resources": ["pods"], "namespaces": [self.ns]}])
        review = lambda verb, ns: self.fk.request(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
                "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                "spec": {"resourceAttributes": {"verb": verb, "resource": "pods",
                                                "namespace": ns}}})
        code, _, body = review("list", self.ns)
        self.assertEqual((code, body["status"]["allowed"]), (201, True))
        self.assertFalse(review("delete", self.ns)[2]["status"]["allowed"])
        self.assertFalse(review("list", "other")[2]["status"]["allowed"])
        code, _, body = self.fk.request("GET", "/api/v1/namespaces/other/pods")
        self.assertEqual(code, 403)
        self.assertStatus(body, 403, "Forbidden")
        self.assertIn('cannot list resource "pods"', body["message"])


class ListTest(ServerTest):
    def test_label_and_field_selectors(self):
        self.add_pod("a", labels={"app": "redis", "role": "master"})
        self.add_pod("b", labels={"app": "redis", "role": "replica"})
        self.add_pod("c", labels={"app": "other"})
        cases = {"app=redis": "ab", "app==redis,role!=master": "b", "role in (master,x)": "a",
                 "app=redis,role notin (master)": "b", "role notin (master)": "bc",
                 "!role": "c", "role": "ab", "app!=redis": "c", "app in (redis, other),!role": "c"}
        for sel, want in cases.items():
            code, _, body = self.fk.request("GET", self.pods_path(
                "labelSelector=" + urllib_quote(sel)))
            self.assertEqual(code, 200, body)
            self.assertEqual("".join(p["metadata"]["name"] for p in body["items"]), want, sel)
        code, _, body = self.fk.request("GET", self.pods_path("fieldSelector=metadata.name%3Db"))
        self.assertEqual([p["metadata"]["name"] for p in body["items"]], ["b"])
        code, _, body = self.fk.request("GET", self.pods_path("labelSelector=a%20in%20%28"))
        self.assertEqual(code, 400)
        self.assertStatus(body, 400, "BadRequest")
        code, _, body = self.fk.request("GET", self.pods_path("fieldSelector=spec.bogus%3D1"))
        self.assertEqual(code, 400)

    def test_list_shape_and_not_found(self):
        self.add_pod("p")
        code, _, body = self.fk.request("GET", self.pods_path())
        self.assertEqual((body["kind"], body["apiVersion"]), ("PodList", "v1"))
        self.assertTrue(body["metadata"]["resourceVersion"].isdigit())
        pod = body["items"][0]
        self.assertNotIn("kind", pod)  # like the real server: list items carry no TypeMeta
        md = pod["metadata"]
        for f in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp"):
            self.assertIn(f, md)
        self.assertEqual(pod["status"]["phase"], "Running")
        self.assertIn({"type": "Ready", "status": "True"}, [
            {"type": c["type"], "status": c["status"]} for c in pod["status"]["conditions"]])
        code, _, body = self.fk.request("GET", self.pods_path() + "/nope")
        self.assertEqual(code, 404)
        self.assertStatus(body, 404, "NotFound")
        self.assertEqual(body["message"], 'pods "nope" not found')
        self.assertEqual(body["details"], {"name": "nope", "kind": "pods"})

    def test_paging_is_a_consistent_snapshot_and_expires(self):
        for i in range(5):
            self.add_pod("p%d" % i)
        code, _, page = self.fk.request("GET", self.pods_path("limit=2"))
        rv = page["metadata"]["resourceVersion"]
        self.assertEqual([p["metadata"]["name"] for p in page["items"]], ["p0", "p1"])
        self.assertEqual(page["metadata"]["remainingItemCount"], 3)
        token = page["metadata"]["continue"]
        self.fk.control("delete", resource="pods", namespace=self.ns, name="p3")
        self.add_pod("p9")
        names = []
        while token:
            code, _, page = self.fk.request("GET", self.pods_path(
                "limit=2&continue=" + urllib_quote(token)))
            self.assertEqual(code, 200, page)
            self.assertEqual(page["metadata"]["resourceVersion"], rv)
            names += [p["metadata"]["name"] for p in page["items"]]
            token = page["metadata"].get("continue")
        self.assertEqual(names, ["p2", "p3", "p4"])  # as of the first page's resourceVersion
        code, _, page = self.fk.request("GET", self.pods_path("limit=2"))
        token = page["metadata"]["continue"]
        self.add_pod("p10")
        self.fk.control("compact", expire_watches=False)
        code, _, body = self.fk.request("GET", self.pods_path("limit=2&continue=" +
                                                              urllib_quote(token)))
        self.assertEqual(code, 410)
        self.assertStatus(body, 410, "Expired")

    def test_table_output(self):
        self.add_pod("t", podIP="10.1.2.3")
        code, _, body = self.fk.request("GET", self.pods_path(), headers={
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
        self.assertEqual(body["kind"], "Table")
        self.assertEqual([c["name"] for c in body["columnDefinitions"]][:5],
                         ["Name", "Ready", "Status", "Restarts", "Age"])
        self.assertEqual(body["rows"][0]["cells"][:3], ["t", "1/1", "Running"])
        self.assertEqual(body["rows"][0]["object"]["kind"], "PartialObjectMetadata")


def urllib_quote(s):
    return urllib.parse.quote(s, safe="")


class WatchTest(ServerTest):
    def test_events_from_a_resource_version(self):
        self.add_pod("w0")
        _, _, body = self.fk.request("GET", self.pods_path())
        rv = body["metadata"]["resourceVersion"]
        self.add_pod("w1", labels={"app": "redis"})
        w = self.fk.watch(self.pods_path("watch=1&resourceVersion=" + rv))
        self.assertEqual(w.status, 200)
        self.assertEqual(w.headers.get("Transfer-Encoding"), "chunked")
        ev = w.next()
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "w1"))
        self.assertEqual(ev["object"]["kind"], "Pod")
        self.fk.control("update_pod", namespace=self.ns, name="w1", ready=False)
        ev2 = w.next()
        self.assertEqual(ev2["type"], "MODIFIED")
        self.assertGreater(int(ev2["object"]["metadata"]["resourceVersion"]),
                           int(ev["object"]["metadata"]["resourceVersion"]))
        self.fk.control("delete", resource="pods", namespace=self.ns, name="w1")
        self.assertEqual(w.next()["type"], "DELETED")
        w.close()

    def test_watch_without_resource_version_starts_with_the_current_state(self):
        self.add_pod("s0")
        w = self.fk.watch(self.pods_path("watch=true"))
        ev = w.next()
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "s0"))
        w.close()

    def test_selector_transitions_are_added_and_deleted(self):
        self.add_pod("x", labels={"app": "redis"})
        _, _, body = self.fk.request("GET", self.pods_path())
        w = self.fk.watch(self.pods_path("watch=1&labelSelector=app%3Dredis&resourceVersion="
                                         + body["metadata"]["resourceVersion"]))
        self.fk.control("update_pod", namespace=self.ns, name="x", labels={"app": "gone"})
        self.fk.control("update_pod", namespace=self.ns, name="x", labels={"app": "redis"})
        self.assertEqual([w.next()["type"], w.next()["type"]], ["DELETED", "ADDED"])
        w.close()

    def test_too_old_resource_version_is_410_status(self):
        self.fk.control("configure", history_size=3)
        self.add_pod("o0")
        rv = self.fk.control("state")["resourceVersion"]
        for i in range(1, 5):
            self.add_pod("o%d" % i)
        w = self.fk.watch(self.pods_path("watch=1&resourceVersion=%d" % rv))
        self.assertEqual(w.status, 410)
        self.assertStatus(w.body(), 410, "Expired")
        w.close()
        # the same in-stream, when configured so (what the real watch cache does)
        self.fk.control("configure", too_old_watch="event")
        w = self.fk.watch(self.pods_path("watch=1&resourceVersion=%d" % rv))
        self.assertEqual(w.status, 200)
        ev = w.next()
        self.assertEqual(ev["type"], "ERROR")
        self.assertStatus(ev["object"], 410, "Expired")
        self.assertIsNone(w.next())
        w.close()

    def test_compaction_while_watching_is_an_in_stream_410(self):
        self.add_pod("c0")
        rv = self.fk.control("state")["resourceVersion"]
        w = self.fk.watch(self.pods_path("watch=1&resourceVersion=%d" % rv))
        self.add_pod("c1")
        self.assertEqual(w.next()["type"], "ADDED")
        self.fk.control("compact")
        ev = w.next()
        self.assertEqual(ev["type"], "ERROR")
        self.assertStatus(ev["object"], 410, "Expired")
        self.assertIsNone(w.next())  # and the stream ends
        w.close()

    def test_bookmarks_periodically_and_at_timeout(self):
        self.fk.control("configure", bookmark_interval=0.3)
        self.add_pod("b0")
        rv = self.fk.control("state")["resourceVersion"]
        started = time.monotonic()
        w = self.fk.watch(self.pods_path("watch=1&allowWatchBookmarks=true&timeoutSeconds=2"
                                         "&resourceVersion=%d" % rv))
        self.add_pod("b1")
        events = []
        while True:
            ev = w.next()
            if ev is None:
                break
            events.append(ev)
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 1.9)
        self.assertLess(elapsed, 5)
        types = [e["type"] for e in events]
        self.assertEqual(types[0], "ADDED")
        self.assertGreaterEqual(types.count("BOOKMARK"), 4, types)
        self.assertEqual(types[-1], "BOOKMARK")
        bm = events[-1]["object"]
        self.assertEqual(bm["kind"], "Pod")
        self.assertEqual(bm["metadata"]["resourceVersion"],
                         events[0]["object"]["metadata"]["resourceVersion"])
        w.close()

    def test_wire_format_is_one_chunk_per_json_line(self):
        self.add_pod("r0")
        s = socket.create_connection(("127.0.0.1", self.fk.port), timeout=10)
        s = self.fk.ssl_context().wrap_socket(s, server_hostname="127.0.0.1")
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                   % (self.pods_path("watch=1&timeoutSeconds=1"), self.fk.token)).encode())
        data = b""
        deadline = time.monotonic() + 10
        while not data.endswith(b"\r\n0\r\n\r\n") and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertIn(b"Transfer-Encoding: chunked", head)
        size, rest = body.split(b"\r\n", 1)
        payload = rest[:int(size, 16)]
        self.assertTrue(payload.endswith(b"}\n"), payload)
        self.assertEqual(json.loads(payload)["type"], "ADDED")
        self.assertTrue(rest[int(size, 16):].startswith(b"\r\n0\r\n\r\n"))


class WriteTest(ServerTest):
    def lease_path(self, name=""):
        return "/apis/coordination.k8s.io/v1/namespaces/%s/leases%s" % (
            self.ns, "/" + name if name else "")

    def test_lease_contention_is_a_409_on_a_stale_resource_version(self):
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": "leader"},
                 "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}
        code, _, created = self.fk.request("POST", self.lease_path(), lease)
        self.assertEqual(code, 201, created)
        code, _, body = self.fk.request("POST", self.lease_path(), lease)
        self.assertEqual(code, 409)
        self.assertStatus(body, 409, "AlreadyExists")
        # two clients read the same version; the first update wins, the second gets a Conflict
        _, _, a = self.fk.request("GET", self.lease_path("leader"))
        _, _, b = self.fk.request("GET", self.lease_path("leader"))
        a["spec"]["holderIdentity"] = "client-a"
        b["spec"]["holderIdentity"] = "client-b"
        code, _, won = self.fk.request("PUT", self.lease_path("leader"), a)
        self.assertEqual(code, 200, won)
        self.assertNotEqual(won["metadata"]["resourceVersion"], a["metadata"]["resourceVersion"])
        code, _, body = self.fk.request("PUT", self.lease_path("leader"), b)
        self.assertEqual(code, 409)
        self.assertStatus(body, 409, "Conflict")
        self.assertEqual(body["details"], {"name": "leader", "group": "coordination.k8s.io",
                                           "kind": "leases"})
        _, _, now = self.fk.request("GET", self.lease_path("leader"))
        self.assertEqual(now["spec"]["holderIdentity"], "client-a")
        code, _, _ = self.fk.request("DELETE", self.lease_path("leader"))
        self.assertEqual(code, 200)
        self.assertEqual(self.fk.request("GET", self.lease_path("leader"))[0], 404)

    def test_custom_resource_merge_patch_and_status(self):
        path = "/apis/redis.io/v1/namespaces/%s/redisbackups" % self.ns
        rb = {"apiVersion": "redis.io/v1", "kind": "RedisBackup",
              "metadata": {"name": "nightly"}, "spec": {"cluster": "redis", "store": "s3://b"}}
        code, _, obj = self.fk.request("POST", path, rb)
        self.assertEqual((code, obj["metadata"]["generation"]), (201, 1))
        w = self.fk.watch(path + "?watch=1&resourceVersion=" + obj["metadata"]["resourceVersion"])
        merge = "application/merge-patch+json"
        code, _, obj = self.fk.request("PATCH", path + "/nightly", {
            "spec": {"store": None, "keep": 3}, "status": {"phase": "Ignored"}}, ctype=merge)
        self.assertEqual(code, 200, obj)
        self.assertEqual(obj["spec"], {"cluster": "redis", "keep": 3})
        self.assertNotIn("status", obj)  # the main endpoint ignores status
        self.assertEqual(obj["metadata"]["generation"], 2)
        code, _, obj = self.fk.request("PATCH", path + "/nightly/status", {
            "status": {"phase": "Running"}, "spec": {"keep": 9}}, ctype=merge)
        self.assertEqual(code, 200, obj)
        self.assertEqual((obj["status"], obj["spec"]["keep"], obj["metadata"]["generation"]),
                         ({"phase": "Running"}, 3, 2))
        self.assertEqual([w.next()["type"], w.next()["object"]["status"]["phase"]],
                         ["MODIFIED", "Running"])
        w.close()
        code, _, body = self.fk.request("PATCH", path + "/nightly", {"spec": {}},
                                        ctype="application/strategic-merge-patch+json")
        self.assertEqual(code, 415)
        code, _, body = self.fk.request("PATCH", path + "/nightly", {
            "metadata": {"resourceVersion": "1"}, "spec": {"keep": 1}}, ctype=merge)
        self.assertEqual(code, 409)
        code, _, obj = self.fk.request("PATCH", path + "/nightly", [
            {"op": "replace", "path": "/spec/keep", "value": 4}],
            ctype="application/json-patch+json")
        self.assertEqual((code, obj["spec"]["keep"]), (200, 4))

    def test_pod_status_subresource_and_events(self):
        self.add_pod("s")
        code, _, obj = self.fk.request("PATCH", self.pods_path() + "/s/status", {
            "status": {"phase": "Failed"}}, ctype="application/merge-patch+json")
        self.assertEqual((code, obj["status"]["phase"]), (200, "Failed"))
        ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "s."},
              "involvedObject": {"kind": "Pod", "name": "s", "namespace": self.ns},
              "reason": "Healed", "message": "replica promoted", "type": "Normal",
              "source": {"component": "kage"}}
        code, _, created = self.fk.request("POST", "/api/v1/namespaces/%s/events" % self.ns, ev)
        self.assertEqual(code, 201, created)
        self.assertTrue(created["metadata"]["name"].startswith("s."))
        _, _, events = self.fk.request("GET", "/api/v1/namespaces/%s/events" % self.ns)
        self.assertEqual([e["reason"] for e in events["items"]], ["Healed"])


class ExecTest(ServerTest):
    def test_stdout_stderr_and_exit_code(self):
        self.add_pod("e", env={"NODECONF_FILE_PATH": "/data/nodes.conf"})
        d = self.fk.control("pod_runtime", namespace=self.ns, name="e")["dir"]
        with open(os.path.join(d, "file"), "w") as f:
            f.write("content\n")
        ws = self.fk.exec_ws(self.ns, "e", ["sh", "-c", "cat file; echo $NODECONF_FILE_PATH; "
                                                         "echo oops >&2; exit 3"])
        self.assertEqual((ws.status, ws.protocol), (101, "v5.channel.k8s.io"))
        out, err, status, frames = ws.run()
        self.assertEqual(frames[0], (2, b"\x01"))  # the kubelet's empty first message
        self.assertEqual(out, b"content\n/data/nodes.conf\n")
        self.assertEqual(err, b"oops\n")
        self.assertEqual(status["status"], "Failure")
        self.assertEqual(status["reason"], "NonZeroExitCode")
        self.assertEqual(status["details"]["causes"], [{"reason": "ExitCode", "message": "3"}])
        ws = self.fk.exec_ws(self.ns, "e", ["true"], protocols=["v4.channel.k8s.io"])
        self.assertEqual(ws.protocol, "v4.channel.k8s.io")
        self.assertEqual(ws.run()[2], {"metadata": {}, "status": "Success"})

    def test_stdin_and_v5_close(self):
        self.add_pod("i")
        ws = self.fk.exec_ws(self.ns, "i", ["sh", "-c", "wc -c"], stdin=True)
        ws.send(b"\x00" + b"x" * 1000)
        ws.send(b"are you there", opcode=0x9)
        ws.send(b"\xff\x00")  # v5: close stdin
        out, _, status, frames = ws.run()
        self.assertEqual((out.strip(), status["status"]), (b"1000", "Success"))
        self.assertIn((0xA, b"a"), frames)  # the pong, carrying the ping's payload

    def test_errors_before_upgrade(self):
        self.add_pod("p", phase="Pending")
        ws = self.fk.exec_ws(self.ns, "p", ["true"])
        self.assertEqual(ws.status, 400)
        self.add_pod("q")
        ws = self.fk.exec_ws(self.ns, "q", ["true"], protocols=["channel.k8s.io"])
        self.assertEqual(ws.status, 400)
        ws = self.fk.exec_ws(self.ns, "q", ["true"], token="bad")
        self.assertEqual(ws.status, 401)
        ws = self.fk.exec_ws(self.ns, "nope", ["true"])
        self.assertEqual(ws.status, 404)

    def test_100_mb_output_streams_with_bounded_memory(self):
        self.add_pod("big")
        size = 100 * 1024 * 1024
        ws = self.fk.exec_ws(self.ns, "big", ["head", "-c", str(size), "/dev/zero"], timeout=60)
        got = [0]

        def count(ch, payload):
            if ch == 1:
                got[0] += len(payload)
                if got[0] < 4 << 20:
                    time.sleep(0.001)  # a slow reader at first: the server must wait, not buffer
        _, _, status, _ = ws.run(on_data=count)
        self.assertEqual((got[0], status["status"]), (size, "Success"))
        with open("/proc/%d/status" % self.fk.proc.pid) as f:
            hwm = [l for l in f if l.startswith("VmHWM")][0]
        self.assertLess(int(hwm.split()[1]), 80 * 1024, hwm)  # kB; far below the 100 MB output


class InjectionTest(ServerTest):
    def test_status_codes_then_recovery(self):
        self.fk.control("inject", path_prefix=self.pods_path(), count=2, code=500)
        for _ in range(2):
            code, _, body = self.fk.request("GET", self.pods_path())
            self.assertEqual(code, 500)
            self.assertStatus(body, 500, "InternalError")
        self.assertEqual(self.fk.request("GET", self.pods_path())[0], 200)
        self.fk.control("inject", path_prefix=self.pods_path(), code=429, retry_after=2)
        code, headers, body = self.fk.request("GET", self.pods_path())
        self.assertEqual((code, headers.get("Retry-After")), (429, "2"))
        self.assertStatus(body, 429, "TooManyRequests")
        self.assertEqual(body["details"]["retryAfterSeconds"], 2)
        log = self.fk.control("requests")["requests"]
        self.assertEqual([r["code"] for r in log if r["path"] == self.pods_path()][-4:],
                         [500, 500, 200, 429])

    def test_reset_and_watch_only_matching(self):
        self.fk.control("inject", path_prefix=self.pods_path(), action="reset", watch=True)
        self.assertEqual(self.fk.request("GET", self.pods_path())[0], 200)  # not a watch
        with self.assertRaises((ConnectionError, http.client.HTTPException, ssl.SSLError)):
            self.fk.request("GET", self.pods_path("watch=1"))
        self.assertEqual(self.fk.control("injections")["injections"][0]["hits"], 1)

    def test_cut_a_watch_stream_after_k_bytes(self):
        for i in range(20):
            self.add_pod("p%d" % i)
        self.fk.control("inject", path_prefix=self.pods_path(), action="cut", bytes=3000,
                        watch=True)
        w = self.fk.watch(self.pods_path("watch=1"))
        events = 0
        with self.assertRaises((ConnectionError, http.client.HTTPException, ValueError,
                                ssl.SSLError)):
            while True:
                ev = w.next()
                if ev is None:
                    break
                events += 1
        w.close()
        self.assertGreater(events, 0)
        self.assertLess(events, 20)

    def test_cut_an_exec_stream(self):
        self.add_pod("x")
        self.fk.control("inject", path_prefix=self.pods_path() + "/x/exec", action="cut",
                        bytes=100000)
        ws = self.fk.exec_ws(self.ns, "x", ["head", "-c", "1000000", "/dev/zero"])
        got = [0]

        def count(ch, payload):
            got[0] += len(payload)
        with self.assertRaises((EOFError, ConnectionError, ssl.SSLError)):
            ws.run(on_data=count)
        ws.sock.close()
        self.assertGreater(got[0], 0)
        self.assertLess(got[0], 100000)

    def test_delay(self):
        self.fk.control("inject", path_prefix=self.pods_path(), action="delay", delay=1.0)
        started = time.monotonic()
        conn = self.fk.connection()
        conn.request("GET", self.pods_path(), headers=self.fk.headers(None))
        resp = conn.getresponse()
        self.assertEqual((resp.status, json.loads(resp.read())["kind"]), (200, "PodList"))
        self.assertGreaterEqual(time.monotonic() - started, 1.0)
        conn.request("GET", "/version")  # the same connection goes on with one answer each
        resp = conn.getresponse()
        self.assertEqual(json.loads(resp.read())["major"], "1")
        conn.close()


class RestartTest(ServerTest):
    def test_restart_mid_watch_keeps_state_and_forgets_history(self):
        self.add_pod("k")
        rv = self.fk.control("state")["resourceVersion"]
        w = self.fk.watch(self.pods_path("watch=1&resourceVersion=%d" % rv))
        result = {}

        def restart():
            result["r"] = self.fk.control("restart", keep_state=True, down_seconds=1.0)
        t = threading.Thread(target=restart)
        t.start()
        with self.assertRaises((ConnectionError, http.client.HTTPException, ssl.SSLError,
                                ValueError)):
            if w.next() is not None:  # the stream ends, cleanly or not
                self.fail("no event expected")
            raise ConnectionError("stream ended")
        w.close()
        time.sleep(0.3)
        with self.assertRaises(OSError):
            self.fk.request("GET", self.pods_path(), timeout=2)  # down: connection refused
        t.join(timeout=10)
        self.assertEqual(result["r"]["port"], self.fk.port)
        code, _, body = self.fk.request("GET", self.pods_path())
        self.assertEqual([p["metadata"]["name"] for p in body["items"]], ["k"])
        w = self.fk.watch(self.pods_path("watch=1&resourceVersion=%d" % (rv - 1)))
        self.assertEqual(w.status, 410)
        w.close()
        self.fk.control("restart", keep_state=False)
        code, _, body = self.fk.request("GET", self.pods_path())
        self.assertEqual(body["items"], [])


class PlainHttpTest(ServerTest):
    tls = False

    def test_plain_http_list_and_watch(self):
        self.add_pod("h")
        code, _, body = self.fk.request("GET", self.pods_path())
        self.assertEqual((code, len(body["items"])), (200, 1))
        w = self.fk.watch(self.pods_path("watch=1"))
        self.assertEqual(w.next()["object"]["metadata"]["name"], "h")
        w.close()

    def test_reset_is_a_tcp_rst_and_cut_close_a_clean_eof(self):
        def get(path):
            s = socket.create_connection(("127.0.0.1", self.fk.port), timeout=10)
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                       % (path, self.fk.token)).encode())
            data = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return data
                    data += chunk
            finally:
                s.close()
        self.fk.control("inject", path_prefix=self.pods_path(), action="reset")
        with self.assertRaises(ConnectionResetError):
            get(self.pods_path())
        self.add_pod("h")
        self.fk.control("inject", path_prefix=self.pods_path(), action="cut", bytes=50,
                        how="close")
        data = get(self.pods_path("watch=1"))
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertIn(b"200 OK", head)
        self.assertEqual(len(body), 50)


if __name__ == "__main__":
    unittest.main(verbosity=2)
