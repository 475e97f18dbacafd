"""The script step: one call per script action with its fired clicks, results checked in SQL.

This is the one place where the engine hands rows to Python, by design (SPEC §4.9): a script
receives the whole batch as a DataFrame. Returned field changes are validated set-based and
become `ls_script_op`, which the state steps treat like `set_field` ops.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import pandas as pd

from linksim.scripts import Script
from linksim.store.query import run
from linksim.store.validate import TABLE_RULES

__all__ = ["ScriptRun", "run_scripts"]

CLICKS_SQL = """
SELECT f.person_id AS cust_id, f.link_id, f.mailing_id AS shipment_id, l.url AS link_url,
       f.link_hits, back.url AS return_url, f.click_id, f.clicked_at
FROM ls_fired f
JOIN ls_def_action a ON a.action_no = f.action_no
LEFT JOIN mail.link l ON l.link_id = f.link_id
LEFT JOIN (  -- the entry's first redirect
    SELECT a2.entry_no, arg_min(r.url, a2.action_no) AS url
    FROM ls_def_action a2 JOIN ls_def_response r ON r.action_no = a2.action_no
    WHERE r.kind = 'redirect'
    GROUP BY a2.entry_no
) back ON back.entry_no = a.entry_no
WHERE f.action_no = ?
ORDER BY f.clicked_at, f.click_id
"""


@dataclass(frozen=True)
class ScriptRun:
    """One script call: what `linksim.script_run` records."""

    action_id: str
    script: str
    clicks: int
    status: str  # ok, error or skipped
    error: str | None
    seconds: float


def _check_output(con: duckdb.DuckDBPyConnection, action_no: int) -> str | None:
    """Why the returned changes in `ls_script_out` cannot be applied, or None."""
    rules = " OR ".join(f"({c.condition})" for c in TABLE_RULES["crm.person_field"])
    problems = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE s.click_id NOT IN (
                   SELECT click_id FROM ls_fired WHERE action_no = ?)),
               count(*) FILTER (WHERE s.field NOT IN (SELECT name FROM crm.extra_field)),
               count(*) FILTER (WHERE {rules}),
               any_value(s.field) FILTER (WHERE s.field NOT IN (SELECT name FROM crm.extra_field))
        FROM ls_script_out s
        """,
        [action_no],
    ).fetchall()[0]
    other_clicks, unknown, unfit, example = problems
    if other_clicks:
        return f"returned {other_clicks} change(s) for clicks it was not given"
    if unknown:
        return f"returned {unknown} change(s) of unknown fields, e.g. {example!r}"
    if unfit:
        return f"returned {unfit} value(s) that do not fit their field's type"
    return None


def run_scripts(
    con: duckdb.DuckDBPyConnection,
    scripts: Mapping[str, Script],
    *,
    execute: bool,
) -> list[ScriptRun]:
    """Call each fired script action once; leave the accepted field changes in `ls_script_op`."""
    run(
        con,
        "CREATE OR REPLACE TEMP TABLE ls_script_op "
        "(click_id BIGINT, action_no INTEGER, field VARCHAR, value VARCHAR)",
    )
    actions = con.execute(
        "SELECT s.action_no, a.action_id, s.script, count(f.click_id) "
        "FROM ls_def_script s JOIN ls_def_action a USING (action_no) "
        "JOIN ls_fired f ON f.action_no = s.action_no GROUP BY ALL ORDER BY s.action_no"
    ).fetchall()
    records = []
    for action_no, action_id, name, n in actions:  # a loop over actions, not clicks
        if not execute:
            records.append(ScriptRun(action_id, name, n, "skipped", None, 0.0))
            continue
        records.append(_call(con, scripts, action_no, action_id, name, n))
    return records


def _call(
    con: duckdb.DuckDBPyConnection,
    scripts: Mapping[str, Script],
    action_no: int,
    action_id: str,
    name: str,
    n: int,
) -> ScriptRun:
    function = scripts.get(name)
    if function is None:
        known = ", ".join(sorted(scripts)) or "none"
        return ScriptRun(
            action_id,
            name,
            n,
            "error",
            f"no script named {name!r} is registered (registered: {known})",
            0.0,
        )
    clicks = con.execute(CLICKS_SQL, [action_no]).df()
    started = time.perf_counter()
    try:
        result = function(clicks)
    except Exception as exc:
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return ScriptRun(action_id, name, n, "error", last, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if result is None:
        return ScriptRun(action_id, name, n, "ok", None, seconds)
    if not isinstance(result, pd.DataFrame) or not {"click_id", "field", "value"} <= set(
        result.columns
    ):
        return ScriptRun(
            action_id,
            name,
            n,
            "error",
            "expected None or a DataFrame with columns click_id, field, value",
            seconds,
        )
    # the frame's order says which of two values for a field wins: the last
    out = result[["click_id", "field", "value"]].astype(object).assign(pos=range(len(result)))
    con.register("ls_script_frame", out)
    try:
        run(
            con,
            "CREATE OR REPLACE TEMP TABLE ls_script_out AS SELECT TRY_CAST(click_id AS BIGINT) "
            "AS click_id, CAST(field AS VARCHAR) AS field, CAST(value AS VARCHAR) AS value, "
            "CAST(pos AS BIGINT) AS pos FROM ls_script_frame",
        )
    finally:
        con.unregister("ls_script_frame")
    problem = _check_output(con, action_no)
    if problem:
        return ScriptRun(action_id, name, n, "error", problem, seconds)
    run(
        con,
        "INSERT INTO ls_script_op SELECT click_id, ?, field, value FROM ls_script_out "
        "QUALIFY row_number() OVER (PARTITION BY click_id, field ORDER BY pos DESC) = 1",
        [action_no],
    )
    return ScriptRun(action_id, name, n, "ok", None, seconds)
