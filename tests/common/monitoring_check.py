#!/usr/bin/env python3
"""Checks of k8s/deploy/monitoring for tests/integration/monitoring_test.cpp.

  names METRICS RULES DASHBOARD      every metric the rules and the dashboard query is one that
                                     kage exports (METRICS: a scrape of kage run's /metrics), a
                                     rule records, or Prometheus makes (`up`)
  same RULES PROMETHEUSRULE          the PrometheusRule carries exactly the rules file's groups
  dashboard DASHBOARD                the dashboard's structure: variables, datasources, panels
  panels DASHBOARD URL VAR=VALUE...  each panel query returns data from the Prometheus at URL
  rules URL                          every rule evaluates without error; prints firing alerts
  query URL EXPR N                   EXPR returns at least N series
  ready URL                          exit 0 when Prometheus answers /-/ready

Exit status 1 with one line per problem on stdout; 0 when clean.
"""
import json
import re
import sys
import urllib.parse
import urllib.request

import yaml

# Prometheus's own series that the rules may use next to kage's.
PROMETHEUS_SERIES = {"up"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr):
    """Metric names a PromQL expression selects (functions, labels and keywords left out)."""
    e = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)  # strings
    e = re.sub(r"\$\{?\w+\}?", " ", e)  # Grafana variables
    e = re.sub(r"\{[^}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)  # ranges and subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"(?<![\w:])\d+(\.\d+)?([eE][+-]?\d+)?(ms|[smhdwy])?(?![\w:])", " ", e)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        if e[m.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        if m.group(0).lower() in KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def exported_names(metrics_text):
    names = set()
    for line in metrics_text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "#" and parts[1] == "TYPE":
            names.add(parts[2])
            if parts[3] in ("histogram", "summary"):
                names.update(parts[2] + s for s in ("_bucket", "_sum", "_count"))
        elif line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def rules_of(path):
    doc = yaml.safe_load(open(path))
    groups = doc["spec"]["groups"] if doc.get("kind") == "PrometheusRule" else doc["groups"]
    return [r for g in groups for r in g["rules"]]


def dashboard_queries(dash):
    """(where, PromQL) of every panel target and query variable."""
    out = []
    for p in all_panels(dash):
        for t in p.get("targets", []):
            out.append((f'panel "{p["title"]}" {t.get("refId")}', t["expr"]))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.*),\s*\w+\)", q.strip())
            out.append((f'variable {v["name"]}', m.group(1) if m else q))
    return out


def all_panels(dash):
    for p in dash["panels"]:
        if p["type"] == "row":
            yield from p.get("panels", [])
        else:
            yield p


def check_names(metrics_path, rules_path, dashboard_path):
    known = exported_names(open(metrics_path).read()) | PROMETHEUS_SERIES
    rules = rules_of(rules_path)
    known |= {r["record"] for r in rules if "record" in r}
    used = [(r.get("alert") or r.get("record"), r["expr"]) for r in rules]
    used += dashboard_queries(json.load(open(dashboard_path)))
    problems, count = [], set()
    for where, expr in used:
        for name in sorted(metric_names(expr)):
            count.add(name)
            if name not in known:
                problems.append(f"{where}: {name} is not a metric kage exports")
    if not problems:
        print(f"{len(count)} metric names in {len(used)} queries, all exported")
    return problems


def check_same(rules_path, prometheusrule_path):
    plain = yaml.safe_load(open(rules_path))["groups"]
    crd = yaml.safe_load(open(prometheusrule_path))
    problems = []
    if crd.get("kind") != "PrometheusRule":
        problems.append("not a PrometheusRule")
    if crd["spec"]["groups"] != plain:
        problems.append(f"{prometheusrule_path} differs from {rules_path}: copy the groups over")
    return problems


def check_dashboard(path):
    dash = json.load(open(path))
    problems = []
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    if variables.get("datasource", {}).get("type") != "datasource" or \
            variables["datasource"].get("query") != "prometheus":
        problems.append("no datasource variable of type prometheus")
    for name in ("namespace", "job", "instance"):
        if name not in variables:
            problems.append(f"no {name} variable")
        elif variables[name].get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"variable {name}: datasource is not ${{datasource}}")
    ids = set()
    for p in all_panels(dash):
        title = p.get("title", "?")
        if p["id"] in ids:
            problems.append(f'panel "{title}": duplicate id {p["id"]}')
        ids.add(p["id"])
        if not p.get("targets"):
            problems.append(f'panel "{title}": no query')
        for t in [p] + p.get("targets", []):
            if t.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f'panel "{title}": datasource is not ${{datasource}}')
        for t in p.get("targets", []):
            for var in ("$namespace", "$job", "$instance"):
                if var not in t["expr"]:
                    problems.append(f'panel "{title}": query ignores {var}')
        if not {"h", "w", "x", "y"} <= set(p.get("gridPos", {})):
            problems.append(f'panel "{title}": no gridPos')
    if not ids:
        problems.append("no panels")
    return problems


def get(url, path, **params):
    q = ("?" + urllib.parse.urlencode(params)) if params else ""
    with urllib.request.urlopen(url + path + q, timeout=10) as r:
        return json.load(r) if path.startswith("/api") else r.read().decode()


def check_panels(path, url, assignments):
    dash = json.load(open(path))
    values = dict(a.split("=", 1) for a in assignments)
    problems = []
    n = 0
    for where, expr in dashboard_queries(dash):
        if where.startswith("variable"):
            continue
        q = re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), m.group(0)), expr)
        n += 1
        try:
            r = get(url, "/api/v1/query", query=q)
        except Exception as e:  # an HTTP 400 is a query Prometheus rejects
            problems.append(f"{where}: {q}: {e}")
            continue
        if r["status"] != "success" or not r["data"]["result"]:
            problems.append(f"{where}: no data for {q}")
    if not problems:
        print(f"{n} panel queries, each with data")
    return problems


def check_rules(url):
    problems, n = [], 0
    for g in get(url, "/api/v1/rules")["data"]["groups"]:
        for r in g["rules"]:
            n += 1
            if r.get("health") != "ok":
                problems.append(f'{r["name"]}: health {r.get("health")}: {r.get("lastError")}')
            for a in r.get("alerts", []):
                if a["state"] == "firing":
                    problems.append(f'{r["name"]} is firing: {a["labels"]}')
    if n == 0:
        problems.append("no rules loaded")
    elif not problems:
        print(f"{n} rules evaluate without error, none firing")
    return problems


def check_query(url, expr, n):
    result = get(url, "/api/v1/query", query=expr)["data"]["result"]
    if len(result) < int(n):
        return [f"{expr}: {len(result)} series, expected at least {n}: {result}"]
    print(f"{len(result)} series")
    return []


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "ready":
        try:
            get(args[0], "/-/ready")
            return 0
        except Exception:
            return 1
    problems = {"names": lambda: check_names(*args),
                "same": lambda: check_same(*args),
                "dashboard": lambda: check_dashboard(*args),
                "panels": lambda: check_panels(args[0], args[1], args[2:]),
                "rules": lambda: check_rules(*args),
                "query": lambda: check_query(*args)}[cmd]()
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
