"""How many people each finding touched in the clicks already in the database, in SQL.

The engine's own first steps (bot filter, eligibility, firing policies) run over every click, so
a count means: people whose eligible clicks fired the actions involved, as `apply` would. Then,
per finding (`ls_lint_target` says which firings it concerns):

- ``state`` (add-and-remove, two-values): people who fired both actions are the ones click order
  decided for; the last of their firings, by (time, click, action order), says how they ended;
- ``pair`` (two-follow-ups): people who fired both in one mailing, who got both;
- ``repeat`` (every-click-creates): people who fired it twice or more in one mailing;
- ``link`` (shared-link): people who fired any of the link's actions.

Problems that keep an action from running are counted on the clicks of its link: the people
whose eligible clicks would have fired it.
"""

from __future__ import annotations

import duckdb

__all__ = ["CONFLICT_HISTORY_SQL", "PROBLEM_HISTORY_SQL"]

CONFLICT_HISTORY_SQL = """
WITH hits AS (
    SELECT t.finding_no, t.kind, t.role, f.person_id, f.mailing_id, f.clicked_at, f.click_id,
           f.action_no
    FROM ls_lint_target t
    JOIN ls_fired f ON f.action_no = t.action_no AND f.mailing_id = t.mailing_id
    UNION ALL
    SELECT t.finding_no, t.kind, t.role, f.person_id, f.mailing_id, f.clicked_at, f.click_id,
           f.action_no
    FROM ls_lint_target t
    JOIN ls_fired f ON f.action_no = t.action_no
    WHERE t.mailing_id IS NULL
),
per_mailing AS (
    SELECT finding_no, person_id, mailing_id,
           count(DISTINCT role) = 2 AS both_roles, count(*) AS fired
    FROM hits GROUP BY ALL
),
per_person AS (
    SELECT h.finding_no, h.person_id, any_value(h.kind) AS kind,
           count(DISTINCT h.role) = 2 AS both_roles,
           arg_max(h.role, (h.clicked_at, h.click_id, h.action_no)) AS last_role,
           bool_or(m.both_roles) AS both_in_one_mailing,
           max(m.fired) >= 2 AS repeated_in_one_mailing
    FROM hits h JOIN per_mailing m USING (finding_no, person_id, mailing_id)
    GROUP BY ALL
)
SELECT finding_no, count(*) AS people,
       CASE any_value(kind)
         WHEN 'state' THEN count(*) FILTER (WHERE both_roles)
         WHEN 'pair' THEN count(*) FILTER (WHERE both_in_one_mailing)
         WHEN 'repeat' THEN count(*) FILTER (WHERE repeated_in_one_mailing)
       END AS order_dependent,
       count(*) FILTER (WHERE both_roles AND last_role = 'a') AS last_a,
       count(*) FILTER (WHERE both_roles AND last_role = 'b') AS last_b
FROM per_person
GROUP BY finding_no
"""

# Per problem: the link its action is on, and the entry's mailings (empty: any).
PROBLEM_HISTORY_SQL = """
WITH wanted AS (
    SELECT unnest($findings::INTEGER[]) AS finding_no, unnest($links::VARCHAR[]) AS link,
           unnest($mailings::BIGINT[][]) AS mailings
),
links AS (
    SELECT w.finding_no, l.link_id, w.mailings
    FROM wanted w JOIN mail.link l ON l.link_id::VARCHAR = w.link OR l.url = w.link
)
SELECT l.finding_no, count(DISTINCT c.person_id) AS people
FROM links l
JOIN ls_classified c ON c.link_id = l.link_id
WHERE c.bot_reason IS NULL AND c.quarantine_reason IS NULL
  AND (len(l.mailings) = 0 OR list_contains(l.mailings, c.mailing_id))
GROUP BY l.finding_no
"""


def conflict_counts(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[int, int | None, int, int]]:
    """finding_no → (people, order-dependent people, ended by a, ended by b)."""
    # one row per finding, counted in SQL
    return {
        row[0]: (int(row[1]), None if row[2] is None else int(row[2]), int(row[3]), int(row[4]))
        for row in con.execute(CONFLICT_HISTORY_SQL).fetchall()
    }


def problem_counts(
    con: duckdb.DuckDBPyConnection, wanted: list[tuple[int, str, list[int]]]
) -> dict[int, int]:
    """finding_no → people whose eligible clicks on the (link, mailings) would have fired it."""
    if not wanted:
        return {}
    params = {
        "findings": [w[0] for w in wanted],
        "links": [w[1] for w in wanted],
        "mailings": [w[2] for w in wanted],
    }
    # one row per finding, counted in SQL
    return {row[0]: int(row[1]) for row in con.execute(PROBLEM_HISTORY_SQL, params).fetchall()}
