"""The benchmark's replay (`bench/backfill.py --replay-only`) computes what `tests/oracle.py` does.

The benchmark gives the oracle's quadratic functions only the clicks they keep, through indexes
(`replay_indexes`); these tests compare every output of the indexed replay with the plain one, on
a small demo and on random worlds (user-agent and address rules, confirmations, failing scripts).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings

import linksim
from bench import backfill
from linksim.definitions import Definitions, parse_definitions
from linksim.demo.build import build_demo
from linksim.demo.scripts import crm_enrich
from tests import oracle
from tests.strategies import SCRIPTS, World, new_database, worlds_and_definitions


def plain_and_indexed(
    con: duckdb.DuckDBPyConnection, defs: Definitions, scripts: dict[str, Callable[..., Any]]
) -> tuple[oracle.Expected, oracle.Expected]:
    """The oracle's replay as written, then with the benchmark's indexes (undone afterwards)."""
    plain = oracle.replay(con, defs, scripts=scripts)
    with pytest.MonkeyPatch.context() as patch:
        for name, function in backfill.replay_indexes(oracle).items():
            patch.setattr(oracle, name, function)
        indexed = oracle.replay(con, defs, scripts=scripts)
    return plain, indexed


def test_the_indexed_replay_of_a_small_demo_is_the_oracles(tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"
    build_demo(path, clicks=3_000)
    con = linksim.connect(path, read_only=True)
    try:
        defs = linksim.load_definitions(backfill.DEFINITIONS)
        plain, indexed = plain_and_indexed(con, defs, {"crm_enrich": crm_enrich})
    finally:
        con.close()
    assert plain.counts["bot"] > 0 and plain.changes  # the demo exercises the indexed rules
    assert indexed == plain  # every table, the change list and the counts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds_and_definitions())
def test_the_indexed_replay_of_random_worlds_is_the_oracles(
    world_and_defs: tuple[World, dict[str, Any]],
) -> None:
    world, raw = world_and_defs
    con = new_database(world)
    try:
        plain, indexed = plain_and_indexed(con, parse_definitions(raw), SCRIPTS)
    finally:
        con.close()
    assert indexed == plain
