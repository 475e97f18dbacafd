"""`preview` and `apply` on Spark: the DuckDB engine's steps, through `SparkConnection`, on a
warehouse.

>>> preview_spark  # doctest: +ELLIPSIS
<function preview_spark at ...>
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd

from linksim.batches import BatchSpec, parse_batch
from linksim.definitions import Definitions
from linksim.result import RunResult
from linksim.runs import _apply, _check, _preview
from linksim.spark.commit import recover, writer_lock
from linksim.spark.connection import SparkConnection
from linksim.spark.session import register_warehouse
from linksim.store.schema import TABLES
from linksim.warehouse import check_manifest, upgrade_warehouse, warehouse_duckdb

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "COMPARED",
    "apply_spark",
    "check_warehouse",
    "comparable_rows",
    "differing_frames",
    "differing_tables",
    "preview_spark",
]

# The frames of a result that hold its change set, compared between engines
COMPARED = ("changes", "appointments", "tickets", "responses", "bots")

# Columns that say when or how long, which two runs of the same work never share
CLOCKS = {
    "linksim.run": ("started_at", "finished_at"),
    "linksim.batch": ("committed_at", "seconds"),
    "linksim.script_run": ("seconds",),
}


def check_warehouse(
    warehouse: str | os.PathLike[str],
    defs: Definitions,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> None:
    """Refuse, by DuckDB reading the warehouse's files (before Spark starts), what a run cannot
    do: not a warehouse, an empty scope, or definitions naming what it lacks.

    A commit a crash interrupted is finished or discarded first (under the writer lock)."""
    check_manifest(Path(warehouse))  # before a lock file is left in what is no warehouse
    with writer_lock(warehouse):
        recover(warehouse)
        upgrade_warehouse(Path(warehouse))
        con = warehouse_duckdb(warehouse)
        try:
            _check(con, defs, since, until)
        finally:
            con.close()


@contextlib.contextmanager
def _warehouse_connection(
    spark: SparkSession,
    warehouse: str | os.PathLike[str],
    defs: Definitions,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> Iterator[SparkConnection]:
    """The warehouse, checked, as the only writer's connection for the block."""
    with writer_lock(warehouse):  # (re-entered by the check: one process holds it once)
        check_warehouse(warehouse, defs, since, until)
        register_warehouse(spark, warehouse)
        con = SparkConnection(spark, warehouse)
        try:
            yield con
        finally:
            con.close()


def preview_spark(
    spark: SparkSession,
    warehouse: str | os.PathLike[str],
    defs: Definitions,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    mailing: int | None = None,
) -> RunResult:
    """The change set `apply` would make on the warehouse's clicks, computed by Spark.

    As in DuckDB, the preview is recorded as a run (`linksim.run`), and nothing else is kept.
    """
    with _warehouse_connection(spark, warehouse, defs, since, until) as con:
        return _preview(
            con,  # type: ignore[arg-type]
            defs,
            since=since,
            until=until,
            mailing=mailing,
            execute_scripts=False,
            scripts=None,
            checked=True,
        )


def apply_spark(
    spark: SparkSession,
    warehouse: str | os.PathLike[str],
    defs: Definitions,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    mailing: int | None = None,
    batch: str | BatchSpec | None = None,
    progress: bool | None = None,
) -> RunResult:
    """Apply the definitions to the warehouse's clicks on Spark, as `linksim.apply` does in
    DuckDB: the same batches, journal, reversal and records, each batch committed to the
    warehouse's files on its own (`linksim.spark.commit`).

    The result reads its frames through the session: read them before stopping it.
    """
    spec = parse_batch(batch) if isinstance(batch, str) else batch
    with _warehouse_connection(spark, warehouse, defs, since, until) as con:
        return _apply(
            con,  # type: ignore[arg-type]
            defs,
            since=since,
            until=until,
            mailing=mailing,
            batch=spec,
            scripts=None,
            progress=progress,
            checked=True,
        )


def _plain(value: Any) -> str:
    """One cell as text, alike for both engines (Spark gives NaN and floats for NULL ints)."""
    if isinstance(value, np.ndarray):  # a list column, read by DuckDB
        value = value.tolist()
    if isinstance(value, list | dict):
        return repr(value)
    if value is None or pd.isna(value):
        return "NULL"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp | dt.datetime):
        return pd.Timestamp(value).isoformat()
    return str(value)


def comparable_rows(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    """The rows of ``frame`` as sorted tuples of text, columns in name order."""
    # a check of two results (tests, the benchmark), not the engine: it reads every row once
    columns = sorted(frame.columns)
    return sorted(tuple(_plain(v) for v in row) for row in frame[columns].itertuples(index=False))


def differing_frames(a: RunResult, b: RunResult) -> list[str]:
    """The names of the change-set frames (and ``counts``) where two results differ."""
    names = [] if a.counts == b.counts else ["counts"]
    for name in COMPARED:
        left, right = getattr(a, name), getattr(b, name)
        if left.empty and right.empty:
            continue
        if sorted(left.columns) != sorted(right.columns) or comparable_rows(
            left
        ) != comparable_rows(right):
            names.append(name)
    return names


def differing_tables(a: duckdb.DuckDBPyConnection, b: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables whose rows differ between two databases, clocks (`CLOCKS`) left out."""
    names = []
    for t in TABLES:
        columns = [c for c in t.column_names if c not in CLOCKS.get(t.name, ())]
        query = f"SELECT {', '.join(columns)} FROM {t.name}"
        if comparable_rows(a.execute(query).df()) != comparable_rows(b.execute(query).df()):
            names.append(t.name)
    return names
