"""`preview` on Spark: the DuckDB engine's steps, through `SparkConnection`, on a warehouse.

>>> preview_spark  # doctest: +ELLIPSIS
<function preview_spark at ...>
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Any

import pandas as pd

from linksim.definitions import Definitions
from linksim.errors import UsageError
from linksim.result import RunResult
from linksim.runs import PREVIEW_FRAMES, _check, _compile, _pipeline
from linksim.spark.connection import SparkConnection
from linksim.spark.session import register_warehouse
from linksim.warehouse import warehouse_duckdb

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["COMPARED", "check_warehouse", "comparable_rows", "differing_frames", "preview_spark"]

# The frames of a result that hold its change set, compared between engines
COMPARED = ("changes", "appointments", "tickets", "responses", "bots")

# the changes of a preview: here only the pipeline's (no reversal runs on Spark)
CHANGES_SQL = (
    "SELECT click_id, action_id, person_id, target_kind, target, old_value, new_value,"
    " changed_at, contact_id, NULL AS cause FROM ls_changes"
    " ORDER BY changed_at, click_id, action_id, target_kind, target"
)


def check_warehouse(
    warehouse: str | os.PathLike[str],
    defs: Definitions,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> None:
    """Refuse what the Spark engine cannot preview, by DuckDB reading the warehouse's files
    (before Spark starts): not a warehouse, one that an apply has written to (reversing earlier
    runs is not on Spark yet), an empty scope, or definitions naming what it lacks."""
    con = warehouse_duckdb(warehouse)
    try:
        journal = con.execute("SELECT count(*) FROM linksim.journal").fetchall()[0][0]
        if not journal:
            _check(con, defs, since, until)
    finally:
        con.close()
    if journal:
        raise UsageError(
            f"{warehouse}: an apply has written to this warehouse ({journal:,} journal entries), "
            "and the Spark engine cannot yet reverse earlier runs as a preview must: preview "
            "it with DuckDB (linksim import --warehouse DIR --db DB, then linksim preview), or "
            "export a database no apply has written to"
        )


def preview_spark(
    spark: SparkSession,
    warehouse: str | os.PathLike[str],
    defs: Definitions,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    mailing: int | None = None,
) -> RunResult:
    """The change set `apply` would make on the warehouse's clicks, computed by Spark."""
    check_warehouse(warehouse, defs, since, until)
    register_warehouse(spark, warehouse)
    con = SparkConnection(spark)
    _compile(con, defs)  # type: ignore[arg-type]
    counts, script_runs = _pipeline(
        con,  # type: ignore[arg-type]
        defs,
        since=since,
        until=until,
        mailing=mailing,
        execute_scripts=False,
        scripts=None,
    )
    frames = {
        name: con.execute(sql).df()
        for name, sql in {"changes": CHANGES_SQL, **PREVIEW_FRAMES}.items()
    }
    return RunResult(0, "preview", counts, frames=frames, script_runs=tuple(script_runs))


def _plain(value: Any) -> str:
    """One cell as text, alike for both engines (Spark gives NaN and floats for NULL ints)."""
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
