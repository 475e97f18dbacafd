"""The floor of the backfill benchmark: the demo definitions as minimal hand-written DuckDB SQL.

    python bench/floor.py WORKCOPY.duckdb [--memory-limit 4GB] [--temp-dir DIR]

Applies `data/demo-definitions.yaml` to every click of a generated demo database, in one
transaction, with the fewest queries that still do the work the engine does: eligible clicks
(quarantine as inner joins, `too_soon` against `mail.recipient.delivered_at`, the burst rule as a
self-join), firing per policy (`every_click`, `once_per_mailing`, `once`), the join of the clicks
to the actions, last-writer-wins `arg_max` per target against the stored clocks of fields and
memberships, upserts and deletes of fields, memberships and removals, inserts of appointments and
tickets with their deterministic ids, of responses and of `linksim.change` rows. It prints one
JSON line: the seconds inside the transaction and the row counts it wrote. `bench/backfill.py`
runs it as a subprocess on a copy of the database and times it from outside.

It is specific to the demo definitions: the actions are written out below (checked against the
YAML at start, so an edit of the file fails loudly instead of measuring something else), and the
templates are SQL string concatenations. What it leaves out, on purpose:

- the user-agent and address-range bot rules: on the demo data every click the engine drops for
  its user agent is also too soon, and of the 3 it drops for their address (at 10M clicks) one is
  on a link with actions: the floor's one response more;
- `require: confirmed`: the webinar calls fire for the first eligible click, without waiting for
  a confirming click (so the floor creates more of them than the engine: 5,098 more at 1M clicks);
- `{team: Nordics}` balancing per day: the webinar calls go round-robin over the team members;
- `next_free_slot` scheduling: a demo meeting starts at its due time (`starts_at = due_at`);
- template rendering beyond `||`: no HTML escaping of the feedback text's merge values;
- the script call: `crm_enrich` (lead_score = 50 + 10 * least(link_hits, 5)) is inlined as SQL;
- moving an existing created row to an earlier source click (a re-run or late-loaded click):
  existing ids are skipped (an anti-join), which is all a fresh backfill needs;
- run accounting (clicks seen / eligible / bot / quarantined), the preview frames, the workload
  report, `linksim.script_run`, and the restriction to the persons who clicked in a scope (a
  backfill has no scope: every click counts).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb

import linksim
from linksim.store.query import fetch_value, run

DEFINITIONS = Path(__file__).resolve().parents[1] / "data" / "demo-definitions.yaml"
MANUAL_CLICK = 9223372036854775807  # a NULL source click is a manual edit: it wins any tie

# The demo definitions, written out: (action_no, action_id, type, fire, link_id, mailings).
ACTIONS = (
    (0, "unsub-interests", "interest", "every_click", 1, None),
    (1, "unsub-selections", "selection", "every_click", 1, None),
    (2, "unsub-opt-out", "set_field", "every_click", 1, None),
    (3, "unsub-confirm", "response", "every_click", 1, None),
    (4, "demo-selections", "selection", "every_click", 2, None),
    (5, "demo-stage", "set_field", "every_click", 2, None),
    (6, "demo-meeting", "follow_up", "once", 2, None),
    (7, "demo-form", "response", "every_click", 2, None),
    (8, "pricing-interest", "interest", "every_click", 3, "PRICING"),
    (9, "pricing-score", "set_field", "every_click", 3, "PRICING"),
    (10, "pricing-ticket", "request", "once_per_mailing", 3, "PRICING"),
    (11, "pricing-page", "response", "every_click", 3, "PRICING"),
    (12, "support-ticket", "request", "every_click", 4, None),
    (13, "survey-enrich", "script", "once", 5, None),
    (14, "survey-cta", "set_field", "every_click", 5, None),
    (15, "survey-start", "response", "every_click", 5, None),
    (16, "ai-interest", "interest", "every_click", 20260311, None),
    (17, "ai-company-interest", "interest", "every_click", 20260311, None),
    (18, "ai-launch", "project", "every_click", 20260311, None),
    (19, "webinar-interest", "interest", "every_click", 20260321, None),
    (20, "webinar-attendee", "selection", "every_click", 20260321, None),
    (21, "webinar-date", "set_field", "every_click", 20260321, None),
    (22, "webinar-call", "follow_up", "once_per_mailing", 20260321, None),
    (23, "webinar-thanks", "response", "every_click", 20260321, None),
    (24, "nov-news-interest", "interest", "every_click", 20261111, None),
    (25, "nov-news-cta", "set_field", "every_click", 20261111, None),
    (26, "nov-news-moved-on", "selection", "every_click", 20261111, None),
)
PRICING = (2025111, 2026011, 2026031, 2026051, 2026071, 2026091, 2026111)

# (action_no, kind, scope, name, op, value) of every field and membership the actions touch.
STATE_OPS = (
    (0, "interest", "person", "Product news", "remove", None),
    (0, "interest", "person", "Webinars", "remove", None),
    (0, "interest", "person", "Events", "remove", None),
    (1, "selection", "person", "Unsubscribed", "add", "member"),
    (1, "selection", "person", "Newsletter subscribers", "remove", None),
    (2, "field", "person", "newsletter_opt_in", "set", "false"),
    (4, "selection", "person", "Demo requested", "add", "member"),
    (4, "selection", "person", "Hot leads", "add", "member"),
    (4, "selection", "person", "Cold leads", "remove", None),
    (5, "field", "person", "lifecycle_stage", "set", "SQL"),
    (8, "interest", "person", "Pricing", "add", "member"),
    (9, "field", "person", "lead_score", "set", "80"),
    (14, "field", "person", "last_cta", "set", "survey"),
    (16, "interest", "person", "AI assistant", "add", "member"),
    (16, "interest", "person", "Product news", "add", "member"),
    (17, "interest", "contact", "AI assistant", "add", "member"),
    (18, "project", "person", "Launch 2026", "add", "member"),
    (19, "interest", "person", "Webinars", "add", "member"),
    (20, "selection", "person", "Webinar attendees 2026", "add", "member"),
    (21, "field", "person", "last_webinar", "set", "2026-03-26"),
    (24, "interest", "person", "Product news", "add", "member"),
    (25, "field", "person", "last_cta", "set", "product-news"),
    (26, "selection", "person", "Cold leads", "remove", None),
)

# --- the floor, one statement per step ------------------------------------------------------------

CLICKS = """
CREATE TEMP TABLE fl_click AS
WITH c AS (  -- only clicks on a configured link can fire; the others only count for bursts
    SELECT click_id, mailing_id, link_id, person_id, clicked_at FROM mail.click
    WHERE link_id IN (SELECT link_id FROM fl_action)
),
timely AS (  -- known person and mailing, and not within 10 s of the delivery
    SELECT c.*
    FROM c
    SEMI JOIN crm.person p ON p.person_id = c.person_id
    SEMI JOIN mail.mailing m ON m.mailing_id = c.mailing_id
    LEFT JOIN mail.recipient r ON r.mailing_id = c.mailing_id AND r.person_id = c.person_id
    WHERE r.delivered_at IS NULL OR c.clicked_at >= r.delivered_at + INTERVAL 10 SECOND
),
burst AS (  -- more than 3 distinct links of the same mailing within one second of the click;
            -- probed for the timely clicks only (the cheap rule first)
    SELECT a.click_id
    FROM timely a
    JOIN mail.click b
      ON b.person_id = a.person_id AND b.mailing_id = a.mailing_id
     AND b.clicked_at > a.clicked_at - INTERVAL 1 SECOND
     AND b.clicked_at < a.clicked_at + INTERVAL 1 SECOND
    GROUP BY a.click_id
    HAVING count(DISTINCT b.link_id) > 3
)
SELECT t.*,
       row_number() OVER (PARTITION BY t.link_id, t.person_id, t.mailing_id
                          ORDER BY t.clicked_at, t.click_id) = 1 AS first_in_mailing,
       row_number() OVER (PARTITION BY t.link_id, t.person_id
                          ORDER BY t.clicked_at, t.click_id) AS link_hits
FROM timely t
WHERE t.click_id NOT IN (SELECT click_id FROM burst)
"""

# One row per fired (click, action). `once` uses link_hits = 1: the first eligible click of the
# person on the link, which is the first per action, as no `once` action has a mailing filter.
FIRED = """
CREATE TEMP TABLE fl_fired AS
SELECT c.*, a.action_no, a.action_id
FROM fl_click c
JOIN fl_action a
  ON a.link_id = c.link_id AND (a.mailings IS NULL OR list_contains(a.mailings, c.mailing_id))
WHERE a.fire = 'every_click'
   OR (a.fire = 'once_per_mailing' AND c.first_in_mailing)
   OR (a.fire = 'once' AND c.link_hits = 1)
"""

# Field ops: set_field, plus crm_enrich inlined (its lead_score comes at its action's clock).
FIELD_WIN = """
CREATE TEMP TABLE fl_field_win AS
WITH ops AS (
    SELECT f.person_id, s.name AS field, s.value, f.clicked_at, f.click_id, f.action_no,
           f.action_id
    FROM fl_fired f JOIN fl_state_op s ON s.action_no = f.action_no AND s.kind = 'field'
    UNION ALL
    SELECT person_id, 'lead_score', (50 + 10 * least(link_hits, 5))::VARCHAR, clicked_at,
           click_id, action_no, action_id
    FROM fl_fired WHERE action_id = 'survey-enrich'
)
SELECT * EXCLUDE (w), unnest(w)
FROM (
    SELECT person_id, field,
           arg_max({'value': value, 'clicked_at': clicked_at, 'click_id': click_id,
                    'action_id': action_id},
                   (clicked_at, click_id, action_no)) AS w
    FROM ops
    GROUP BY person_id, field
)
"""

FIELD_APPLIED = f"""
CREATE TEMP TABLE fl_field_applied AS
SELECT w.*, s.value AS old_value
FROM fl_field_win w
LEFT JOIN crm.person_field s ON s.person_id = w.person_id AND s.field = w.field
WHERE s.person_id IS NULL
   OR w.clicked_at > s.set_at
   OR (w.clicked_at = s.set_at AND w.click_id > coalesce(s.source_click_id, {MANUAL_CLICK}))
   OR (w.clicked_at = s.set_at AND w.click_id = s.source_click_id
       AND w.value IS DISTINCT FROM s.value)
"""

MEMBER_WIN = """
CREATE TEMP TABLE fl_member_win AS
SELECT * EXCLUDE (w), unnest(w)
FROM (
    SELECT s.kind, s.scope,
           CASE s.scope WHEN 'contact' THEN p.contact_id ELSE f.person_id END AS owner_id,
           s.target_id,
           arg_max({'op': s.op, 'value': s.value, 'clicked_at': f.clicked_at,
                    'click_id': f.click_id, 'action_id': f.action_id,
                    'person_id': f.person_id, 'target': s.name},
                   (f.clicked_at, f.click_id, f.action_no)) AS w
    FROM fl_fired f
    JOIN fl_state_op s ON s.action_no = f.action_no AND s.kind <> 'field'
    LEFT JOIN crm.person p ON s.scope = 'contact' AND p.person_id = f.person_id
    WHERE s.scope = 'person' OR p.contact_id IS NOT NULL
    GROUP BY ALL
)
"""

# The stored clock of each touched membership: a member row, or a removal, whichever is later.
MEMBER_APPLIED = f"""
CREATE TEMP TABLE fl_member_applied AS
WITH stored AS (
    SELECT 'interest' AS kind, 'person' AS scope, person_id AS owner_id,
           interest_id AS target_id, 'member' AS value, since AS stored_at, source_click_id AS src
    FROM crm.person_interest
    UNION ALL SELECT 'interest', 'contact', contact_id, interest_id, 'member', since,
                     source_click_id FROM crm.contact_interest
    UNION ALL SELECT 'selection', 'person', person_id, selection_id, 'member', since,
                     source_click_id FROM crm.selection_member
    UNION ALL SELECT 'project', 'person', person_id, project_id, 'member', since,
                     source_click_id FROM crm.project_member
    UNION ALL SELECT target_kind, scope, owner_id, target_id, NULL, removed_at,
                     source_click_id FROM linksim.removal
),
latest AS (
    SELECT kind, scope, owner_id, target_id,
           arg_max({{'value': value, 'at': stored_at, 'src': src}},
                   (stored_at, coalesce(src, {MANUAL_CLICK}))) AS s
    FROM stored
    SEMI JOIN fl_member_win USING (kind, scope, owner_id, target_id)
    GROUP BY ALL
)
SELECT w.*, l.s.value AS old_value
FROM fl_member_win w
LEFT JOIN latest l USING (kind, scope, owner_id, target_id)
WHERE l.owner_id IS NULL
   OR w.clicked_at > l.s.at
   OR (w.clicked_at = l.s.at AND w.click_id > coalesce(l.s.src, {MANUAL_CLICK}))
   OR (w.clicked_at = l.s.at AND w.click_id = l.s.src AND w.value IS DISTINCT FROM l.s.value)
"""

# The click-scaled tables keep their keys declared, not enforced (linksim.store.schema), as the
# engine writes them: the stored row of a written target is deleted, then every written row is
# appended (no upsert; an UPDATE would make DuckDB rewrite each row group it touches).
WRITE_FIELDS = (
    """
    DELETE FROM crm.person_field t USING fl_field_applied a
    WHERE t.person_id = a.person_id AND t.field = a.field
    """,
    """
    INSERT INTO crm.person_field (person_id, field, value, set_at, source_click_id)
    SELECT a.person_id, a.field, a.value, a.clicked_at, a.click_id FROM fl_field_applied a
    """,
)

# (table, kind, scope, owner column, target column) of each membership table.
MEMBER_TABLES = (
    ("crm.person_interest", "interest", "person", "person_id", "interest_id"),
    ("crm.contact_interest", "interest", "contact", "contact_id", "interest_id"),
    ("crm.selection_member", "selection", "person", "person_id", "selection_id"),
    ("crm.project_member", "project", "person", "person_id", "project_id"),
)


def member_writes() -> list[str]:
    """Replace the members written (the removed ones are only deleted), then keep
    `linksim.removal` in step."""
    out = []
    for table, kind, scope, owner, target in MEMBER_TABLES:
        mine = f"a.kind = '{kind}' AND a.scope = '{scope}'"
        out.append(
            f"DELETE FROM {table} t USING fl_member_applied a "
            f"WHERE {mine} AND a.owner_id = t.{owner} AND a.target_id = t.{target}"
        )
        out.append(
            f"INSERT INTO {table} ({owner}, {target}, since, source_click_id) "
            f"SELECT owner_id, target_id, clicked_at, click_id FROM fl_member_applied a "
            f"WHERE {mine} AND a.op = 'add'"
        )
    same = (
        "a.kind = r.target_kind AND a.scope = r.scope AND a.owner_id = r.owner_id "
        "AND a.target_id = r.target_id"
    )
    out.append(f"DELETE FROM linksim.removal r USING fl_member_applied a WHERE {same}")
    out.append(
        "INSERT INTO linksim.removal "
        "(target_kind, scope, owner_id, target_id, removed_at, source_click_id, run_id) "
        "SELECT kind, scope, owner_id, target_id, clicked_at, click_id, getvariable('run_id') "
        "FROM fl_member_applied a WHERE a.op = 'remove'"
    )
    return out


# The n-th working day (Monday-Friday) after d; n = 0: d or the next working day.
WORKDAY_MACRO = """
CREATE OR REPLACE TEMP MACRO fl_workday(d, n) AS d + CAST(
    CASE WHEN n = 0 THEN CASE isodow(d) WHEN 6 THEN 2 WHEN 7 THEN 1 ELSE 0 END
    ELSE - greatest(isodow(d) - 5, 0) - (least(isodow(d), 5) - 1)
         + ((least(isodow(d), 5) - 1 + n) // 5) * 7 + ((least(isodow(d), 5) - 1 + n) % 5)
    END AS INTEGER)
"""

# Demo meetings go to the contact's owner (else Erik, 3); webinar calls round-robin over the
# Nordics team. Due: n working days after the local click date, at the action's time, local.
APPOINTMENTS = """
CREATE TEMP TABLE fl_appointment AS
WITH nordics AS (
    SELECT associate_id, row_number() OVER (ORDER BY associate_id) - 1 AS k,
           count(*) OVER () AS n
    FROM crm.associate WHERE team = 'Nordics'
),
rows AS (
    SELECT f.*, p.contact_id, p.first_name, p.last_name,
           CASE f.action_id
               WHEN 'demo-meeting' THEN f.action_id || '/p' || f.person_id
               ELSE f.action_id || '/p' || f.person_id || '/m' || f.mailing_id
           END AS appointment_id,
           CASE f.action_id WHEN 'demo-meeting' THEN coalesce(c.owner_id, 3) END AS owner_id,
           row_number() OVER (PARTITION BY f.action_id ORDER BY f.clicked_at, f.click_id) AS rn
    FROM fl_fired f
    LEFT JOIN crm.person p ON p.person_id = f.person_id
    LEFT JOIN crm.contact c ON c.contact_id = p.contact_id
    WHERE f.action_id IN ('demo-meeting', 'webinar-call')
),
owned AS (
    SELECT r.* REPLACE (coalesce(r.owner_id, t.associate_id) AS owner_id)
    FROM rows r
    LEFT JOIN nordics t ON r.action_id = 'webinar-call' AND t.k = r.rn % t.n
),
due AS (
    SELECT o.*, a.timezone,
           timezone(a.timezone,
                    fl_workday(CAST(timezone(a.timezone, o.clicked_at::TIMESTAMPTZ) AS DATE),
                               CASE o.action_id WHEN 'demo-meeting' THEN 2 ELSE 5 END)
                    + CASE o.action_id WHEN 'demo-meeting' THEN INTERVAL 10 HOUR
                                       ELSE INTERVAL 14 HOUR END)::TIMESTAMP AS due_at
    FROM owned o
    LEFT JOIN crm.associate a ON a.associate_id = o.owner_id
)
SELECT d.appointment_id,
       CASE d.action_id WHEN 'demo-meeting' THEN 'meeting' ELSE 'task' END AS kind,
       CASE d.action_id WHEN 'demo-meeting' THEN 'Demo' ELSE 'Phone call' END AS task_type,
       d.person_id, d.contact_id,
       CASE d.action_id WHEN 'demo-meeting'
           THEN (SELECT project_id FROM crm.project WHERE name = 'Launch 2026') END AS project_id,
       d.owner_id, 1 AS created_by_id,
       CASE d.action_id
           WHEN 'demo-meeting' THEN 'Demo requested via ' || coalesce(l.name, '') || ' in '
                                    || coalesce(m.name, '')
           ELSE 'Call ' || concat_ws(' ', nullif(d.first_name, ''), nullif(d.last_name, ''))
                || ' after the webinar (' || d.link_hits || ' clicks on '
                || coalesce(l.name, '') || ')'
       END AS description,
       d.due_at AS starts_at,
       CASE d.action_id WHEN 'demo-meeting' THEN 45 ELSE 15 END AS duration_minutes,
       d.action_id AS source_action, d.click_id AS source_click_id,
       d.mailing_id AS source_mailing_id, d.due_at, d.clicked_at
FROM due d
LEFT JOIN mail.link l ON l.link_id = d.link_id
LEFT JOIN mail.mailing m ON m.mailing_id = d.mailing_id
ANTI JOIN crm.appointment s ON s.appointment_id = d.appointment_id  -- a fresh id only
"""

TICKETS = """
CREATE TEMP TABLE fl_ticket AS
SELECT CASE f.action_id
           WHEN 'pricing-ticket'
               THEN f.action_id || '/p' || f.person_id || '/m' || f.mailing_id
           ELSE f.action_id || '/c' || f.click_id
       END AS ticket_id,
       CASE f.action_id
           WHEN 'pricing-ticket'
               THEN 'Pricing question from ' || concat_ws(' ', nullif(p.first_name, ''),
                    nullif(p.last_name, '')) || ' (' || coalesce(c.name, '') || ')'
           ELSE 'Support request from ' || concat_ws(' ', nullif(p.first_name, ''),
                nullif(p.last_name, '')) || ' via ' || coalesce(m.name, '')
       END AS title,
       CASE f.action_id WHEN 'pricing-ticket' THEN 'high' ELSE 'medium' END AS priority,
       CASE f.action_id WHEN 'pricing-ticket' THEN 'Sales' ELSE 'Support' END AS category,
       CASE f.action_id WHEN 'pricing-ticket' THEN coalesce(c.owner_id, 16) END AS owner_id,
       'open' AS status, f.person_id, f.clicked_at AS created_at, f.action_id AS source_action,
       f.click_id AS source_click_id, f.mailing_id AS source_mailing_id
FROM fl_fired f
LEFT JOIN crm.person p ON p.person_id = f.person_id
LEFT JOIN crm.contact c ON c.contact_id = p.contact_id
LEFT JOIN mail.mailing m ON m.mailing_id = f.mailing_id
WHERE f.action_id IN ('pricing-ticket', 'support-ticket')
  AND NOT EXISTS (SELECT 1 FROM crm.ticket t WHERE t.ticket_id = CASE f.action_id
          WHEN 'pricing-ticket' THEN f.action_id || '/p' || f.person_id || '/m' || f.mailing_id
          ELSE f.action_id || '/c' || f.click_id END)
"""

WRITE_CREATED = (
    "INSERT INTO crm.appointment BY NAME SELECT * EXCLUDE (clicked_at) FROM fl_appointment",
    "INSERT INTO crm.ticket BY NAME SELECT * FROM fl_ticket",
)

RESPONSES = """
INSERT INTO linksim.response (click_id, action_id, kind, url, text, form_id, prefill, run_id)
SELECT f.click_id, f.action_id,
       CASE f.action_id WHEN 'unsub-confirm' THEN 'feedback'
                        WHEN 'demo-form' THEN 'form' ELSE 'redirect' END,
       CASE f.action_id
           WHEN 'pricing-page' THEN 'https://www.example.com/pricing?utm_source=newsletter'
           WHEN 'survey-start' THEN 'https://survey.example.com/customers-2026/start'
           WHEN 'webinar-thanks' THEN 'https://www.example.com/webinars/2026-03/thanks'
       END,
       CASE f.action_id WHEN 'unsub-confirm'
           THEN 'You are unsubscribed, ' || coalesce(p.first_name, '')
                || '. We are sorry to see you go.' END,
       CASE f.action_id WHEN 'demo-form' THEN 'demo-request' END,
       CASE f.action_id WHEN 'demo-form'
           THEN json_object('email', p.email, 'first_name', p.first_name) END,
       getvariable('run_id')
FROM fl_fired f
LEFT JOIN crm.person p ON p.person_id = f.person_id
ANTI JOIN linksim.response done ON done.click_id = f.click_id AND done.action_id = f.action_id
WHERE f.action_id IN ('unsub-confirm', 'demo-form', 'pricing-page', 'survey-start',
                      'webinar-thanks')
"""

CHANGES = """
INSERT INTO linksim.change (run_id, click_id, action_id, person_id, target_kind, target,
                            old_value, new_value, changed_at, contact_id)
SELECT getvariable('run_id'), click_id, action_id, person_id, 'field', field, old_value, value,
       clicked_at, NULL
FROM fl_field_applied WHERE value IS DISTINCT FROM old_value
UNION ALL
SELECT getvariable('run_id'), click_id, action_id, person_id, kind, target, old_value, value,
       clicked_at, CASE scope WHEN 'contact' THEN owner_id END
FROM fl_member_applied WHERE value IS DISTINCT FROM old_value
UNION ALL
SELECT getvariable('run_id'), source_click_id, source_action, person_id, 'appointment',
       appointment_id, NULL, appointment_id, clicked_at, NULL
FROM fl_appointment
UNION ALL
SELECT getvariable('run_id'), source_click_id, source_action, person_id, 'ticket', ticket_id,
       NULL, ticket_id, created_at, NULL
FROM fl_ticket
"""


def catalogue_problems(path: Path = DEFINITIONS) -> list[str]:
    """Where the written-out actions differ from the definitions file (empty: they match)."""
    defs = linksim.load_definitions(path)
    found = []
    for link in defs.links:
        mailings = tuple(link.mailings) if link.mailings else None
        found += [(a.id, a.type, a.fire, link.link, mailings) for a in link.actions]
    written = [(i, t, f, link, PRICING if m else None) for _, i, t, f, link, m in ACTIONS]
    if len(found) != len(written):
        return [f"{len(found)} actions in the definitions, {len(written)} in the floor"]
    return [f"definitions: {d}, floor: {w}" for d, w in zip(found, written, strict=True) if d != w]


def load_catalogue(con: duckdb.DuckDBPyConnection) -> None:
    """The written-out actions and state ops as two small temp tables."""
    run(
        con,
        "CREATE TEMP TABLE fl_action (action_no INTEGER, action_id VARCHAR, type VARCHAR, "
        "fire VARCHAR, link_id BIGINT, mailings BIGINT[])",
    )
    con.executemany(
        "INSERT INTO fl_action VALUES (?, ?, ?, ?, ?, ?)",
        [(n, i, t, f, link, list(PRICING) if m else None) for n, i, t, f, link, m in ACTIONS],
    )
    run(
        con,
        "CREATE TEMP TABLE fl_state_name (action_no INTEGER, kind VARCHAR, scope VARCHAR, "
        "name VARCHAR, op VARCHAR, value VARCHAR)",
    )
    con.executemany("INSERT INTO fl_state_name VALUES (?, ?, ?, ?, ?, ?)", list(STATE_OPS))
    run(
        con,
        """
        CREATE TEMP TABLE fl_state_op AS
        SELECT s.*, coalesce(i.interest_id, sel.selection_id, p.project_id) AS target_id
        FROM fl_state_name s
        LEFT JOIN crm.interest i ON s.kind = 'interest' AND i.name = s.name
        LEFT JOIN crm.selection sel ON s.kind = 'selection' AND sel.name = s.name
        LEFT JOIN crm.project p ON s.kind = 'project' AND p.name = s.name
        """,
    )


def statements() -> list[tuple[str, str]]:
    """Every statement of the floor, in order, each with a short name for the timings."""
    return [
        ("macro", WORKDAY_MACRO),
        ("eligible", CLICKS),
        ("fired", FIRED),
        ("field_win", FIELD_WIN),
        ("field_applied", FIELD_APPLIED),
        ("member_win", MEMBER_WIN),
        ("member_applied", MEMBER_APPLIED),
        ("appointments", APPOINTMENTS),
        ("tickets", TICKETS),
        *(("write_fields", sql) for sql in WRITE_FIELDS),
        *(("write_members", sql) for sql in member_writes()),
        ("write_created", WRITE_CREATED[0]),
        ("write_created", WRITE_CREATED[1]),
        ("write_responses", RESPONSES),
        ("write_changes", CHANGES),
    ]


def run_floor(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Apply the demo definitions to every click of ``con`` in one transaction.

    Returns the seconds per step (the writes of one kind summed), COMMIT included.
    """
    seconds: dict[str, float] = {}
    run(con, "BEGIN")
    try:
        run_id = int(fetch_value(con, "SELECT nextval('linksim.run_id_seq')"))
        run(con, f"SET VARIABLE run_id = {run_id}")
        # a run row, so that the change rows point at something, as an apply's do
        run(
            con,
            "INSERT INTO linksim.run (run_id, mode, started_at, status) "
            "VALUES (getvariable('run_id'), 'apply', now()::TIMESTAMP, 'ok')",
        )
        load_catalogue(con)
        for name, sql in (*statements(), ("commit", "COMMIT")):
            started = time.perf_counter()
            run(con, sql)
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
    except BaseException:
        run(con, "ROLLBACK")
        raise
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", help="a copy of a generated demo database (it is written to)")
    parser.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 4GB")
    parser.add_argument("--temp-dir", help="DuckDB temp_directory for spilling")
    args = parser.parse_args()
    problems = catalogue_problems()
    if problems:
        raise SystemExit("floor: the demo definitions changed:\n  " + "\n  ".join(problems))
    con = linksim.connect(args.db, memory_limit=args.memory_limit, temp_directory=args.temp_dir)
    started = time.perf_counter()
    steps = run_floor(con)
    seconds = time.perf_counter() - started
    con.close()
    steps = {name: round(s, 3) for name, s in steps.items()}
    print(json.dumps({"seconds": round(seconds, 3), "steps": steps}))


if __name__ == "__main__":
    main()
