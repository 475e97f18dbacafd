"""What the click model learns from and predicts for, as temporary relations built in SQL.

- ``sim_clicked`` (mailing_id, link_id, person_id, first_at, clicks, delivered_at): the eligible
  clicks of history per recipient and link (the bot filter of the definitions decides, as in a
  run), with when the first came and how many there were;
- ``sim_hist``: one row per delivered recipient and link of the past mailings chosen, and
  whether the recipient clicked it;
- ``sim_target``: one row per recipient and link of the mailing to predict;
- ``sim_attr`` (person_id, attr, value): each person's value of each covariate: the person's
  extra fields (list, boolean, text with few values; integer and decimal in quartiles) and their
  contact's category, business and country. A missing value is ``(none)``; values set after
  ``cutoff`` are not known yet.

Which recipients go where is chosen with fixed SQL predicates and parameters, never with text
from a user.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from linksim.definitions import Definitions
from linksim.engine.clicks import CLICK_CLOCK
from linksim.runs import fire_history
from linksim.store.query import run

__all__ = ["FEW", "build_attributes", "build_clicked", "build_hist", "build_target"]

FEW = 20  # a text or list field with more distinct values than this is not a covariate
CONTACT_COLUMNS = ("category", "business", "country")

# Recipient filters (over `r`, a mail.recipient row, and `m`, its mailing), by name.
FILTERS = {
    "sent_before": "m.sent_at < $cutoff AND r.mailing_id <> $mailing",
    "mailing": "r.mailing_id = $mailing",
    "fold_out": "r.mailing_id IN (SELECT unnest($mailings::BIGINT[]))"
    " AND hash(r.person_id, $salt) % $folds <> $fold",
    "fold_in": "r.mailing_id IN (SELECT unnest($mailings::BIGINT[]))"
    " AND hash(r.person_id, $salt) % $folds = $fold",
}


def build_clicked(con: duckdb.DuckDBPyConnection, defs: Definitions) -> int:
    """``sim_clicked`` from every click of the database; returns the eligible clicks."""
    fire_history(con, defs)
    run(
        con,
        """
        CREATE OR REPLACE TEMP TABLE sim_clicked AS
        SELECT c.mailing_id, c.link_id, c.person_id, min(c.clicked_at) AS first_at,
               count(*) AS clicks, any_value(r.delivered_at) AS delivered_at
        FROM ls_classified c
        LEFT JOIN mail.recipient r USING (mailing_id, person_id)
        WHERE c.bot_reason IS NULL AND c.quarantine_reason IS NULL
        GROUP BY c.mailing_id, c.link_id, c.person_id
        """,
    )
    run(con, _HISTORY_CLICKS)
    run(con, _TIMING.format(quantiles=_QUANTILES))
    for relation in ("ls_classified", "ls_fired"):
        run(con, f"DROP TABLE IF EXISTS {relation}")
    row = con.execute("SELECT coalesce(sum(clicks), 0) FROM sim_clicked").fetchall()
    return int(row[0][0])


# The past clicks a simulated world can need, per action that needs them (the worlds copy those
# of the planned mailing's actions for their persons; see linksim.simulation.worlds):
# - `once`: only the click that fired the action in history decides that a simulated click
#   cannot fire it again, with the click that confirmed it when the action requires
#   confirmation. Any smaller set of eligible clicks confirms no more and finds no earlier
#   first, so these alone give the engine the same decision, at one click per person, not
#   their whole history on the link;
# - `{link_hits}` templates and scripts: every eligible click on their links, which they count.
_HISTORY_CLICKS = f"""
CREATE OR REPLACE TEMP TABLE sim_history_click AS
WITH eligible AS (
    SELECT click_id, mailing_id, link_id, person_id, clicked_at FROM ls_classified
    WHERE bot_reason IS NULL AND quarantine_reason IS NULL
),
once AS (
    SELECT f.action_no, f.click_id, f.mailing_id, f.person_id, f.clicked_at, a.require
    FROM ls_fired f JOIN ls_def_action a USING (action_no)
    WHERE f.fire = 'once'
),
confirming AS (
    SELECT o.action_no,
           arg_min(e.click_id, {CLICK_CLOCK.format(t="e.clicked_at", c="e.click_id")})
             AS click_id
    FROM once o
    JOIN eligible e
      ON e.person_id = o.person_id AND e.mailing_id = o.mailing_id
     AND e.clicked_at - to_seconds((SELECT confirm_after_seconds FROM ls_run_param))
           >= o.clicked_at
    WHERE o.require = 'confirmed'
    GROUP BY o.action_no, o.click_id
),
counting AS (
    SELECT la.action_no, e.click_id
    FROM ls_def_link_action la
    JOIN eligible e USING (link_id)
    WHERE la.action_no IN (SELECT action_no FROM ls_def_template WHERE placeholder = 'link_hits'
                           UNION SELECT action_no FROM ls_def_script)
),
needed AS (
    SELECT action_no, click_id FROM once
    UNION SELECT action_no, click_id FROM confirming
    UNION SELECT action_no, click_id FROM counting
)
SELECT a.action_id, e.click_id, e.mailing_id, e.link_id, e.person_id, e.clicked_at
FROM needed n
JOIN ls_def_action a USING (action_no)
JOIN eligible e USING (click_id)
"""

_QUANTILES = "[" + ", ".join(f"{(i + 0.5) / 100:.3f}" for i in range(100)) + "]"

# When clicks come: delivery to first click, first click to each repeat (100 quantiles each),
# and the chance of one more click on a link (a geometric number of repeats).
_TIMING = """
CREATE OR REPLACE TEMP TABLE sim_timing AS
WITH eligible AS (
    SELECT mailing_id, link_id, person_id, clicked_at FROM ls_classified
    WHERE bot_reason IS NULL AND quarantine_reason IS NULL
),
gaps AS (
    SELECT epoch(e.clicked_at - c.first_at) AS s
    FROM eligible e JOIN sim_clicked c USING (mailing_id, link_id, person_id)
    WHERE e.clicked_at > c.first_at
),
delays AS (
    SELECT epoch(first_at - delivered_at) AS s FROM sim_clicked WHERE first_at >= delivered_at
)
SELECT coalesce((SELECT quantile_cont(s, {quantiles}) FROM delays), [3600.0]) AS delay_q,
       coalesce((SELECT quantile_cont(s, {quantiles}) FROM gaps), [600.0]) AS gap_q,
       (SELECT sum(clicks - 1) / sum(clicks) FROM sim_clicked) AS extra_q
"""


def build_hist(con: duckdb.DuckDBPyConnection, which: str, params: dict[str, object]) -> None:
    """``sim_hist`` over the delivered recipients ``FILTERS[which]`` selects."""
    run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE sim_hist AS
        SELECT r.mailing_id, ml.link_id, r.person_id, c.person_id IS NOT NULL AS clicked
        FROM mail.recipient r
        JOIN mail.mailing m USING (mailing_id)
        JOIN mail.mailing_link ml USING (mailing_id)
        LEFT JOIN sim_clicked c
          ON c.mailing_id = r.mailing_id AND c.link_id = ml.link_id AND c.person_id = r.person_id
        WHERE r.delivered_at IS NOT NULL AND {FILTERS[which]}
        """,
        params,
    )


def build_target(con: duckdb.DuckDBPyConnection, which: str, params: dict[str, object]) -> None:
    """``sim_target`` over the recipients ``FILTERS[which]`` selects (delivered or planned)."""
    run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE sim_target AS
        SELECT row_number() OVER (ORDER BY r.mailing_id, ml.link_id, r.person_id) - 1 AS opp_no,
               r.mailing_id, ml.link_id, r.person_id
        FROM mail.recipient r
        JOIN mail.mailing m USING (mailing_id)
        JOIN mail.mailing_link ml USING (mailing_id)
        WHERE (r.delivered_at IS NOT NULL OR m.sent_at IS NULL) AND {FILTERS[which]}
        """,
        params,
    )


def build_attributes(con: duckdb.DuckDBPyConnection, cutoff: dt.datetime) -> None:
    """``sim_attr`` for every person of ``sim_hist`` and ``sim_target``."""
    contact = " UNION ALL ".join(
        f"SELECT p.person_id, 'contact.{c}' AS attr, c.{c}::VARCHAR AS value"
        " FROM crm.person p JOIN crm.contact c USING (contact_id)"
        " WHERE p.person_id IN (SELECT person_id FROM persons)"
        for c in CONTACT_COLUMNS
    )
    run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE sim_attr AS
        WITH persons AS (
            SELECT person_id FROM sim_hist UNION SELECT person_id FROM sim_target
        ),
        fields AS (
            SELECT f.person_id, f.field AS attr, f.value, x.type
            FROM crm.person_field f JOIN crm.extra_field x ON x.name = f.field
            WHERE f.person_id IN (SELECT person_id FROM persons)
              AND (f.set_at IS NULL OR f.set_at < $cutoff) AND f.value IS NOT NULL
        ),
        numeric AS (
            SELECT person_id, attr, TRY_CAST(value AS DOUBLE) AS x,
                   -- ties broken by person: the same persons in the same quartile every time
                   ntile(4) OVER (PARTITION BY attr
                                  ORDER BY TRY_CAST(value AS DOUBLE), person_id) AS q
            FROM fields
            WHERE type IN ('integer', 'decimal') AND TRY_CAST(value AS DOUBLE) IS NOT NULL
        ),
        quartiles AS (
            SELECT person_id, attr,
                   'q' || q || ' (' || min(x) OVER (PARTITION BY attr, q) || ' to '
                       || max(x) OVER (PARTITION BY attr, q) || ')' AS value
            FROM numeric
        ),
        categorical AS (
            SELECT person_id, attr, value FROM fields
            WHERE type IN ('list', 'boolean', 'text')
              AND attr IN (SELECT attr FROM fields GROUP BY attr
                           HAVING count(DISTINCT value) BETWEEN 2 AND {FEW})
        ),
        contacts AS ({contact}),
        known AS (
            SELECT * FROM quartiles UNION ALL SELECT * FROM categorical
            UNION ALL SELECT * FROM contacts WHERE attr IN (
                SELECT attr FROM contacts GROUP BY attr HAVING count(DISTINCT value) <= {FEW * 3})
        ),
        attrs AS (SELECT DISTINCT attr FROM known)
        SELECT p.person_id, a.attr, coalesce(k.value, '(none)') AS value
        FROM persons p CROSS JOIN attrs a
        LEFT JOIN known k ON k.person_id = p.person_id AND k.attr = a.attr
        """,
        {"cutoff": cutoff},
    )
