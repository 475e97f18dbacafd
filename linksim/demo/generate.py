"""The embedded demo: a seeded B2B company with a year of mailings and clicks, built in DuckDB.

`generate` stages every input table in schema ``demo_stage``; it never writes ``crm`` or ``mail``.
The caller loads each staging table with the validating loader, in the order returned, so that the
demo exercises the same path as a user's data (and its quarantine: see `malformed`).
"""

from __future__ import annotations

import duckdb

from linksim.demo._sql import Rng
from linksim.demo._stage import create_schema, drop_work_tables
from linksim.demo.crm import stage_crm
from linksim.demo.mail import stage_mail
from linksim.demo.malformed import stage_malformed_clicks
from linksim.demo.model import scale_for
from linksim.errors import UsageError

__all__ = ["MALFORMED_CLICKS", "STAGE_SCHEMA", "generate"]

STAGE_SCHEMA = "demo_stage"
MALFORMED_CLICKS = "mail.click#malformed"
"""The key of the all-VARCHAR staging table of malformed clicks (load it into ``mail.click``)."""
MIN_CLICKS = 1_000


def generate(
    con: duckdb.DuckDBPyConnection, *, seed: int = 7, clicks: int | None = None
) -> dict[str, str]:
    """Stage the demo company in schema ``demo_stage`` of ``con`` (replacing an earlier one).

    Args:
        con: any DuckDB connection; nothing outside ``demo_stage`` is touched.
        seed: the same seed gives the same rows, a different seed different ones.
        clicks: ``None`` for the default company (about 8,000 persons and 40,000 clicks), or a
            click count to scale the same company to (persons, contacts, recipients and a few
            more mailings grow; the result is within about 10% of it).

    Returns:
        Target table → staging table, in load order (referenced tables first). The last entry,
        ``"mail.click#malformed"``, holds malformed click rows as text, to be loaded into
        ``mail.click`` after the good ones; ``<it>_defect`` says what is wrong with each.

    >>> staged = generate(duckdb.connect(), clicks=2_000)
    >>> list(staged)[:3], staged["mail.click"]
    (['crm.associate', 'crm.contact', 'crm.person'], 'demo_stage.mail_click')
    """
    if clicks is not None and clicks < MIN_CLICKS:
        raise UsageError(f"clicks must be at least {MIN_CLICKS:,} (or None), got {clicks:,}")
    scale = scale_for(clicks)
    rng = Rng(seed)
    create_schema(con, STAGE_SCHEMA)
    sent = sum(m.sent_at is not None for m in scale.plan)
    staged = stage_crm(con, rng, STAGE_SCHEMA, scale, sent)
    staged.update(stage_mail(con, rng, STAGE_SCHEMA, scale))
    staged[MALFORMED_CLICKS] = stage_malformed_clicks(con, rng, STAGE_SCHEMA, staged["mail.click"])
    drop_work_tables(con, STAGE_SCHEMA)
    return staged
