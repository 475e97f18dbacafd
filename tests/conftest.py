"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from linksim.store.connect import connect

# The Spark tests' JVMs (tests/test_spark*.py) run a few hundred small queries each and stop:
# much of their processor time went to the optimizing JIT compiler and parallel garbage
# collection. The quick compiler alone and a serial collector took a quarter off those files'
# wall time (380 s against 497 s for the three on 2 cores, with the same Hypothesis seed). A
# variable of the user's own is left alone; `linksim` itself does not set it.
os.environ.setdefault("JDK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty linksim database in memory."""
    connection = connect(":memory:")
    yield connection
    connection.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a linksim database file that does not exist yet."""
    return tmp_path / "test.duckdb"


# The slowest files, slowest first. xdist hands whole files to its workers in the order they
# were collected (`--no-loadscope-reorder` in pyproject.toml: by default it takes the files with
# the most tests first, so the Spark files, which have few, came last and ran alone at the end
# while the other worker had nothing left to do).
SLOWEST_FIRST = (
    "test_spark.py",
    "test_spark_connect.py",
    "test_notebooks.py",
    "test_engine_properties.py",
    "test_backfill.py",
    "test_simulate.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slowest files first (a stable sort: the rest keep their order)."""
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOWEST_FIRST)))
