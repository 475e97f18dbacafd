"""Benchmark: `preview` on Spark in local mode against DuckDB, on the demo company at a scale.

    python bench/spark_local.py [--clicks 1000000] [--master local[2]]

Builds the demo (unless it exists in /tmp), exports it to a warehouse directory, then times
`linksim.preview` on DuckDB and `preview_spark` on a local Spark session over the same data, and
checks that the two change sets hold the same rows. Single-machine figures: Spark in local mode
on 2 cores measures the engine's overheads, not a cluster's speed.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import linksim
from linksim.demo.build import build_demo
from linksim.spark.engine import differing_frames, preview_spark
from linksim.spark.session import spark_session
from linksim.warehouse import export_warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=None, help="demo scale (default: the demo)")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    print(f"command: python {shlex.join(sys.argv)}")
    path = Path(f"/tmp/linksim-spark-bench-{args.clicks or 'demo'}.duckdb")
    if not path.exists():
        build_demo(path, clicks=args.clicks)
    warehouse = path.with_suffix(".warehouse")
    con = linksim.connect(path)
    t0 = time.perf_counter()
    export_warehouse(con, warehouse)
    print(f"export to {warehouse}: {time.perf_counter() - t0:.1f} s")
    defs = linksim.load_definitions(linksim.data_path("demo-definitions.yaml"))
    t0 = time.perf_counter()
    duck = linksim.preview(con, defs)
    duck_s = time.perf_counter() - t0
    clicks = duck.counts["seen"]
    print(f"DuckDB preview: {duck_s:.1f} s, {clicks / duck_s:,.0f} clicks/s, {clicks:,} clicks")
    t0 = time.perf_counter()
    spark = spark_session(args.master)
    print(f"Spark session ({args.master}): {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    result = preview_spark(spark, warehouse, defs)
    spark_s = time.perf_counter() - t0
    print(f"Spark preview: {spark_s:.1f} s, {clicks / spark_s:,.0f} clicks/s")
    differ = differing_frames(duck, result)
    print(f"same rows: {not differ} {differ or ''} ({duck.size('changes'):,} changes)")
    spark.stop()


if __name__ == "__main__":
    main()
