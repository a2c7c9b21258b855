#!/usr/bin/env python3
"""A hostile Redis node for tests: a standalone server holding one key 'k' that answers the
handshake, INFO and SCAN like Redis 7.0, but lies where --mode says.

  --mode flipped-crc  DUMP answers a payload whose CRC64 does not match
  --mode text         DUMP answers the bulk string 'hello world'
  --mode integer      DUMP answers :5
  --mode escape       DUMP answers an error whose text holds terminal escape sequences
  --mode trickle      every reply after the handshake is sent one byte per second
  --mode trickle-all  every reply, the handshake's too, is sent one byte per second

Listens on 127.0.0.1:--port; prints "ready" once listening. Standard library only.
"""
import argparse
import socket
import socketserver
import struct
import sys
import threading
import time

CRC64_POLY = 0x95AC9329AC4BC9B5  # Jones, reflected: Redis' crc64


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ CRC64_POLY if c & 1 else c >> 1
        t.append(c)
    return t


TABLE = _table()


def crc64(data, crc=0):
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def dump_payload(value):
    """DUMP of a string value as Redis 7.0 writes it: type 0, length-prefixed value, RDB 10."""
    assert len(value) < 64
    body = bytes([0, len(value)]) + value + struct.pack("<H", 10)
    return body + struct.pack("<Q", crc64(body))


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def read_command(f):
    line = f.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        return line.split()
    n = int(line[1:].strip())
    args = []
    for _ in range(n):
        size = int(f.readline()[1:].strip())
        args.append(f.read(size + 2)[:-2])
    return args


class Handler(socketserver.StreamRequestHandler):
    def send(self, data, trickle):
        if not trickle:
            self.wfile.write(data)
            self.wfile.flush()
            return
        for i in range(len(data)):
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            time.sleep(1)

    def handle(self):
        mode = self.server.mode
        while True:
            args = read_command(self.rfile)
            if args is None:
                return
            name = args[0].upper() if args else b""
            sub = args[1].upper() if len(args) > 1 else b""
            handshake = name in (b"CLIENT", b"PING", b"AUTH", b"HELLO")
            if name == b"CLIENT":
                reply = b"+OK\r\n"
            elif name == b"PING":
                reply = b"+PONG\r\n"
            elif name == b"CLUSTER":
                reply = b"-ERR This instance has cluster support disabled\r\n"
            elif name == b"INFO":
                text = (b"# Server\r\nredis_version:7.0.15\r\nrun_id:" + b"f" * 40 + b"\r\n"
                        b"# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n")
                reply = bulk(text)
            elif name == b"PEXPIRETIME" or name == b"PTTL":
                reply = b":-1\r\n" if args[1:] == [b"k"] else b":-2\r\n"
            elif name == b"FUNCTION":
                reply = b"*0\r\n"
            elif name == b"SCAN":
                reply = b"*2\r\n" + bulk(b"0") + b"*1\r\n" + bulk(b"k")
            elif name == b"DUMP":
                payload = dump_payload(b"value")
                if mode == "flipped-crc":
                    payload = payload[:-1] + bytes([payload[-1] ^ 1])
                    reply = bulk(payload)
                elif mode == "text":
                    reply = bulk(b"hello world")
                elif mode == "integer":
                    reply = b":5\r\n"
                elif mode == "escape":
                    reply = b"-ERR \x1b[2J\x1b[31mscreen cleared\x1b[0m\r\n"
                else:
                    reply = bulk(payload)
            else:
                reply = b"-ERR unknown command '" + name + b"'\r\n"
            self.send(reply, mode == "trickle-all" or (mode == "trickle" and not handshake))


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", required=True, choices=[
        "flipped-crc", "text", "integer", "escape", "trickle", "trickle-all", "honest"])
    a = p.parse_args()
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.mode = a.mode
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
