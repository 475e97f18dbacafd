"""`linksim simulate`: what a planned mailing's actions will do, as distributions over worlds.

1. The click model (`model.py`) learns from the eligible clicks of past mailings who clicks
   which link, and `inputs.py` gathers what it learns from.
2. Each of ``runs`` worlds draws the uncertain rates, then who clicks; `worlds.py` draws when,
   and runs every world through the engine at once, in a sandbox.
3. `metrics.py` turns what each world did into distributions; `result.py` shows them.

`calibrate.py` backtests the model: docs/SIMULATION.md has the method and the measured table.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from linksim.definitions import Definitions, check_definitions
from linksim.errors import UsageError
from linksim.simulation import inputs, metrics, model, worlds
from linksim.simulation.result import SimulationResult
from linksim.store.query import fetch_one, run

__all__ = ["SimulationResult", "simulate"]

BY_CONTACT = ("contact.category", "contact.business", "contact.country")


def simulate(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    mailing: int,
    *,
    runs: int = 1000,
    by: str | None = None,
    send_at: dt.datetime | None = None,
    seed: int = 0,
    pass_clicks: int = worlds.PASS_CLICKS,
    keep_relations: bool = False,
) -> SimulationResult:
    """Simulate a planned mailing ``runs`` times and return the distribution of its outcomes.

    Args:
        con: a linksim database with the mailing's recipients and links, and past clicks.
        defs: the definitions whose actions the clicks fire.
        mailing: the planned mailing (``mail.mailing``; its recipients in ``mail.recipient``).
        runs: how many worlds to simulate.
        by: also count clickers per value of this extra field (numbers in quartiles, dates by
            year), or ``contact.category``, ``contact.business``, ``contact.country``.
        send_at: when it is sent (UTC); default its ``sent_at``, else the next full hour.
        seed: the same seed gives the same worlds.
        pass_clicks: simulated clicks per pass through the engine (whole worlds each); fewer
            need less memory, the result is the same.
        keep_relations: leave the simulation's temporary tables (``sim_clicks``, ``sim_out_*``
            …) on ``con`` to inspect; by default they are dropped.

    Raises:
        UsageError: an unknown mailing or field, a mailing with clicks already, runs < 1.
        DefinitionError: the definitions name what the database lacks.
    """
    if runs < 1:
        raise UsageError(f"--runs {runs}: expected at least 1 simulated world")
    send_at = _send_at(con, mailing, send_at)
    check_definitions(defs, con)
    inputs.build_clicked(con, defs)
    inputs.build_hist(con, "sent_before", {"cutoff": send_at, "mailing": mailing})
    inputs.build_target(con, "mailing", {"mailing": mailing})
    if not fetch_one(con, "SELECT 1 FROM sim_target LIMIT 1"):
        raise UsageError(
            f"mailing {mailing} has no recipients or no links: load its mail.recipient and "
            "mail.mailing_link rows first"
        )
    inputs.build_attributes(con, send_at)
    _by(con, by)
    fitted = model.fit(con, keep=[by] if by else [])
    model.draw_clickers(con, runs, seed)
    worlds.simulated_clicks(con, send_at, seed)
    worlds.run_worlds(
        con, defs, mailing=mailing, send_at=send_at, runs=runs, pass_clicks=pass_clicks
    )
    result = SimulationResult(
        mailing=mailing,
        send_at=send_at,
        runs=runs,
        metrics=metrics.metrics(con, runs),
        capacity=metrics.capacity(con, runs),
        timeline=metrics.timeline(con, runs, send_at),
        model=fitted,
        by=by,
        links=_link_names(con, mailing),
    )
    if not keep_relations:
        # millions of rows at 1,000 worlds: not left in the session's memory
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'sim\\_%'"
            " ESCAPE '\\'"
        ).fetchall():
            run(con, f"DROP TABLE {name}")
    return result


def _send_at(
    con: duckdb.DuckDBPyConnection, mailing: int, send_at: dt.datetime | None
) -> dt.datetime:
    row = fetch_one(
        con,
        "SELECT sent_at, (SELECT count(*) FROM mail.click WHERE mailing_id = $m)"
        " FROM mail.mailing WHERE mailing_id = $m",
        {"m": mailing},
    )
    if row is None:
        raise UsageError(f"--mailing {mailing}: no such mailing in mail.mailing")
    if row[1]:
        raise UsageError(
            f"mailing {mailing} has {row[1]:,} clicks already: simulate predicts a planned "
            "mailing; `linksim preview --mailing` shows what its clicks do"
        )
    if send_at is not None:
        return send_at
    if row[0] is not None:
        return row[0]  # type: ignore[no-any-return]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    return now + dt.timedelta(hours=1)


def _by(con: duckdb.DuckDBPyConnection, by: str | None) -> None:
    """``sim_by`` (person_id, value): each target person's value of the ``--by`` field."""
    if by is None:
        run(con, "CREATE OR REPLACE TEMP TABLE sim_by (person_id BIGINT, value VARCHAR)")
        return
    if by in BY_CONTACT:
        column = by.removeprefix("contact.")
        run(
            con,
            f"CREATE OR REPLACE TEMP TABLE sim_by AS SELECT p.person_id, c.{column}::VARCHAR"
            " AS value FROM crm.person p JOIN crm.contact c USING (contact_id)"
            " WHERE p.person_id IN (SELECT person_id FROM sim_target)",
        )
        return
    if not fetch_one(con, "SELECT 1 FROM crm.extra_field WHERE name = $f", {"f": by}):
        known = [
            r[0] for r in con.execute("SELECT name FROM crm.extra_field ORDER BY 1").fetchall()
        ]
        raise UsageError(
            f"--by {by!r}: not an extra field (crm.extra_field) nor one of "
            f"{', '.join(BY_CONTACT)}; the extra fields are: {', '.join(known) or 'none'}"
        )
    # numbers in the quartiles the click model uses (sim_attr), dates by year (one row per
    # day would be unreadable), other values as stored
    run(
        con,
        """
        CREATE OR REPLACE TEMP TABLE sim_by AS
        SELECT f.person_id,
               CASE WHEN x.type IN ('integer', 'decimal') THEN a.value
                    WHEN x.type = 'date' THEN coalesce(strftime(TRY_CAST(f.value AS DATE), '%Y'),
                                                       f.value)
                    ELSE f.value END AS value
        FROM crm.person_field f
        JOIN crm.extra_field x ON x.name = f.field
        LEFT JOIN sim_attr a ON a.person_id = f.person_id AND a.attr = f.field
        WHERE f.field = $f AND f.person_id IN (SELECT person_id FROM sim_target)
        """,
        {"f": by},
    )


def _link_names(con: duckdb.DuckDBPyConnection, mailing: int) -> dict[int, str]:
    """The mailing's links by id: their names, else their URLs."""
    rows = con.execute(
        "SELECT l.link_id, coalesce(l.name, l.url) FROM mail.mailing_link ml"
        " JOIN mail.link l USING (link_id) WHERE ml.mailing_id = $m",
        {"m": mailing},
    ).fetchall()
    return {int(link): str(name) for link, name in rows}
