"""`preview` on Spark: the DuckDB engine's steps, through `SparkConnection`, on a warehouse.

>>> preview_spark  # doctest: +ELLIPSIS
<function preview_spark at ...>
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING

from linksim.definitions import Definitions
from linksim.engine.compile import compile_definitions
from linksim.errors import UsageError
from linksim.result import RunResult
from linksim.runs import BOT_RULES_SQL, WORKLOAD_SQL, _pipeline, _prepare
from linksim.spark.connection import SparkConnection
from linksim.spark.session import register_warehouse
from linksim.warehouse import warehouse_duckdb

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["preview_spark"]

FRAMES = {
    "changes": "SELECT click_id, action_id, person_id, target_kind, target, old_value, new_value,"
    " changed_at, contact_id, NULL AS cause FROM ls_changes"
    " ORDER BY changed_at, click_id, action_id, target_kind, target",
    "appointments": "SELECT * FROM ls_appointment_out ORDER BY appointment_id",
    "tickets": "SELECT * FROM ls_ticket_out ORDER BY ticket_id",
    "responses": "SELECT * FROM ls_responses ORDER BY click_id, action_id",
    "workload": WORKLOAD_SQL,
    "bots": "SELECT * FROM ls_bots ORDER BY clicked_at, click_id",
    "bot_rules": f"WITH bots AS (SELECT * FROM ls_bots), {BOT_RULES_SQL}",
}


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
    register_warehouse(spark, warehouse)
    con = SparkConnection(spark)
    if con.execute("SELECT count(*) FROM linksim.journal").fetchall()[0][0]:
        raise UsageError(
            "the Spark engine previews warehouses that no apply has written to yet (an empty "
            "linksim.journal): reversing earlier runs is not on Spark yet"
        )
    # the names the definitions use are checked by DuckDB, reading the warehouse's files
    check = warehouse_duckdb(warehouse)
    try:
        _prepare(check, defs, since, until)
    finally:
        check.close()
    compile_definitions(con, defs)  # type: ignore[arg-type]
    con.execute("CREATE OR REPLACE TEMP TABLE ls_freed_owners (owner_id BIGINT)")
    counts, script_runs = _pipeline(
        con,  # type: ignore[arg-type]
        defs,
        since=since,
        until=until,
        mailing=mailing,
        execute_scripts=False,
        scripts=None,
    )
    frames = {name: con.execute(sql).df() for name, sql in FRAMES.items()}
    return RunResult(0, "preview", counts, frames=frames, script_runs=tuple(script_runs))
