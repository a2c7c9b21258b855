#!/usr/bin/env python3
"""fake_kube: a fake Kubernetes API server for kage's tests (Python 3 standard library only).

  fake_kube.py serve --port P --control-port C [--tls-cert F --tls-key F [--client-ca F]]
                     [--token T[=USER]]... [--pods-root DIR] [--ready-file F] [--history-size N]
  fake_kube.py make-certs DIR      (openssl: ca.crt, server.crt/key for 127.0.0.1, client.crt/key)
  fake_kube.py kubeconfig --server URL [--ca F] [--token T] [--client-cert F --client-key F]

It speaks the API server's wire protocol for the few resources kage uses (pods with /status and
/exec, events, leases, CustomResourceDefinitions (an applied CRD's kind is served, with its
printer columns), the RedisBackup custom resource, SelfSubjectAccessReview, discovery) and
is driven by a control interface on a separate plain-HTTP port (see README.md).
"""
import argparse
import base64
import collections
import copy
import datetime
import hashlib
import http.server
import json
import os
import random
import re
import select
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

VERSION_INFO = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-fake-kube", "gitCommit": "0" * 40,
    "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.4",
    "compiler": "gc", "platform": "linux/amd64",
}
MAX_BODY = 3 * 1024 * 1024  # the real server's request body limit
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
EXEC_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"]
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_KEY_RE = re.compile(r"^([a-z0-9A-Z._/-]+)$")


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def parse_time(text):
    try:
        text = text.rstrip("Z").split(".")[0]
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (ValueError, AttributeError):
        return None


def human_age(timestamp):
    """The API server's duration.HumanDuration, as shown in the AGE column."""
    then = parse_time(timestamp)
    if then is None:
        return "<unknown>"
    s = max(0, int(time.time() - then))
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 120:
        return "%ds" % s
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if m < 180:
        return "%dm" % m
    if h < 8:
        return "%dh%dm" % (h, m % 60) if m % 60 else "%dh" % h
    if h < 48:
        return "%dh" % h
    if h < 192:
        return "%dd%dh" % (d, h % 24) if h % 24 else "%dd" % d
    return "%dd" % d


class ApiError(Exception):
    """A failure answered with a metav1.Status body."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers = details, headers or {}

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "reason": self.reason}
        if self.details:
            s["details"] = self.details
        s["code"] = self.code
        return s


REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
           413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
           429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
           504: "Timeout"}


def bad_request(message):
    return ApiError(400, "BadRequest", message)


# ---------------------------------------------------------------------------------------------
# Resource kinds

class Kind:
    def __init__(self, group, version, kind, plural, singular, namespaced=True, short=(),
                 status=False, builtin=True, verbs=ALL_VERBS, categories=(), extra_sub=(),
                 columns=None):
        self.group, self.version, self.kind = group, version, kind
        self.plural, self.singular, self.namespaced = plural, singular, namespaced
        self.short, self.status, self.builtin = list(short), status, builtin
        self.verbs, self.categories, self.extra_sub = list(verbs), list(categories), extra_sub
        self.api_version = version if not group else group + "/" + version
        self.qualified = plural if not group else plural + "." + group
        self.key = (group, plural)
        # A custom resource's additionalPrinterColumns: [{"name", "type", "jsonPath", ...}].
        self.columns = columns

    def details(self, name):
        d = {"name": name}
        if self.group:
            d["group"] = self.group
        d["kind"] = self.plural
        return d

    def not_found(self, name):
        return ApiError(404, "NotFound", '%s "%s" not found' % (self.qualified, name),
                        self.details(name))

    def conflict(self, name):
        return ApiError(409, "Conflict",
                        'Operation cannot be fulfilled on %s "%s": the object has been modified;'
                        " please apply your changes to the latest version and try again"
                        % (self.qualified, name), self.details(name))


KINDS = [
    Kind("", "v1", "Namespace", "namespaces", "namespace", namespaced=False, short=["ns"]),
    Kind("", "v1", "Pod", "pods", "pod", short=["po"], status=True, categories=["all"],
         extra_sub=("exec",)),
    Kind("", "v1", "Event", "events", "event", short=["ev"]),
    Kind("coordination.k8s.io", "v1", "Lease", "leases", "lease"),
    Kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
         "customresourcedefinition", namespaced=False, short=["crd", "crds"], status=True),
    # Served from the start (as if k8s/deploy/redisbackup-crd.yaml had been applied); applying
    # a CRD replaces it, or adds any other custom kind (register_crd).
    Kind("redis.io", "v1", "RedisBackup", "redisbackups", "redisbackup", short=["rb"],
         status=True, builtin=False, categories=["all"], columns=[
             {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
             {"name": "Size", "type": "integer", "jsonPath": ".status.backupSize"},
             {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
             {"name": "Path", "type": "string", "jsonPath": ".status.backupPath"}]),
]
KIND_BY_PATH = {(k.group, k.version, k.plural): k for k in KINDS}
KIND_BY_PLURAL = {k.plural: k for k in KINDS}


def register_crd(crd):
    """Serves the kind a CustomResourceDefinition declares (its served storage version, names,
    scope, status subresource, printer columns), replacing a kind of the same group and plural."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural = spec.get("group"), names.get("plural")
    versions = [v for v in spec.get("versions") or [] if v.get("served", True)]
    if not group or not plural or not names.get("kind") or not versions:
        raise ApiError(422, "Invalid", "CustomResourceDefinition.apiextensions.k8s.io \"%s\" is "
                       "invalid: spec: group, names.plural, names.kind and a served version are "
                       "required" % (crd.get("metadata") or {}).get("name", ""))
    v = next((x for x in versions if x.get("storage")), versions[0])
    kind = Kind(group, v["name"], names["kind"], plural, names.get("singular") or plural.lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short=names.get("shortNames") or (), builtin=False,
                status="status" in ((v.get("subresources") or {})),
                categories=names.get("categories") or (),
                columns=v.get("additionalPrinterColumns"))
    KINDS[:] = [k for k in KINDS if k.key != kind.key] + [kind]
    KIND_BY_PATH.clear()
    KIND_BY_PATH.update({(k.group, k.version, k.plural): k for k in KINDS})
    KIND_BY_PLURAL.clear()
    KIND_BY_PLURAL.update({k.plural: k for k in KINDS})


def json_path_value(obj, path):
    """A printer column's simple JSONPath (.a.b.c) on obj; None when absent."""
    at = obj
    for part in (path or "").strip().lstrip(".").split("."):
        if not part:
            continue
        if not isinstance(at, dict) or part not in at:
            return None
        at = at[part]
    return at
SSAR_GROUP, SSAR_VERSION, SSAR_PLURAL = "authorization.k8s.io", "v1", "selfsubjectaccessreviews"


def groups():
    """[(group, [versions])] in discovery order; "" is the legacy core group."""
    out = collections.OrderedDict()
    for k in KINDS:
        out.setdefault(k.group, [])
        if k.version not in out[k.group]:
            out[k.group].append(k.version)
    out.setdefault(SSAR_GROUP, [SSAR_VERSION])
    return list(out.items())


def resource_list(group, version):
    res = []
    for k in KINDS:
        if k.group != group or k.version != version:
            continue
        r = {"name": k.plural, "singularName": k.singular, "namespaced": k.namespaced,
             "kind": k.kind, "verbs": k.verbs}
        if k.short:
            r["shortNames"] = k.short
        if k.categories:
            r["categories"] = k.categories
        r["storageVersionHash"] = base64.b64encode(
            hashlib.sha256(k.qualified.encode()).digest()[:8]).decode()
        res.append(r)
        if k.status:
            res.append({"name": k.plural + "/status", "singularName": "", "namespaced":
                        k.namespaced, "kind": k.kind, "verbs": ["get", "patch", "update"]})
        if "exec" in k.extra_sub:
            res.append({"name": k.plural + "/exec", "singularName": "", "namespaced": True,
                        "kind": "PodExecOptions", "verbs": ["create", "get"]})
    if group == SSAR_GROUP and version == SSAR_VERSION:
        res.append({"name": SSAR_PLURAL, "singularName": "selfsubjectaccessreview",
                    "namespaced": False, "kind": "SelfSubjectAccessReview", "verbs": ["create"]})
    if not res:
        return None
    gv = version if not group else group + "/" + version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": res}


def openapi_v3(gv_path):
    """Just enough OpenAPI v3 for kubectl: each kind's PATCH operation takes fieldValidation, so
    kubectl create/replace leave validation to the server (which accepts unknown fields)."""
    if not gv_path:
        paths = {}
        for g, versions in groups():
            for v in versions:
                p = "api/" + v if not g else "apis/%s/%s" % (g, v)
                digest = hashlib.sha256(p.encode()).hexdigest()[:16].upper()
                paths[p] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (p, digest)}
        return {"paths": paths}
    parts = gv_path.split("/")
    if parts[0] == "api" and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[0] == "apis" and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    paths = {}
    for k in KINDS:
        if (k.group, k.version) != (group, version):
            continue
        prefix = "/" + gv_path + ("/namespaces/{namespace}" if k.namespaced else "")
        gvk = {"group": k.group, "version": k.version, "kind": k.kind}
        params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                  for n in ("dryRun", "fieldManager", "fieldValidation")]
        op = lambda verb: {"operationId": verb + k.kind, "parameters": params,
                           "x-kubernetes-action": verb, "x-kubernetes-group-version-kind": gvk,
                           "responses": {"200": {"description": "OK"}}}
        paths[prefix + "/" + k.plural] = {"post": op("post"), "get": op("list")}
        paths[prefix + "/" + k.plural + "/{name}"] = {
            "get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}
    if not paths:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": {}}}


# ---------------------------------------------------------------------------------------------
# Selectors and patches

def split_top(text, sep=","):
    """Splits at sep outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(text):
    """Returns a predicate over a labels dict; equality- and set-based requirements."""
    reqs = []
    for part in split_top(text or ""):
        m = re.match(r"^([^\s!=<>()]+)\s+(in|notin)\s*\(([^)]*)\)$", part)
        if m:
            key, op = m.group(1), m.group(2)
            values = {v.strip() for v in m.group(3).split(",") if v.strip()}
            reqs.append((key, op, values))
            continue
        m = re.match(r"^([^\s!=<>()]+)\s*(==|!=|=|>|<)\s*([^\s!=<>(),]*)$", part)
        if m:
            reqs.append((m.group(1), m.group(2), m.group(3)))
            continue
        m = re.match(r"^(!?)\s*([^\s!=<>()]+)$", part)
        if m:
            reqs.append((m.group(2), "!exists" if m.group(1) else "exists", None))
            continue
        raise bad_request("unable to parse requirement: %r" % part)
    for key, _, _ in reqs:
        if not LABEL_KEY_RE.match(key):
            raise bad_request("invalid label key %r" % key)

    def match(labels):
        labels = labels or {}
        for key, op, val in reqs:
            have = key in labels
            v = labels.get(key)
            if op in ("=", "==") and v != val:
                return False
            if op == "!=" and have and v == val:
                return False
            if op == "in" and v not in val:
                return False
            if op == "notin" and have and v in val:
                return False
            if op == "exists" and not have:
                return False
            if op == "!exists" and have:
                return False
            if op in (">", "<"):
                try:
                    a, b = int(v), int(val)
                except (TypeError, ValueError):
                    return False
                if (op == ">" and not a > b) or (op == "<" and not a < b):
                    return False
        return True
    return match


FIELDS = {
    "metadata.name": lambda o: o["metadata"].get("name", ""),
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
    "status.phase": lambda o: (o.get("status") or {}).get("phase", ""),
    "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", ""),
    "status.podIP": lambda o: (o.get("status") or {}).get("podIP", ""),
    "involvedObject.name": lambda o: (o.get("involvedObject") or {}).get("name", ""),
    "involvedObject.kind": lambda o: (o.get("involvedObject") or {}).get("kind", ""),
    "reason": lambda o: o.get("reason", ""),
    "type": lambda o: o.get("type", ""),
}


def parse_field_selector(text):
    reqs = []
    for part in split_top(text or ""):
        m = re.match(r"^([^=!]+?)\s*(==|!=|=)\s*(.*)$", part)
        if not m:
            raise bad_request("invalid field selector: %r" % part)
        field = m.group(1).strip()
        if field not in FIELDS:
            raise bad_request('"%s" is not a known field selector: only "%s"'
                              % (field, ", ".join(sorted(FIELDS))))
        reqs.append((FIELDS[field], m.group(2) != "!=", m.group(3).strip()))
    return lambda obj: all((get(obj) == v) == eq for get, eq, v in reqs)


def protobuf_fields(data):
    """{field number: [values]} of one protobuf message (varints and length-delimited only)."""
    out, i = {}, 0

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            if i >= len(data):
                raise bad_request("truncated protobuf body")
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value
    while i < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            out.setdefault(field, []).append(varint())
        elif wire == 2:
            n = varint()
            out.setdefault(field, []).append(data[i:i + n])
            i += n
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise bad_request("unsupported protobuf wire type %d" % wire)
    return out


def ssar_from_protobuf(body):
    """A SelfSubjectAccessReview from the API's protobuf envelope ("k8s\\0" + runtime.Unknown)."""
    if not body.startswith(b"k8s\x00"):
        raise bad_request("a protobuf body must start with the k8s magic")
    raw = protobuf_fields(body[4:]).get(2, [b""])[0]
    spec = protobuf_fields(raw).get(2, [b""])[0]
    fields = protobuf_fields(spec)
    result = {}
    if 1 in fields:
        names = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource",
                 6: "subresource", 7: "name"}
        ra = protobuf_fields(fields[1][0])
        result["resourceAttributes"] = {names[f]: v[0].decode() for f, v in ra.items()
                                        if f in names}
    if 2 in fields:
        na = protobuf_fields(fields[2][0])
        result["nonResourceAttributes"] = {"path": na.get(1, [b""])[0].decode(),
                                           "verb": na.get(2, [b""])[0].decode()}
    return {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "spec": result}


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(doc, ops):
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    doc = copy.deepcopy(doc)

    def walk(path):
        if not path.startswith("/"):
            raise ApiError(422, "Invalid", "invalid JSON pointer %r" % path)
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]
        parent = doc
        for t in tokens[:-1]:
            parent = parent[int(t)] if isinstance(parent, list) else parent[t]
        return parent, tokens[-1]

    def get(path):
        parent, last = walk(path)
        return parent[int(last)] if isinstance(parent, list) else parent[last]

    def add(path, value):
        parent, last = walk(path)
        if isinstance(parent, list):
            parent.insert(len(parent) if last == "-" else int(last), value)
        else:
            parent[last] = value

    def remove(path):
        parent, last = walk(path)
        if isinstance(parent, list):
            return parent.pop(int(last))
        return parent.pop(last)

    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    try:
        for op in ops:
            kind, path = op.get("op"), op.get("path", "")
            if kind == "add":
                add(path, copy.deepcopy(op["value"]))
            elif kind == "remove":
                remove(path)
            elif kind == "replace":
                remove(path)
                add(path, copy.deepcopy(op["value"]))
            elif kind == "move":
                add(path, remove(op["from"]))
            elif kind == "copy":
                add(path, copy.deepcopy(get(op["from"])))
            elif kind == "test":
                if get(path) != op.get("value"):
                    raise ApiError(422, "Invalid", "the test operation failed at %s" % path)
            else:
                raise ApiError(422, "Invalid", "unknown JSON patch operation %r" % kind)
    except (KeyError, IndexError, ValueError, TypeError) as e:
        raise ApiError(422, "Invalid", "the JSON patch could not be applied: %r" % (e,))
    return doc


# ---------------------------------------------------------------------------------------------
# The store: objects, resourceVersions and a bounded event history

class Event:
    __slots__ = ("rv", "kind", "ns", "name", "type", "obj", "prev")

    def __init__(self, rv, kind, ns, name, etype, obj, prev):
        self.rv, self.kind, self.ns, self.name = rv, kind, ns, name
        self.type, self.obj, self.prev = etype, obj, prev


class Store:
    """Objects are immutable once stored (every write stores a new dict), so readers may encode
    them outside the lock. Watch from RV r is servable iff r >= dropped_rv."""

    def __init__(self, history_size, initial_rv):
        self.cond = threading.Condition()
        self.rv = initial_rv
        self.objects = {}
        self.history = collections.deque()
        self.history_size = history_size
        self.dropped_rv = initial_rv
        self.watch_epoch = 0   # bumped: open watches get an in-stream 410 ERROR
        self.close_epoch = 0   # bumped: open watches end (like a server-side timeout)
        self.generation = 0    # bumped on restart: streams of the old server end

    def _trim(self):
        while len(self.history) > self.history_size:
            self.dropped_rv = self.history.popleft().rv

    def commit(self, kind, ns, name, obj, etype):
        """Stores obj (None deletes) under a new resourceVersion; returns what was stored."""
        self.rv += 1
        key = (kind.key, ns, name)
        prev = self.objects.get(key)
        if obj is None:
            obj = copy.deepcopy(prev)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            del self.objects[key]
        else:
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.objects[key] = obj
        self.history.append(Event(self.rv, kind.key, ns, name, etype, obj, prev))
        self._trim()
        self.cond.notify_all()
        return obj

    def items(self, kind, ns=None):
        return sorted(((k[1], k[2]), v) for k, v in self.objects.items()
                      if k[0] == kind.key and (ns is None or k[1] == ns))

    def items_at(self, kind, ns, rv):
        """The objects of kind as they were at rv, from the history; 410 when it is gone."""
        if rv < self.dropped_rv:
            raise ApiError(410, "Expired", "too old resource version: %d (%d)"
                           % (rv, self.dropped_rv))
        objs = {k: v for k, v in self.objects.items() if k[0] == kind.key}
        for ev in reversed(self.history):
            if ev.rv <= rv:
                break
            if ev.kind != kind.key:
                continue
            key = (ev.kind, ev.ns, ev.name)
            if ev.prev is None:
                objs.pop(key, None)
            else:
                objs[key] = ev.prev
        return sorted(((k[1], k[2]), v) for k, v in objs.items() if ns is None or k[1] == ns)

    def events_after(self, rv):
        out = []
        for ev in reversed(self.history):
            if ev.rv <= rv:
                break
            out.append(ev)
        out.reverse()
        return out


# ---------------------------------------------------------------------------------------------
# Table output (server-side printing)

def col(name, typ="string", fmt="", desc="", priority=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name,
            "priority": priority}


NAME_COL = col("Name", fmt="name", desc="Name must be unique within a namespace.")
AGE_COL = col("Age", desc="CreationTimestamp is a timestamp representing the server time when "
              "this object was created.")


def table_columns(kind):
    if kind.plural == "pods":
        return [NAME_COL, col("Ready", desc="The aggregate readiness state of this pod"),
                col("Status", desc="The aggregate status of the containers in this pod."),
                col("Restarts", desc="The number of times the containers in this pod have "
                    "been restarted and when the last container in this pod has restarted."),
                AGE_COL, col("IP", priority=1, desc="The IP address assigned to the pod"),
                col("Node", priority=1, desc="The name of the node where the pod runs"),
                col("Nominated Node", priority=1), col("Readiness Gates", priority=1)]
    if kind.plural == "leases":
        return [NAME_COL, col("Holder", desc="The holder of the lease"), AGE_COL]
    if kind.plural == "events":
        return [col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message"),
                col("Source", priority=1), col("First Seen", priority=1),
                col("Count", "integer", priority=1), col("Name", fmt="name", priority=1)]
    if kind.columns is not None:
        return [NAME_COL] + [col(c["name"], c.get("type", "string"), c.get("format", ""),
                                 c.get("description", ""), int(c.get("priority", 0)))
                             for c in kind.columns]
    return [NAME_COL, AGE_COL]


def table_cells(kind, obj):
    md, status, spec = obj["metadata"], obj.get("status") or {}, obj.get("spec") or {}
    age = human_age(md.get("creationTimestamp"))
    if kind.plural == "pods":
        cs = status.get("containerStatuses") or []
        ready = sum(1 for c in cs if c.get("ready"))
        total = len(spec.get("containers") or []) or len(cs)
        phase = "Terminating" if md.get("deletionTimestamp") else status.get("phase", "Unknown")
        restarts = sum(int(c.get("restartCount", 0)) for c in cs)
        return [md["name"], "%d/%d" % (ready, total), phase, str(restarts), age,
                status.get("podIP") or "<none>", spec.get("nodeName") or "<none>", "<none>",
                "<none>"]
    if kind.plural == "leases":
        return [md["name"], spec.get("holderIdentity") or "", age]
    if kind.plural == "events":
        inv = obj.get("involvedObject") or {}
        last = obj.get("lastTimestamp") or obj.get("eventTime") or md.get("creationTimestamp")
        first = obj.get("firstTimestamp") or last
        return [human_age(last), obj.get("type", ""), obj.get("reason", ""),
                "%s/%s" % (inv.get("kind", "").lower(), inv.get("name", "")),
                obj.get("message", ""), (obj.get("source") or {}).get("component", ""),
                human_age(first), int(obj.get("count") or 1), md["name"]]
    if kind.columns is not None:
        cells = [md["name"]]
        for c in kind.columns:
            v = json_path_value(obj, c.get("jsonPath"))
            if c.get("type") == "date" and isinstance(v, str):
                v = human_age(v)
            cells.append(v)
        return cells
    return [md["name"], age]


def table_row(kind, obj, include):
    row = {"cells": table_cells(kind, obj)}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj["metadata"]}
    return row


def as_table(kind, objs, rv, include, extra_meta=None):
    meta = {"resourceVersion": str(rv)}
    meta.update(extra_meta or {})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": table_columns(kind),
            "rows": [table_row(kind, o, include) for o in objs]}


def wants_table(accept):
    for part in (accept or "").split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip()
                  for p in part.split(";")[1:] if "=" in p}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
        if part.split(";")[0].strip() in ("application/json", "*/*", "application/*"):
            return False
    return False


# ---------------------------------------------------------------------------------------------
# The fake cluster: store + configuration + the operations the API and the control use

class Cluster:
    def __init__(self, args):
        self.store = Store(args.history_size, args.initial_rv)
        self.lock = self.store.cond
        self.tokens = {}
        for t in args.token or []:
            tok, _, user = t.partition("=")
            self.tokens[tok] = user or "system:serviceaccount:default:kage"
        self.pods_root = args.pods_root
        self.runtime = {}  # (ns, pod) -> {"dir": ..., "env": {...}}
        self.config = {
            "history_size": args.history_size,
            "bookmark_interval": 5.0,
            "watch_timeout_default": 1800,
            "too_old_watch": "status",   # "status": HTTP 410; "event": 200 + ERROR event
            "exec_protocols": list(EXEC_PROTOCOLS),
            "exec_chunk": 32 * 1024,
            "rbac": [{"verbs": ["*"], "resources": ["*"]}],
            "rbac_deny": [],  # rules refused even when "rbac" allows them
        }
        self.injections = []
        self.next_injection = 1
        self.requests = collections.deque(maxlen=2000)
        self.request_count = 0
        self.open_watches = 0
        self.open_execs = 0
        with self.lock:
            for ns in ("default", "kube-system"):
                self.create(KIND_BY_PLURAL["namespaces"], None,
                            {"metadata": {"name": ns}, "spec": {"finalizers": ["kubernetes"]},
                             "status": {"phase": "Active"}})

    # -- writes (callers hold self.lock) -------------------------------------------------------
    def _finish_new(self, kind, ns, obj):
        obj = copy.deepcopy(obj)
        if not isinstance(obj, dict):
            raise bad_request("the body must be a JSON object")
        obj["kind"], obj["apiVersion"] = kind.kind, kind.api_version
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise bad_request("metadata must be an object")
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + "".join(
                random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        name = md.get("name")
        if not name:
            raise ApiError(422, "Invalid", "%s \"\" is invalid: metadata.name: Required value: "
                           "name or generateName is required" % kind.kind,
                           {"kind": kind.kind, "causes": [{"reason": "FieldValueRequired",
                                                           "field": "metadata.name"}]})
        if not NAME_RE.match(name) or len(name) > 253:
            raise ApiError(422, "Invalid", '%s "%s" is invalid: metadata.name: Invalid value: '
                           '"%s": a lowercase RFC 1123 subdomain must consist of lower case '
                           "alphanumeric characters, '-' or '.'" % (kind.kind, name, name),
                           {"name": name, "kind": kind.kind, "causes": [
                               {"reason": "FieldValueInvalid", "field": "metadata.name"}]})
        if kind.namespaced:
            if md.get("namespace") and md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_rfc3339()
        md.pop("resourceVersion", None)
        md.pop("deletionTimestamp", None)
        if not kind.builtin:
            md["generation"] = 1
        return name, obj

    def create(self, kind, ns, obj):
        name, obj = self._finish_new(kind, ns, obj)
        if (kind.key, ns, name) in self.store.objects:
            raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (kind.qualified, name),
                           kind.details(name))
        if kind.plural == "pods":
            self._ensure_runtime(ns, name)
        if kind.plural == "customresourcedefinitions":
            register_crd(obj)
        return self.store.commit(kind, ns, name, obj, "ADDED")

    def get(self, kind, ns, name):
        obj = self.store.objects.get((kind.key, ns, name))
        if obj is None:
            raise kind.not_found(name)
        return obj

    def replace(self, kind, ns, name, new, sub=None, check_rv=True):
        """PUT semantics; sub="status" keeps all but status, main endpoint keeps status."""
        old = self.get(kind, ns, name)
        if not isinstance(new, dict) or not isinstance(new.get("metadata", {}), dict):
            raise bad_request("the body must be a JSON object with metadata")
        new = copy.deepcopy(new)
        md = new.setdefault("metadata", {})
        if md.get("name", name) != name:
            raise bad_request("the name of the object (%s) does not match the name on the URL "
                              "(%s)" % (md.get("name"), name))
        if kind.namespaced and md.get("namespace", ns) != ns:
            raise bad_request("the namespace of the provided object does not match the "
                              "namespace sent on the request")
        want_rv = md.get("resourceVersion")
        if check_rv and want_rv not in (None, "") and want_rv != old["metadata"]["resourceVersion"]:
            raise kind.conflict(name)
        uid = md.get("uid")
        if uid and uid != old["metadata"]["uid"]:
            raise ApiError(409, "Conflict", 'Precondition failed: UID in precondition: %s, UID in '
                           "object meta: %s" % (uid, old["metadata"]["uid"]), kind.details(name))
        if sub == "status":
            result = copy.deepcopy(old)
            result["status"] = new.get("status", {})
        else:
            result = new
            if kind.status and sub is None:
                if "status" in old:
                    result["status"] = copy.deepcopy(old["status"])
                else:
                    result.pop("status", None)
            for f in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
                if f in old["metadata"]:
                    md[f] = old["metadata"][f]
            md["name"] = name
            if kind.namespaced:
                md["namespace"] = ns
        result["kind"], result["apiVersion"] = kind.kind, kind.api_version
        if "generation" in old["metadata"]:
            strip = lambda o: {k: v for k, v in o.items()
                               if k not in ("metadata", "status", "kind", "apiVersion")}
            if strip(result) != strip(old):
                result["metadata"]["generation"] = old["metadata"]["generation"] + 1
        if result == old:  # a no-op write does not bump the resourceVersion
            return old
        if kind.plural == "customresourcedefinitions" and sub is None:
            register_crd(result)
        return self.store.commit(kind, ns, name, result, "MODIFIED")

    def patch(self, kind, ns, name, ctype, body, sub=None):
        old = self.get(kind, ns, name)
        try:
            patch = json.loads(body or b"null")
        except ValueError as e:
            raise bad_request("error decoding patch: %s" % e)
        ctype = (ctype or "").split(";")[0].strip()
        if ctype == "application/merge-patch+json":
            new = merge_patch(old, patch)
        elif ctype == "application/strategic-merge-patch+json":
            if not kind.builtin:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an "
                               "unknown format - accepted media types include: "
                               "application/json-patch+json, application/merge-patch+json, "
                               "application/apply-patch+yaml")
            new = merge_patch(old, patch)  # maps merge; lists are replaced (see README)
        elif ctype == "application/json-patch+json":
            new = json_patch(old, patch)
        else:
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an "
                           "unknown format - accepted media types include: "
                           "application/json-patch+json, application/merge-patch+json")
        if not isinstance(new, dict):
            raise bad_request("the patched object is not a JSON object")
        new.setdefault("metadata", {})
        if not isinstance(new["metadata"], dict):
            raise bad_request("metadata must be an object")
        if new["metadata"].get("resourceVersion") in (None, ""):
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self.replace(kind, ns, name, new, sub)

    def delete(self, kind, ns, name, options=None):
        old = self.get(kind, ns, name)
        pre = (options or {}).get("preconditions") or {}
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"][
                "resourceVersion"]:
            raise ApiError(409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": the "
                           "ResourceVersion in the precondition (%s) does not match the "
                           "ResourceVersion in record (%s). The object might have been modified"
                           % (kind.qualified, name, pre["resourceVersion"],
                              old["metadata"]["resourceVersion"]), kind.details(name))
        if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
            raise ApiError(409, "Conflict", "Precondition failed: UID in precondition: %s, UID "
                           "in object meta: %s" % (pre["uid"], old["metadata"]["uid"]),
                           kind.details(name))
        if kind.plural == "pods":
            self.runtime.pop((ns, name), None)
        return self.store.commit(kind, ns, name, None, "DELETED")

    # -- pods as the control interface describes them ---------------------------------------
    def _ensure_runtime(self, ns, name):
        rt = self.runtime.setdefault((ns, name), {"dir": None, "env": {}})
        if rt["dir"] is None:
            rt["dir"] = os.path.join(self.pods_root, ns, name)
        os.makedirs(rt["dir"], exist_ok=True)
        return rt

    def pod_object(self, a, old=None):
        """A Pod from the control's short description, over old when updating."""
        pod = copy.deepcopy(old) if old else {"metadata": {}, "spec": {}, "status": {}}
        md, spec, st = pod["metadata"], pod["spec"], pod["status"]
        md["name"] = a.get("name", md.get("name"))
        md["namespace"] = a.get("namespace", md.get("namespace", "default"))
        if "labels" in a:
            md["labels"] = merge_patch(md.get("labels") or {}, a["labels"]) if old else a["labels"]
        if "annotations" in a:
            md["annotations"] = a["annotations"]
        containers = a.get("containers")
        if containers is not None or not old:
            containers = containers or ["redis"]
            spec["containers"] = [{"name": c, "image": a.get("image", "redis:7.2"),
                                   "resources": {}, "imagePullPolicy": "IfNotPresent"}
                                  for c in containers]
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            spec.setdefault("dnsPolicy", "ClusterFirst")
            spec.setdefault("serviceAccountName", "default")
        if "env" in a:
            for c in spec["containers"]:
                c["env"] = [{"name": k, "value": str(v)} for k, v in sorted(a["env"].items())]
        spec["nodeName"] = a.get("node", spec.get("nodeName", "fake-node-1"))
        phase = a.get("phase", st.get("phase", "Running"))
        ready = a.get("ready", phase == "Running") if "ready" in a or "phase" in a or not old \
            else any(c.get("type") == "Ready" and c.get("status") == "True"
                     for c in st.get("conditions") or [])
        ts = now_rfc3339()
        st["phase"] = phase
        st["hostIP"] = "127.0.0.1"
        st["hostIPs"] = [{"ip": "127.0.0.1"}]
        ip = a.get("podIP", st.get("podIP"))
        if ip:
            st["podIP"], st["podIPs"] = ip, [{"ip": ip}]
        else:
            st.pop("podIP", None)
            st.pop("podIPs", None)
        st.setdefault("startTime", ts)
        st["qosClass"] = "BestEffort"
        tf = lambda b: "True" if b else "False"
        old_conds = {c["type"]: c for c in st.get("conditions") or []}

        def cond(t, b):
            c = old_conds.get(t)
            if c and c["status"] == tf(b):
                return c
            return {"type": t, "status": tf(b), "lastProbeTime": None, "lastTransitionTime": ts}
        st["conditions"] = [cond("PodReadyToStartContainers", phase == "Running"),
                            cond("Initialized", True), cond("Ready", ready),
                            cond("ContainersReady", ready), cond("PodScheduled", True)]
        restarts = int(a.get("restarts", 0))
        st["containerStatuses"] = [
            {"name": c["name"], "ready": bool(ready), "restartCount": restarts,
             "started": phase == "Running", "image": c["image"], "imageID": "",
             "containerID": "fake://%s-%s" % (md["name"], c["name"]),
             "state": {"running": {"startedAt": st["startTime"]}} if phase == "Running" else
             {"waiting": {"reason": "ContainerCreating"}} if phase == "Pending" else
             {"terminated": {"exitCode": 0 if phase == "Succeeded" else 1,
                             "reason": "Completed" if phase == "Succeeded" else "Error"}}}
            for c in spec["containers"]]
        return pod

    def control_pod(self, a, update):
        kind = KIND_BY_PLURAL["pods"]
        ns, name = a.get("namespace", "default"), a["name"]
        if update:
            old = self.get(kind, ns, name)
            pod = self.pod_object(a, old)
            stored = self.replace(kind, ns, name, pod, sub="control", check_rv=False)
        else:
            stored = self.create(kind, ns, self.pod_object(a))
        rt = self._ensure_runtime(ns, name)
        if a.get("dir"):
            rt["dir"] = a["dir"]
            os.makedirs(rt["dir"], exist_ok=True)
        if "env" in a:
            rt["env"] = {k: str(v) for k, v in a["env"].items()}
        if "runtime_env" in a:
            rt["env"].update({k: str(v) for k, v in a["runtime_env"].items()})
        return stored

    # -- authorization -------------------------------------------------------------------------
    def allowed(self, verb, group, resource, namespace):
        def matches(rule):
            ok = lambda field, value: ("*" in rule.get(field, ["*"]) or
                                       value in rule.get(field, ["*"]))
            return ok("verbs", verb) and ok("resources", resource) and ok("groups", group) and (
                not namespace or ok("namespaces", namespace))
        if any(matches(rule) for rule in self.config["rbac_deny"]):
            return False
        return any(matches(rule) for rule in self.config["rbac"])

    def take_injection(self, method, path, is_watch):
        with self.lock:
            for inj in self.injections:
                if inj["remaining"] <= 0:
                    continue
                if not path.startswith(inj.get("path_prefix", "/")):
                    continue
                if inj.get("method") and inj["method"].upper() != method:
                    continue
                if inj.get("watch") is not None and bool(inj["watch"]) != is_watch:
                    continue
                inj["remaining"] -= 1
                inj["hits"] += 1
                return dict(inj)
        return None


# ---------------------------------------------------------------------------------------------
# WebSocket (RFC 6455, server side)

class WebSocketClosed(Exception):
    pass


class WebSocket:
    def __init__(self, rfile, wfile, writer):
        self.rfile, self.wfile, self.write = rfile, wfile, writer
        self.send_lock = threading.Lock()
        self.closed_sent = False

    def send_frame(self, opcode, payload):
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        with self.send_lock:
            if self.closed_sent:
                raise WebSocketClosed()
            self.write(head + payload)
            if opcode == 0x8:
                self.closed_sent = True

    def send_close(self, code=1000, reason=b""):
        try:
            self.send_frame(0x8, struct.pack("!H", code) + reason)
        except (OSError, WebSocketClosed):
            pass

    def _read(self, n):
        data = self.rfile.read(n)
        if data is None or len(data) < n:
            raise WebSocketClosed()
        return data

    def read_message(self, limit=16 * 1024 * 1024):
        """Returns (opcode, payload) of the next data or close message; answers pings."""
        parts, first_op = [], None
        while True:
            b1, b2 = self._read(2)
            fin, opcode, masked, n = b1 & 0x80, b1 & 0x0F, b2 & 0x80, b2 & 0x7F
            if not masked:
                self.send_close(1002, b"client frames must be masked")
                raise WebSocketClosed()
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            if n > limit:
                self.send_close(1009, b"message too big")
                raise WebSocketClosed()
            mask = self._read(4)
            data = bytearray(self._read(n))
            for i in range(n):
                data[i] ^= mask[i & 3]
            data = bytes(data)
            if opcode == 0x9:
                self.send_frame(0xA, data)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                return 0x8, data
            if opcode != 0:
                first_op = opcode
            parts.append(data)
            if fin:
                return first_op, b"".join(parts)


# ---------------------------------------------------------------------------------------------
# HTTP

class ResetConnection(Exception):
    """Abort the connection with a TCP RST."""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def send_response(self, code, message=None):
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    # every method goes through one dispatcher
    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    @property
    def cluster(self):
        return self.server.app.cluster

    def raw_write(self, data):
        cut = self.cut
        if cut is not None:
            room = cut["bytes"] - self.body_sent
            if len(data) >= room:
                self.wfile.write(data[:max(0, room)])
                self.body_sent += max(0, room)
                if cut.get("how") == "close":
                    self.close_connection = True
                    raise ConnectionAbortedError("injected cut")
                raise ResetConnection()
        self.wfile.write(data)
        self.body_sent += len(data)

    def dispatch(self):
        self.started = time.monotonic()
        self.cut, self.body_sent, self.code = None, 0, 0
        self.audit_id = str(uuid.uuid4())
        url = urllib.parse.urlsplit(self.path)
        self.url_path = url.path
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query,
                                                                  keep_blank_values=True).items()}
        self.is_watch = self.query.get("watch") in ("1", "true", "True")
        try:
            self.body = self.read_body()
            inj = self.cluster.take_injection(self.command, self.url_path, self.is_watch)
            if inj:
                self.apply_injection(inj)  # answers, or raises, or serves with a cut armed
            else:
                self.route()
        except ApiError as e:
            self.send_json(e.code, e.status(), e.headers)
        except ResetConnection:
            self.code = -1
            self.reset()
        except (ConnectionError, BrokenPipeError, WebSocketClosed, ssl.SSLError, OSError):
            self.close_connection = True
        except Exception:
            traceback.print_exc()
            try:
                self.send_json(500, ApiError(500, "InternalError", "fake_kube bug: %s"
                                             % traceback.format_exc(limit=1)).status())
            except OSError:
                self.close_connection = True
        finally:
            self.log_request_done()

    def log_request_done(self):
        ms = (time.monotonic() - self.started) * 1000
        entry = {"method": self.command, "path": self.url_path, "query": self.query,
                 "watch": self.is_watch, "code": self.code, "ms": round(ms, 1),
                 "user_agent": self.headers.get("User-Agent", ""), "time": time.time()}
        with self.cluster.lock:
            self.cluster.request_count += 1
            entry["seq"] = self.cluster.request_count
            self.cluster.requests.append(entry)
        sys.stderr.write("%s %s %s -> %s %.1fms\n" % (
            time.strftime("%H:%M:%S"), self.command, self.path, self.code, ms))

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    self.close_connection = True
                    raise ApiError(413, "RequestEntityTooLarge", "Request entity too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is "
                           "3145728")
        return self.rfile.read(n) if n else b""

    def apply_injection(self, inj):
        action = inj.get("action", "status")
        if inj.get("delay"):
            time.sleep(float(inj["delay"]))
        if action == "reset":
            raise ResetConnection()
        if action == "close":
            self.close_connection = True
            raise ConnectionAbortedError("injected close")
        if action == "cut":
            self.cut = {"bytes": int(inj.get("bytes", 0)), "how": inj.get("how", "reset")}
            self.route()
            return
        if action == "status":
            code = int(inj.get("code", 500))
            headers, details = {}, None
            if inj.get("retry_after") is not None:
                headers["Retry-After"] = str(inj["retry_after"])
                details = {"retryAfterSeconds": int(inj["retry_after"])}
            message = inj.get("message") or {
                429: "Too many requests, please try again later.",
                500: "Internal error occurred: injected by fake_kube",
                503: "the server is currently unable to handle the request",
            }.get(code, "injected by fake_kube")
            raise ApiError(code, inj.get("reason") or REASONS.get(code, "Unknown"), message,
                           details, headers)
        if action == "delay":
            self.route()
            return
        raise ApiError(500, "InternalError", "unknown injected action %r" % action)

    def reset(self):
        """RST instead of FIN: linger 0, wake a thread blocked reading (exec's), and have the
        server close the socket without shutting down its sending side first."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            socket.socket.shutdown(self.connection, socket.SHUT_RD)
        except OSError:
            pass
        self.server.resets.add(id(self.connection))

    def start_response(self, code, ctype="application/json", length=None, headers=None,
                       chunked=False):
        self.code = code
        self.send_response(code)
        self.send_header("Audit-Id", self.audit_id)
        self.send_header("Cache-Control", "no-cache, private")
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif length is not None:
            self.send_header("Content-Length", str(length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.body_sent = 0

    def send_json(self, code, obj, headers=None):
        data = (dumps(obj) + "\n").encode()
        self.start_response(code, "application/json", len(data), headers)
        if self.command != "HEAD":
            self.raw_write(data)

    def write_chunk(self, data):
        self.raw_write(b"%x\r\n%s\r\n" % (len(data), data))

    def json_body(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError as e:
            raise bad_request("the body of the request could not be decoded: %s" % e)

    # -- routing -------------------------------------------------------------------------------
    def authenticate(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            with self.cluster.lock:
                user = self.cluster.tokens.get(auth[7:].strip())
            if user:
                return user
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket):
            try:
                cert = conn.getpeercert()
            except ValueError:
                cert = None
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            return v
        raise ApiError(401, "Unauthorized", "Unauthorized")

    def route(self):
        path = self.url_path.rstrip("/") or "/"
        if path in ("/healthz", "/readyz", "/livez"):
            data = b"ok"
            self.start_response(200, "text/plain; charset=utf-8", len(data))
            self.raw_write(data)
            return
        if path == "/version":
            return self.send_json(200, VERSION_INFO)
        self.user = self.authenticate()
        if path == "/api":
            host = self.headers.get("Host", "127.0.0.1")
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [
                                            {"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})
        if path == "/apis":
            gl = []
            for g, versions in groups():
                if not g:
                    continue
                vs = [{"groupVersion": g + "/" + v, "version": v} for v in versions]
                gl.append({"name": g, "versions": vs, "preferredVersion": vs[0]})
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                        "groups": gl})
        if path.startswith("/openapi/v3"):
            return self.send_json(200, openapi_v3(path[len("/openapi/v3"):].strip("/")))
        if path.startswith("/openapi/"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[0] == "apis" and len(parts) == 2:
            for g, versions in groups():
                if g == parts[1]:
                    vs = [{"groupVersion": g + "/" + v, "version": v} for v in versions]
                    return self.send_json(200, {"kind": "APIGroup", "apiVersion": "v1",
                                                "name": g, "versions": vs,
                                                "preferredVersion": vs[0]})
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            rl = resource_list(group, version)
            if rl is None:
                raise ApiError(404, "NotFound", "the server could not find the requested "
                               "resource")
            return self.send_json(200, rl)
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        if (group, version, rest[0]) == (SSAR_GROUP, SSAR_VERSION, SSAR_PLURAL) and ns is None:
            return self.self_subject_access_review()
        kind = KIND_BY_PATH.get((group, version, rest[0]))
        if kind is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if kind.namespaced is False and ns is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub and not ((sub == "status" and kind.status) or sub in kind.extra_sub):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self.handle_resource(kind, ns, name, sub)

    def verb(self, name, sub):
        m = self.command
        if sub == "exec":
            return "create"
        if m in ("GET", "HEAD"):
            return "get" if name else ("watch" if self.is_watch else "list")
        return {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}.get(m, m.lower())

    def authorize(self, kind, ns, name, sub):
        verb = self.verb(name, sub)
        resource = kind.plural + ("/" + sub if sub else "")
        with self.cluster.lock:
            ok = self.cluster.allowed(verb, kind.group, resource, ns)
        if not ok:
            where = ' in the namespace "%s"' % ns if ns else " at the cluster scope"
            what = "resource \"%s\"" % resource
            raise ApiError(403, "Forbidden", '%s%s is forbidden: User "%s" cannot %s %s in API '
                           'group "%s"%s' % (kind.qualified, ' "%s"' % name if name else "",
                                             self.user, verb, what, kind.group, where),
                           {"name": name, "group": kind.group, "kind": kind.plural}
                           if name else {"group": kind.group, "kind": kind.plural})

    def handle_resource(self, kind, ns, name, sub):
        self.authorize(kind, ns, name, sub)
        c, m = self.cluster, self.command
        if sub == "exec":
            if m not in ("GET", "POST"):
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method "
                               "on the requested resource")
            return self.exec_pod(kind, ns, name)
        if kind.namespaced and ns is None and (name or m not in ("GET", "HEAD")):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if name is None:
            if m in ("GET", "HEAD"):
                return self.watch(kind, ns) if self.is_watch else self.list(kind, ns)
            if m == "POST":
                body = self.json_body()
                self.check_type(kind, body)
                if self.query.get("dryRun"):
                    with c.lock:
                        _, obj = c._finish_new(kind, ns, body)
                    return self.send_json(201, obj)
                with c.lock:
                    obj = c.create(kind, ns, body)
                return self.send_json(201, obj)
            if m == "DELETE":
                return self.delete_collection(kind, ns)
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on "
                           "the requested resource")
        if m in ("GET", "HEAD"):
            with c.lock:
                obj = c.get(kind, ns, name)
            return self.send_object(kind, obj)
        if m == "PUT":
            body = self.json_body()
            self.check_type(kind, body)
            with c.lock:
                obj = c.replace(kind, ns, name, body, sub)
            return self.send_json(200, obj)
        if m == "PATCH":
            with c.lock:
                obj = c.patch(kind, ns, name, self.headers.get("Content-Type"), self.body, sub)
            return self.send_json(200, obj)
        if m == "DELETE" and sub is None:
            opts = self.json_body() if self.body else {}
            with c.lock:
                obj = c.delete(kind, ns, name, opts)
            if kind.plural == "pods":
                return self.send_json(200, obj)
            return self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                        "status": "Success", "details": dict(
                                            kind.details(name), uid=obj["metadata"]["uid"])})
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                       "requested resource")

    def check_type(self, kind, body):
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be a JSON object")
        if body.get("kind") not in (None, "", kind.kind) or body.get("apiVersion") not in (
                None, "", kind.api_version):
            raise bad_request("the API version in the data (%s) does not match the expected API "
                              "version (%s)" % (body.get("apiVersion"), kind.api_version))

    def send_object(self, kind, obj):
        if wants_table(self.headers.get("Accept")):
            return self.send_json(200, as_table(kind, [obj], obj["metadata"]["resourceVersion"],
                                                self.query.get("includeObject", "Metadata")))
        return self.send_json(200, obj)

    def selectors(self):
        labels = parse_label_selector(self.query.get("labelSelector", ""))
        fields = parse_field_selector(self.query.get("fieldSelector", ""))
        return lambda o: labels(o["metadata"].get("labels")) and fields(o)

    def list(self, kind, ns):
        match = self.selectors()
        c, q = self.cluster, self.query
        limit = int(q.get("limit") or 0) if (q.get("limit") or "0").isdigit() else 0
        cont = q.get("continue")
        start = None
        with c.lock:
            if cont:
                try:
                    token = json.loads(base64.b64decode(cont + "=" * (-len(cont) % 4)))
                    rv, start = int(token["rv"]), tuple(token["start"].split("/", 1))
                except (ValueError, KeyError, TypeError):
                    raise bad_request("continue key is not valid: incorrect encoded start "
                                      "resourceVersion (version meta.k8s.io/v1)")
                if rv < c.store.dropped_rv:
                    raise ApiError(410, "Expired", "The provided continue parameter is too old "
                                   "to display a consistent list result. You can start a new "
                                   "list without the continue parameter, or use the continue "
                                   "token in this response to retrieve the remainder of the "
                                   "results. Continuing with the provided token results in an "
                                   "inconsistent list - objects that were created, modified, or "
                                   "deleted between the time the first chunk was returned and "
                                   "now may show up in the list.")
                items = c.store.items_at(kind, ns, rv)
            elif q.get("resourceVersionMatch") == "Exact" and q.get("resourceVersion"):
                rv = int(q["resourceVersion"])
                items = c.store.items_at(kind, ns, rv)
            else:
                rv = c.store.rv
                items = c.store.items(kind, ns)
        ns_key = lambda k: (k[0] or "", k[1])
        if start is not None:
            items = [(k, o) for k, o in items if ns_key(k) > start]
        selected, meta, last = [], {"resourceVersion": str(rv)}, None
        for i, (k, o) in enumerate(items):
            if not match(o):
                continue
            if limit and len(selected) == limit:
                rest = sum(1 for _, o2 in items[i:] if match(o2))
                token = {"v": "meta.k8s.io/v1", "rv": rv, "start": "%s/%s" % ns_key(last)}
                meta["continue"] = base64.b64encode(dumps(token).encode()).decode()
                meta["remainingItemCount"] = rest
                break
            selected.append(o)
            last = k
        if wants_table(self.headers.get("Accept")):
            return self.send_json(200, as_table(kind, selected, rv, q.get("includeObject",
                                                                          "Metadata"), meta))
        if kind.builtin:
            selected = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
                        for o in selected]
        return self.send_json(200, {"kind": kind.kind + "List", "apiVersion": kind.api_version,
                                    "metadata": meta, "items": selected})

    def delete_collection(self, kind, ns):
        match = self.selectors()
        c = self.cluster
        with c.lock:
            gone = []
            for (ons, name), o in c.store.items(kind, ns):
                if match(o):
                    gone.append(c.delete(kind, ons, name))
            rv = c.store.rv
        return self.send_json(200, {"kind": kind.kind + "List", "apiVersion": kind.api_version,
                                    "metadata": {"resourceVersion": str(rv)}, "items": gone})

    # -- watch ---------------------------------------------------------------------------------
    def watch(self, kind, ns):
        match = self.selectors()
        c, store, q = self.cluster, self.cluster.store, self.query
        table = wants_table(self.headers.get("Accept"))
        include = q.get("includeObject", "Metadata")
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true", "True")
        try:
            timeout = float(q.get("timeoutSeconds") or c.config["watch_timeout_default"])
        except ValueError:
            raise bad_request("invalid timeoutSeconds")
        rv_text = q.get("resourceVersion", "")
        with c.lock:
            gen, epoch, close_epoch = store.generation, store.watch_epoch, store.close_epoch
            initial = []
            if rv_text in ("", "0"):
                initial = [o for _, o in store.items(kind, ns) if match(o)]
                pos = store.rv
                too_old = None
            else:
                try:
                    pos = int(rv_text)
                except ValueError:
                    raise bad_request("invalid resource version: %r" % rv_text)
                too_old = None
                if pos < store.dropped_rv:
                    too_old = ApiError(410, "Expired", "too old resource version: %d (%d)"
                                       % (pos, store.dropped_rv))
            mode = c.config["too_old_watch"]
            interval = float(c.config["bookmark_interval"])
            c.open_watches += 1
        try:
            if too_old and mode == "status":
                raise too_old
            self.close_connection = True
            self.start_response(200, "application/json", chunked=True)
            if too_old:
                self.send_event("ERROR", too_old.status())
                return self.end_chunks()
            first = [True]

            def out(etype, obj):
                if table and etype in ("ADDED", "MODIFIED", "DELETED"):
                    t = as_table(kind, [obj], obj["metadata"]["resourceVersion"], include)
                    if not first[0]:
                        t["columnDefinitions"] = []
                    first[0] = False
                    obj = t
                self.send_event(etype, obj)
            for o in initial:
                out("ADDED", o)
            deadline = time.monotonic() + timeout
            next_bookmark = time.monotonic() + interval
            while True:
                events, expired, ended = [], False, False
                with c.lock:
                    while True:
                        if store.generation != gen or store.close_epoch != close_epoch:
                            ended = True
                            break
                        if store.watch_epoch != epoch or pos < store.dropped_rv:
                            expired = True
                            break
                        if store.rv > pos:
                            events = store.events_after(pos)
                            pos = store.rv
                            break
                        now = time.monotonic()
                        wake = min(deadline, next_bookmark if bookmarks else deadline)
                        if now >= wake:
                            break
                        store.cond.wait(min(wake - now, 1.0))
                        if self.client_gone():
                            return
                    bm_rv = pos
                if ended:
                    return self.end_chunks()
                if expired:
                    self.send_event("ERROR", ApiError(
                        410, "Expired", "The resourceVersion for the provided watch is too old."
                    ).status())
                    return self.end_chunks()
                for ev in events:
                    if ev.kind != kind.key or (ns is not None and ev.ns != ns):
                        continue
                    now_in = ev.type != "DELETED" and match(ev.obj)
                    was_in = ev.prev is not None and match(ev.prev)
                    if ev.type == "DELETED" and was_in:
                        out("DELETED", ev.obj)
                    elif now_in and was_in:
                        out("MODIFIED", ev.obj)
                    elif now_in:
                        out("ADDED", ev.obj)
                    elif was_in:
                        gone = copy.deepcopy(ev.prev)
                        gone["metadata"]["resourceVersion"] = str(ev.rv)
                        out("DELETED", gone)
                now = time.monotonic()
                if bookmarks and (now >= next_bookmark or now >= deadline):
                    self.send_event("BOOKMARK", {"kind": kind.kind, "apiVersion": kind.api_version,
                                                 "metadata": {"resourceVersion": str(bm_rv),
                                                              "creationTimestamp": None}})
                    next_bookmark = now + interval
                if now >= deadline:
                    return self.end_chunks()
        finally:
            with c.lock:
                c.open_watches -= 1

    def send_event(self, etype, obj):
        self.write_chunk((dumps({"type": etype, "object": obj}) + "\n").encode())

    def end_chunks(self):
        self.raw_write(b"0\r\n\r\n")

    def client_gone(self):
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(r)

    # -- SelfSubjectAccessReview ---------------------------------------------------------------
    def self_subject_access_review(self):
        if self.command != "POST":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on "
                           "the requested resource")
        if self.headers.get("Content-Type", "").startswith("application/vnd.kubernetes.protobuf"):
            body = ssar_from_protobuf(self.body)  # kubectl auth can-i sends protobuf
        else:
            body = self.json_body()
        if not isinstance(body, dict):
            raise bad_request("the body must be a SelfSubjectAccessReview")
        spec = body.get("spec") or {}
        ra = spec.get("resourceAttributes")
        if ra:
            resource = ra.get("resource", "") + ("/" + ra["subresource"]
                                                 if ra.get("subresource") else "")
            with self.cluster.lock:
                ok = self.cluster.allowed(ra.get("verb", ""), ra.get("group", ""), resource,
                                          ra.get("namespace", ""))
        else:
            ok = True
        status = {"allowed": ok, "reason": "allowed by the fake_kube allow-list" if ok
                  else "not in the fake_kube allow-list"}
        self.send_json(201, {"kind": "SelfSubjectAccessReview",
                             "apiVersion": "authorization.k8s.io/v1",
                             "metadata": {"creationTimestamp": None}, "spec": spec,
                             "status": status})

    # -- exec over WebSocket -------------------------------------------------------------------
    def exec_pod(self, kind, ns, name):
        c = self.cluster
        qs = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        command = qs.get("command", [])
        flag = lambda k: (qs.get(k, ["false"])[-1] in ("1", "true", "True"))
        with c.lock:
            pod = c.get(kind, ns, name)
            rt = dict(c.runtime.get((ns, name)) or {})
            protocols = list(c.config["exec_protocols"])
            chunk = int(c.config["exec_chunk"])
        containers = [x["name"] for x in pod["spec"].get("containers", [])]
        container = self.query.get("container") or (containers[0] if containers else "")
        if container not in containers:
            raise bad_request('container %s is not valid for pod %s' % (container, name))
        if pod["status"].get("phase") != "Running":
            raise bad_request("pod %s is not running (phase %s)" % (name,
                                                                     pod["status"].get("phase")))
        if not command:
            raise bad_request("you must specify at least 1 command")
        if self.headers.get("Upgrade", "").lower() != "websocket":
            raise bad_request("Upgrade request required (fake_kube serves exec over WebSocket "
                              "only, not SPDY)")
        key = self.headers.get("Sec-WebSocket-Key")
        if not key or self.headers.get("Sec-WebSocket-Version") != "13":
            raise bad_request("a WebSocket upgrade needs Sec-WebSocket-Key and version 13")
        offered = [p.strip() for h in self.headers.get_all("Sec-WebSocket-Protocol") or []
                   for p in h.split(",")]
        chosen = next((p for p in protocols if p in offered), None)
        if chosen is None:
            raise bad_request("none of the offered subprotocols %s is supported; this server "
                              "speaks %s" % (offered, protocols))
        stdin, stdout, stderr, tty = flag("stdin"), flag("stdout"), flag("stderr"), flag("tty")
        if not (stdin or stdout or stderr):
            raise bad_request("you must specify at least 1 of stdin, stdout, stderr")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.close_connection = True
        self.code = 101
        self.send_response_only(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", chosen)
        self.end_headers()
        self.body_sent = 0
        ws = WebSocket(self.rfile, self.wfile, self.raw_write)
        env = dict(os.environ)
        env.update({e["name"]: e.get("value", "") for ct in pod["spec"].get("containers", [])
                    if ct["name"] == container for e in ct.get("env") or []})
        env.update(rt.get("env") or {})
        env.update({"HOSTNAME": name, "POD_NAME": name, "POD_NAMESPACE": ns})
        with c.lock:
            c.open_execs += 1
        try:
            self.run_exec(ws, command, rt.get("dir") or c.pods_root, env, stdin, stdout,
                          stderr, tty, chosen, chunk)
        finally:
            with c.lock:
                c.open_execs -= 1

    def run_exec(self, ws, command, cwd, env, stdin, stdout, stderr, tty, proto, chunk):
        # The kubelet's first message: an empty one on the lowest writable channel.
        ws.send_frame(0x2, bytes([1 if stdout else 2 if stderr else 3]))
        try:
            proc = subprocess.Popen(
                command, cwd=cwd, env=env, start_new_session=True,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
                stderr=(subprocess.STDOUT if tty and stdout else subprocess.PIPE) if stderr
                else subprocess.DEVNULL)
        except OSError as e:
            status = {"metadata": {}, "status": "Failure", "message": (
                'OCI runtime exec failed: exec failed: unable to start container process: '
                'exec: "%s": %s: unknown' % (command[0], e.strerror)), "reason": "InternalError",
                "details": {"causes": [{"message": e.strerror}]}, "code": 500}
            ws.send_frame(0x2, b"\x03" + dumps(status).encode())
            ws.send_close()
            return
        client_closed = threading.Event()

        def pump(stream, channel):
            fd = stream.fileno()
            try:
                while True:
                    data = os.read(fd, chunk)
                    if not data:
                        break
                    ws.send_frame(0x2, bytes([channel]) + data)
            except (OSError, WebSocketClosed, ResetConnection, ConnectionError):
                client_closed.set()
                kill()
            finally:
                stream.close()

        def kill():
            try:
                os.killpg(proc.pid, 9)
            except OSError:
                pass

        def reader():
            try:
                while True:
                    op, data = ws.read_message()
                    if op == 0x8:
                        break
                    if not data:
                        continue
                    if data[0] == 255 and proto.startswith("v5") and len(data) == 2:
                        if data[1] == 0 and proc.stdin:
                            proc.stdin.close()
                        continue
                    if data[0] == 0 and proc.stdin and not proc.stdin.closed:
                        try:
                            proc.stdin.write(data[1:])
                            proc.stdin.flush()
                        except (OSError, ValueError):
                            pass
            except (WebSocketClosed, OSError, ValueError):
                pass
            client_closed.set()
            if proc.poll() is None:
                kill()

        threads = []
        for stream, channel in ((proc.stdout, 1), (proc.stderr, 2)):
            if stream is not None:
                t = threading.Thread(target=pump, args=(stream, channel), daemon=True)
                t.start()
                threads.append(t)
        rt = threading.Thread(target=reader, daemon=True)
        rt.start()
        for t in threads:
            t.join()
        rc = proc.wait()
        if rc == 0:
            status = {"metadata": {}, "status": "Success"}
        else:
            code = rc if rc > 0 else 128 - rc
            status = {"metadata": {}, "status": "Failure", "message": (
                "command terminated with non-zero exit code: error executing command %s, exit "
                "code %d" % ("[" + " ".join(command) + "]", code)), "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        try:
            ws.send_frame(0x2, b"\x03" + dumps(status).encode())
        except (OSError, WebSocketClosed, ConnectionError):
            return
        ws.send_close()
        rt.join(timeout=2)
        if proc.stdin and not proc.stdin.closed:
            try:
                proc.stdin.close()
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# Servers

class ApiServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, app):
        self.app = app
        self.resets = set()
        super().__init__(address, Handler)

    def process_request_thread(self, request, client_address):
        holder = [request]
        self.app.track(holder, True)
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.app.ssl_ctx is not None:
                request.settimeout(10)
                request = self.app.ssl_ctx.wrap_socket(request, server_side=True)
                request.settimeout(None)
                holder[0] = request
            self.finish_request(request, client_address)
        except Exception:
            pass
        finally:
            self.app.track(holder, False)
            try:
                self.shutdown_request(request)
            except OSError:
                pass

    def shutdown_request(self, request):
        if id(request) in self.resets:
            self.resets.discard(id(request))
            self.close_request(request)
            return
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        pass


class App:
    def __init__(self, args):
        self.args = args
        self.cluster = Cluster(args)
        self.ssl_ctx = None
        if args.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
            if args.client_ca:
                ctx.load_verify_locations(args.client_ca)
                ctx.verify_mode = ssl.CERT_OPTIONAL
            self.ssl_ctx = ctx
        self.conns = {}
        self.conns_lock = threading.Lock()
        self.server = None
        self.port = args.port
        self.restart_lock = threading.Lock()

    def track(self, holder, add):
        """holder[0] is a connection's socket (the TLS one once wrapped)."""
        with self.conns_lock:
            if add:
                self.conns[id(holder)] = holder
            else:
                self.conns.pop(id(holder), None)

    def start_api(self):
        deadline = time.monotonic() + 10
        while True:
            try:
                self.server = ApiServer(("127.0.0.1", self.port), self)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()

    def stop_api(self):
        server, self.server = self.server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self.cluster.lock:
            self.cluster.store.generation += 1
            self.cluster.store.cond.notify_all()
        with self.conns_lock:
            holders = list(self.conns.values())
        for h in holders:
            try:
                socket.socket.shutdown(h[0], socket.SHUT_RDWR)
            except OSError:
                pass

    def restart(self, keep_state=True, keep_history=False, down_seconds=0.0):
        with self.restart_lock:
            self.stop_api()
            c = self.cluster
            with c.lock:
                st = c.store
                if not keep_state:
                    keep = {k: v for k, v in st.objects.items() if k[0] == ("", "namespaces")}
                    st.objects = keep
                    c.runtime.clear()
                if not keep_state or not keep_history:
                    st.history.clear()
                    st.dropped_rv = st.rv
            if down_seconds:
                time.sleep(float(down_seconds))
            self.start_api()


class ControlHandler(http.server.BaseHTTPRequestHandler):
    """Plain-HTTP JSON commands: POST /<command> with a JSON object body (GET for reads)."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.handle_command()

    do_POST = do_GET

    def handle_command(self):
        app = self.server.app
        c = app.cluster
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        url = urllib.parse.urlsplit(self.path)
        cmd = url.path.strip("/")
        try:
            a = json.loads(raw) if raw.strip() else {}
            for k, v in urllib.parse.parse_qsl(url.query):
                a.setdefault(k, v)
            result = self.run(app, c, cmd, a)
            code = 200
        except ApiError as e:
            result, code = e.status(), e.code
        except (KeyError, ValueError, TypeError) as e:
            result, code = {"error": "bad control request: %r" % (e,)}, 400
        data = (dumps(result) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def kind(self, a):
        k = KIND_BY_PLURAL.get(a.get("resource", "pods"))
        if k is None:
            raise KeyError("unknown resource %r" % a.get("resource"))
        return k, (a.get("namespace", "default") if k.namespaced else None)

    def run(self, app, c, cmd, a):
        if cmd == "healthz":
            return {"ok": True, "port": app.port, "pid": os.getpid()}
        if cmd == "restart":
            app.restart(a.get("keep_state", True), a.get("keep_history", False),
                        a.get("down_seconds", 0))
            return {"ok": True, "port": app.port}
        if cmd == "stop_api":
            with app.restart_lock:
                app.stop_api()
            return {"ok": True}
        if cmd == "start_api":
            with app.restart_lock:
                if app.server is None:
                    app.start_api()
            return {"ok": True}
        with c.lock:
            st = c.store
            if cmd == "add_pod":
                return c.control_pod(a, update=False)
            if cmd == "update_pod":
                return c.control_pod(a, update=True)
            if cmd == "pod_runtime":
                return c.runtime.get((a.get("namespace", "default"), a["name"]))
            if cmd == "create":
                k, ns = self.kind(a)
                return c.create(k, ns, a["object"])
            if cmd == "patch":
                k, ns = self.kind(a)
                old = c.get(k, ns, a["name"])
                new = merge_patch(old, a["patch"])
                new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
                return c.replace(k, ns, a["name"], new, sub="control")
            if cmd == "delete":
                k, ns = self.kind(a)
                return c.delete(k, ns, a["name"])
            if cmd == "get":
                k, ns = self.kind(a)
                return c.get(k, ns, a["name"])
            if cmd == "list":
                k, _ = self.kind(a)
                return {"resourceVersion": str(st.rv), "items": [
                    o for _, o in st.items(k, a.get("namespace"))]}
            if cmd == "set_tokens":
                toks = a["tokens"]
                if isinstance(toks, list):
                    toks = {t: "system:serviceaccount:default:kage" for t in toks}
                c.tokens = dict(toks)
                return {"tokens": len(c.tokens)}
            if cmd == "configure":
                for k, v in a.items():
                    if k not in c.config:
                        raise KeyError("unknown setting %r" % k)
                    c.config[k] = v
                if "history_size" in a:
                    st.history_size = int(a["history_size"])
                    st._trim()
                    st.cond.notify_all()
                return c.config
            if cmd == "compact":
                st.history.clear()
                st.dropped_rv = st.rv
                if a.get("expire_watches", True):
                    st.watch_epoch += 1
                st.cond.notify_all()
                return {"dropped_rv": st.dropped_rv}
            if cmd == "close_watches":
                st.close_epoch += 1
                st.cond.notify_all()
                return {"ok": True}
            if cmd == "inject":
                inj = {"id": c.next_injection, "remaining": int(a.get("count", 1)), "hits": 0}
                inj.update({k: v for k, v in a.items() if k != "count"})
                inj["remaining"] = int(a.get("count", 1))
                c.next_injection += 1
                c.injections.append(inj)
                return inj
            if cmd == "injections":
                return {"injections": c.injections}
            if cmd == "clear_injections":
                c.injections = []
                return {"ok": True}
            if cmd == "requests":
                since = int(a.get("since", 0))
                return {"requests": [r for r in c.requests if r["seq"] > since],
                        "count": c.request_count}
            if cmd == "state":
                return {"resourceVersion": st.rv, "dropped_rv": st.dropped_rv,
                        "history": len(st.history), "history_size": st.history_size,
                        "open_watches": c.open_watches, "open_execs": c.open_execs,
                        "requests": c.request_count, "port": app.port}
        raise KeyError("unknown command %r" % cmd)


class ControlServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, app):
        self.app = app
        super().__init__(address, ControlHandler)


# ---------------------------------------------------------------------------------------------
# Certificates and kubeconfig

def run_openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def make_certs(d):
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate (P-256)."""
    os.makedirs(d, exist_ok=True)
    run_openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", "ca.key", "-out",
                "ca.crt", "-days", "2", "-subj", "/CN=fake-kube-ca", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for who, subj in (("server", "/CN=127.0.0.1"),
                      ("client", "/O=system:masters/CN=fake-kube-client")):
        run_openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", who + ".key", "-out", who + ".csr", "-subj", subj,
                    cwd=d)
        run_openssl("x509", "-req", "-in", who + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                    "-CAcreateserial", "-out", who + ".crt", "-days", "2", "-extfile",
                    who + ".ext", cwd=d)
    return d


def kubeconfig(server, ca=None, token=None, client_cert=None, client_key=None,
               namespace="default"):
    def b64(path):
        with open(path, "rb") as f:
            return base64.b64encode(f.read()).decode()
    cluster = {"server": server}
    if ca:
        cluster["certificate-authority-data"] = b64(ca)
    user = {}
    if token:
        user["token"] = token
    if client_cert:
        user["client-certificate-data"] = b64(client_cert)
        user["client-key-data"] = b64(client_key)
    return {"apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "fake", "user": user}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake",
                                                       "namespace": namespace}}],
            "current-context": "fake"}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--control-port", type=int, default=0)
    s.add_argument("--tls-cert")
    s.add_argument("--tls-key")
    s.add_argument("--client-ca", help="accept client certificates signed by this CA")
    s.add_argument("--token", action="append", help="a valid bearer token, TOKEN[=USER]")
    s.add_argument("--pods-root", default=os.path.join(os.getcwd(), "pods"))
    s.add_argument("--history-size", type=int, default=1000)
    s.add_argument("--initial-rv", type=int, default=1000)
    s.add_argument("--ready-file", help="written (JSON: port, control_port, pid) once listening")
    m = sub.add_parser("make-certs")
    m.add_argument("dir")
    k = sub.add_parser("kubeconfig")
    k.add_argument("--server", required=True)
    k.add_argument("--ca")
    k.add_argument("--token")
    k.add_argument("--client-cert")
    k.add_argument("--client-key")
    args = p.parse_args()
    if args.cmd == "make-certs":
        make_certs(args.dir)
        return
    if args.cmd == "kubeconfig":
        print(json.dumps(kubeconfig(args.server, args.ca, args.token, args.client_cert,
                                    args.client_key), indent=1))
        return
    if args.cmd != "serve":
        p.error("a command is required: serve, make-certs or kubeconfig")
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    app = App(args)
    app.start_api()
    control = ControlServer(("127.0.0.1", args.control_port), app)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    info = {"port": app.port, "control_port": control.server_address[1], "pid": os.getpid(),
            "tls": bool(args.tls_cert)}
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            json.dump(info, f)
        os.replace(args.ready_file + ".tmp", args.ready_file)
    sys.stderr.write("fake_kube listening: %s\n" % dumps(info))
    sys.stderr.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
