"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from linksim.store.connect import connect


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
