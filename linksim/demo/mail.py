"""The demo company's mailings, links, recipients, opens and clicks.

Timing (all in seconds after ``delivered_at``; see `linksim.demo.model` for the numbers):

- a recipient who engages reads the mail once, ``SESSION_FLOOR + LogNormal(median 1.5 h)`` after
  delivery, and opens it (the tracking image) a few seconds before;
- each link they click is clicked ``LogNormal(median 40 s)`` after they start reading, and each
  repeat click on it ``LogNormal(median 15 min)`` after that;
- a mail gateway that scans links (a few percent of companies) fetches every link of the mail
  0.2 to 1.6 s after delivery, from its own address ranges with its own user agent.

Clicks and opens at or after the extract time are not in the extract, so they are dropped. Click
ids are numbered in time order, ties broken by (mailing, person, link, repeat, human before
scanner). Open ids are structural, ``((mailing ordinal * (persons + 1) + person) * 8 + n) * 2 +
scanner``: unique and deterministic without a sort of the largest table but one.
"""

from __future__ import annotations

import duckdb

from linksim.demo import agents
from linksim.demo import catalog as cat
from linksim.demo import model as mdl
from linksim.demo._sql import Rng, Stream, ip_text, lit, values
from linksim.demo._stage import WORK, create_stage
from linksim.store.query import run

__all__ = ["stage_mail"]

EXTRACT_AT = f"TIMESTAMP '{cat.EXTRACT_AT:%Y-%m-%d %H:%M:%S}'"


def _catalogue(
    con: duckdb.DuckDBPyConnection, s: str, plan: tuple[cat.Mailing, ...]
) -> dict[str, str]:
    rows = [
        (m.mailing_id, i, m.name, m.sent_at.isoformat(" ") if m.sent_at else None, m.audience,
         m.region)
        for i, m in enumerate(plan)
    ]  # fmt: skip
    columns = ["mailing_id", "ordinal", "name", "sent_at", "audience", "region"]
    run(
        con,
        f"{WORK} {s}__mailing AS SELECT mailing_id, ordinal, name, sent_at::TIMESTAMP AS "
        f"sent_at, audience, region::INTEGER AS region FROM {values(rows, columns)}",
    )
    link_rows = [
        (m.mailing_id, link.link_id, j, ctr, link.link_id == cat.UNSUBSCRIBE.link_id)
        for m in plan
        for j, (link, ctr) in enumerate(m.links)
    ]
    columns = ["mailing_id", "link_id", "link_ordinal", "ctr", "is_unsubscribe"]
    run(
        con,
        f"{WORK} {s}__mailing_link AS SELECT * FROM {values(link_rows, columns)}",
    )
    links = {link.link_id: link for m in plan for link, _ in m.links}
    staged = {
        t: create_stage(con, s, t) for t in ("mail.mailing", "mail.link", "mail.mailing_link")
    }
    run(
        con,
        f"INSERT INTO {staged['mail.mailing']} BY NAME "
        f"SELECT mailing_id, name, sent_at FROM {s}__mailing",
    )
    link_values = values([(k, v.url, v.name) for k, v in sorted(links.items())], ["id", "u", "n"])
    run(
        con,
        f"INSERT INTO {staged['mail.link']} BY NAME "
        f"SELECT id AS link_id, u AS url, n AS name FROM {link_values}",
    )
    run(
        con,
        f"INSERT INTO {staged['mail.mailing_link']} BY NAME "
        f"SELECT mailing_id, link_id FROM {s}__mailing_link",
    )
    return staged


def _recipient_rows(rng: Rng, s: str, persons: int) -> str:
    """Every recipient of every mailing, with the latent attributes its behaviour depends on.

    Persons receive a mailing with its audience share unless they have no e-mail address, live
    outside its region, or unsubscribed from an earlier one. A delivered recipient *reads* the
    mail with probability ``read_p`` (`model`); the company's gateway may *scan* it.
    """
    rkey = f"m.ordinal * {persons + 1} + p.person_id"
    delay = f"(2 + 2700 * {rng.u(rkey, Stream.DELIVERY_DELAY)})"  # the send is throttled
    read_p = f"least({mdl.MAX_READ!r}, {mdl.READ_RATE!r} * sqrt(p.propensity))"
    return f"""
        SELECT m.mailing_id, p.person_id,
            CASE WHEN m.sent_at IS NOT NULL
                      AND NOT {rng.chance(rkey, Stream.DELIVERED, 1 - mdl.DELIVERED)}
                THEN m.sent_at + to_microseconds(floor({delay} * 1e6)::BIGINT)
            END AS delivered_at,
            {rkey} AS rkey, p.propensity, p.region, p.gateway, p.user_agent_pick, p.home_ip,
            p.unsub_ordinal = m.ordinal AS unsubscribes, {read_p} AS read_p,
            {rng.u(rkey, Stream.READ)} < {read_p} OR p.unsub_ordinal = m.ordinal AS reads,
            p.scanned AND {rng.chance(rkey, Stream.SCAN, mdl.SCAN_PROB)} AS scan
        FROM {s}__person p CROSS JOIN {s}__mailing m
        WHERE p.email IS NOT NULL AND p.unsub_ordinal >= m.ordinal
          AND (m.region IS NULL OR m.region = p.region)
          AND {rng.u(rkey, Stream.RECIPIENT)} < m.audience
    """


def _recipients(con: duckdb.DuckDBPyConnection, rng: Rng, s: str, persons: int) -> str:
    """Stage the recipients, and keep the engaged ones (readers, scanned) in
    ``<schema>__engaged``: opens and clicks come only from them, so the link-level draws run for
    few rows."""
    name = create_stage(con, s, "mail.recipient")
    rows = _recipient_rows(rng, s, persons)
    run(
        con,
        f"INSERT INTO {name} BY NAME SELECT mailing_id, person_id, delivered_at FROM ({rows})",
    )
    run(
        con,
        f"{WORK} {s}__engaged AS SELECT * FROM ({rows}) "
        "WHERE delivered_at IS NOT NULL AND (reads OR scan)",
    )
    return name


def _seconds(rng: Rng, key: str, stream: int, median: float, sigma: float) -> str:
    return f"least({mdl.MAX_DELAY_S!r}, {rng.lognormal(key, stream, median, sigma)})"


def _session(rng: Rng) -> str:
    delay = _seconds(rng, "rkey", Stream.SESSION, mdl.SESSION_MEDIAN_S, mdl.SESSION_SIGMA)
    return f"({mdl.SESSION_FLOOR_S!r} + {delay})"


def _random_ip(rng: Rng, key: str, stream: int, prefixes: str, bits: int) -> str:
    """An address inside one of ``prefixes`` (a SQL list of the top ``32 - bits`` bits)."""
    x = rng.pick(key, stream, f"{1 << bits} * 64")
    return (
        f"(list_element({prefixes}, (1 + ({x} >> {bits}) % len({prefixes}))::BIGINT)::BIGINT"
        f" << {bits}) + ({x} & {(1 << bits) - 1})"
    )


def _engaged_links(s: str, condition: str) -> str:
    """Engaged recipients meeting ``condition``, once per link of their mailing."""
    return f"""
        SELECT e.*, l.link_id, l.link_ordinal, l.ctr, l.is_unsubscribe,
            e.rkey * 8 + l.link_ordinal AS lkey
        FROM {s}__engaged e JOIN {s}__mailing_link l ON l.mailing_id = e.mailing_id
        WHERE {condition}
    """


def _clicks(con: duckdb.DuckDBPyConnection, rng: Rng, s: str, persons: int) -> str:
    name = create_stage(con, s, "mail.click")
    ck = "(lkey * 16 + rep)"  # one key per click
    repeats = rng.geometric("lkey", Stream.CLICK_REPEAT, mdl.REPEAT_Q, mdl.REPEAT_CAP)
    clicks = rng.u("lkey", Stream.CLICK)
    offset = _seconds(rng, "lkey", Stream.CLICK_OFFSET, mdl.OFFSET_MEDIAN_S, mdl.OFFSET_SIGMA)
    repeat_delay = _seconds(
        rng, ck, Stream.CLICK_REPEAT_DELAY, mdl.REPEAT_MEDIAN_S, mdl.REPEAT_SIGMA
    )
    browser = rng.pick(ck, Stream.CLICK_UA_PICK, len(agents.BROWSER_USER_AGENTS))
    region_ips = lit([list(r.ip_prefixes) for r in cat.REGIONS])
    mobile_ip = _random_ip(rng, ck, Stream.CLICK_IP_PICK, f"{region_ips}[region + 1]", 24)
    gateway_ips = lit([[a * 256 + b for a, b in g[2]] for g in agents.GATEWAYS])
    gateway_ip = _random_ip(rng, "rkey", Stream.SCAN_IP, f"{gateway_ips}[gateway + 1]", 16)
    run(
        con,
        f"""
        INSERT INTO {name} BY NAME
        WITH human AS (
            SELECT *, 1 + {repeats} AS n, {_session(rng)} + {offset} AS first_s
            FROM ({_engaged_links(s, "e.reads")})
            WHERE {clicks} < least({mdl.MAX_CTR}, ctr * propensity / read_p)
               OR (is_unsubscribe AND unsubscribes)
        ), human_click AS (
            SELECT mailing_id, person_id, link_id, delivered_at, {ck} * 2 AS tie,
                first_s + CASE WHEN rep = 0 THEN 0 ELSE {repeat_delay} END AS delay_s,
                CASE WHEN {rng.chance(ck, Stream.CLICK_UA, 0.8)} THEN user_agent_pick
                    ELSE {browser} END AS agent,
                CASE WHEN {rng.chance(ck, Stream.CLICK_IP, 0.7)} THEN home_ip
                    ELSE {mobile_ip} END AS ip_number
            FROM (SELECT *, unnest(range(n)) AS rep FROM human)
        ), scanner_click AS (
            SELECT mailing_id, person_id, link_id, delivered_at, lkey * 32 + 1 AS tie,
                0.2 + 0.3 * link_ordinal + 0.2 * {rng.u("lkey", Stream.SCAN_JITTER)} AS delay_s,
                gateway AS agent, {gateway_ip} AS ip_number
            FROM ({_engaged_links(s, "e.scan")})
        ), timed AS (
            SELECT *, delivered_at + to_microseconds(floor(delay_s * 1e6)::BIGINT) AS clicked_at
            FROM (SELECT * FROM human_click UNION ALL SELECT * FROM scanner_click)
        )
        SELECT
            row_number() OVER (ORDER BY clicked_at, tie) AS click_id,
            mailing_id, link_id, person_id, clicked_at,
            CASE WHEN tie % 2 = 1 THEN {lit(list(agents.SCANNER_USER_AGENTS))}[agent + 1]
                ELSE {lit(list(agents.BROWSER_USER_AGENTS))}[agent + 1] END AS user_agent,
            {ip_text("ip_number")} AS ip
        FROM timed
        WHERE clicked_at < {EXTRACT_AT}
        """,
    )
    return name


def _opens(con: duckdb.DuckDBPyConnection, rng: Rng, s: str, persons: int) -> str:
    name = create_stage(con, s, "mail.open")
    ok = "(rkey * 8 + k)"  # one key per open
    reopens = rng.geometric("rkey", Stream.OPEN_COUNT, mdl.REOPEN_Q, 7)
    reopen_delay = _seconds(rng, ok, Stream.OPEN_DELAY, 7200.0, 2.0)
    clients = len(agents.MAIL_CLIENT_USER_AGENTS)
    run(
        con,
        f"""
        INSERT INTO {name} BY NAME
        WITH human_open AS (
            SELECT mailing_id, person_id, delivered_at, {ok} * 2 AS tie,
                first_s + CASE WHEN k = 0 THEN 0 ELSE {reopen_delay} END AS delay_s,
                user_agent_pick % {clients} AS agent
            FROM (
                SELECT *, unnest(range(1 + {reopens})) AS k, {_session(rng)} - 5 AS first_s
                FROM {s}__engaged
                WHERE reads AND {rng.chance("rkey", Stream.OPEN, mdl.IMAGES_SHOWN)}
            )
        ), scanner_open AS (
            SELECT mailing_id, person_id, delivered_at, rkey * 16 + 1 AS tie,
                0.05 + 0.1 * {rng.u("rkey", Stream.SCAN_JITTER)} AS delay_s,
                gateway AS agent
            FROM {s}__engaged
            WHERE scan
        ), timed AS (
            SELECT *, delivered_at + to_microseconds(floor(delay_s * 1e6)::BIGINT) AS opened_at
            FROM (SELECT * FROM human_open UNION ALL SELECT * FROM scanner_open)
        )
        SELECT tie AS open_id, mailing_id, person_id, opened_at,
            CASE WHEN tie % 2 = 1 THEN {lit(list(agents.SCANNER_USER_AGENTS))}[agent + 1]
                ELSE {lit(list(agents.MAIL_CLIENT_USER_AGENTS))}[agent + 1] END AS user_agent
        FROM timed
        WHERE opened_at < {EXTRACT_AT}
        """,
    )
    return name


def stage_mail(
    con: duckdb.DuckDBPyConnection, rng: Rng, schema: str, scale: mdl.Scale
) -> dict[str, str]:
    """Stage every mail table (needs the CRM helper tables); target → staging, in load order."""
    staged = _catalogue(con, schema, scale.plan)
    staged["mail.recipient"] = _recipients(con, rng, schema, scale.persons)
    staged["mail.open"] = _opens(con, rng, schema, scale.persons)
    staged["mail.click"] = _clicks(con, rng, schema, scale.persons)
    # The demo's unsubscribe page is a tracked link whose actions do the unsubscribing, so it has
    # no separate unsubscribe or consent events (those come from SuperOffice imports).
    staged["mail.link_event"] = create_stage(con, schema, "mail.link_event")
    return staged
