#!/usr/bin/env python3
"""Smoke test of the benchmark harness (ctest: bench_smoke, label integration): a tiny run, one
repetition, so bench/run.py cannot rot. It checks that the table and the JSON are produced with
the expected rows and that every redis-server the run started is gone. It checks no timing.

  KAGE_BINARY=build/tools/kage python3 bench/smoke.py

KAGE_KEEP_TEST_DIRS=1 keeps the output directory.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED_ROWS = {
    "backup.wall", "backup.wall_pipe_only", "backup.client_cpu", "backup.server_cpu",
    "backup.cpu_per_key", "backup.peak_rss", "restore.wall", "restore.wall_pipe_only",
    "restore.client_cpu", "restore.server_cpu", "snapshot.wall", "s3.upload_wall",
    "s3.upload_cpu", "s3.upload_mb_s", "s3.upload_cpu_per_gb", "s3.two_locations_wall", "rss_sweep",
    "sentinel.backup_wall", "sentinel.backup_client_cpu", "sentinel.backup_cpu_per_key",
}
# Rows that need something this build or machine may lack; the others must be measured.
MAY_SKIP = {"snapshot.wall", "s3.upload_wall", "s3.upload_cpu", "s3.upload_mb_s",
            "s3.upload_cpu_per_gb", "s3.two_locations_wall", "sentinel.backup_wall",
            "sentinel.backup_client_cpu", "sentinel.backup_cpu_per_key"}


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def main():
    if not os.environ.get("KAGE_BINARY"):
        sys.exit("smoke: set KAGE_BINARY to the kage binary")
    out = Path(tempfile.mkdtemp(prefix="kage-bench-smoke."))
    failures = []
    try:
        cmd = [sys.executable, str(HERE / "run.py"), "-n", "2000", "--mixed", "--reps", "1",
               "--rss-sweep", "--sweep-sizes", "500,1000", "--s3-keys", "500", "--s3-reps", "1", "--time-limit", "130",
               "--keep",
               "--out", str(out)]
        print("smoke: " + " ".join(cmd), flush=True)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        print(r.stdout)
        print(r.stderr, file=sys.stderr)
        if r.returncode != 0:
            failures.append(f"run.py exited {r.returncode}")
        if "kage beside its peers" not in r.stdout or "measurement" not in r.stdout:
            failures.append("no table on stdout")
        try:
            doc = json.loads((out / "results.json").read_text())
        except (OSError, ValueError) as e:
            doc = {}
            failures.append(f"results.json: {e}")
        rows = {row["id"]: row for row in doc.get("rows", [])}
        if set(rows) != EXPECTED_ROWS:
            failures.append(f"rows {sorted(rows)}, expected {sorted(EXPECTED_ROWS)}")
        for id_, row in rows.items():
            allowed = {"met", "missed", "info"} | ({"skipped"} if id_ in MAY_SKIP else set())
            if row.get("verdict") not in allowed:
                failures.append(f"row {id_}: verdict {row.get('verdict')!r}: {row.get('note')}")
        if "rss_sweep" in rows and [p["keys"] for p in rows["rss_sweep"].get("sweep", [])] != \
                [500, 1000]:
            failures.append("rss_sweep does not hold the sizes 500 and 1000")
        md = out / "results.md"
        if not md.exists() or "| measurement |" not in md.read_text():
            failures.append("results.md has no table")
        for pidfile in (out / "work").glob("*/*/redis.pid"):
            pid = int(pidfile.read_text())
            if alive(pid):
                failures.append(f"redis-server {pid} ({pidfile.parent}) still runs")
                os.kill(pid, 9)
    finally:
        if os.environ.get("KAGE_KEEP_TEST_DIRS"):
            print(f"smoke: kept {out}")
        else:
            shutil.rmtree(out, ignore_errors=True)
    for f in failures:
        print(f"smoke: FAILED: {f}", file=sys.stderr)
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
