#!/usr/bin/env python3
"""An HTTP proxy in front of an S3 server that injects failures, for kage's retry tests.

  s3_fault_proxy.py PORT UPSTREAM_PORT MODE [STATS_FILE]
STATS_FILE, when given, holds the most UploadPart requests that were in flight at once.
MODE: "fail-parts:N"  the first N UploadPart requests get HTTP 500 InternalError
      "fail-parts-after:N"  every UploadPart after the first N gets HTTP 500
      "delay-parts:MS"  every UploadPart waits MS milliseconds before it is forwarded
      "mangle-parts:N"  every UploadPart after the first N is stored, but answered with another
                        ETag and x-amz-checksum-sha256 than the bytes have (a corrupting store)
      "chaos:N"  every Nth request of any kind fails before it reaches S3, in turn with a
                 connection reset (no answer), HTTP 503 SlowDown and HTTP 500 InternalError; the
                 counts go to STATS_FILE.injected as "500 503 reset"
Everything else is forwarded unchanged (the Host header too, so signatures still verify).
"""
import http.client
import http.server
import os
import socket
import struct
import sys
import threading
import time

port, upstream, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
stats_file = sys.argv[4] if len(sys.argv) > 4 else None
kind, _, count = mode.partition(":")
count = int(count)
lock = threading.Lock()
parts_seen = 0
parts_now = parts_max = 0


def count_part(delta):
    global parts_now, parts_max
    with lock:
        parts_now += delta
        if parts_now > parts_max:
            parts_max = parts_now
            if stats_file:
                with open(stats_file + ".tmp", "w") as f:
                    f.write(str(parts_max))
                os.replace(stats_file + ".tmp", stats_file)

injected = {"500": 0, "503": 0, "reset": 0}
requests_seen = 0


def chaos_pick():
    """The failure this request gets in chaos mode, or None."""
    global requests_seen
    with lock:
        requests_seen += 1
        if requests_seen % count:
            return None
        what = ("reset", "503", "500")[(requests_seen // count - 1) % 3]
        injected[what] += 1
        if stats_file:
            with open(stats_file + ".injected.tmp", "w") as f:
                f.write(" ".join(str(injected[k]) for k in ("500", "503", "reset")))
            os.replace(stats_file + ".injected.tmp", stats_file + ".injected")
        return what


SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b'<Message>Please reduce your request rate. (injected)</Message></Error>')

ERROR = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
         b'<Message>injected by s3_fault_proxy</Message></Error>')


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        is_part = self.command == "PUT" and "partNumber=" in self.path
        if is_part:
            count_part(1)
        try:
            self.forward()
        finally:
            if is_part:
                count_part(-1)

    def forward(self):
        global parts_seen
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length) if length else b""
        fail = mangle = False
        if self.command == "PUT" and "partNumber=" in self.path:
            with lock:
                parts_seen += 1
                n = parts_seen
            fail = (kind == "fail-parts" and n <= count) or (kind == "fail-parts-after" and n > count)
            mangle = kind == "mangle-parts" and n > count
        if kind == "delay-parts" and self.command == "PUT" and "partNumber=" in self.path:
            time.sleep(count / 1000)
        chaos = chaos_pick() if kind == "chaos" else None
        if chaos == "reset":
            # An abortive close: the client sees ECONNRESET, not an answer.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if chaos == "503":
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOW_DOWN)))
            self.end_headers()
            self.wfile.write(SLOW_DOWN)
            return
        if fail or chaos == "500":
            self.send_response(500)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(ERROR)))
            self.end_headers()
            self.wfile.write(ERROR)
            return
        conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items()}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if mangle and k.lower() in ("etag", "x-amz-checksum-sha256"):
                continue
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        if mangle:
            self.send_header("ETag", '"' + "0" * 32 + '"')
            self.send_header("x-amz-checksum-sha256", "A" * 43 + "=")
        # A HEAD answer has no body but the object's length.
        length = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
