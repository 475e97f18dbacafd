"""Who clicked: one row per person, engagement segments, cross-tabs — for analysts in Jupyter.

Clicks count when they are eligible: the bot filter of the definitions given (else the default
one) decides, exactly as in a run. Everything is computed in SQL; pandas gets one row per person.
`save_selection` saves a segment as a selection through the change log, so it can be undone.

>>> import linksim
>>> con = linksim.connect(":memory:")
>>> clickers(con).empty
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
import pandas as pd

from linksim.definitions import Definitions, parse_definitions
from linksim.errors import UsageError
from linksim.runs import FAR_FUTURE, FAR_PAST, fire_history
from linksim.save_selection import SavedSelection, save_selection
from linksim.store.query import fetch_one, run

__all__ = [
    "FREQUENCY",
    "RECENCY",
    "SavedSelection",
    "clickers",
    "crosstab",
    "engagement",
    "links",
    "save_selection",
]

RECENCY = ((30, "active"), (90, "cooling"), (None, "lapsed"))
"""Days since the last click: up to 30 active, up to 90 cooling, else lapsed."""
FREQUENCY = ((1, "one-off"), (4, "repeat"), (None, "frequent"))
"""Eligible clicks in the scope: 1 one-off, 2 to 4 repeat, 5 or more frequent."""


def clickers(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions | None = None,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    mailing: int | None = None,
    fields: Sequence[str] = (),
) -> pd.DataFrame:
    """The people with eligible clicks in the scope, one row each.

    Columns: ``person_id``, ``first_name``, ``last_name``, ``contact_id``, ``contact`` (its
    name), ``category``, ``business``, ``country``, ``clicks``, ``links``, ``mailings``,
    ``first_click``, ``last_click``, and one column per extra field in ``fields``.
    """
    _check_fields(con, fields)
    # one column per field; its name is quoted, its value a parameter
    pivot = "".join(
        f", max(f.value) FILTER (WHERE f.field = $f{i}) AS " + '"' + name.replace('"', '""') + '"'
        for i, name in enumerate(fields)
    )
    params: dict[str, object] = {f"f{i}": name for i, name in enumerate(fields)}
    params.update({"since": since or FAR_PAST, "until": until or FAR_FUTURE, "mailing": mailing})
    with _classified(con, defs):
        return con.execute(
            f"""
            WITH clicked AS (
                SELECT person_id, count(*) AS clicks, count(DISTINCT link_id) AS links,
                       count(DISTINCT mailing_id) AS mailings, min(clicked_at) AS first_click,
                       max(clicked_at) AS last_click
                FROM ls_classified
                WHERE bot_reason IS NULL AND quarantine_reason IS NULL
                  AND clicked_at >= $since AND clicked_at < $until
                  AND ($mailing IS NULL OR mailing_id = $mailing)
                GROUP BY person_id
            ),
            extra AS (
                SELECT c.person_id {pivot}
                FROM clicked c LEFT JOIN crm.person_field f USING (person_id)
                GROUP BY c.person_id
            )
            SELECT p.person_id, p.first_name, p.last_name, p.contact_id, ct.name AS contact,
                   ct.category, ct.business, ct.country, c.clicks, c.links, c.mailings,
                   c.first_click, c.last_click {", e.* EXCLUDE (person_id)" if fields else ""}
            FROM clicked c
            JOIN crm.person p USING (person_id)
            LEFT JOIN crm.contact ct ON ct.contact_id = p.contact_id
            LEFT JOIN extra e USING (person_id)
            ORDER BY c.clicks DESC, p.person_id
            """,
            params,
        ).df()


def links(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions | None = None,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    mailing: int | None = None,
) -> pd.DataFrame:
    """Who clicked what: per mailing and link, the eligible ``clicks``, the ``people`` who
    clicked, their share of the mailing's ``recipients`` (``click_rate``), and the clicks
    counted as a bot's (``bot_clicks``)."""
    with _classified(con, defs):
        return con.execute(
            """
            WITH scoped AS (
                SELECT * FROM ls_classified
                WHERE quarantine_reason IS NULL
                  AND clicked_at >= $since AND clicked_at < $until
                  AND ($mailing IS NULL OR mailing_id = $mailing)
            ),
            per_link AS (
                SELECT mailing_id, link_id,
                       count(*) FILTER (WHERE bot_reason IS NULL) AS clicks,
                       count(DISTINCT person_id) FILTER (WHERE bot_reason IS NULL) AS people,
                       count(*) FILTER (WHERE bot_reason IS NOT NULL) AS bot_clicks
                FROM scoped
                GROUP BY ALL
            ),
            sent AS (
                SELECT mailing_id, count(*) AS recipients FROM mail.recipient
                WHERE mailing_id IN (SELECT mailing_id FROM per_link)
                GROUP BY ALL
            )
            SELECT p.mailing_id, m.name AS mailing, p.link_id, coalesce(l.name, l.url) AS link,
                   p.clicks, p.people, s.recipients,
                   round(p.people / s.recipients, 4) AS click_rate, p.bot_clicks
            FROM per_link p
            JOIN mail.mailing m USING (mailing_id)
            JOIN mail.link l USING (link_id)
            LEFT JOIN sent s USING (mailing_id)
            ORDER BY m.sent_at, p.mailing_id, p.people DESC, p.link_id
            """,
            {"since": since or FAR_PAST, "until": until or FAR_FUTURE, "mailing": mailing},
        ).df()


def engagement(
    people: pd.DataFrame,
    *,
    as_of: dt.datetime | None = None,
    recency: Sequence[tuple[int | None, str]] = RECENCY,
    frequency: Sequence[tuple[int | None, str]] = FREQUENCY,
) -> pd.DataFrame:
    """`clickers` with ``days_since`` and ``recency``, ``frequency`` and ``segment`` columns.

    ``as_of`` (default: the last click of all) is the day recency counts from. The bands are
    (upper bound, label) pairs in order, the last one open (``None``).

    >>> frame = pd.DataFrame({"clicks": [1, 7], "last_click": pd.to_datetime(
    ...     ["2025-11-01", "2026-03-01"])})
    >>> engagement(frame)["segment"].tolist()
    ['lapsed / one-off', 'active / frequent']
    """
    if people.empty:
        return people.assign(days_since=[], recency=[], frequency=[], segment=[])
    now = pd.Timestamp(as_of) if as_of is not None else people["last_click"].max()
    days = (now - people["last_click"]).dt.days
    out = people.assign(
        days_since=days,
        recency=_band(days, recency),
        frequency=_band(people["clicks"], frequency),
    )
    # ordered as the bands are, so that tables and plots list them in that order
    order = [f"{r} / {f}" for _, r in recency for _, f in frequency]
    segment = pd.Categorical(out["recency"] + " / " + out["frequency"], categories=order)
    return out.assign(
        recency=pd.Categorical(out["recency"], categories=[label for _, label in recency]),
        frequency=pd.Categorical(out["frequency"], categories=[label for _, label in frequency]),
        segment=segment,
    )


def crosstab(
    people: pd.DataFrame, by: str, *, segment: str = "segment", share: bool = False
) -> pd.DataFrame:
    """People per value of ``by`` (a column, e.g. ``category``) and ``segment``; with
    ``share`` each row as shares of the value's people."""
    if by not in people.columns:
        raise UsageError(
            f"crosstab by {by!r}: no such column; the columns are {', '.join(people.columns)}"
        )
    table = pd.crosstab(people[by].fillna("(none)"), people[segment])
    return table.div(table.sum(axis=1), axis=0).round(3) if share else table


@contextmanager
def _classified(con: duckdb.DuckDBPyConnection, defs: Definitions | None) -> Iterator[None]:
    """Every click classified as a run would (`ls_classified`) for the block, dropped after."""
    fire_history(con, defs or parse_definitions({"version": 1, "links": []}))
    try:
        yield
    finally:
        for relation in ("ls_classified", "ls_fired"):
            run(con, f"DROP TABLE IF EXISTS {relation}")


def _band(values: pd.Series, bands: Sequence[tuple[int | None, str]]) -> pd.Series:
    labels = pd.Series([bands[-1][1]] * len(values), index=values.index, dtype=object)
    for bound, label in reversed(bands[:-1]):
        labels[values <= bound] = label
    return labels


def _check_fields(con: duckdb.DuckDBPyConnection, fields: Sequence[str]) -> None:
    for name in fields:
        if not fetch_one(con, "SELECT 1 FROM crm.extra_field WHERE name = $n", {"n": name}):
            raise UsageError(f"field {name!r}: not an extra field (crm.extra_field)")
