"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from linksim.store.connect import connect

# The Spark tests' JVMs (tests/test_spark.py, tests/test_spark_connect.py) run a few hundred
# small queries each and stop. With the quick JIT compiler only and a serial collector, one cold
# apply of a small demo took 121 s of the JVM's processor time instead of 177 s, and the Spark
# test files 380 s instead of 497 s on 2 cores (the same Hypothesis seed). Most of a step's
# time is Spark compiling its generated code, thousands of small classes: not verifying their
# bytecode and not sweeping the compiled code out of a cache big enough to keep it took three
# previews of the demo from 77, 64 and 59 s to 68, 48 and 50 s. Not when the user passes JVM
# options of their own (two collectors chosen would stop it); `linksim` itself sets none.
JVM_OPTIONS = (
    "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:+UnlockDiagnosticVMOptions "
    "-XX:-BytecodeVerificationRemote -XX:-UseCodeCacheFlushing -XX:ReservedCodeCacheSize=512m"
)
if not {"JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS"} & os.environ.keys():
    os.environ["JDK_JAVA_OPTIONS"] = JVM_OPTIONS


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
