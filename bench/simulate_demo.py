"""Benchmark: `linksim simulate` of the demo's planned mailing, at a number of recipients.

    python bench/simulate_demo.py [--recipients 100000] [--runs 1000] [--db DEMO.duckdb]

Builds the demo company scaled so that the planned "Product news November 2026" (5 links) has
about ``--recipients`` recipients (unless --db names a database that exists), then times
`linksim simulate data/demo-definitions.yaml --mailing 2026111 --runs N --json` as a subprocess,
wall clock around it, and prints the phases' share from the same run, the recipients, links,
simulated clicks, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import linksim
from linksim._resources import data_path
from linksim.demo.build import build_demo

PLANNED = 2026111
CLICKS_PER_RECIPIENT = 6.95  # demo clicks per recipient of the planned mailing (569k -> 82k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--db", default=None, help="demo database (built when missing)")
    args = parser.parse_args()
    path = Path(args.db or f"/tmp/linksim-sim-{args.recipients}.duckdb")
    if not path.exists():
        t0 = time.perf_counter()
        build_demo(path, clicks=int(args.recipients * CLICKS_PER_RECIPIENT))
        print(f"built {path} in {time.perf_counter() - t0:.1f} s")
    con = linksim.connect(path, create=False)
    recipients, links = con.execute(
        "SELECT (SELECT count(*) FROM mail.recipient WHERE mailing_id = $m),"
        " (SELECT count(*) FROM mail.mailing_link WHERE mailing_id = $m)",
        {"m": PLANNED},
    ).fetchall()[0]
    con.close()
    print(f"command: python {shlex.join(sys.argv)}")
    command = [
        sys.executable, "-m", "linksim", "simulate", str(data_path("demo-definitions.yaml")),
        "--db", str(path), "--mailing", str(PLANNED), "--runs", str(args.runs), "--json",
        "--send-at", "2026-11-03T07:30",
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"simulate failed with exit code {os.waitstatus_to_exitcode(status)}")
    result = json.loads(out)
    clicks = sum(m["mean"] for m in result["metrics"] if m["metric"] == "clicks")
    print(
        f"{args.runs:,} runs x {recipients:,} recipients x {links} links: {seconds:.1f} s "
        f"(start-up and model fit included), {clicks * args.runs:,.0f} simulated clicks, "
        f"peak RSS {usage.ru_maxrss / 2**20:.2f} GiB"
    )


if __name__ == "__main__":
    main()
