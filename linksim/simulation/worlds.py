"""Every simulated world through the engine, in a sandbox catalog (docs/SIMULATION.md §3).

The worlds must not see each other: one world's click must not make another's person a member
already, use up a sales rep's capacity there, or count as the earlier click of a `once` action.
So the sandbox (an in-memory catalog, made the default with ``USE`` while the engine runs, the
real database read beside it) holds, per world:

- its own copy of each person who clicks in it and of their contact, under a virtual id
  ``world * WORLD + id`` — with the person's fields, memberships and removals that the
  definitions name, and the past clicks that decide for them (see linksim.simulation.inputs);
- its own stretch of time: world ``w`` happens ``w * SHIFT`` later (whole weeks, so weekdays
  stay), its copies' clocks too, so the sales reps — real ids, since definitions name them —
  have a calendar per world, copied from their real appointments around the send.

Actions whose outcome depends only on the order of a person's clicks go through once per
distinct pattern of clicks, the others per world (linksim.simulation.patterns). The engine
then runs unchanged, as a preview over the planned mailing's scope (scripts are not called),
and ``sim_out_*`` keep what each world did: changes, follow-ups per owner and local day against
capacity, tickets, script calls.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import duckdb

from linksim._rng import Rng
from linksim.definitions import Definitions
from linksim.engine.compile import compile_definitions
from linksim.runs import OUTPUTS, simulate_pipeline
from linksim.simulation import patterns
from linksim.store.connect import init_schema
from linksim.store.query import fetch_value, run

__all__ = ["SHIFT", "WORLD", "run_worlds", "simulated_clicks"]

WORLD = 1 << 32  # virtual id = world * WORLD + real id
# World w happens w * SHIFT after world 0: far enough apart that one world's follow-ups do not
# reach the next world's days, which run_worlds checks (a pass whose follow-ups reach that far
# is run again, its worlds further apart); close enough that the owners' calendars over all
# worlds stay short (the engine schedules over every day between the first and the last).
SHIFT = dt.timedelta(weeks=16)
WEEK = dt.timedelta(weeks=1)
CALENDAR = dt.timedelta(weeks=8)  # the real appointments copied into each world's calendar
CALENDAR_BEFORE = dt.timedelta(days=1)  # ... from this long before the send
SANDBOX = "linksim_sim"
FIRST_STREAM, EXTRA_STREAM, GAP_STREAM = 21, 22, 23
MAX_EXTRA = 10  # repeat clicks of one link, at most
PASS_CLICKS = 2_000_000  # simulated clicks per pass through the engine: about 3 GB at the demo's


def simulated_clicks(con: duckdb.DuckDBPyConnection, send_at: dt.datetime, seed: int) -> None:
    """``sim_clicks`` (world, mailing_id, link_id, person_id, clicked_at): from ``sim_clicker``.

    The first click comes after the send by a delay drawn from history's (``sim_timing``);
    then ``Geometric`` more, as often as history's clickers clicked again, each after a gap drawn
    from history's. Times are world 0's; the sandbox shifts them.
    """
    rng = Rng(seed)
    n = int(fetch_value(con, "SELECT count(*) FROM sim_target"))
    key = f"s.world * {n} + s.opp_no"
    run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE sim_clicks AS
        WITH first AS (
            SELECT s.world, s.opp_no, s.mailing_id, s.link_id, s.person_id,
                   $send_at::TIMESTAMP + to_microseconds(CAST(1e6 * t.delay_q[
                       1 + floor({rng.u(key, FIRST_STREAM)} * len(t.delay_q))::INTEGER]
                     AS BIGINT)) AS first_at,
                   CASE WHEN t.extra_q > 0 THEN least({MAX_EXTRA},
                       floor(ln({rng.u(key, EXTRA_STREAM)}) / ln(t.extra_q)))::INTEGER
                        ELSE 0 END AS extra
            FROM sim_clicker s, sim_timing t
        )
        SELECT world, mailing_id, link_id, person_id, first_at AS clicked_at FROM first
        UNION ALL
        SELECT f.world, f.mailing_id, f.link_id, f.person_id,
               f.first_at + to_microseconds(CAST(1e6 * t.gap_q[
                   1 + floor({rng.u(f"(f.world * {n} + f.opp_no) * 16 + k", GAP_STREAM)}
                             * len(t.gap_q))::INTEGER] AS BIGINT))
        FROM first f, sim_timing t, range(1, f.extra + 1) r(k)
        WHERE f.extra > 0
        """,
        {"send_at": send_at},
    )


def run_worlds(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    *,
    mailing: int,
    send_at: dt.datetime,
    runs: int,
    pass_clicks: int = PASS_CLICKS,
    share_patterns: bool = True,
) -> int:
    """Run the engine over ``sim_clicks`` of ``runs`` worlds; fill the ``sim_out_*`` tables.

    The worlds go through in passes of about ``pass_clicks`` simulated clicks, whole worlds each
    (like an apply's batches: memory stays bounded however many worlds there are). With
    ``share_patterns``, the actions whose outcome depends only on the order of a person's
    clicks go through once per distinct pattern of clicks, not once per world
    (linksim.simulation.patterns); the result is the same. Returns the number of passes.
    """
    real = _quoted(str(fetch_value(con, "SELECT current_database()")))
    quiet = _for_mailing(con, defs, mailing)
    compile_definitions(con, quiet)  # the names below come from the compiled definitions
    params: dict[str, object] = {
        "world": WORLD, "send_at": send_at, "mailing": mailing, "runs": runs,
        "calendar": CALENDAR, "calendar_before": CALENDAR_BEFORE,
    }  # fmt: skip
    if share_patterns and fetch_value(con, patterns.LATE, _used(patterns.LATE, params)):
        share_patterns = False  # a send time in the past: the worlds' clicks as drawn
    per_world, per_pattern = patterns.split(quiet) if share_patterns else (quiet, None)
    params["world_actions"] = [a.id for entry in per_world.links for a in entry.actions]
    _run_all(con, (*_OUTPUTS, patterns.OUTPUT), params)
    if per_pattern is None:
        _run_all(con, patterns.ALL_CLICKS, params)
    else:
        confirming = any(a.require == "confirmed" for e in per_world.links for a in e.actions)
        _run_all(con, patterns.engine_clicks(confirming), params)
    bounds = _passes(con, pass_clicks, runs)
    for first, last in bounds:
        run(
            con,
            "CREATE OR REPLACE TEMP TABLE sim_pass_clicks AS SELECT * FROM sim_engine_clicks"
            " WHERE world BETWEEN $first AND $last",
            {"first": first, "last": last},
        )
        pass_defs = per_pattern if first >= runs and per_pattern is not None else per_world
        shift = _whole_weeks(max(SHIFT, CALENDAR + CALENDAR_BEFORE))
        while reach := _run_pass(con, pass_defs, real, send_at, mailing, shift, params):
            shift = _whole_weeks(2 * max(shift, reach))  # again, with the worlds further apart
        run(con, "DROP TABLE sim_pass_clicks")
    _run_all(con, patterns.TOTALS, params)
    return len(bounds)


def _whole_weeks(span: dt.timedelta) -> dt.timedelta:
    """``span`` rounded up to whole weeks (a world shifted by them keeps its weekdays).

    >>> _whole_weeks(dt.timedelta(days=8))
    datetime.timedelta(days=14)
    """
    return WEEK * -(-span // WEEK)


def _run_pass(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    real: str,
    send_at: dt.datetime,
    mailing: int,
    shift: dt.timedelta,
    params: dict[str, object],
) -> dt.timedelta | None:
    """One pass of ``defs`` in a new sandbox, its worlds ``shift`` apart; ``sim_out_*`` and
    ``sim_pattern_out`` get what it did. Returns None, or, when a follow-up landed so far
    after its world's send that it reaches the next world's days, how far (and keeps nothing).
    """
    params = {**params, "shift": shift}
    compile_definitions(con, defs)  # the copies below follow these definitions
    run(con, f"ATTACH ':memory:' AS {SANDBOX}")
    try:
        run(con, f"USE {SANDBOX}")
        init_schema(con)
        _run_all(con, _FILL, params, real=real)
        simulate_pipeline(con, defs, since=send_at, mailing=mailing)
        reach: dt.timedelta | None = fetch_value(con, _REACH, _used(_REACH, params))
        if reach is not None and reach >= shift - CALENDAR_BEFORE:
            return reach
        _run_all(con, (*_COLLECT, *patterns.COLLECT), params)
        return None
    finally:
        run(con, f"USE {real}")
        run(con, f"DETACH {SANDBOX}")
        for relation in ("ls_fired", *_OUTPUT_RELATIONS):
            run(con, f"DROP TABLE IF EXISTS {relation}")


def _passes(con: duckdb.DuckDBPyConnection, pass_clicks: int, runs: int) -> list[tuple[int, int]]:
    """Ranges of whole worlds holding about ``pass_clicks`` simulated clicks each; the worlds
    and the patterns' worlds (from ``runs`` on) in passes of their own."""
    rows = con.execute(
        """
        SELECT min(world), max(world) FROM (
            SELECT world, world >= $runs AS patterns,
                   sum(n) OVER (PARTITION BY world >= $runs ORDER BY world) // $size AS part
            FROM (SELECT world, count(*) AS n FROM sim_engine_clicks GROUP BY world)
        ) GROUP BY patterns, part ORDER BY 1
        """,
        {"size": max(1, pass_clicks), "runs": runs},
    ).fetchall()
    return [(int(a), int(b)) for a, b in rows]


def _for_mailing(con: duckdb.DuckDBPyConnection, defs: Definitions, mailing: int) -> Definitions:
    """The definitions as the simulated clicks meet them: only the link entries that can fire
    on the mailing's links (no other action can fire in its scope), and no bot filter (the
    simulated clicks are people's; the past ones are the eligible ones)."""
    rows = con.execute(
        "SELECT l.link_id, l.url FROM mail.mailing_link ml JOIN mail.link l USING (link_id)"
        " WHERE ml.mailing_id = $m",
        {"m": mailing},
    ).fetchall()
    ids, urls = {r[0] for r in rows}, {r[1] for r in rows}
    entries = tuple(
        e
        for e in defs.links
        if (e.link in ids or e.url in urls) and (e.mailings is None or mailing in e.mailings)
    )
    bots = defs.bot_filter.model_copy(update={"enabled": False})
    return defs.model_copy(update={"links": entries, "bot_filter": bots})


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _run_all(
    con: duckdb.DuckDBPyConnection,
    statements: Iterable[str],
    params: dict[str, object],
    **names: str,
) -> None:
    for statement in statements:
        sql = statement.format(**names) if names else statement
        run(con, sql, _used(sql, params))


def _used(statement: str, params: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", statement)}


# How far after its world's send the latest follow-up of a pass lands
_REACH = """
SELECT max(a.starts_at - (a.person_id // $world) * $shift - $send_at::TIMESTAMP)
FROM ls_appointment_out a
"""


# The sandbox's rows, in dependency order. {real} is the real catalog.
_FILL = (
    # Past clicks can matter to the simulated ones only through the mailing's actions that
    # fire `once`, count {link_hits} or call scripts; linksim.simulation.inputs keeps, per
    # action, the past clicks that decide them. Actions are matched by id: the numbers of
    # these definitions are not those the history was fired with.
    """
    CREATE OR REPLACE TEMP TABLE sim_history_needed AS
    SELECT DISTINCT h.click_id, h.mailing_id, h.link_id, h.person_id, h.clicked_at
    FROM sim_history_click h
    JOIN ls_def_action a USING (action_id)
    WHERE a.action_no IN (
        SELECT la.action_no FROM ls_def_link_action la
        JOIN {real}.mail.mailing_link ml
          ON ml.link_id = la.link_id AND ml.mailing_id = $mailing
         AND (la.mailing_id IS NULL OR la.mailing_id = $mailing))
    """,
    # who exists in which world
    """
    CREATE OR REPLACE TEMP TABLE sim_vperson AS
    SELECT DISTINCT c.world, c.person_id, c.world * $world + c.person_id AS vid
    FROM sim_pass_clicks c
    """,
    "INSERT INTO crm.associate SELECT * FROM {real}.crm.associate",
    "INSERT INTO crm.extra_field SELECT * FROM {real}.crm.extra_field",
    "INSERT INTO crm.interest SELECT * FROM {real}.crm.interest",
    "INSERT INTO crm.selection SELECT * FROM {real}.crm.selection",
    "INSERT INTO crm.project SELECT * FROM {real}.crm.project",
    """
    INSERT INTO crm.contact BY NAME
    SELECT DISTINCT v.world * $world + c.contact_id AS contact_id, c.name, c.category,
           c.business, c.country, c.owner_id
    FROM sim_vperson v
    JOIN {real}.crm.person p ON p.person_id = v.person_id
    JOIN {real}.crm.contact c ON c.contact_id = p.contact_id
    """,
    """
    INSERT INTO crm.person BY NAME
    SELECT v.vid AS person_id, v.world * $world + p.contact_id AS contact_id, p.first_name,
           p.last_name, p.email, p.owner_id
    FROM sim_vperson v JOIN {real}.crm.person p ON p.person_id = v.person_id
    """,
    # the state the definitions read: fields, memberships (person and contact) and removals,
    # their clocks in the world's time, as the clicks'
    """
    INSERT INTO crm.person_field BY NAME
    SELECT v.vid AS person_id, f.field, f.value, f.set_at + v.world * $shift AS set_at
    FROM sim_vperson v JOIN {real}.crm.person_field f ON f.person_id = v.person_id
    WHERE f.field IN (SELECT target FROM ls_def_state_op WHERE kind = 'field'
                      UNION SELECT name FROM ls_def_prefill)
    """,
    """
    INSERT INTO crm.person_interest BY NAME
    SELECT v.vid AS person_id, m.interest_id, m.since + v.world * $shift AS since
    FROM sim_vperson v JOIN {real}.crm.person_interest m ON m.person_id = v.person_id
    WHERE m.interest_id IN (SELECT target_id FROM ls_def_state_op
                            WHERE kind = 'interest' AND scope = 'person')
    """,
    """
    INSERT INTO crm.contact_interest BY NAME
    SELECT DISTINCT v.world * $world + m.contact_id AS contact_id, m.interest_id,
           m.since + v.world * $shift AS since
    FROM sim_vperson v
    JOIN {real}.crm.person p ON p.person_id = v.person_id
    JOIN {real}.crm.contact_interest m ON m.contact_id = p.contact_id
    WHERE m.interest_id IN (SELECT target_id FROM ls_def_state_op
                            WHERE kind = 'interest' AND scope = 'contact')
    """,
    """
    INSERT INTO crm.selection_member BY NAME
    SELECT m.selection_id, v.vid AS person_id, m.since + v.world * $shift AS since
    FROM sim_vperson v JOIN {real}.crm.selection_member m ON m.person_id = v.person_id
    WHERE m.selection_id IN (SELECT target_id FROM ls_def_state_op WHERE kind = 'selection')
    """,
    """
    INSERT INTO crm.project_member BY NAME
    SELECT m.project_id, v.vid AS person_id, m.since + v.world * $shift AS since
    FROM sim_vperson v JOIN {real}.crm.project_member m ON m.person_id = v.person_id
    WHERE m.project_id IN (SELECT target_id FROM ls_def_state_op WHERE kind = 'project')
    """,
    """
    INSERT INTO linksim.removal BY NAME
    SELECT DISTINCT r.target_kind, r.scope, v.world * $world + r.owner_id AS owner_id,
           r.target_id, r.removed_at + v.world * $shift AS removed_at
    FROM sim_vperson v
    JOIN {real}.crm.person p ON p.person_id = v.person_id
    JOIN {real}.linksim.removal r
      ON r.owner_id = CASE r.scope WHEN 'person' THEN p.person_id ELSE p.contact_id END
    WHERE (r.target_kind, r.scope, r.target_id) IN (
        SELECT kind, scope, target_id FROM ls_def_state_op)
    """,
    # each world's calendar: the real appointments around the send, shifted into its time
    # (the patterns' worlds book nothing: they hold no follow-up)
    """
    INSERT INTO crm.appointment BY NAME
    SELECT a.appointment_id || '#' || w.world AS appointment_id, a.kind, a.task_type,
           a.owner_id, a.created_by_id, a.description,
           a.starts_at + w.world * $shift AS starts_at, a.duration_minutes
    FROM (SELECT DISTINCT world FROM sim_vperson WHERE world < $runs) w
    CROSS JOIN {real}.crm.appointment a
    WHERE a.starts_at >= $send_at::TIMESTAMP - $calendar_before
      AND a.starts_at < $send_at::TIMESTAMP + $calendar
    """,
    # mailings and links as they are; the planned mailing as sent
    "INSERT INTO mail.mailing SELECT * FROM {real}.mail.mailing",
    "UPDATE mail.mailing SET sent_at = $send_at WHERE mailing_id = $mailing",
    "INSERT INTO mail.link SELECT * FROM {real}.mail.link",
    "INSERT INTO mail.mailing_link SELECT * FROM {real}.mail.mailing_link",
    """
    INSERT INTO mail.recipient BY NAME
    SELECT $mailing AS mailing_id, vid AS person_id,
           $send_at::TIMESTAMP + world * $shift AS delivered_at
    FROM sim_vperson
    """,
    # the clicks: each world's persons' past clicks that decide for them, then the simulated
    # ones, all in their world's time; ids in time order, ties as they were
    """
    INSERT INTO mail.click BY NAME
    SELECT row_number() OVER (ORDER BY clicked_at, sim, source_id) AS click_id, mailing_id,
           link_id, person_id, clicked_at
    FROM (
        SELECT c.mailing_id, c.link_id, v.vid AS person_id,
               c.clicked_at + v.world * $shift AS clicked_at, 0 AS sim, c.click_id AS source_id
        FROM sim_vperson v
        JOIN sim_history_needed c ON c.person_id = v.person_id
        UNION ALL
        SELECT c.mailing_id, c.link_id, c.world * $world + c.person_id,
               c.clicked_at + c.world * $shift, 1,
               -- a total order: the same seed gives the same ids however the rows arrive
               row_number() OVER (ORDER BY c.world, c.person_id, c.link_id, c.clicked_at,
                                           c.mailing_id)
        FROM sim_pass_clicks c
    )
    """,
)

# What the worlds did, gathered over the passes.
_OUTPUTS = (
    "CREATE OR REPLACE TEMP TABLE sim_out_changes (world BIGINT, action_id VARCHAR,"
    " target_kind VARCHAR, target VARCHAR, changes BIGINT, people BIGINT)",
    "CREATE OR REPLACE TEMP TABLE sim_out_follow_ups (world BIGINT, owner_id BIGINT, day DATE,"
    " follow_ups BIGINT, appointments BIGINT, daily_capacity INTEGER)",
    "CREATE OR REPLACE TEMP TABLE sim_out_scripts (world BIGINT, action_id VARCHAR, calls BIGINT)",
    "CREATE OR REPLACE TEMP TABLE sim_out_tickets (world BIGINT, category VARCHAR,"
    " priority VARCHAR, tickets BIGINT)",
)
# what a pass leaves besides its outputs: dropped before the next
_OUTPUT_RELATIONS = (*OUTPUTS, "sim_vperson")

# What each world did (world = virtual id // WORLD; days back in world 0's time); the patterns'
# worlds, from `runs` on, are linksim.simulation.patterns' to count.
_COLLECT = (
    """
    INSERT INTO sim_out_changes
    SELECT person_id // $world AS world, action_id, target_kind,
           CASE WHEN target_kind IN ('appointment', 'ticket') THEN NULL ELSE target END
             AS target,
           count(*) AS changes, count(DISTINCT person_id) AS people
    FROM ls_changes
    WHERE person_id // $world < $runs
    GROUP BY ALL
    """,
    """
    INSERT INTO sim_out_follow_ups
    WITH new AS (
        SELECT a.person_id // $world AS world, a.owner_id,
               CAST(ls_local(a.starts_at, coalesce(s.timezone, 'UTC')) AS DATE) AS local_day
        FROM ls_appointment_out a LEFT JOIN crm.associate s ON s.associate_id = a.owner_id
    ),
    booked AS (
        SELECT a.owner_id, CAST(ls_local(a.starts_at, coalesce(s.timezone, 'UTC')) AS DATE)
                 AS local_day, count(*) AS booked
        FROM crm.appointment a LEFT JOIN crm.associate s ON s.associate_id = a.owner_id
        GROUP BY ALL
    )
    SELECT n.world, n.owner_id,
           CAST(n.local_day - n.world * $shift AS DATE) AS day,
           count(*) AS follow_ups, any_value(coalesce(b.booked, 0)) + count(*) AS appointments,
           any_value(s.daily_capacity) AS daily_capacity
    FROM new n
    LEFT JOIN booked b USING (owner_id, local_day)
    LEFT JOIN crm.associate s ON s.associate_id = n.owner_id
    GROUP BY n.world, n.owner_id, n.local_day
    """,
    """
    INSERT INTO sim_out_scripts
    SELECT person_id // $world AS world, action_id, count(*) AS calls
    FROM ls_fired
    WHERE in_scope AND type = 'script' AND person_id // $world < $runs
    GROUP BY ALL
    """,
    """
    INSERT INTO sim_out_tickets
    SELECT person_id // $world AS world, category, priority, count(*) AS tickets
    FROM ls_ticket_out
    WHERE person_id // $world < $runs
    GROUP BY ALL
    """,
)
