"""Benchmark: `linksim lint` with its historical counts on the demo company at a scale.

    python bench/lint_demo.py --clicks 10000000 [--db FRESH.duckdb] [--memory-limit 4GB]

Builds the demo database (unless --db names one that exists), copies it (opening an older file
migrates it), then times `linksim lint` of both definitions files in `data/` as subprocesses,
wall clock around each, and prints the findings counted, clicks/s and each process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from linksim._resources import data_path
from linksim.demo.build import build_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=10_000_000)
    parser.add_argument("--db", default=None, help="demo database (built when missing)")
    args = parser.parse_args()
    path = Path(args.db or f"/tmp/linksim-bench-{args.clicks}.duckdb")
    if not path.exists():
        t0 = time.perf_counter()
        build_demo(path, clicks=args.clicks)
        print(f"built {path} in {time.perf_counter() - t0:.1f} s")
    work = path.with_name(path.stem + "-lint.duckdb")
    shutil.copy(path, work)
    print(f"command: python {shlex.join(sys.argv)}")
    try:
        # the first open migrates an older file: not lint's time
        subprocess.run([sys.executable, "-m", "linksim", "init", "--db", str(work)], check=True)
        for name in ("demo-definitions.yaml", "conflicts-definitions.yaml"):
            command = ["linksim", "lint", str(data_path(name)), "--db", str(work), "--json"]
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "linksim", *command[1:]], stdout=subprocess.PIPE
            )
            out = proc.stdout.read() if proc.stdout else b""
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - t0
            result = json.loads(out)
            clicks = result["clicks"]
            print(
                f"{name:<28} {seconds:6.1f} s  {clicks / seconds:>12,.0f} clicks/s  "
                f"{len(result['findings'])} findings  exit {os.waitstatus_to_exitcode(status)}  "
                f"peak RSS {usage.ru_maxrss / 2**20:.2f} GiB  ({clicks:,} clicks)"
            )
    finally:
        work.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
