"""Starts fake_kube.py as a subprocess and talks to it: the control interface, plain HTTP(S)
requests, watch streams and WebSocket exec, all with deadlines. Used by the fake_kube tests."""
import atexit
import base64
import http.client
import json
import os
import random
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "fake_kube.py")
sys.path.insert(0, HERE)
import fake_kube  # noqa: E402


def free_port(avoid=()):
    """A free port in 20000-29999 on 127.0.0.1, found with a bind probe."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        if port in avoid:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port found in 20000-29999")


_certs = None


def shared_certs():
    """One set of certificates per test process (openssl runs once), removed at exit."""
    global _certs
    if _certs is None:
        _certs = tempfile.mkdtemp(prefix="fake_kube_certs.")
        atexit.register(shutil.rmtree, _certs, True)
        fake_kube.make_certs(os.path.join(_certs, "certs"))
    return os.path.join(_certs, "certs")


class FakeKube:
    def __init__(self, tls=True, token="test-token", history_size=1000, extra_args=()):
        self.dir = tempfile.mkdtemp(prefix="fake_kube.")
        self.tls, self.token = tls, token
        self.history_size, self.extra_args = history_size, list(extra_args)
        self.proc = None
        self.certs = os.path.join(self.dir, "certs")
        self.pods_root = os.path.join(self.dir, "pods")
        self.log_path = os.path.join(self.dir, "server.log")

    def start(self, deadline_s=20):
        if self.tls:
            shutil.copytree(shared_certs(), self.certs)
        self.port = free_port()
        self.control_port = free_port(avoid=(self.port,))
        ready = os.path.join(self.dir, "ready.json")
        cmd = [sys.executable, SERVER, "serve", "--port", str(self.port), "--control-port",
               str(self.control_port), "--token", self.token, "--pods-root", self.pods_root,
               "--history-size", str(self.history_size), "--ready-file", ready]
        if self.tls:
            cmd += ["--tls-cert", os.path.join(self.certs, "server.crt"), "--tls-key",
                    os.path.join(self.certs, "server.key"), "--client-ca",
                    os.path.join(self.certs, "ca.crt")]
        cmd += self.extra_args
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.dir)
        deadline = time.monotonic() + deadline_s
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise RuntimeError("fake_kube exited with %s:\n%s" % (self.proc.returncode,
                                                                     self.server_log()))
            if time.monotonic() > deadline:
                raise RuntimeError("fake_kube not ready within %ss:\n%s" % (deadline_s,
                                                                            self.server_log()))
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc:
            self.log.close()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def server_log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-20000:]
        except OSError:
            return ""

    # -- control -------------------------------------------------------------------------------
    def control(self, command, **args):
        conn = http.client.HTTPConnection("127.0.0.1", self.control_port, timeout=30)
        try:
            conn.request("POST", "/" + command, body=json.dumps(args),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            body = json.loads(resp.read() or b"null")
            if resp.status != 200:
                raise RuntimeError("control %s failed (%d): %s" % (command, resp.status, body))
            return body
        finally:
            conn.close()

    # -- API clients ---------------------------------------------------------------------------
    @property
    def server_url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    def ssl_context(self, client_cert=False):
        ctx = ssl.create_default_context(cafile=os.path.join(self.certs, "ca.crt"))
        if client_cert:
            ctx.load_cert_chain(os.path.join(self.certs, "client.crt"),
                                os.path.join(self.certs, "client.key"))
        return ctx

    def connection(self, timeout=10, client_cert=False):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=self.ssl_context(client_cert))
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def headers(self, token, extra=None, ctype="application/json"):
        h = {"Accept": "application/json"}
        if ctype:
            h["Content-Type"] = ctype
        if token is None:
            token = self.token
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(extra or {})
        return h

    def request(self, method, path, body=None, token=None, ctype="application/json",
                headers=None, timeout=10, client_cert=False):
        """(status, headers, parsed JSON body or text)."""
        conn = self.connection(timeout, client_cert)
        try:
            data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
            conn.request(method, path, body=data, headers=self.headers(token, headers, ctype))
            resp = conn.getresponse()
            raw = resp.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            return resp.status, dict(resp.getheaders()), parsed
        finally:
            conn.close()

    def watch(self, path, token=None, timeout=10, headers=None):
        """An open watch: (status, Watch) where Watch.next(deadline_s) yields events."""
        conn = self.connection(timeout)
        conn.request("GET", path, headers=self.headers(token, headers, None))
        resp = conn.getresponse()
        return Watch(conn, resp)

    def kubeconfig(self, token=None, client_cert=False):
        path = os.path.join(self.dir, "kubeconfig-%d.json" % random.randint(0, 1 << 30))
        ca = os.path.join(self.certs, "ca.crt") if self.tls else None
        cfg = fake_kube.kubeconfig(
            self.server_url, ca, self.token if token is None else token,
            os.path.join(self.certs, "client.crt") if client_cert else None,
            os.path.join(self.certs, "client.key") if client_cert else None)
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def exec_ws(self, ns, pod, command, protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"),
                stdin=False, token=None, timeout=20, container=None):
        q = [("command", c) for c in command] + [("stdout", "true"), ("stderr", "true")]
        if stdin:
            q.append(("stdin", "true"))
        if container:
            q.append(("container", container))
        path = "/api/v1/namespaces/%s/pods/%s/exec?%s" % (ns, pod, urllib.parse.urlencode(q))
        return WebSocketClient(self, path, protocols, token, timeout)


class Watch:
    def __init__(self, conn, resp):
        self.conn, self.resp, self.status = conn, resp, resp.status
        self.headers = dict(resp.getheaders())

    def body(self):
        return json.loads(self.resp.read())

    def next(self):
        """The next event, or None at the end of the stream; socket timeout is the deadline."""
        line = self.resp.readline()
        if not line:
            return None
        return json.loads(line)

    def close(self):
        self.conn.close()


class WebSocketClient:
    """A minimal RFC 6455 client for the exec subresource (masks its frames, as it must)."""

    def __init__(self, fk, path, protocols, token, timeout):
        raw = socket.create_connection(("127.0.0.1", fk.port), timeout=timeout)
        self.sock = fk.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1") \
            if fk.tls else raw
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: %s\r\nAuthorization: Bearer %s\r\n\r\n"
               % (path, fk.port, key, ", ".join(protocols), token or fk.token))
        self.sock.sendall(req.encode())
        self.buf, self.pos = bytearray(), 0
        head = self._read_until(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
                        for l in lines[1:] if ":" in l}
        self.protocol = self.headers.get("sec-websocket-protocol")
        self.error_body = None
        if self.status != 101:
            n = int(self.headers.get("content-length", 0))
            self.error_body = json.loads(self._read(n))
            self.sock.close()

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed")
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data

    def _read_until(self, marker):
        while self.buf.find(marker, self.pos) < 0:
            self._fill()
        end = self.buf.find(marker, self.pos)
        head = bytes(self.buf[self.pos:end])
        self.pos = end + len(marker)
        return head

    def _read(self, n):
        while len(self.buf) - self.pos < n:
            self._fill()
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return out

    def send(self, payload, opcode=0x2):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def frame(self):
        """(opcode, payload) of the next frame from the server (which must not mask)."""
        b1, b2 = self._read(2)
        assert not b2 & 0x80, "server frames must not be masked"
        n = b2 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        return b1 & 0x0F, self._read(n)

    def run(self, on_data=None):
        """Reads to the close frame: (stdout bytes, stderr bytes, status dict, frames)."""
        out, err, status, frames = [], [], None, []
        while True:
            op, data = self.frame()
            frames.append((op, data[:1]))
            if op == 0x8:
                self.send(data[:2], 0x8)
                break
            if op != 0x2 or not data:
                continue
            ch, payload = data[0], data[1:]
            if on_data:
                on_data(ch, payload)
            elif ch == 1:
                out.append(payload)
            elif ch == 2:
                err.append(payload)
            if ch == 3 and payload:
                status = json.loads(payload)
        self.sock.close()
        return b"".join(out), b"".join(err), status, frames
