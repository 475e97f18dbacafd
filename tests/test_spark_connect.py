"""The Spark engine through Spark Connect: a client without a JVM, talking to a local server.

PySpark starts the server in this process (``remote("local[2]")``). The classic session of
tests/test_spark.py is stopped by then: that module's fixture ends with it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

pytest.importorskip("pyspark")
pytest.importorskip("grpc", reason="Spark Connect needs pyspark[connect] (grpcio)")

import linksim
from linksim.definitions import parse_definitions
from linksim.spark.connection import is_connect
from linksim.spark.engine import apply_spark, differing_tables
from linksim.warehouse import export_warehouse, import_warehouse
from tests.strategies import World, new_database, worlds_and_definitions
from tests.test_spark import ON_SPARK, two_batches


@pytest.fixture(scope="module")
def connect() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    from linksim.spark.session import SETTINGS

    session = SparkSession.builder.remote("local[2]").getOrCreate()
    for key, value in SETTINGS.items():
        session.conf.set(key, value)
    yield session
    session.stop()


@given(case=worlds_and_definitions())
@settings(ON_SPARK, max_examples=1)
def test_an_apply_through_spark_connect_leaves_the_same_rows(
    connect: Any, tmp_path: Path, case: tuple[World, dict[str, Any]]
) -> None:
    assert is_connect(connect)
    world, raw = case
    batch = two_batches(world)
    con = new_database(world)
    folder = tmp_path / f"w{random.getrandbits(32)}"
    export_warehouse(con, folder)
    defs = parse_definitions(raw)
    # two or three batches, not one a day: each step of a Spark Connect run goes through Parquet
    # files; a second batch reads what the first committed, its scratch files released
    duck = linksim.apply(con, defs, batch=batch, progress=False)
    spark = apply_spark(connect, folder, defs, batch=batch, progress=False)
    assert spark.counts == duck.counts
    assert spark.batches == duck.batches
    back = linksim.connect(":memory:")
    import_warehouse(back, folder)
    assert differing_tables(con, back) == []
    # the steps' scratch folders are gone with the run
    assert not any((folder / "_scratch").iterdir())
