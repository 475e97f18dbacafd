"""Backtests of the simulation's click model: the table of docs/SIMULATION.md.

    python bench/calibrate.py [--worlds 400] [--work-dir /tmp/linksim-calibrate]

Builds the Hillstrom database and the default demo company (not applied: the demo's actions
would leave traces of past clicks in the fields the model reads), then runs both backtests of
`linksim.simulation.calibrate` and prints, per backtest, the cells, the coverage of the 50% and
90% intervals and the mean absolute error against the base-rate model's; then per covariate.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import pandas as pd

import linksim
from linksim._resources import data_path
from linksim.demo.build import build_demo
from linksim.simulation import calibrate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=400)
    parser.add_argument("--work-dir", default="/tmp/linksim-calibrate")
    args = parser.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    print(f"command: python {shlex.join(sys.argv)}")
    results = []
    for name, dataset, defs in (
        ("hillstrom.duckdb", "hillstrom", linksim.parse_definitions({"version": 1, "links": []})),
        ("company.duckdb", "company", linksim.load_definitions(data_path("demo-definitions.yaml"))),
    ):
        path = work / name
        build_demo(path, dataset=dataset)
        con = linksim.connect(path, create=False)
        t0 = time.perf_counter()
        if dataset == "hillstrom":
            result = calibrate.hillstrom_backtest(con, defs, worlds=args.worlds)
        else:
            result = calibrate.demo_backtest(con, defs, worlds=args.worlds)
        con.close()
        print(f"{result.name}: {time.perf_counter() - t0:.1f} s")
        results.append(result)
    pd.set_option("display.width", 200)
    print(pd.DataFrame([r.summary() for r in results]).to_string(index=False))
    for r in results:
        c = r.cells
        inside = (c.observed >= c.p05) & (c.observed <= c.p95)
        per = (
            c.assign(inside=inside)
            .groupby("attr")
            .agg(cells=("inside", "size"), coverage90=("inside", "mean"))
        )
        print(f"\n{r.name}: 90% coverage per covariate")
        print(per.round(3).to_string())


if __name__ == "__main__":
    main()
