"""The Hillstrom e-mail campaign (MineThatData, 2008) staged as linksim input tables.

Mapping (one ``crm.person`` per customer, ``person_id = customer_id``):

- descriptive columns → person extra fields, ``set_at`` the day before the send (they describe the
  customer before the campaign): ``recency`` integer, ``history`` decimal, ``history_segment``,
  ``zip_code``, ``channel`` and the experimental ``segment`` lists (options as found in the file),
  ``mens``, ``womens``, ``newbie`` booleans;
- ``segment`` → two past mailings, "Mens E-Mail" (1) and "Womens E-Mail" (2), each with one link;
  its customers are the recipients, delivered ``DELIVERY_S`` seconds (uniform) after the send;
- ``visit = 1`` of a recipient → one click on the mailing's link (``click_id = customer_id``).

The outcome columns (``visit``, ``conversion``, ``spend``) are deliberately **not** fields: a model
that learns click probabilities from person fields would otherwise read the answer it is asked to
predict. ``No E-Mail`` customers got no mailing, so their visits are no clicks; their visit rate is
the baseline an e-mail's effect sits on, and it is kept as an aggregate only, in
``hillstrom_stage.segment_outcome`` (segment, customers, visits, visit_rate, conversions, spend).

Timing model: the file has no times. Each click comes ``T`` after delivery, where ``T`` follows a
log-logistic distribution with median ``MEDIAN_H`` hours and shape ``SHAPE``, truncated to the
two-week observation window, drawn by inverse CDF from a seeded hash of the customer id:
``T = median * (v / (1 - v)) ** (1 / shape)`` with ``v = u * F(window)``. About 92% of the clicks
fall in the first day and 96% in the first two days, the long tail running to the end of the two
weeks — the shape e-mail response curves usually have. The log-logistic is chosen because its
inverse CDF is closed-form (the truncation is exact, no rejection) and its tail is heavier than an
exponential's. Some of these visits would have happened without the e-mail (the baseline); the
timing does not try to tell them apart.
"""

from __future__ import annotations

import os
from datetime import datetime

import duckdb

from linksim._resources import data_path
from linksim.demo._sql import Rng, Stream, lit, values
from linksim.demo._stage import WORK, create_schema, create_stage, drop_work_tables
from linksim.errors import InputError
from linksim.store.query import run

__all__ = ["HILLSTROM_SCHEMA", "stage_hillstrom"]

HILLSTROM_SCHEMA = "hillstrom_stage"
SENT_AT = datetime(2008, 3, 4, 10, 0)  # assumed: the file and its description give no date
DELIVERY_S = 600  # delivered within ten minutes of the send
MEDIAN_H = 3.0
SHAPE = 1.2
WINDOW_H = 14 * 24 - 1  # two weeks, less the delivery spread
SEED = 2008
MAILINGS = (
    (1, "Mens E-Mail", "https://shop.example.com/mens", "Shop men's merchandise"),
    (2, "Womens E-Mail", "https://shop.example.com/womens", "Shop women's merchandise"),
)
_COLUMNS = {
    "customer_id": "BIGINT",
    "recency": "BIGINT",
    "history_segment": "VARCHAR",
    "history": "DOUBLE",
    "mens": "BIGINT",
    "womens": "BIGINT",
    "zip_code": "VARCHAR",
    "newbie": "BIGINT",
    "channel": "VARCHAR",
    "segment": "VARCHAR",
    "visit": "BIGINT",
    "conversion": "BIGINT",
    "spend": "DOUBLE",
}
# field → (type, SQL rendering of its value)
FIELDS = {
    "recency": ("integer", "recency::VARCHAR"),
    "history": ("decimal", "printf('%.2f', history)"),
    "history_segment": ("list", "history_segment"),
    "mens": ("boolean", "CASE mens WHEN 1 THEN 'true' ELSE 'false' END"),
    "womens": ("boolean", "CASE womens WHEN 1 THEN 'true' ELSE 'false' END"),
    "zip_code": ("list", "zip_code"),
    "newbie": ("boolean", "CASE newbie WHEN 1 THEN 'true' ELSE 'false' END"),
    "channel": ("list", "channel"),
    "segment": ("list", "segment"),
}


def _read(con: duckdb.DuckDBPyConnection, s: str, path: str) -> None:
    columns = "{" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in _COLUMNS.items()) + "}"
    try:
        run(
            con,
            f"{WORK} {s}__customer AS "
            f"SELECT * FROM read_csv(?, header = true, columns = {columns})",
            [path],
        )
    except duckdb.Error as exc:
        raise InputError(
            f"cannot read the Hillstrom CSV: {str(exc).splitlines()[0]}", source=path
        ) from None


def _clicked_at(rng: Rng) -> str:
    u = rng.u("customer_id", Stream.HILLSTROM_VISIT)
    window = 1 / (1 + (WINDOW_H / MEDIAN_H) ** -SHAPE)  # F(window)
    v = f"({u} * {window!r})"
    hours = f"({MEDIAN_H!r} * pow({v} / (1 - {v}), {1 / SHAPE!r}))"
    return f"delivered_at + to_microseconds(floor({hours} * 3600e6)::BIGINT)"


def stage_hillstrom(
    con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str] | None = None
) -> dict[str, str]:
    """Stage the Hillstrom campaign in schema ``hillstrom_stage`` (replacing an earlier one).

    Args:
        con: any DuckDB connection; nothing outside ``hillstrom_stage`` is touched.
        path: the CSV; by default the copy shipped in ``data/hillstrom.csv``.

    Returns:
        Target table → staging table, in load order (referenced tables first).

    >>> staged = stage_hillstrom(duckdb.connect())
    >>> list(staged)[:2], staged["mail.click"]
    (['crm.person', 'crm.extra_field'], 'hillstrom_stage.mail_click')
    """
    s = HILLSTROM_SCHEMA
    rng = Rng(SEED)
    create_schema(con, s)
    _read(con, s, str(path if path is not None else data_path("hillstrom.csv")))
    staged = {t: create_stage(con, s, t) for t in (
        "crm.person", "crm.extra_field", "crm.person_field", "mail.mailing", "mail.link",
        "mail.mailing_link", "mail.recipient", "mail.click",
    )}  # fmt: skip
    run(
        con,
        f"INSERT INTO {staged['crm.person']} BY NAME SELECT customer_id AS person_id, "
        f"'customer' || customer_id || '@example.com' AS email FROM {s}__customer",
    )
    field_values = " UNION ALL ".join(
        f"SELECT customer_id AS person_id, {lit(f)} AS field, {expr} AS value FROM {s}__customer"
        for f, (_, expr) in FIELDS.items()
    )
    run(con, f"{WORK} {s}__value AS {field_values}")
    types = values([(f, t) for f, (t, _) in FIELDS.items()], ["name", "type"])
    run(
        con,
        f"""
        INSERT INTO {staged["crm.extra_field"]} BY NAME
        SELECT t.name, t.type,
            CASE WHEN t.type = 'list' THEN
                (SELECT list(DISTINCT v.value ORDER BY v.value) FROM {s}__value v
                 WHERE v.field = t.name)
            END AS options
        FROM {types}
        """,
    )
    set_at = f"TIMESTAMP '{SENT_AT:%Y-%m-%d}' - INTERVAL 1 DAY"
    run(
        con,
        f"INSERT INTO {staged['crm.person_field']} BY NAME "
        f"SELECT person_id, field, value, {set_at} AS set_at FROM {s}__value",
    )
    sent = f"TIMESTAMP '{SENT_AT:%Y-%m-%d %H:%M:%S}'"
    mailings = values(MAILINGS, ["mailing_id", "name", "url", "link_name"])
    run(
        con,
        f"INSERT INTO {staged['mail.mailing']} BY NAME "
        f"SELECT mailing_id, name, {sent} AS sent_at FROM {mailings}",
    )
    run(
        con,
        f"INSERT INTO {staged['mail.link']} BY NAME "
        f"SELECT mailing_id AS link_id, url, link_name AS name FROM {mailings}",
    )
    run(
        con,
        f"INSERT INTO {staged['mail.mailing_link']} BY NAME "
        f"SELECT mailing_id, mailing_id AS link_id FROM {mailings}",
    )
    delivery = rng.u("c.customer_id", Stream.HILLSTROM_DELIVERY)
    run(
        con,
        f"""
        {WORK} {s}__recipient AS
        SELECT m.mailing_id, c.customer_id, c.visit,
            {sent} + to_microseconds(floor({delivery} * {DELIVERY_S * 1e6!r})::BIGINT)
                AS delivered_at
        FROM {s}__customer c
        JOIN {values(MAILINGS, ["mailing_id", "name", "url", "link_name"], "m")}
          ON m.name = c.segment
        """,
    )
    run(
        con,
        f"INSERT INTO {staged['mail.recipient']} BY NAME SELECT mailing_id, "
        f"customer_id AS person_id, delivered_at FROM {s}__recipient",
    )
    run(
        con,
        f"""
        INSERT INTO {staged["mail.click"]} BY NAME
        SELECT customer_id AS click_id, mailing_id, mailing_id AS link_id,
            customer_id AS person_id, {_clicked_at(rng)} AS clicked_at
        FROM {s}__recipient WHERE visit = 1
        """,
    )
    run(
        con,
        f"""
        CREATE TABLE {s}.segment_outcome AS
        SELECT segment, count(*) AS customers, sum(visit)::BIGINT AS visits,
            avg(visit) AS visit_rate,
            sum(conversion)::BIGINT AS conversions, round(sum(spend), 2) AS spend
        FROM {s}__customer GROUP BY segment ORDER BY segment
        """,
    )
    drop_work_tables(con, s)
    return staged
