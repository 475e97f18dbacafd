"""Click rows that are wrong on purpose, so that a demo load shows the quarantine at work.

They cannot live in typed columns (``'yesterday'`` is no TIMESTAMP), so they sit in an all-VARCHAR
table with the columns of ``mail.click``; a twin table adds a ``defect`` column saying what is
wrong with each row. Every kind of `DEFECTS` appears ``PER_DEFECT`` times, derived from good clicks
picked by the seed, so the rows are few, deterministic and realistic.
"""

from __future__ import annotations

import duckdb

from linksim.demo._sql import Rng, Stream, lit
from linksim.demo._stage import stage_name
from linksim.demo.agents import SCANNER_USER_AGENTS
from linksim.store.query import fetch_value, run
from linksim.store.schema import table

__all__ = ["DEFECTS", "PER_DEFECT", "stage_malformed_clicks"]

PER_DEFECT = 4
# defect → how the good row is changed: SQL over its columns as text, ``n`` (0..3) and
# ``fresh_id`` (an unused click id, the default for every defect that does not keep the id)
DEFECTS: dict[str, dict[str, str]] = {
    "bad_timestamp": {
        "clicked_at": "['2026-02-30 10:15:00', 'yesterday', '2026-13-01 08:00:00',"
        " '31/12/2025 25:61'][n + 1]",
    },
    "future_timestamp": {
        "clicked_at": "['2099-01-01 00:00:00', '2031-06-15 12:00:00', '2100-12-31 23:59:59',"
        " '2087-03-03 03:03:03'][n + 1]",
    },
    "unknown_person": {"person_id": "(900000000000 + n)::VARCHAR"},
    "unknown_link": {"link_id": "(990000000 + n)::VARCHAR"},
    "unknown_mailing": {"mailing_id": "(9990000 + n)::VARCHAR"},
    # links of the planned November mailing: they exist, but no sent mailing uses them
    "link_not_in_mailing": {"link_id": "['20261111', '20261112', '20261121', '20261122'][n + 1]"},
    "non_numeric_id": {
        "click_id": "CASE n WHEN 0 THEN 'C' || fresh_id ELSE fresh_id END",
        "person_id": "CASE n WHEN 1 THEN 'P-' || person_id ELSE person_id END",
        "link_id": "CASE n WHEN 2 THEN link_id || 'x' ELSE link_id END",
        "mailing_id": "CASE n WHEN 3 THEN 'shipment ' || mailing_id ELSE mailing_id END",
    },
    # the click_id of a good row, with other content: a conflict, not a duplicate
    "conflicting_click_id": {
        "clicked_at": "CASE WHEN n IN (0, 1) THEN (good_clicked_at + INTERVAL (n * 59 + 1) SECOND)"
        "::VARCHAR ELSE clicked_at END",
        "user_agent": "CASE n WHEN 2 THEN 'curl/8.5.0' ELSE user_agent END",
        "ip": "CASE n WHEN 3 THEN '10.20.30.40' ELSE ip END",
    },
    "exact_duplicate": {},
}
_KEEPS_ID = ("conflicting_click_id", "exact_duplicate")


def stage_malformed_clicks(
    con: duckdb.DuckDBPyConnection, rng: Rng, schema: str, clicks: str
) -> str:
    """Stage the malformed click rows; returns the all-VARCHAR table (``<clicks>_malformed``).

    The annotated twin is ``<clicks>_malformed_defect``. Rows that are not meant to collide with
    a good row get click ids above the good ones.
    """
    columns = table("mail.click").column_names
    name = f"{stage_name(schema, 'mail.click')}_malformed"
    base_count = len(DEFECTS) * PER_DEFECT
    first_new = (fetch_value(con, f"SELECT coalesce(max(click_id), 0) FROM {clicks}") or 0) + 1
    kinds = lit(list(DEFECTS))
    selects = []
    for defect, changes in DEFECTS.items():
        exprs = []
        for col in columns:
            default = "fresh_id" if col == "click_id" and defect not in _KEEPS_ID else col
            expr = changes.get(col, default)
            exprs.append(f"{expr} AS {col}")
        selects.append(
            f"SELECT row_index, {', '.join(exprs)}, {lit(defect)} AS defect FROM base "
            f"WHERE kind = {lit(defect)}"
        )
    run(
        con,
        f"""
        CREATE TABLE {name}_defect AS
        WITH picked AS (
            -- human clicks only: a scanner's click would make some defects ambiguous
            SELECT * FROM {clicks}
            WHERE NOT list_contains({lit(list(SCANNER_USER_AGENTS))}, user_agent)
            ORDER BY {rng.u("click_id", Stream.MALFORMED)}, click_id
            LIMIT {base_count}
        ), base AS (
            SELECT row_number() OVER (ORDER BY click_id) - 1 AS row_index,
                {", ".join(f"{c}::VARCHAR AS {c}" for c in columns)},
                clicked_at AS good_clicked_at
            FROM picked
        ), typed AS (
            SELECT *, {kinds}[row_index // {PER_DEFECT} + 1] AS kind, row_index % {PER_DEFECT} AS n,
                ({first_new} + row_index)::VARCHAR AS fresh_id
            FROM base
        )
        SELECT {", ".join(columns)}, defect FROM (
            {" UNION ALL ".join(s.replace("FROM base", "FROM typed") for s in selects)}
        ) ORDER BY row_index
        """,
    )
    run(con, f"CREATE TABLE {name} AS SELECT {', '.join(columns)} FROM {name}_defect")
    return name
