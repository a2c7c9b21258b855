#!/usr/bin/env python3
"""Lists functions longer than the limit (120 lines) in kage's sources; exit 1 when there are any.

A function is counted from its opening brace to its closing one (lambdas and blocks inside
count toward it). Data tables (one entry per command or setting, no logic) are exempt by name
below. Split a long function where it does more than one thing; do not raise the limit.

    python3 tools/function-length-check.py [--limit 120]
"""
import argparse
import os
import re
import subprocess
import sys

# Tables of data, not logic: their length is the number of entries.
EXEMPT = {"command_table", "setting_table"}
CONTAINER = re.compile(r'^[^(]*\b(namespace|class|struct|enum|union)\b[^(]*\{|^\s*extern\s+"C"')


def strip(line):
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])*'", "''", line)
    return line.split("//")[0]


def long_functions(path, limit):
    found = []
    stack = []  # (kind, first line): c = namespace/class body, f = function body, i = inside
    raw = False
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines):
        if raw:  # inside a raw string literal: no braces count
            raw = ')"' not in line
            continue
        if 'R"(' in line and ')"' not in line.split('R"(', 1)[1]:
            raw = True
        text = strip(line)
        for c in text:
            if c == "{":
                if CONTAINER.search(line):
                    kind = "c"
                elif all(k == "c" for k, _ in stack):
                    kind = "f"
                else:
                    kind = "i"
                stack.append((kind, n))
            elif c == "}" and stack:
                kind, first = stack.pop()
                if kind != "f" or n - first <= limit:
                    continue
                head = " ".join(l.strip() for l in lines[max(first - 2, 0):first + 1])
                names = re.findall(r"([A-Za-z_][A-Za-z_0-9:]*)\s*\(", head)
                name = names[-1] if names else lines[first].strip()
                if name.split("::")[-1] not in EXEMPT:
                    found.append((path, first + 1, n - first, name))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--limit", type=int, default=120)
    args = ap.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    files = subprocess.run(["git", "ls-files", "*.cpp", "*.hpp"], check=True,
                           capture_output=True, text=True).stdout.split()
    sources = [f for f in files if f.split("/")[0] in
               ("base", "proto", "storage", "engine", "k8s", "tools")]
    found = []
    for path in sources:
        found += long_functions(path, args.limit)
    for path, line, length, name in found:
        print(f"{path}:{line}: {name} is {length} lines (limit {args.limit}): split it",
              file=sys.stderr)
    if found:
        return 1
    print(f"function-length-check: no function over {args.limit} lines in {len(sources)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
