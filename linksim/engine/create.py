"""Steps for created rows: follow-ups (`crm.appointment`) and requests (`crm.ticket`).

Ids are deterministic (docs/SEMANTICS.md §4), so a re-run finds its own rows and never creates
them twice; an earlier click loaded later becomes the source of the existing row; an owner, once
given, never changes. A `{team: …}` owner goes to the member with the fewest rows that day
("water-filling": the i-th new row of a day takes the i-th smallest (load + k, associate_id) slot).
"""

from __future__ import annotations

from linksim.engine.pipeline import Step

__all__ = ["CREATE_STEPS", "MACROS", "row_id_sql"]

# Working days are Monday to Friday. `ls_workday(d, 0)` is d or the next working day;
# `ls_workday(d, n)` the n-th working day after d (a weekend d counts from the Friday before).
MACROS = (
    """
    CREATE OR REPLACE TEMP MACRO ls_workday(d0, n) AS d0 + CAST(
        CASE WHEN n = 0 THEN CASE isodow(d0) WHEN 6 THEN 2 WHEN 7 THEN 1 ELSE 0 END
        ELSE - greatest(isodow(d0) - 5, 0)
             - (least(isodow(d0), 5) - 1)
             + ((least(isodow(d0), 5) - 1 + n) // 5) * 7
             + ((least(isodow(d0), 5) - 1 + n) % 5)
        END AS INTEGER)
    """,
    # A UTC timestamp as the local wall-clock time of a time zone, and back.
    "CREATE OR REPLACE TEMP MACRO ls_local(ts, tz) AS timezone(tz, ts::TIMESTAMPTZ)",
    "CREATE OR REPLACE TEMP MACRO ls_utc(local_ts, tz) AS timezone(tz, local_ts)::TIMESTAMP",
)


def row_id_sql(prefix: str = "f") -> str:
    """SQL: the deterministic id of the follow-up or ticket a fired pair creates (SPEC §4.5)."""
    return f"""CASE {prefix}.fire
        WHEN 'once_per_mailing' THEN {prefix}.action_id || '/p' || {prefix}.person_id
                                     || '/m' || {prefix}.mailing_id
        WHEN 'once' THEN {prefix}.action_id || '/p' || {prefix}.person_id
        ELSE {prefix}.action_id || '/c' || {prefix}.click_id END"""


def _earlier_than_stored(row: str, stored_click: str, stored_src: str) -> str:
    """SQL: the row's click is earlier than the stored row's source click."""
    return (
        f"({stored_click}.clicked_at IS NULL OR {row}.clicked_at < {stored_click}.clicked_at "
        f"OR ({row}.clicked_at = {stored_click}.clicked_at AND {row}.click_id < {stored_src}))"
    )


def _team_assignment(name: str, source: str, load: str) -> Step:
    """Water-filling of the team rows of ``source`` (columns team, day, …) over the members."""
    return Step(
        name,
        f"""
        WITH items AS (
            SELECT row_id, team, day,
                   row_number() OVER (PARTITION BY team, day
                                      ORDER BY clicked_at, click_id, action_no) AS rn,
                   count(*) OVER (PARTITION BY team, day) AS k
            FROM {source}
            WHERE owner_kind = 'team' AND NOT is_stored
        ),
        days AS (SELECT DISTINCT team, day, k FROM items),
        members AS (SELECT associate_id, team FROM crm.associate WHERE team IS NOT NULL),
        loads AS ({load}),
        slots AS (
            SELECT d.team, d.day, m.associate_id,
                   row_number() OVER (PARTITION BY d.team, d.day
                                      ORDER BY coalesce(l.n, 0) + s.i, m.associate_id) AS rn
            FROM days d
            JOIN members m ON m.team = d.team
            LEFT JOIN loads l ON l.owner_id = m.associate_id AND l.day = d.day
            CROSS JOIN LATERAL (SELECT unnest(range(1, d.k + 1)) AS i) s
        )
        SELECT i.row_id, s.associate_id AS owner_id
        FROM items i
        JOIN slots s USING (team, day, rn)
        """,
        "team owners, balanced per day over the members",
    )


def _fired_and_stored(definitions: str, table: str, alias: str, key: str) -> str:
    """SQL CTEs: `x`, the fired rows of these actions with their id; `stored`, those already in
    ``table``, with their source click's time (only the stored rows look up a click)."""
    return f"""WITH x AS (
        SELECT f.*, {row_id_sql()} AS row_id
        FROM ls_fired f
        SEMI JOIN {definitions} d ON d.action_no = f.action_no
    ),
    stored AS (
        SELECT {alias}.{key}, {alias}.owner_id, {alias}.source_click_id, sc.clicked_at
        FROM {table} {alias}
        SEMI JOIN x ON x.row_id = {alias}.{key}
        LEFT JOIN mail.click sc ON sc.click_id = {alias}.source_click_id
    )"""


FOLLOW_UP_FIRED = Step(
    "follow_up_fired",
    f"""
    {_fired_and_stored("ls_def_follow_up", "crm.appointment", "a", "appointment_id")}
    SELECT f.click_id, f.clicked_at, f.person_id, f.mailing_id, f.action_no, f.action_id,
           f.row_id,
           d.kind, d.task_type, d.created_by, d.owner_kind, d.team, d.business_days,
           d.at_minutes, d.next_free_slot, d.duration_minutes, d.assignment,
           CASE d.owner_kind
               WHEN 'associate' THEN d.owner_id
               WHEN 'contact_owner' THEN coalesce(c.owner_id, d.fallback)
           END AS resolved_owner,
           p.contact_id, pr.project_id, r.text AS description,
           a.appointment_id IS NOT NULL AS is_stored, a.owner_id AS stored_owner,
           ls_workday(CAST(f.clicked_at AS DATE), d.business_days) AS day
    FROM x f
    JOIN ls_def_follow_up d ON d.action_no = f.action_no
    LEFT JOIN crm.person p ON p.person_id = f.person_id
    LEFT JOIN crm.contact c ON c.contact_id = p.contact_id
    LEFT JOIN crm.project pr ON pr.name = d.project
    LEFT JOIN ls_rendered r ON r.click_id = f.click_id AND r.action_no = f.action_no
    LEFT JOIN stored a ON a.appointment_id = f.row_id
    WHERE a.appointment_id IS NULL OR {_earlier_than_stored("f", "a", "a.source_click_id")}
    """,
    "follow-ups to create, or whose source moves to an earlier click",
)

FOLLOW_UP_TEAM = _team_assignment(
    "follow_up_team",
    "ls_follow_up_fired",
    "SELECT owner_id, CAST(starts_at AS DATE) AS day, count(*) AS n "
    "FROM crm.appointment GROUP BY ALL",
)

FOLLOW_UP_ROWS = Step(
    "follow_up_rows",
    """
    WITH owned AS (
        SELECT x.*, coalesce(x.stored_owner, t.owner_id, x.resolved_owner) AS owner_id
        FROM ls_follow_up_fired x
        LEFT JOIN ls_follow_up_team t USING (row_id)
    ),
    zoned AS (
        SELECT o.*, coalesce(s.timezone, 'UTC') AS tz, s.daily_capacity
        FROM owned o
        LEFT JOIN crm.associate s ON s.associate_id = o.owner_id
    )
    SELECT z.*,
           ls_utc(ls_workday(CAST(ls_local(z.clicked_at, z.tz) AS DATE), z.business_days)
                  + to_minutes(z.at_minutes), z.tz) AS due_at
    FROM zoned z
    """,
    "each follow-up with its owner (stored, team, contact's, or given) and due time",
)

SCHEDULE = Step(
    "schedule",
    """
    -- the owners who get a follow-up in this run, and those whose follow-ups a reversal
    -- deleted (ls_freed_owners): a freed day moves their later follow-ups forward
    WITH owners AS (
        SELECT DISTINCT owner_id, tz, daily_capacity AS cap
        FROM ls_follow_up_rows
        WHERE next_free_slot AND daily_capacity > 0
        UNION
        SELECT s.associate_id, coalesce(s.timezone, 'UTC'), s.daily_capacity
        FROM ls_freed_owners f JOIN crm.associate s ON s.associate_id = f.owner_id
        WHERE s.daily_capacity > 0
    ),
    slotted_actions AS (
        SELECT a.action_id, d.at_minutes
        FROM ls_def_follow_up d JOIN ls_def_action a USING (action_no)
        WHERE d.next_free_slot
    ),
    stored_items AS (
        SELECT ap.appointment_id AS row_id, ap.owner_id, ap.due_at,
               c.clicked_at, ap.source_click_id AS click_id, ap.source_action AS action_id,
               ap.starts_at AS old_starts_at
        FROM crm.appointment ap
        JOIN owners o ON o.owner_id = ap.owner_id
        JOIN slotted_actions sa ON sa.action_id = ap.source_action
        LEFT JOIN mail.click c ON c.click_id = ap.source_click_id
        WHERE ap.due_at IS NOT NULL
          AND ap.appointment_id NOT IN (SELECT row_id FROM ls_follow_up_rows)
    ),
    new_items AS (
        SELECT r.row_id, r.owner_id, r.due_at, r.clicked_at, r.click_id, r.action_id,
               ap.starts_at AS old_starts_at
        FROM ls_follow_up_rows r
        JOIN owners o USING (owner_id)
        LEFT JOIN crm.appointment ap ON ap.appointment_id = r.row_id
        WHERE r.next_free_slot
    ),
    items AS (
        SELECT u.*, o.tz, o.cap, CAST(ls_local(u.due_at, o.tz) AS DATE) AS due_day,
               row_number() OVER (
                   PARTITION BY u.owner_id
                   ORDER BY CAST(ls_local(u.due_at, o.tz) AS DATE), u.clicked_at, u.click_id,
                            u.action_id) AS i
        FROM (SELECT * FROM stored_items UNION ALL SELECT * FROM new_items) u
        JOIN owners o USING (owner_id)
    ),
    current_rows AS (
        SELECT appointment_id AS row_id, owner_id, starts_at FROM crm.appointment
        WHERE appointment_id NOT IN (SELECT row_id FROM ls_follow_up_rows)
        UNION ALL
        SELECT row_id, owner_id, due_at FROM ls_follow_up_rows
    ),
    fixed AS (
        SELECT c.owner_id, CAST(ls_local(c.starts_at, o.tz) AS DATE) AS day, count(*) AS n
        FROM current_rows c
        JOIN owners o USING (owner_id)
        WHERE c.row_id NOT IN (SELECT row_id FROM items) AND c.starts_at IS NOT NULL
        GROUP BY ALL
    ),
    fixed_days AS (SELECT owner_id, count(*) AS n FROM fixed GROUP BY owner_id),
    spans AS (
        SELECT i.owner_id, min(i.due_day) AS first_day,
               max(i.due_day) + CAST(2 * (count(*) + coalesce(any_value(f.n), 0)) + 7
                 AS INTEGER) AS last_day
        FROM items i LEFT JOIN fixed_days f USING (owner_id)
        GROUP BY i.owner_id
    ),
    days AS (
        SELECT s.owner_id, CAST(g.day AS DATE) AS day
        FROM spans s,
             LATERAL (SELECT unnest(generate_series(s.first_day::TIMESTAMP,
                                                    s.last_day::TIMESTAMP,
                                                    INTERVAL 1 DAY)) AS day) g
    ),
    free AS (
        SELECT d.owner_id, d.day,
               CASE WHEN isodow(d.day) > 5 THEN 0
                    ELSE greatest(o.cap - coalesce(f.n, 0), 0) END AS free
        FROM days d
        JOIN owners o USING (owner_id)
        LEFT JOIN fixed f USING (owner_id, day)
    ),
    cum AS (
        SELECT owner_id, day, free,
               sum(free) OVER (PARTITION BY owner_id ORDER BY day) AS upto
        FROM free
    ),
    firsts AS (
        SELECT it.*, (c.upto - c.free + 1) AS f
        FROM items it
        JOIN cum c ON c.owner_id = it.owner_id AND c.day = it.due_day
    ),
    placed AS (
        SELECT *, i + max(f - i) OVER (PARTITION BY owner_id ORDER BY i) AS slot
        FROM firsts
    ),
    -- the day of a slot: the first day with room whose running total reaches it (days
    -- without room share the total of the day before and are left out). In one line per
    -- owner, each slot at its number and each day at its running total (after the slots of
    -- the same number): the slot's day is the earliest day ahead. (An "as of" join in effect,
    -- written with a window, which every engine has.)
    marks AS (
        SELECT owner_id, slot AS k, 0 AS side, row_id, NULL::DATE AS day FROM placed
        UNION ALL
        SELECT owner_id, upto, 1, NULL, day FROM cum WHERE free > 0
    ),
    landed AS (
        SELECT row_id, day
        FROM (
            SELECT row_id, side,
                   min(day) OVER (PARTITION BY owner_id ORDER BY k, side
                                  ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS day
            FROM marks
        )
        WHERE side = 0 AND day IS NOT NULL
    )
    SELECT p.row_id, p.old_starts_at,
           ls_utc(c.day + (ls_local(p.due_at, p.tz) - CAST(ls_local(p.due_at, p.tz) AS DATE)),
                  p.tz) AS starts_at
    FROM placed p
    JOIN landed c USING (row_id)
    """,
    "next_free_slot: per owner, greedy placement of linksim's follow-ups under daily_capacity",
)

TICKET_FIRED = Step(
    "ticket_fired",
    f"""
    {_fired_and_stored("ls_def_request", "crm.ticket", "t", "ticket_id")}
    SELECT f.click_id, f.clicked_at, f.person_id, f.mailing_id, f.action_no, f.action_id,
           f.row_id,
           d.priority, d.category, d.owner_kind, d.team,
           CASE d.owner_kind
               WHEN 'associate' THEN d.owner_id
               WHEN 'contact_owner' THEN coalesce(c.owner_id, d.fallback)
           END AS resolved_owner,
           r.text AS title,
           t.ticket_id IS NOT NULL AS is_stored, t.owner_id AS stored_owner,
           CAST(f.clicked_at AS DATE) AS day
    FROM x f
    JOIN ls_def_request d ON d.action_no = f.action_no
    LEFT JOIN crm.person p ON p.person_id = f.person_id
    LEFT JOIN crm.contact c ON c.contact_id = p.contact_id
    LEFT JOIN ls_rendered r ON r.click_id = f.click_id AND r.action_no = f.action_no
    LEFT JOIN stored t ON t.ticket_id = f.row_id
    WHERE t.ticket_id IS NULL OR {_earlier_than_stored("f", "t", "t.source_click_id")}
    """,
    "tickets to create, or whose source moves to an earlier click",
)

TICKET_TEAM = _team_assignment(
    "ticket_team",
    "ls_ticket_fired",
    "SELECT owner_id, CAST(created_at AS DATE) AS day, count(*) AS n FROM crm.ticket GROUP BY ALL",
)

TICKET_ROWS = Step(
    "ticket_rows",
    """
    SELECT x.*,
           CASE WHEN x.is_stored THEN x.stored_owner
                ELSE coalesce(t.owner_id, x.resolved_owner) END AS owner_id
    FROM ls_ticket_fired x
    LEFT JOIN ls_ticket_team t USING (row_id)
    """,
    "each ticket with its owner",
)

CREATE_STEPS = (
    FOLLOW_UP_FIRED,
    FOLLOW_UP_TEAM,
    FOLLOW_UP_ROWS,
    SCHEDULE,
    TICKET_FIRED,
    TICKET_TEAM,
    TICKET_ROWS,
)
