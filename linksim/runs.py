"""`preview` and `apply`: run the engine's pipeline on a scope of clicks and record the run.

>>> import linksim
>>> con = linksim.connect(":memory:")
>>> defs = linksim.parse_definitions({"version": 1, "links": []})
>>> linksim.preview(con, defs).counts["seen"]
0
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import duckdb
import pandas as pd

from linksim.batches import Batch, BatchSpec, parse_batch, plan_batches
from linksim.definitions import Definitions, check_definitions
from linksim.engine.changes import CHANGE_STEPS
from linksim.engine.clicks import BOT_REASONS, CLICK_STEPS, IP_MACROS
from linksim.engine.compile import compile_definitions
from linksim.engine.create import CREATE_STEPS, MACROS
from linksim.engine.pipeline import Step, explain, materialize
from linksim.engine.render import RENDER_STEPS
from linksim.engine.respond import RESPOND_STEPS
from linksim.engine.scripts import ScriptRun, run_scripts
from linksim.engine.state import STATE_STEPS
from linksim.engine.write import write_changes
from linksim.errors import DatabaseError, UsageError
from linksim.journal import record
from linksim.progress import progress_bar
from linksim.result import RunResult
from linksim.reversal import reverse_bot_changes
from linksim.scripts import Script, registered_scripts
from linksim.store.query import fetch_one, fetch_value, run, transaction, unordered_inserts

__all__ = [
    "AFTER_SCRIPTS",
    "BEFORE_SCRIPTS",
    "OUTPUTS",
    "apply",
    "fire_history",
    "pipeline_sql",
    "preview",
    "simulate_pipeline",
]

BEFORE_SCRIPTS: tuple[Step, ...] = (*CLICK_STEPS, *RENDER_STEPS)
AFTER_SCRIPTS: tuple[Step, ...] = (*STATE_STEPS, *CREATE_STEPS, *RESPOND_STEPS, *CHANGE_STEPS)

# What `write_changes` and the result read once the pipeline has run; the rest is dropped early.
OUTPUTS = (
    "ls_state_applied",
    "ls_appointment_out",
    "ls_rescheduled",
    "ls_ticket_out",
    "ls_responses",
    "ls_changes",
)

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


# The same after an apply, from the database: the follow-ups this run created or moved.
APPLIED_WORKLOAD_SQL = """
SELECT a.owner_id, any_value(s.name) AS owner,
       CAST(ls_local(a.starts_at, coalesce(s.timezone, 'UTC')) AS DATE) AS day,
       count(*) FILTER (WHERE a.appointment_id IN (
           SELECT target FROM linksim.change
           WHERE run_id = $run AND target_kind = 'appointment')) AS follow_ups,
       count(*) AS appointments, any_value(s.daily_capacity) AS daily_capacity
FROM crm.appointment a LEFT JOIN crm.associate s ON s.associate_id = a.owner_id
GROUP BY a.owner_id, day
HAVING follow_ups > 0
"""


# The run's bot clicks, with the rule that caught each: kept apart when the pipeline drops the
# classification, for `linksim.bot_click` and the summary per rule.
BOTS_SQL = """
CREATE OR REPLACE TEMP TABLE ls_bots AS
SELECT click_id, mailing_id, link_id, person_id, clicked_at, bot_reason AS reason,
       bot_detail AS detail
FROM ls_classified
WHERE in_scope AND quarantine_reason IS NULL AND bot_reason IS NOT NULL
"""

# Per bot rule: the clicks and people it caught, and the actions those clicks did not trigger:
# per action type, how many of its actions' links they clicked. After `WITH per_link AS (…),
# people AS (…),`: the bot clicks per (rule, link, mailing), one row each, and the (rule,
# person) pairs. Counted per link before the join to the actions: millions of bot clicks, few
# links.
BOT_RULES_SQL = f"""
hit AS (
    SELECT DISTINCT g.reason, g.link_id, g.mailing_id, g.clicks, a.type
    FROM per_link g
    JOIN ls_def_link_action la
      ON la.link_id = g.link_id AND (la.mailing_id IS NULL OR la.mailing_id = g.mailing_id)
    JOIN ls_def_action a ON a.action_no = la.action_no
),
held AS (
    SELECT reason, string_agg(type || ' ' || clicks, ', ' ORDER BY clicks DESC, type)
             AS actions_not_triggered
    FROM (SELECT reason, type, sum(clicks)::BIGINT AS clicks FROM hit GROUP BY ALL)
    GROUP BY reason
)
SELECT r.reason, r.clicks, p.people, h.actions_not_triggered
FROM (SELECT reason, sum(clicks)::BIGINT AS clicks FROM per_link GROUP BY reason) r
JOIN (SELECT reason, count(DISTINCT person_id) AS people FROM people GROUP BY reason) p
  USING (reason)
LEFT JOIN held h USING (reason)
ORDER BY list_position({list(BOT_REASONS)!r}, r.reason)
"""


# A preview's frames besides its changes, read from the pipeline's outputs (by every engine).
PREVIEW_FRAMES = {
    "appointments": "SELECT * FROM ls_appointment_out ORDER BY appointment_id",
    "tickets": "SELECT * FROM ls_ticket_out ORDER BY ticket_id",
    "responses": "SELECT * FROM ls_responses ORDER BY click_id, action_id",
    "workload": WORKLOAD_SQL,
    "bots": "SELECT * FROM ls_bots ORDER BY clicked_at, click_id",
    "bot_rules": "WITH per_link AS (SELECT reason, link_id, mailing_id, count(*) AS clicks"
    " FROM ls_bots GROUP BY ALL),"
    f" people AS (SELECT reason, person_id FROM ls_bots), {BOT_RULES_SQL}",
}


def pipeline_sql() -> str:
    """The whole engine as one SQL script (scripts run between the two halves)."""
    return explain((*BEFORE_SCRIPTS, *AFTER_SCRIPTS))


def _params(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    since: dt.datetime | None,
    until: dt.datetime | None,
    mailing: int | None,
    *,
    uncut: bool = False,
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
            "confirm_after_seconds": [bots.confirm_after_seconds],
            "uncut": [uncut],
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
            " CAST(max_links_per_second AS INTEGER) AS max_links_per_second,"
            " CAST(confirm_after_seconds AS INTEGER) AS confirm_after_seconds,"
            " CAST(uncut AS BOOLEAN) AS uncut FROM ls_param_frame",
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
        "UPDATE linksim.run SET finished_at = CASE WHEN ? = 'running' THEN NULL"
        " ELSE now()::TIMESTAMP END, status = ?, clicks_seen = ?, "
        "clicks_eligible = ?, clicks_bot = ?, clicks_duplicate = ?, clicks_quarantined = ? "
        "WHERE run_id = ?",
        [
            status,
            status,
            counts.get("seen"),
            counts.get("eligible"),
            counts.get("bot"),
            counts.get("duplicate"),
            counts.get("quarantined"),
            run_id,
        ],
    )


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pd.DataFrame:
    return con.execute(sql, params).df()


def _prepare(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> None:
    _check(con, defs, since, until)
    _compile(con, defs)


def _check(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> None:
    """Refuse an empty scope, and definitions that name what the database lacks."""
    if since is not None and until is not None and since >= until:
        raise UsageError(f"--since {since} is not before --until {until}: nothing to do")
    check_definitions(defs, con)


def _compile(con: duckdb.DuckDBPyConnection, defs: Definitions) -> None:
    """The relations and macros every run's pipeline reads."""
    compile_definitions(con, defs)
    # owners whose follow-ups a reversal deletes (linksim.reversal): none unless it runs
    run(con, "CREATE OR REPLACE TEMP TABLE ls_freed_owners (owner_id BIGINT)")
    for macro in (*IP_MACROS, *MACROS):
        run(con, macro)


def fire_history(con: duckdb.DuckDBPyConnection, defs: Definitions) -> int:
    """Classify every click and fire ``defs`` on them: ``ls_classified`` and ``ls_fired``.

    The first steps of a preview over all history, for counting who the actions reach (lint).
    ``defs`` must be checked already. Returns the number of clicks.
    """
    compile_definitions(con, defs)
    for macro in (*IP_MACROS, *MACROS):
        run(con, macro)
    _params(con, defs, None, None, None)
    materialize(con, CLICK_STEPS, keep=("ls_classified", "ls_fired"))
    return int(fetch_value(con, "SELECT count(*) FROM ls_classified"))


def simulate_pipeline(
    con: duckdb.DuckDBPyConnection, defs: Definitions, *, since: dt.datetime, mailing: int
) -> dict[str, int]:
    """The change set of a mailing's clicks since ``since``, as a preview computes it, without
    checks, run records, scripts or responses (the simulation's sandbox; see
    linksim.simulation.worlds).

    Leaves the pipeline's outputs and ``ls_fired`` on ``con``; returns the click counts.
    """
    compile_definitions(con, defs)
    run(con, "CREATE OR REPLACE TEMP TABLE ls_freed_owners (owner_id BIGINT)")
    for macro in (*IP_MACROS, *MACROS):
        run(con, macro)
    _params(con, defs, since, None, mailing)
    materialize(con, BEFORE_SCRIPTS, keep=("ls_classified", "ls_fired"), later=AFTER_SCRIPTS)
    counts = _counts(con)
    run(con, "DROP TABLE ls_classified")
    run_scripts(con, {}, execute=False)
    # what a response shows changes nothing in the CRM: the simulation does not render them
    changing = [s for s in AFTER_SCRIPTS if s not in RESPOND_STEPS]
    materialize(con, changing, keep=(*OUTPUTS, "ls_fired"))
    for step in BEFORE_SCRIPTS:
        if step.relation != "ls_fired":
            run(con, f"DROP TABLE IF EXISTS {step.relation}")
    return counts


def _pipeline(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    *,
    since: dt.datetime | None,
    until: dt.datetime | None,
    mailing: int | None,
    execute_scripts: bool,
    scripts: Mapping[str, Script] | None,
) -> tuple[dict[str, int], list[ScriptRun]]:
    """Compute the change set of one scope into the `ls_*` relations; return counts and scripts."""
    _params(con, defs, since, until, mailing)
    materialize(con, BEFORE_SCRIPTS, keep=("ls_classified", "ls_fired"), later=AFTER_SCRIPTS)
    counts = _counts(con)
    run(con, BOTS_SQL)
    run(con, "DROP TABLE ls_classified")
    script_runs = run_scripts(
        con, scripts if scripts is not None else registered_scripts(), execute=execute_scripts
    )
    materialize(con, AFTER_SCRIPTS, keep=OUTPUTS)
    for step in BEFORE_SCRIPTS:
        run(con, f"DROP TABLE IF EXISTS {step.relation}")
    return counts, script_runs


def _preview(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    *,
    since: dt.datetime | None,
    until: dt.datetime | None,
    mailing: int | None,
    execute_scripts: bool,
    scripts: Mapping[str, Script] | None,
    checked: bool = False,
) -> RunResult:
    """``checked``: the caller has checked the definitions and scope (`_check`) already."""
    if checked:
        _compile(con, defs)
    else:
        _prepare(con, defs, since, until)
    options = {"since": since, "until": until, "mailing": mailing}
    run_id = _start_run(con, "preview", defs, options)
    counts: dict[str, int] = {}
    # What the apply would reverse first (§10) is done here too, inside a transaction that is
    # rolled back once the frames are read: the preview writes nothing to crm.
    run(con, "BEGIN")
    try:
        reversal, kept = _reverse(
            con, defs, run_id, since or FAR_PAST, until or FAR_FUTURE, mailing, commit=False
        )
        counts, script_runs = _pipeline(
            con,
            defs,
            since=since,
            until=until,
            mailing=mailing,
            execute_scripts=execute_scripts,
            scripts=scripts,
        )
        frames = {
            "changes": _frame(
                con,
                "SELECT click_id, action_id, person_id, target_kind, target, old_value, new_value,"
                " changed_at, contact_id, cause FROM linksim.change WHERE run_id = ?"
                " UNION ALL SELECT *, NULL FROM ls_changes"
                " ORDER BY changed_at, click_id, action_id, target_kind, target",
                [run_id],
            ),
            **{name: _frame(con, sql) for name, sql in PREVIEW_FRAMES.items()},
            "reversal_kept": kept,
        }
        run(con, "ROLLBACK")
        _record_scripts(con, run_id, script_runs)
        _finish_run(con, run_id, "ok", counts)
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            run(con, "ROLLBACK")
        # after a fatal DuckDB error the connection is gone: the next apply marks the run
        # interrupted instead
        with contextlib.suppress(duckdb.Error):
            _finish_run(con, run_id, "failed", counts)
        raise
    return RunResult(
        run_id, "preview", counts, frames=frames, script_runs=tuple(script_runs), reversal=reversal
    )


def _apply(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    *,
    since: dt.datetime | None,
    until: dt.datetime | None,
    mailing: int | None,
    batch: BatchSpec | None,
    scripts: Mapping[str, Script] | None,
    progress: bool | None,
    checked: bool = False,
) -> RunResult:
    """``checked``: the caller has checked the definitions and scope (`_check`) already."""
    if checked:
        _compile(con, defs)
    else:
        _prepare(con, defs, since, until)
    # One process writes a DuckDB file at a time, so an apply still marked running was killed.
    run(con, "UPDATE linksim.run SET status = 'interrupted' WHERE status = 'running'")
    job = _job(defs, since, until, mailing, batch)
    options = {"since": since, "until": until, "mailing": mailing, "batch": batch, "job": job}
    run_id = _start_run(con, "apply", defs, options)
    plan = plan_batches(
        con, batch, since=since or FAR_PAST, until=until or FAR_FUTURE, mailing=mailing
    )
    # The windows of this job already committed with the same clicks are done, unless another
    # job or an undo has written since: then the rows may no longer be what the window left.
    done = set(
        con.execute(
            "SELECT since, until, fingerprint FROM linksim.batch WHERE job = $job"
            " AND committed_at >= coalesce((SELECT max(committed_at) FROM linksim.batch"
            "                               WHERE job <> $job), TIMESTAMP '0001-01-01')"
            " AND committed_at >= coalesce((SELECT max(finished_at) FROM linksim.run"
            "                               WHERE mode = 'undo'), TIMESTAMP '0001-01-01')",
            {"job": job},
        ).fetchall()
    )
    todo = [b for b in plan if (b.since, b.until, b.fingerprint) not in done]
    tied = bool(fetch_value(con, "SELECT count(*) FROM ls_def_tied"))
    script_runs: list[ScriptRun] = []
    totals: dict[str, int] = {}
    reversal, kept = {"reversed": 0, "edited_since": 0}, pd.DataFrame()
    try:
        for sql in RUN_BOTS_TABLES:
            run(con, sql)
        if todo:
            span = (min(b.since for b in todo), max(b.until for b in todo))
            reversal, kept = _reverse(con, defs, run_id, *span, mailing)
        with progress_bar(
            sum(b.clicks for b in plan),
            initial=sum(b.clicks for b in plan) - sum(b.clicks for b in todo),
            show=progress,
        ) as bar:
            for b in todo:
                started = time.perf_counter()
                counts, batch_scripts = _pipeline(
                    con,
                    defs,
                    since=b.since,
                    until=b.until,
                    mailing=mailing,
                    execute_scripts=True,
                    scripts=scripts,
                )
                # the transaction inside, to end first: an aborted one refuses the order's reset
                with unordered_inserts(con), transaction(con):
                    record(con, run_id, b.number)
                    write_changes(con, run_id, tied=tied)
                    _record_bots(con, run_id)
                    _record_scripts(con, run_id, batch_scripts)
                    _record_batch(con, job, b, run_id, counts, time.perf_counter() - started)
                    totals = _sum_counts(totals, counts)
                    _finish_run(con, run_id, "running", totals)
                script_runs += batch_scripts
                bar.update(b.clicks)
    except BaseException:
        # after a fatal DuckDB error the connection is gone: the next apply marks the run
        # interrupted instead
        with contextlib.suppress(duckdb.Error):
            _finish_run(con, run_id, "failed", totals)
            _drop_run_bots(con)
        raise
    # The accounting of the whole job, batches committed by earlier runs included.
    counts = _job_counts(con, job, plan)
    _finish_run(con, run_id, "ok", counts)
    return _applied_result(
        con,
        run_id,
        counts,
        script_runs,
        {"total": len(plan), "committed": len(todo), "skipped": len(plan) - len(todo)},
        reversal,
        kept,
    )


def _reverse(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    run_id: int,
    since: dt.datetime,
    until: dt.datetime,
    mailing: int | None,
    *,
    commit: bool = True,
) -> tuple[dict[str, int], pd.DataFrame]:
    """Reverse what clicks that no longer fire changed, from ``since`` on (docs/SEMANTICS.md §10).

    [``since``, ``until``) is the span the batches then redo.

    The batches then re-apply the human clicks over the restored rows. Nothing to reverse when
    linksim has never written (a first backfill skips the classification pass). ``commit=False``
    leaves the transaction to the caller (a preview rolls it back).
    """
    nothing = ({"reversed": 0, "edited_since": 0}, pd.DataFrame())
    if not fetch_value(
        con,
        "SELECT EXISTS (SELECT 1 FROM linksim.journal) OR EXISTS (SELECT 1 FROM linksim.response)",
    ):
        return nothing
    # Whether a click fires an action is judged on every click stored, not cut to the span
    # (a click may fire once confirmed by a later one), for the clicks from the span's start:
    # a write that no click supports is reversed wherever it lies after that.
    _params(con, defs, since, None, mailing, uncut=True)
    materialize(con, CLICK_STEPS, keep=("ls_classified", "ls_fired"))
    run(
        con,
        "CREATE OR REPLACE TEMP TABLE ls_now_bot AS SELECT click_id, bot_reason AS reason "
        "FROM ls_classified WHERE in_scope AND quarantine_reason IS NULL "
        "AND bot_reason IS NOT NULL",
    )
    run(con, "DROP TABLE ls_classified")
    with transaction(con) if commit else contextlib.nullcontext():
        done = reverse_bot_changes(con, run_id, until)
    run(con, "DROP TABLE ls_now_bot")
    run(con, "DROP TABLE ls_fired")
    return done


# An apply's bot rules, counted batch by batch from `ls_bots` (where each bot click's link,
# mailing and person are at hand) rather than from `linksim.bot_click` joined back to millions
# of clicks at the end.
RUN_BOTS_TABLES = (
    "CREATE OR REPLACE TEMP TABLE ls_run_bot_links"
    " (reason VARCHAR, link_id BIGINT, mailing_id BIGINT, clicks BIGINT)",
    "CREATE OR REPLACE TEMP TABLE ls_run_bot_people (reason VARCHAR, person_id BIGINT)",
)
RUN_BOT_RULES_SQL = (
    "WITH per_link AS (SELECT reason, link_id, mailing_id, sum(clicks)::BIGINT AS clicks"
    " FROM ls_run_bot_links GROUP BY ALL),"
    f" people AS (SELECT reason, person_id FROM ls_run_bot_people), {BOT_RULES_SQL}"
)


def _drop_run_bots(con: duckdb.DuckDBPyConnection) -> None:
    for name in ("ls_run_bot_links", "ls_run_bot_people"):
        run(con, f"DROP TABLE IF EXISTS {name}")


def _record_bots(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """The verdicts of the batch's clicks replace what an earlier apply said about them; the
    run's bot rules count them (`RUN_BOTS_TABLES`)."""
    run(
        con,
        "DELETE FROM linksim.bot_click WHERE click_id IN ("
        " SELECT c.click_id FROM mail.click c, ls_run_param p"
        " WHERE c.clicked_at >= p.since AND c.clicked_at < p.until"
        "   AND (p.mailing_id IS NULL OR c.mailing_id = p.mailing_id))",
    )
    run(
        con,
        "INSERT INTO linksim.bot_click (click_id, reason, detail, run_id)"
        " SELECT click_id, reason, detail, ? FROM ls_bots",
        [run_id],
    )
    run(
        con,
        "INSERT INTO ls_run_bot_links SELECT reason, link_id, mailing_id, count(*)"
        " FROM ls_bots GROUP BY ALL",
    )
    run(con, "INSERT INTO ls_run_bot_people SELECT DISTINCT reason, person_id FROM ls_bots")


def _job(
    defs: Definitions,
    since: dt.datetime | None,
    until: dt.datetime | None,
    mailing: int | None,
    batch: BatchSpec | None,
) -> str:
    """What identifies an apply across re-runs: the definitions, the scope, the batch size."""
    key = json.dumps([defs.sha256, str(since), str(until), mailing, str(batch) if batch else None])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


COUNT_COLUMNS = ("seen", "eligible", "bot", "duplicate", "quarantined")


def _sum_counts(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in COUNT_COLUMNS}


def _record_batch(
    con: duckdb.DuckDBPyConnection,
    job: str,
    b: Batch,
    run_id: int,
    counts: Mapping[str, int],
    seconds: float,
) -> None:
    run(
        con,
        """
        INSERT OR REPLACE INTO linksim.batch (job, since, until, run_id, batch_no, fingerprint,
            clicks_seen, clicks_eligible, clicks_bot, clicks_duplicate, clicks_quarantined,
            changes, committed_at, seconds)
        SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT count(*) FROM ls_changes),
               now()::TIMESTAMP, ?
        """,
        [job, b.since, b.until, run_id, b.number, b.fingerprint]
        + [counts[k] for k in COUNT_COLUMNS]
        + [seconds],
    )


def _job_counts(con: duckdb.DuckDBPyConnection, job: str, plan: list[Batch]) -> dict[str, int]:
    if not plan:
        return dict.fromkeys(COUNT_COLUMNS, 0)
    windows = pd.DataFrame({"since": [b.since for b in plan], "until": [b.until for b in plan]})
    con.register("ls_plan_frame", windows)
    try:
        row = fetch_one(
            con,
            "SELECT "
            + ", ".join(f"coalesce(sum(clicks_{k}), 0)" for k in COUNT_COLUMNS)
            + " FROM linksim.batch b SEMI JOIN ls_plan_frame w"
            " ON w.since = b.since AND w.until = b.until WHERE b.job = ?",
            [job],
        )
    finally:
        con.unregister("ls_plan_frame")
    assert row is not None
    return {k: int(v) for k, v in zip(COUNT_COLUMNS, row, strict=True)}


# After an apply, its change set is in the database: the result reads it from there on demand,
# each frame as (rows, order). The summaries read the rows unordered: sorting millions of
# changes for a count is wasted.
APPLIED_FRAMES = {
    "changes": (
        "SELECT click_id, action_id, person_id, target_kind, target, old_value, new_value,"
        " changed_at, contact_id, cause FROM linksim.change WHERE run_id = $run",
        "changed_at, click_id, action_id, target_kind, target",
    ),
    "appointments": (
        "SELECT * FROM crm.appointment WHERE appointment_id IN ("
        " SELECT target FROM linksim.change WHERE run_id = $run AND target_kind = 'appointment')",
        "appointment_id",
    ),
    "tickets": (
        "SELECT * FROM crm.ticket WHERE ticket_id IN ("
        " SELECT target FROM linksim.change WHERE run_id = $run AND target_kind = 'ticket')",
        "ticket_id",
    ),
    "responses": (
        "SELECT * EXCLUDE (run_id) FROM linksim.response WHERE run_id = $run",
        "click_id, action_id",
    ),
    "workload": (APPLIED_WORKLOAD_SQL, "owner_id, day"),
    "bots": (
        "SELECT b.click_id, c.mailing_id, c.link_id, c.person_id, c.clicked_at, b.reason,"
        " b.detail FROM linksim.bot_click b JOIN mail.click c USING (click_id)"
        " WHERE b.run_id = $run",
        "clicked_at, click_id",
    ),
}


def _applied_result(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    counts: dict[str, int],
    script_runs: list[ScriptRun],
    batches: dict[str, int],
    reversal: dict[str, int],
    kept: pd.DataFrame,
) -> RunResult:
    params = {"run": run_id}

    def reader(rows: str, order: str) -> Callable[[], pd.DataFrame]:
        return lambda: _frame(con, f"SELECT * FROM ({rows}) ORDER BY {order}", params)

    def summary(sql: str) -> pd.DataFrame:
        # the summary SQL reads `changes`, `tickets`, `workload`: here, this run's rows
        ctes = ", ".join(
            f"{name} AS ({APPLIED_FRAMES[name][0]})" for name in ("changes", "tickets", "workload")
        )
        return _frame(con, f"WITH {ctes} {sql}", params)

    # small (a row per rule), and it needs the definitions' relations and the run's counts,
    # which are dropped here: read now
    try:
        bot_rules = _frame(con, RUN_BOT_RULES_SQL)
    finally:
        _drop_run_bots(con)
    # counted in the database: `--json` needs the sizes, not millions of rows in pandas
    counted = ("changes", "responses", "tickets", "appointments")
    sizes = fetch_one(
        con,
        "SELECT "
        + ", ".join(f"(SELECT count(*) FROM ({APPLIED_FRAMES[name][0]}))" for name in counted),
        params,
    )
    assert sizes is not None
    return RunResult(
        run_id,
        "apply",
        counts,
        frames={
            **{name: reader(rows, order) for name, (rows, order) in APPLIED_FRAMES.items()},
            "bot_rules": bot_rules,
            "reversal_kept": kept,
        },
        summary=summary,
        sizes={name: int(size) for name, size in zip(counted, sizes, strict=True)},
        script_runs=tuple(script_runs),
        batches=batches,
        reversal=reversal,
    )


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
    try:
        return _preview(
            con,
            defs,
            since=since,
            until=until,
            mailing=mailing,
            execute_scripts=run_scripts,
            scripts=scripts,
        )
    except duckdb.Error as exc:
        if not _is_out_of_memory(exc):
            raise
        advice = "preview a smaller scope (--since, --until, --mailing) or raise --memory-limit"
        raise _out_of_memory(con, exc, advice) from None


def apply(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    mailing: int | None = None,
    batch: str | BatchSpec | None = None,
    scripts: Mapping[str, Script] | None = None,
    progress: bool | None = None,
) -> RunResult:
    """Apply the definitions to clicks with ``since <= clicked_at < until`` (and ``mailing``).

    ``batch`` (``"1d"``, ``"100000"``) splits the clicks into windows in time order, each applied
    and committed in its own transaction; without it the scope is one batch. A re-run of the same
    job skips every committed window whose clicks did not change, so it resumes after a crash and
    is otherwise a no-op. ``progress`` draws a bar (default: in a terminal or Jupyter).
    """
    spec = parse_batch(batch) if isinstance(batch, str) else batch
    try:
        return _apply(
            con,
            defs,
            since=since,
            until=until,
            mailing=mailing,
            batch=spec,
            scripts=scripts,
            progress=progress,
        )
    except duckdb.Error as exc:
        if not _is_out_of_memory(exc):
            raise
        advice = (
            "apply in smaller batches (--batch 1d, or --batch 1000000 clicks) or raise "
            "--memory-limit. Batches committed so far are kept, and the same command resumes "
            "after them"
        )
        raise _out_of_memory(con, exc, advice) from None


def _is_out_of_memory(exc: duckdb.Error) -> bool:
    # DuckDB reports memory exhaustion as OutOfMemoryException, or, when it happens while a
    # commit flushes, as a TransactionException (then a FatalException for what follows)
    return isinstance(exc, duckdb.OutOfMemoryException) or "could not allocate" in str(exc)


def _out_of_memory(con: duckdb.DuckDBPyConnection, exc: Exception, advice: str) -> DatabaseError:
    try:
        limit = fetch_value(con, "SELECT current_setting('memory_limit')")
    except duckdb.Error:  # the failure invalidated the database
        limit = "the limit set"
    return DatabaseError(
        f"DuckDB ran out of memory under its memory limit ({limit}): {advice}. "
        f"(DuckDB: {str(exc).splitlines()[0]})"
    )
