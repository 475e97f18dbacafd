"""Benchmark: preview and apply the demo definitions on the demo company at a scale.

    python bench/apply_demo.py --clicks 1000000 [--db /tmp/bench-1m.duckdb]

Builds the demo database (unless --db names one that exists), then times `preview` and `apply`
over all its clicks on a fresh copy of it (an apply on a database already applied would be a no-op)
and prints clicks/s and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import shlex
import shutil
import sys
import time
from pathlib import Path

import linksim
from linksim._resources import data_path
from linksim.demo.build import build_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--db", default=None, help="demo database (built when missing)")
    args = parser.parse_args()
    path = Path(args.db or f"/tmp/linksim-bench-{args.clicks}.duckdb")
    if not path.exists():
        t0 = time.perf_counter()
        build_demo(path, clicks=args.clicks)
        print(f"built {path} in {time.perf_counter() - t0:.1f} s")
    defs = linksim.load_definitions(data_path("demo-definitions.yaml"))
    work = path.with_name(path.stem + "-work.duckdb")
    shutil.copy(path, work)
    con = linksim.connect(work)
    clicks = con.execute("SELECT count(*) FROM mail.click").fetchall()[0][0]
    print(f"command: python {shlex.join(sys.argv)}")
    print(f"clicks:  {clicks:,}")
    for name, run in (("preview", linksim.preview), ("apply", linksim.apply)):
        t0 = time.perf_counter()
        result = run(con, defs)
        seconds = time.perf_counter() - t0
        print(
            f"{name:<8} {seconds:6.2f} s  {clicks / seconds:>12,.0f} clicks/s  "
            f"{result.size('changes'):,} changes"
        )
    con.close()
    work.unlink()
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
