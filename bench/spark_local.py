"""Benchmark: `preview` and `apply` on Spark in local mode against DuckDB, on the demo company.

    python bench/spark_local.py [--clicks 1000000] [--master local[2]] [--batch 13w]

Builds the demo (unless it exists in /tmp), exports it to a warehouse directory, then times
`linksim.preview` on DuckDB and `preview_spark` on a local Spark session over the same data and
checks that the two change sets hold the same rows; then times `linksim.apply` (on a copy of the
database) and `apply_spark` (on the warehouse) and checks that every table holds the same rows.
Single-machine figures: Spark in local mode on 2 cores measures the engine's overheads, not a
cluster's speed.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import time
from pathlib import Path

import linksim
from linksim.demo.build import build_demo
from linksim.spark.engine import apply_spark, differing_frames, differing_tables, preview_spark
from linksim.spark.session import spark_session
from linksim.warehouse import export_warehouse, import_warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=None, help="demo scale (default: the demo)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--batch", default=None, help="the applies' --batch (default: none)")
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
    con.close()

    copy = path.with_suffix(".applied.duckdb")
    shutil.copy(path, copy)
    con = linksim.connect(copy)
    t0 = time.perf_counter()
    duck = linksim.apply(con, defs, batch=args.batch, progress=False)
    duck_s = time.perf_counter() - t0
    print(f"DuckDB apply: {duck_s:.1f} s, {clicks / duck_s:,.0f} clicks/s")
    t0 = time.perf_counter()
    result = apply_spark(spark, warehouse, defs, batch=args.batch, progress=False)
    spark_s = time.perf_counter() - t0
    batches = result.batches["committed"]
    print(f"Spark apply: {spark_s:.1f} s, {clicks / spark_s:,.0f} clicks/s, {batches} batch(es)")
    spark.stop()
    back = linksim.connect(":memory:")
    import_warehouse(back, warehouse)
    differ = differing_tables(con, back)
    print(f"same rows in every table: {not differ} {differ or ''}")
    copy.unlink()


if __name__ == "__main__":
    main()
