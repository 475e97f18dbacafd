"""Reversal: put back the rows that writes no click supports any more.

Before its batches, an apply calls `reverse_bot_changes` with the verdicts of every click from
its span's start: `ls_now_bot` (bot clicks and their rule) and `ls_fired` (the click and action
pairs that fire, judged on every stored click). A journaled write is unsupported when its click no
longer fires its action: the click is a bot's now (the filter changed, or clicks loaded later made
a burst), its confirmation was a bot's, or an earlier click fires the action instead. For every
row whose latest writes are unsupported and still hold, the row returns to what it was before the
earliest of them, walking back through the journal and stopping at a supported write, a manual
edit or the first write linksim made. The batches that follow re-apply the clicks that do fire,
so the rows end as one apply of the current definitions leaves them (docs/SEMANTICS.md §10).

A follow-up or ticket is unsupported when no click fires its id at or before its source (an
earlier one moves its source: the batches do that). A row edited since (by hand or by a load: its
source click no longer matches) is never touched; it is listed for a person to decide.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from linksim.engine.create import row_id_sql as _row_id
from linksim.journal import current_sql, key_json, restore
from linksim.store.query import fetch_value, run

__all__ = ["reverse_bot_changes"]

# Every journal entry of a write from the span's start on, flagged when nothing supports it any
# more: its click no longer fires its action (a bot's click now, a confirmation that was a
# bot's, no longer the earliest click that fires it); for a created row, when no click fires
# its id at or before the writer (an earlier one moves the row's source: the batches do that).
# An action no longer in the definitions keeps what it did: undo reverts a run.
FLAGGED = f"""
CREATE OR REPLACE TEMP TABLE ls_flagged AS
WITH fired_rows AS (
    SELECT {_row_id("f")} AS row_id, f.clicked_at, f.click_id
    FROM ls_fired f
    WHERE f.type IN ('follow_up', 'request')
)
SELECT j.table_name, j.key, j.run_id, j.batch_no, j.writer_click,
       CASE
         WHEN j.table_name IN ('crm.appointment', 'crm.ticket') THEN NOT EXISTS (
           SELECT 1 FROM fired_rows f
           WHERE f.row_id = j.target AND (f.clicked_at, f.click_id) <= (k.clicked_at, k.click_id))
         ELSE NOT EXISTS (
           SELECT 1 FROM ls_fired f
           WHERE f.click_id = j.writer_click AND f.action_id = j.action_id)
       END AS unsupported
FROM linksim.journal j
JOIN mail.click k ON k.click_id = j.writer_click
CROSS JOIN ls_run_param p
WHERE k.clicked_at >= p.since AND k.clicked_at < p.until
  AND (p.mailing_id IS NULL OR k.mailing_id = p.mailing_id)
  AND j.action_id IN (SELECT action_id FROM ls_def_action)
"""

PLAN = """
CREATE OR REPLACE TEMP TABLE ls_restore AS
WITH cand AS (SELECT DISTINCT table_name, key FROM ls_flagged WHERE unsupported),
e AS (
    SELECT j.*, row_number() OVER w AS r, lag(j.before) OVER w AS later_before
    FROM linksim.journal j
    SEMI JOIN cand USING (table_name, key)
    WINDOW w AS (PARTITION BY j.table_name, j.key ORDER BY j.run_id DESC, j.batch_no DESC)
),
cur AS ({current}),
-- an entry holds when what it left is what came next: the stored row for the latest entry,
-- the next entry's before-image for the others (a manual edit in between breaks the chain)
judged AS (
    SELECT e.*, coalesce(u.unsupported, false) AS unsupported,
           CASE
             WHEN e.r = 1 AND e.after_exists
               THEN c.key IS NOT NULL AND c.src IS NOT DISTINCT FROM e.after_click
             WHEN e.r = 1 THEN c.key IS NULL
             WHEN e.after_exists
               THEN e.later_before IS NOT NULL
                AND CAST(json_extract_string(e.later_before, '$.source_click_id') AS BIGINT)
                    IS NOT DISTINCT FROM e.after_click
             ELSE e.later_before IS NULL
           END AS holds
    FROM e
    LEFT JOIN cur c USING (table_name, key)
    LEFT JOIN ls_flagged u USING (table_name, key, run_id, batch_no)
),
-- how many of the latest entries are unsupported writes, unbroken: the row goes back before
-- all of them
depth AS (
    SELECT table_name, key,
           coalesce(min(r) FILTER (WHERE NOT (holds AND unsupported)), max(r) + 1) - 1 AS m
    FROM judged
    GROUP BY table_name, key
)
SELECT j.table_name, j.key, j.before AS image, top.writer_click AS click_id, top.action_id,
       top.target_kind, top.target, top.person_id, top.contact_id, top.value_after AS old_value,
       j.value_before AS new_value, coalesce(k.clicked_at, now()::TIMESTAMP) AS changed_at,
       'reversal: click ' || top.writer_click || CASE
         WHEN b.click_id IS NOT NULL THEN ' is a bot''s (' || b.reason || ')'
         ELSE ' no longer fires ' || top.action_id END AS cause
FROM depth d
JOIN judged j ON j.table_name = d.table_name AND j.key = d.key AND j.r = d.m
JOIN judged top ON top.table_name = d.table_name AND top.key = d.key AND top.r = 1
LEFT JOIN mail.click k ON k.click_id = top.writer_click
LEFT JOIN ls_now_bot b ON b.click_id = top.writer_click
WHERE d.m >= 1
"""

# Created rows whose text counts the person's clicks on the link ({link_hits}): when a click
# before their source changed verdict (bot now, or no longer), the count changed. They are
# deleted, and the batches create them again, rendered with the count of the new verdicts.
RERENDER = """
INSERT INTO ls_restore
WITH old_bot AS (
    SELECT b.click_id FROM linksim.bot_click b
    JOIN mail.click c USING (click_id)
    CROSS JOIN ls_run_param p
    WHERE c.clicked_at >= p.since AND c.clicked_at < p.until
      AND (p.mailing_id IS NULL OR c.mailing_id = p.mailing_id)
),
changed AS (
    SELECT c.person_id, c.link_id, c.clicked_at, c.click_id
    FROM mail.click c
    WHERE c.click_id IN ((SELECT click_id FROM ls_now_bot EXCEPT SELECT click_id FROM old_bot)
                         UNION ALL
                         (SELECT click_id FROM old_bot EXCEPT SELECT click_id FROM ls_now_bot))
),
counting AS (
    SELECT a.action_id FROM ls_def_action a
    SEMI JOIN ls_def_template t ON t.action_no = a.action_no AND t.placeholder = 'link_hits'
),
created AS (
    SELECT 'crm.appointment' AS table_name, {appointment_key} AS key, appointment_id AS id,
           source_click_id, source_action, person_id
    FROM crm.appointment t
    UNION ALL
    SELECT 'crm.ticket', {ticket_key}, ticket_id, source_click_id, source_action, person_id
    FROM crm.ticket t
)
SELECT r.table_name, r.key, NULL, r.source_click_id, r.source_action,
       CASE r.table_name WHEN 'crm.ticket' THEN 'ticket' ELSE 'appointment' END, r.id,
       r.person_id, NULL, r.id, NULL, s.clicked_at,
       'reversal: rendered with {{link_hits}} counting clicks whose verdict changed'
FROM created r
JOIN mail.click s ON s.click_id = r.source_click_id
CROSS JOIN ls_run_param p
WHERE r.source_action IN (SELECT action_id FROM counting)
  -- only rows the batches that follow create again: their source is in the span they redo
  AND s.clicked_at >= p.since AND s.clicked_at < $span_until
  AND EXISTS (SELECT 1 FROM changed c
              WHERE c.person_id = s.person_id AND c.link_id = s.link_id
                AND (c.clicked_at, c.click_id) < (s.clicked_at, s.click_id))
  AND NOT EXISTS (SELECT 1 FROM ls_restore x
                  WHERE x.table_name = r.table_name AND x.key = r.key)
"""

EDITED = """
SELECT j.target_kind, j.target, j.person_id, j.writer_click AS click_id, j.action_id,
       'edited since: kept as it is' AS note
FROM (
    SELECT j.*, f.unsupported,
           row_number() OVER (PARTITION BY j.table_name, j.key
                              ORDER BY j.run_id DESC, j.batch_no DESC) AS r
    FROM linksim.journal j
    SEMI JOIN ({cand}) USING (table_name, key)
    LEFT JOIN ls_flagged f USING (table_name, key, run_id, batch_no)
) j
LEFT JOIN ({current}) c USING (table_name, key)
WHERE j.r = 1 AND j.target_kind IS NOT NULL AND j.unsupported
  AND NOT EXISTS (SELECT 1 FROM ls_restore x WHERE x.table_name = j.table_name AND x.key = j.key)
  AND NOT CASE WHEN j.after_exists
               THEN c.key IS NOT NULL AND c.src IS NOT DISTINCT FROM j.after_click
               ELSE c.key IS NULL END
"""


def reverse_bot_changes(
    con: duckdb.DuckDBPyConnection, run_id: int, span_until: dt.datetime
) -> tuple[dict[str, int], pd.DataFrame]:
    """Put back every row whose writes no click supports any more; the caller commits.

    Reads the verdicts of every click from the span's start (`ls_run_param`): `ls_now_bot`
    (click_id, reason) and `ls_fired` (the click and action pairs that fire). ``span_until`` is
    the end of the span the caller's batches redo. Returns how many changes were reversed
    (`linksim.change` rows with a `cause`) and how many unsupported rows were left because they
    were edited since.
    """
    run(con, FLAGGED)
    cand = "SELECT DISTINCT table_name, key FROM ls_flagged WHERE unsupported"
    current = current_sql(f"({cand})")
    run(con, PLAN.format(current=current))
    run(
        con,
        RERENDER.format(
            appointment_key=key_json("crm.appointment", {"appointment_id": "t.appointment_id"}),
            ticket_key=key_json("crm.ticket", {"ticket_id": "t.ticket_id"}),
        ),
        {"span_until": span_until},
    )
    reversed_ = int(
        fetch_value(
            con,
            "SELECT count(*) FROM ls_restore "
            "WHERE target_kind IS NOT NULL AND old_value IS DISTINCT FROM new_value",
        )
    )
    edited = con.execute(EDITED.format(cand=cand, current=current) + " ORDER BY 1, 2, 3").df()
    run(
        con,
        "INSERT INTO ls_freed_owners SELECT DISTINCT a.owner_id FROM crm.appointment a "
        "JOIN ls_restore r ON r.table_name = 'crm.appointment' AND r.target = a.appointment_id "
        "WHERE a.owner_id IS NOT NULL",
    )
    restore(con, run_id)
    # what a click showed when it no longer fires is not a person's history
    run(
        con,
        "DELETE FROM linksim.response r WHERE r.click_id IN ("
        " SELECT k.click_id FROM mail.click k, ls_run_param p"
        " WHERE k.clicked_at >= p.since AND k.clicked_at < p.until"
        "   AND (p.mailing_id IS NULL OR k.mailing_id = p.mailing_id))"
        " AND r.action_id IN (SELECT action_id FROM ls_def_action)"
        " AND NOT EXISTS (SELECT 1 FROM ls_fired f"
        "                 WHERE f.click_id = r.click_id AND f.action_id = r.action_id)",
    )
    run(con, "DROP TABLE ls_flagged")
    return {"reversed": reversed_, "edited_since": len(edited)}, edited
