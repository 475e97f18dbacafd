"""`preview` and `apply`: run the engine's pipeline on a scope of clicks and record the run.

>>> import linksim
>>> con = linksim.connect(":memory:")
>>> defs = linksim.parse_definitions({"version": 1, "links": []})
>>> linksim.preview(con, defs).counts["seen"]
0
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import duckdb
import pandas as pd

from linksim.definitions import Definitions, check_definitions
from linksim.engine.changes import CHANGE_STEPS
from linksim.engine.clicks import CLICK_STEPS
from linksim.engine.compile import compile_definitions
from linksim.engine.create import CREATE_STEPS, MACROS
from linksim.engine.pipeline import Step, explain, materialize
from linksim.engine.render import RENDER_STEPS
from linksim.engine.respond import RESPOND_STEPS
from linksim.engine.scripts import ScriptRun, run_scripts
from linksim.engine.state import STATE_STEPS
from linksim.engine.write import write_changes
from linksim.errors import UsageError
from linksim.result import RunResult
from linksim.scripts import Script, registered_scripts
from linksim.store.query import fetch_value, run

__all__ = ["AFTER_SCRIPTS", "BEFORE_SCRIPTS", "apply", "pipeline_sql", "preview"]

BEFORE_SCRIPTS: tuple[Step, ...] = (*CLICK_STEPS, *RENDER_STEPS)
AFTER_SCRIPTS: tuple[Step, ...] = (*STATE_STEPS, *CREATE_STEPS, *RESPOND_STEPS, *CHANGE_STEPS)

FAR_PAST = dt.datetime(1, 1, 1)
FAR_FUTURE = dt.datetime(9999, 12, 31)


# Per owner and local day touched by the run: the follow-ups it creates or moves there, and the
# owner's appointments that day once it is applied, against daily_capacity.
WORKLOAD_SQL = """
WITH after AS (
    SELECT appointment_id, owner_id, starts_at FROM crm.appointment
    WHERE appointment_id NOT IN (SELECT appointment_id FROM ls_appointment_out)
      AND appointment_id NOT IN (SELECT appointment_id FROM ls_rescheduled)
    UNION ALL SELECT appointment_id, owner_id, starts_at FROM ls_appointment_out
    UNION ALL
    SELECT r.appointment_id, a.owner_id, r.starts_at
    FROM ls_rescheduled r JOIN crm.appointment a USING (appointment_id)
),
local AS (
    SELECT a.appointment_id, a.owner_id, s.name, s.daily_capacity,
           CAST(ls_local(a.starts_at, coalesce(s.timezone, 'UTC')) AS DATE) AS day
    FROM after a LEFT JOIN crm.associate s ON s.associate_id = a.owner_id
),
touched AS (
    SELECT appointment_id FROM ls_appointment_out
    UNION ALL SELECT appointment_id FROM ls_rescheduled
)
SELECT owner_id, any_value(name) AS owner, day,
       count(*) FILTER (WHERE appointment_id IN (SELECT appointment_id FROM touched))
         AS follow_ups,
       count(*) AS appointments, any_value(daily_capacity) AS daily_capacity
FROM local
GROUP BY owner_id, day
HAVING count(*) FILTER (WHERE appointment_id IN (SELECT appointment_id FROM touched)) > 0
ORDER BY owner_id, day
"""


def pipeline_sql() -> str:
    """The whole engine as one SQL script (scripts run between the two halves)."""
    return explain((*BEFORE_SCRIPTS, *AFTER_SCRIPTS))


def _params(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    since: dt.datetime | None,
    until: dt.datetime | None,
    mailing: int | None,
) -> None:
    bots = defs.bot_filter
    frame = pd.DataFrame(
        {
            "since": [since or FAR_PAST],
            "until": [until or FAR_FUTURE],
            "mailing_id": pd.Series([mailing], dtype=object),
            "bot_enabled": [bots.enabled],
            "min_seconds_after_delivery": [bots.min_seconds_after_delivery],
            "max_links_per_second": [bots.max_links_per_second],
        }
    )
    con.register("ls_param_frame", frame)
    try:
        run(
            con,
            "CREATE OR REPLACE TEMP TABLE ls_run_param AS SELECT CAST(since AS TIMESTAMP) AS since,"
            " CAST(until AS TIMESTAMP) AS until, CAST(mailing_id AS BIGINT) AS mailing_id,"
            " CAST(bot_enabled AS BOOLEAN) AS bot_enabled,"
            " CAST(min_seconds_after_delivery AS INTEGER) AS min_seconds_after_delivery,"
            " CAST(max_links_per_second AS INTEGER) AS max_links_per_second FROM ls_param_frame",
        )
    finally:
        con.unregister("ls_param_frame")


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    row = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE quarantine_reason IS NULL AND bot_reason IS NULL),"
        " count(*) FILTER (WHERE quarantine_reason IS NULL AND bot_reason IS NOT NULL),"
        " count(*) FILTER (WHERE quarantine_reason IS NOT NULL)"
        " FROM ls_classified WHERE in_scope"
    ).fetchall()[0]
    seen, eligible, bot, quarantined = (int(x) for x in row)
    return {
        "seen": seen,
        "eligible": eligible,
        "bot": bot,
        "duplicate": 0,
        "quarantined": quarantined,
    }


def _start_run(
    con: duckdb.DuckDBPyConnection, mode: str, defs: Definitions, options: dict[str, Any]
) -> int:
    run_id = int(fetch_value(con, "SELECT nextval('linksim.run_id_seq')"))
    run(
        con,
        "INSERT INTO linksim.run (run_id, mode, started_at, status, definitions_sha256, options) "
        "VALUES (?, ?, now()::TIMESTAMP, 'running', ?, ?)",
        [run_id, mode, defs.sha256, json.dumps(options, default=str)],
    )
    return run_id


def _finish_run(
    con: duckdb.DuckDBPyConnection, run_id: int, status: str, counts: Mapping[str, int]
) -> None:
    run(
        con,
        "UPDATE linksim.run SET finished_at = now()::TIMESTAMP, status = ?, clicks_seen = ?, "
        "clicks_eligible = ?, clicks_bot = ?, clicks_duplicate = ?, clicks_quarantined = ? "
        "WHERE run_id = ?",
        [
            status,
            counts.get("seen"),
            counts.get("eligible"),
            counts.get("bot"),
            counts.get("duplicate"),
            counts.get("quarantined"),
            run_id,
        ],
    )


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def _run(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    *,
    mode: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
    mailing: int | None,
    execute_scripts: bool,
    scripts: Mapping[str, Script] | None,
) -> RunResult:
    if since is not None and until is not None and since >= until:
        raise UsageError(f"--since {since} is not before --until {until}: nothing to do")
    check_definitions(defs, con)
    options = {"since": since, "until": until, "mailing": mailing}
    run_id = _start_run(con, mode, defs, options)
    counts: dict[str, int] = {}
    try:
        compile_definitions(con, defs)
        _params(con, defs, since, until, mailing)
        for macro in MACROS:
            run(con, macro)
        materialize(con, BEFORE_SCRIPTS)
        counts = _counts(con)
        script_runs = run_scripts(
            con, scripts if scripts is not None else registered_scripts(), execute=execute_scripts
        )
        materialize(con, AFTER_SCRIPTS)
        result = RunResult(
            run_id=run_id,
            mode=mode,
            counts=counts,
            changes=_frame(
                con,
                "SELECT * FROM ls_changes "
                "ORDER BY changed_at, click_id, action_id, target_kind, target",
            ),
            appointments=_frame(con, "SELECT * FROM ls_appointment_out ORDER BY appointment_id"),
            tickets=_frame(con, "SELECT * FROM ls_ticket_out ORDER BY ticket_id"),
            responses=_frame(con, "SELECT * FROM ls_responses ORDER BY click_id, action_id"),
            workload=_frame(con, WORKLOAD_SQL),
            script_runs=tuple(script_runs),
        )
        if mode == "apply":
            run(con, "BEGIN")
            try:
                write_changes(con, run_id)
                _record_scripts(con, run_id, script_runs)
                _finish_run(con, run_id, "ok", counts)
                run(con, "COMMIT")
            except BaseException:
                run(con, "ROLLBACK")
                raise
        else:
            _record_scripts(con, run_id, script_runs)
            _finish_run(con, run_id, "ok", counts)
    except BaseException:
        _finish_run(con, run_id, "failed", counts)
        raise
    return result


def _record_scripts(
    con: duckdb.DuckDBPyConnection, run_id: int, script_runs: list[ScriptRun]
) -> None:
    if not script_runs:
        return
    frame = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "action_id": r.action_id,
                "script": r.script,
                "clicks": r.clicks,
                "status": r.status,
                "error": r.error,
                "seconds": r.seconds,
            }
            for r in script_runs
        ]
    )
    con.register("ls_script_run_frame", frame)
    try:
        run(
            con,
            "INSERT INTO linksim.script_run (run_id, action_id, script, clicks, status, error, "
            "seconds) SELECT run_id, action_id, script, clicks, status, error, seconds "
            "FROM ls_script_run_frame",
        )
    finally:
        con.unregister("ls_script_run_frame")


def preview(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    mailing: int | None = None,
    run_scripts: bool = False,
    scripts: Mapping[str, Script] | None = None,
) -> RunResult:
    """The change set that `apply` would make, without writing to `crm` (SPEC §4.7)."""
    return _run(
        con,
        defs,
        mode="preview",
        since=since,
        until=until,
        mailing=mailing,
        execute_scripts=run_scripts,
        scripts=scripts,
    )


def apply(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    mailing: int | None = None,
    scripts: Mapping[str, Script] | None = None,
) -> RunResult:
    """Apply the definitions to clicks with ``since <= clicked_at < until`` (and ``mailing``)."""
    return _run(
        con,
        defs,
        mode="apply",
        since=since,
        until=until,
        mailing=mailing,
        execute_scripts=True,
        scripts=scripts,
    )
