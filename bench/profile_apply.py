"""Where `linksim apply` spends its time: every SQL statement timed, grouped by what it does.

    python bench/profile_apply.py FRESH.duckdb [--defs data/demo-definitions.yaml] [--top 15]

Applies the definitions to a copy of a generated, never applied database (the original is left
alone) with each statement of the run timed: the engine runs its SQL through
`linksim.store.query.run`, which this script wraps. Prints the wall time, the seconds per group
(classify, the journal, COMMIT, …), the slowest statements and the rest (reading the
definitions, the `--json` summaries, closing; Python's start-up is not counted). For an
operator-level view, run a statement under DuckDB's `EXPLAIN ANALYZE`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib
import io
import pkgutil
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import linksim
from linksim.store import query

ROOT = Path(__file__).resolve().parents[1]

# (group, pattern on the statement): the first that matches names it
GROUPS = (
    ("classify", r"TEMP TABLE ls_(classified|bots)\b"),
    ("eligibility and firing", r"TEMP TABLE ls_(eligible|fired)\b"),
    ("last writer and stored clocks", r"TEMP TABLE ls_state_"),
    ("rendering and responses", r"TEMP TABLE ls_(rendered|responses)\b"),
    ("journal", r"^INSERT INTO linksim\.journal|TEMP TABLE ls_journal\b"),
    ("other steps (follow-ups, tickets, changes)", r"TEMP TABLE ls_"),
    ("COMMIT (DuckDB's checkpoint)", r"^COMMIT"),
    ("other writes", r"^(INSERT|UPDATE|DELETE)"),
    ("other statements", r""),
)


def group_of(sql: str) -> str:
    """The group a statement's time counts in.

    >>> group_of("CREATE OR REPLACE TEMP TABLE ls_state_win AS SELECT 1")
    'last writer and stored clocks'
    >>> group_of("CREATE OR REPLACE TEMP TABLE ls_journal AS SELECT 1")
    'journal'
    """
    return next(name for name, pattern in GROUPS if re.search(pattern, sql))


def timing(run: Callable[..., None], seen: list[tuple[float, str]]) -> Callable[..., None]:
    """``run``, recording (seconds, statement) of each call in ``seen``."""

    def timed(con: Any, sql: str, params: Any = None) -> None:
        started = time.perf_counter()
        run(con, sql, params)
        seen.append((time.perf_counter() - started, " ".join(sql.split())))

    return timed


def wrap_run(seen: list[tuple[float, str]]) -> None:
    """Make every module of linksim that imported `query.run` call the timed one."""
    original = query.run
    timed = timing(original, seen)
    for info in pkgutil.walk_packages(linksim.__path__, "linksim."):
        module = importlib.import_module(info.name)
        if getattr(module, "run", None) is original:
            module.run = timed  # type: ignore[attr-defined]
    query.run = timed  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("db", help="a generated, never applied database (copied first)")
    parser.add_argument("--defs", default=str(ROOT / "data" / "demo-definitions.yaml"))
    parser.add_argument("--top", type=int, default=15, help="slowest statements to list")
    args = parser.parse_args(argv)
    seen: list[tuple[float, str]] = []
    wrap_run(seen)
    from linksim.cli import main as cli

    with tempfile.TemporaryDirectory(dir=Path(args.db).parent) as work:
        copy = Path(work) / "profile.duckdb"
        shutil.copyfile(args.db, copy)
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the result's JSON is not the point
            code = cli(["apply", args.defs, "--db", str(copy), "--json"])
        wall = time.perf_counter() - started
    if code:
        sys.exit(code)
    totals: dict[str, float] = collections.defaultdict(float)
    for seconds, sql in seen:
        totals[group_of(sql)] += seconds
    print(f"wall {wall:.1f} s (after imports); SQL {sum(totals.values()):.1f} s")
    for name, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"{seconds:7.2f}  {name}")
    rest = wall - sum(totals.values())
    print(f"{rest:7.2f}  outside SQL (the definitions, the --json summaries, closing)")
    print("\nslowest statements:")
    for seconds, sql in sorted(seen, reverse=True)[: args.top]:
        print(f"{seconds:7.2f}  {sql[:110]}")


if __name__ == "__main__":
    main()
