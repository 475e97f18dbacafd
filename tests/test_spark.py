"""The Spark engine computes the same change set as DuckDB: real Spark, local mode (SPEC §7).

Random worlds and definitions (tests/strategies.py) go through `linksim.preview` and
`linksim.apply` on DuckDB and through `preview_spark` and `apply_spark` on a warehouse exported
from the same database: every frame of the two previews, and after each apply every row of every
`crm`, `mail` and `linksim` table (ids included, clocks left out), must be the same. One Spark
session serves the whole module.
"""

from __future__ import annotations

import ipaddress
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings

import linksim
from linksim import runs
from linksim.definitions import parse_definitions
from linksim.engine.clicks import IP_MACROS
from linksim.result import RunResult
from linksim.warehouse import export_warehouse, import_warehouse
from tests.strategies import World, new_database, worlds_and_definitions

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("the Spark engine needs a Java runtime", allow_module_level=True)

from linksim.spark.connection import SparkConnection
from linksim.spark.engine import (
    COMPARED,
    apply_spark,
    comparable_rows,
    differing_tables,
    preview_spark,
)
from linksim.spark.session import spark_session

# Few examples, each a few Spark runs; a failing world is reported as drawn: shrinking it
# through Spark would take many minutes
ON_SPARK = settings(
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)  # fmt: skip


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = spark_session("local[2]")
    yield session
    session.stop()


def _same(duck: RunResult, spark: RunResult) -> None:
    assert spark.counts == duck.counts
    for name in COMPARED:
        want, got = getattr(duck, name), getattr(spark, name)
        if want.empty and got.empty:
            continue
        assert sorted(got.columns) == sorted(want.columns), name
        assert comparable_rows(got) == comparable_rows(want), name


@given(case=worlds_and_definitions())
@settings(ON_SPARK, max_examples=1)
def test_random_worlds_give_the_same_change_set(
    spark: Any, tmp_path: Path, case: tuple[World, dict[str, Any]]
) -> None:
    world, raw = case
    con = new_database(world)
    defs = parse_definitions(raw)
    folder = tmp_path / f"w{random.getrandbits(32)}"
    export_warehouse(con, folder)
    _same(linksim.preview(con, defs), preview_spark(spark, folder, defs))


def _tables_after(warehouse: Path) -> Any:
    back = linksim.connect(":memory:")
    import_warehouse(back, warehouse)
    return back


def _same_rows(con: Any, warehouse: Path, duck: RunResult, spark: RunResult) -> Any:
    """Assert that the two applies did the same; the warehouse's tables, read back."""
    assert spark.counts == duck.counts
    assert spark.batches == duck.batches
    assert spark.reversal == duck.reversal
    # counted batch by batch, in temporary relations: Spark's are views, checkpointed
    assert comparable_rows(spark.bots_by_rule()) == comparable_rows(duck.bots_by_rule())
    back = _tables_after(warehouse)
    assert differing_tables(con, back) == []
    return back


def two_batches(world: World) -> str:
    """A ``--batch`` that cuts the world's clicks into two or three batches: enough for a
    committed one, a failed one and a rerun, and few Spark commits, which cost seconds each."""
    days = sorted({c["clicked_at"].date() for c in world["mail.click"]})
    assume(len(days) >= 2)
    return f"{-(-((days[-1] - days[0]).days + 1) // 2)}d"


@given(case=worlds_and_definitions())
@settings(ON_SPARK, max_examples=1)
def test_random_worlds_apply_the_same_rows_through_a_failed_batch_and_a_reversal(
    spark: Any, tmp_path: Path, case: tuple[World, dict[str, Any]]
) -> None:
    # One test for three things, as each Spark batch costs seconds (a minute on 2 cores, most
    # of it planning): batches, a batch that fails after writing and the rerun that finishes,
    # and the reversal of what bots' clicks did
    world, raw = case
    batch = two_batches(world)
    con = new_database(world)
    # bots' clicks fire first; then, with the filter on, the batches reverse what they did.
    # The first apply is DuckDB's, exported as the warehouse both engines go on from: Spark's
    # own first apply of a world is compared in tests/test_spark_connect.py (in batches, through
    # Spark Connect), not here
    bot_filter = raw.get("bot_filter", {})
    unfiltered = parse_definitions({**raw, "bot_filter": {**bot_filter, "enabled": False}})
    filtered = parse_definitions({**raw, "bot_filter": {**bot_filter, "enabled": True}})
    linksim.apply(con, unfiltered, progress=False)
    folder = tmp_path / f"w{random.getrandbits(32)}"
    export_warehouse(con, folder)
    real = runs.write_changes
    reruns: list[RunResult] = []
    for engine in (
        lambda: linksim.apply(con, filtered, batch=batch, progress=False),
        lambda: apply_spark(spark, folder, filtered, batch=batch, progress=False),
    ):
        calls: list[int] = []

        def failing(*args: Any, calls: list[int] = calls, **kwargs: Any) -> None:
            real(*args, **kwargs)
            calls.append(1)
            if len(calls) == 2:  # the second batch fails after writing
                raise RuntimeError("injected")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(runs, "write_changes", failing)
            with pytest.raises(RuntimeError, match="injected"):
                engine()
        reruns.append(engine())
    back = _same_rows(con, folder, *reruns)
    assert reruns[0].batches["skipped"] == 1
    assert back.execute("SELECT status FROM linksim.run ORDER BY run_id").fetchall() == [
        ("ok",),
        ("failed",),
        ("ok",),
    ]


def test_addresses_are_numbered_alike(spark: Any) -> None:
    rng = random.Random(3)
    texts = ["1.2.3.4", "::", "::1", "1::", "fe80::1:2", "2001:DB8:0:0:0:0:0:1",
             "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8", "256.1.1.1", "01.2.3.4", "1::2::3",
             "1:2:3:4:5:6:7:8:9", "x", "", " 10.0.0.1 ", "::ffff:300.1.1.1"]  # fmt: skip
    for _ in range(50):
        texts.append(str(ipaddress.IPv4Address(rng.getrandbits(32))))
        v6 = ipaddress.IPv6Address(rng.getrandbits(128) >> rng.choice((0, 64, 100)))
        texts += [v6.compressed, v6.exploded]
    frame = pd.DataFrame({"no": range(len(texts)), "ip": texts})
    query = "SELECT no, ls_ip_number(ip) FROM addresses ORDER BY no"
    duck = linksim.connect(":memory:")
    for macro in IP_MACROS:
        duck.execute(macro).fetchall()
    duck.register("addresses", frame)
    want = duck.execute(query).fetchall()
    con = SparkConnection(spark)
    con.register("addresses", frame)
    assert con.execute(query).fetchall() == want
