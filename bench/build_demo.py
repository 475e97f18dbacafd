"""Benchmark: generate the demo company at a scale and load it through validation.

    python bench/build_demo.py --clicks 1000000 [--db /tmp/bench.duckdb] [--memory-limit 4GB]

Prints the generation and load times, clicks/s through the loader, and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path

from linksim.demo.generate import generate
from linksim.store.connect import connect
from linksim.store.load import load_relation
from linksim.store.query import fetch_value, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--db", help="database file (default: a temporary one)")
    parser.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 4GB")
    args = parser.parse_args()
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "bench.duckdb"
    path.unlink(missing_ok=True)

    con = connect(path, memory_limit=args.memory_limit)
    started = time.perf_counter()
    staged = generate(con, clicks=args.clicks)
    generated = time.perf_counter()
    click_load = 0.0
    for table, relation in staged.items():
        t0 = time.perf_counter()
        load_relation(con, table.split("#")[0], relation, source=f"bench:{table}")
        if table == "mail.click":
            click_load = time.perf_counter() - t0
    loaded = time.perf_counter()
    run(con, "DROP SCHEMA IF EXISTS demo_stage CASCADE")
    clicks = fetch_value(con, "SELECT count(*) FROM mail.click")
    recipients = fetch_value(con, "SELECT count(*) FROM mail.recipient")
    con.close()

    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"command:        python {shlex.join(sys.argv)}")
    print(f"clicks:         {clicks:,} ({recipients:,} recipients)")
    print(f"generate:       {generated - started:.1f} s")
    print(f"load (all):     {loaded - generated:.1f} s")
    print(f"load mail.click {click_load:.1f} s = {clicks / click_load:,.0f} clicks/s")
    print(f"peak RSS:       {rss_gib:.2f} GiB")


if __name__ == "__main__":
    main()
