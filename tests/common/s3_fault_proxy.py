#!/usr/bin/env python3
"""An HTTP proxy in front of an S3 server that injects failures, for kage's retry tests.

  s3_fault_proxy.py PORT UPSTREAM_PORT MODE [STATS_FILE]
STATS_FILE, when given, holds the most UploadPart requests that were in flight at once.
MODE: "fail-parts:N"  the first N UploadPart requests get HTTP 500 InternalError
      "fail-parts-after:N"  every UploadPart after the first N gets HTTP 500
      "delay-parts:MS"  every UploadPart waits MS milliseconds before it is forwarded
      "mangle-parts:N"  every UploadPart after the first N is stored, but answered with another
                        ETag and x-amz-checksum-sha256 than the bytes have (a corrupting store)
Everything else is forwarded unchanged (the Host header too, so signatures still verify).
"""
import http.client
import http.server
import os
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
        if fail:
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
