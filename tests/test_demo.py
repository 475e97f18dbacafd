"""The demo data: the seeded company (linksim/demo/generate.py and friends), the demo definitions
file, and the Hillstrom staging (linksim/demo/hillstrom.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import duckdb
import pytest
import yaml

from linksim._resources import data_path
from linksim.definitions import PLACEHOLDERS
from linksim.demo import MALFORMED_CLICKS, generate, stage_hillstrom
from linksim.demo.agents import SCANNER_USER_AGENTS
from linksim.demo.malformed import DEFECTS, PER_DEFECT
from linksim.errors import UsageError
from linksim.store.schema import INPUT_TABLES, table

SPAN_START = datetime(2025, 11, 1)
EXTRACT_AT = datetime(2026, 11, 1)
SCANNERS = "[" + ", ".join("'" + ua.replace("'", "''") + "'" for ua in SCANNER_USER_AGENTS) + "]"


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list:
    return con.execute(sql, params).fetchall()


def value(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    return rows(con, sql, params)[0][0]


def fingerprint(con: duckdb.DuckDBPyConnection, staged: dict[str, str]) -> dict[str, tuple]:
    """Order-independent content of every staging table."""
    return {
        target: tuple(rows(con, f"SELECT count(*), sum(hash(t)::HUGEINT) FROM {name} t")[0])
        for target, name in staged.items()
    }


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[duckdb.DuckDBPyConnection, dict[str, str]]]:
    con = duckdb.connect()
    yield con, generate(con)
    con.close()


@pytest.fixture(scope="module")
def db(demo: tuple[duckdb.DuckDBPyConnection, dict[str, str]]) -> duckdb.DuckDBPyConnection:
    return demo[0]


@pytest.fixture(scope="module")
def staged(demo: tuple[duckdb.DuckDBPyConnection, dict[str, str]]) -> dict[str, str]:
    return demo[1]


# --- the contract of generate() ---------------------------------------------------------------


def test_mapping_covers_every_input_table_in_load_order(staged: dict[str, str]) -> None:
    assert set(staged) == set(INPUT_TABLES) | {MALFORMED_CLICKS}
    order = list(staged)
    for target in INPUT_TABLES:
        for column in table(target).columns:
            if column.references:
                referenced = column.references.rsplit(".", 1)[0]
                assert order.index(referenced) < order.index(target), (target, referenced)
    assert order[-1] == MALFORMED_CLICKS
    assert order.index("mail.click") < order.index(MALFORMED_CLICKS)


def test_staging_tables_are_typed_like_their_targets(
    db: duckdb.DuckDBPyConnection, staged: dict[str, str]
) -> None:
    for target in INPUT_TABLES:
        schema, name = staged[target].split(".")
        found = rows(
            db,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, name],
        )
        assert found == [(c.name, c.type) for c in table(target).columns], target
    schema, name = staged[MALFORMED_CLICKS].split(".")
    found = rows(
        db,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, name],
    )
    assert found == [(c, "VARCHAR") for c in table("mail.click").column_names]


def test_only_the_staging_schema_is_written_and_helpers_are_dropped(
    db: duckdb.DuckDBPyConnection,
) -> None:
    schemas = {r[0] for r in rows(db, "SELECT DISTINCT schema_name FROM duckdb_tables()")}
    assert schemas == {"demo_stage"}
    helpers = rows(db, "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, '_')")
    assert helpers == []


def test_staged_rows_fit_the_declared_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Keys, NOT NULL and CHECK constraints of the real tables accept every good staged row."""
    staged = generate(con, clicks=5_000)
    for target, name in staged.items():
        if target != MALFORMED_CLICKS:
            con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {name}").fetchall()
    assert value(con, "SELECT count(*) FROM mail.click") == value(
        con, f"SELECT count(*) FROM {staged['mail.click']}"
    )
    for target in ("mail.click", "mail.open"):
        key = table(target).key[0]
        assert value(con, f"SELECT count(*) - count(DISTINCT {key}) FROM {target}") == 0
    assert (
        value(con, "SELECT count(*) - count(DISTINCT (mailing_id, person_id)) FROM mail.recipient")
        == 0
    )


def test_too_few_clicks_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="at least"):
        generate(duckdb.connect(), clicks=10)


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_same_rows_different_seed_different_rows(
    db: duckdb.DuckDBPyConnection, staged: dict[str, str]
) -> None:
    first = fingerprint(db, staged)
    other = duckdb.connect()
    assert fingerprint(other, generate(other, seed=7)) == first
    assert fingerprint(other, generate(other, seed=7)) == first  # a rerun replaces the stage
    changed = fingerprint(other, generate(other, seed=8))
    for target in ("crm.contact", "crm.person", "crm.person_field", "mail.recipient", "mail.click"):
        assert changed[target] != first[target], target
    for target in ("crm.associate", "crm.extra_field", "mail.mailing", "mail.link"):
        assert changed[target] == first[target], target  # the catalogue is fixed


# --- the shape of the default company ---------------------------------------------------------


def test_company_shape(db: duckdb.DuckDBPyConnection, staged: dict[str, str]) -> None:
    s = staged
    assert value(db, f"SELECT count(*) FROM {s['crm.associate']}") == 20
    teams = rows(db, f"SELECT DISTINCT team FROM {s['crm.associate']} WHERE team IS NOT NULL")
    assert {t for (t,) in teams} == {"Nordics", "DACH", "Americas"}
    assert value(db, f"SELECT count(DISTINCT timezone) FROM {s['crm.associate']}") == 3
    assert value(db, f"SELECT count(*) FROM {s['crm.associate']} WHERE daily_capacity IS NULL")
    assert value(db, f"SELECT count(*) FROM {s['crm.contact']}") == 2_000
    assert value(db, f"SELECT count(*) FROM {s['crm.person']}") == 8_000
    assert 0 < value(db, f"SELECT count(*) FROM {s['crm.contact']} WHERE owner_id IS NULL") < 400
    assert 0 < value(db, f"SELECT count(*) FROM {s['crm.person']} WHERE contact_id IS NULL") < 2000
    assert 0 < value(db, f"SELECT count(owner_id) FROM {s['crm.person']}") < 4000
    types = rows(db, f"SELECT DISTINCT type FROM {s['crm.extra_field']}")
    assert {t for (t,) in types} == {"text", "integer", "decimal", "date", "boolean", "list"}
    assert value(
        db, f"SELECT bool_and(len(options) > 1) FROM {s['crm.extra_field']} WHERE type = 'list'"
    )
    assert value(db, f"SELECT count(DISTINCT person_id) FROM {s['crm.person_field']}") > 5_000
    for kind, low, high in (("interest", 8, 12), ("selection", 6, 10), ("project", 4, 6)):
        assert low <= value(db, f"SELECT count(*) FROM {s['crm.' + kind]}") <= high
    for target in (
        "crm.person_interest",
        "crm.contact_interest",
        "crm.selection_member",
        "crm.project_member",
    ):
        assert value(db, f"SELECT count(*) FROM {s[target]}") > 100
        assert value(db, f"SELECT count(*) FROM {s[target]} WHERE since >= ?", [SPAN_START])
    appointments = rows(
        db, f"SELECT count(*), count(DISTINCT owner_id) FROM {s['crm.appointment']}"
    )
    assert appointments[0][0] > 1_000 and appointments[0][1] >= 15


def test_manual_edits_later_than_clicks_exist(
    db: duckdb.DuckDBPyConnection, staged: dict[str, str]
) -> None:
    later = value(
        db,
        f"""
        SELECT count(*) FROM {staged["crm.person_field"]} f
        JOIN (SELECT person_id, min(clicked_at) AS first_click FROM {staged["mail.click"]}
              GROUP BY person_id) c USING (person_id)
        WHERE f.set_at > c.first_click
        """,
    )
    assert later > 50


def test_mailings_and_links(db: duckdb.DuckDBPyConnection, staged: dict[str, str]) -> None:
    s = staged
    sent = rows(db, f"SELECT name, sent_at FROM {s['mail.mailing']} WHERE sent_at IS NOT NULL")
    assert len(sent) == 24
    assert all(SPAN_START <= at < EXTRACT_AT for _, at in sent)
    names = {n for n, _ in sent}
    assert "Product news March 2026" in names
    assert all(
        re.fullmatch(
            r".+ (January|February|March|April|May|June|July|August|September|"
            r"October|November|December) 20\d\d",
            n,
        )
        for n in names
    )
    assert value(db, f"SELECT count(*) FROM {s['mail.mailing']} WHERE sent_at IS NULL") == 2
    per_mailing = rows(
        db, f"SELECT mailing_id, count(*) FROM {s['mail.mailing_link']} GROUP BY ALL"
    )
    assert all(3 <= n <= 5 for _, n in per_mailing)
    shared = rows(
        db,
        f"""SELECT l.name, count(*) FROM {s["mail.mailing_link"]} ml
            JOIN {s["mail.link"]} l USING (link_id) GROUP BY ALL HAVING count(*) > 1""",
    )
    shared_names = {n: c for n, c in shared}
    assert shared_names["Unsubscribe"] == 26
    assert {"Book a demo", "Pricing", "Contact support"} <= set(shared_names)


def test_recipients_and_deliveries(db: duckdb.DuckDBPyConnection, staged: dict[str, str]) -> None:
    s = staged
    count, undelivered, early, late = rows(
        db,
        f"""
        SELECT count(*), count(*) FILTER (WHERE r.delivered_at IS NULL),
            count(*) FILTER (WHERE r.delivered_at < m.sent_at),
            count(*) FILTER (WHERE r.delivered_at > m.sent_at + INTERVAL 1 HOUR)
        FROM {s["mail.recipient"]} r JOIN {s["mail.mailing"]} m USING (mailing_id)
        WHERE m.sent_at IS NOT NULL
        """,
    )[0]
    assert 100_000 < count < 200_000
    assert 0 < undelivered < 0.05 * count
    assert early == late == 0


def test_planned_mailings_have_recipients_and_no_clicks(
    db: duckdb.DuckDBPyConnection, staged: dict[str, str]
) -> None:
    s = staged
    planned = [
        m for (m,) in rows(db, f"SELECT mailing_id FROM {s['mail.mailing']} WHERE sent_at IS NULL")
    ]
    for mailing in planned:
        recipients, delivered = rows(
            db,
            f"SELECT count(*), count(delivered_at) FROM {s['mail.recipient']} WHERE mailing_id = ?",
            [mailing],
        )[0]
        assert recipients > 1_000 and delivered == 0
        for target in ("mail.click", "mail.open"):
            assert (
                value(db, f"SELECT count(*) FROM {s[target]} WHERE mailing_id = ?", [mailing]) == 0
            )
        assert (
            value(
                db, f"SELECT count(*) FROM {s['mail.mailing_link']} WHERE mailing_id = ?", [mailing]
            )
            >= 3
        )


# --- clicks and opens -------------------------------------------------------------------------


def test_click_count(db: duckdb.DuckDBPyConnection, staged: dict[str, str]) -> None:
    assert 30_000 <= value(db, f"SELECT count(*) FROM {staged['mail.click']}") <= 80_000


def test_every_good_click_is_valid(db: duckdb.DuckDBPyConnection, staged: dict[str, str]) -> None:
    s = staged
    total, ids, by_recipient, on_its_links, after_delivery, before_extract = rows(
        db,
        f"""
        SELECT count(*), count(DISTINCT c.click_id), count(r.person_id), count(ml.link_id),
            count(*) FILTER (WHERE c.clicked_at >= r.delivered_at),
            count(*) FILTER (WHERE c.clicked_at < ?)
        FROM {s["mail.click"]} c
        LEFT JOIN {s["mail.recipient"]} r USING (mailing_id, person_id)
        LEFT JOIN {s["mail.mailing_link"]} ml USING (mailing_id, link_id)
        """,
        [EXTRACT_AT],
    )[0]
    assert total == ids == by_recipient == on_its_links == after_delivery == before_extract
    assert value(db, f"SELECT count(*) FROM {s['mail.click']} WHERE user_agent IS NULL") == 0


def test_no_staged_timestamp_is_in_the_future(
    db: duckdb.DuckDBPyConnection, staged: dict[str, str]
) -> None:
    now = datetime.now()
    for target in INPUT_TABLES:
        for column in table(target).columns:
            if column.type == "TIMESTAMP":
                latest = value(db, f"SELECT max({column.name}) FROM {staged[target]}")
                assert latest is None or latest < now, (target, column.name, latest)


def test_scanner_bursts(db: duckdb.DuckDBPyConnection, staged: dict[str, str]) -> None:
    """Some recipients' gateways click every link of the mail within 2 s of delivery."""
    s = staged
    bursts, recipients = rows(
        db,
        f"""
        WITH burst AS (
            SELECT c.mailing_id, c.person_id, count(DISTINCT c.link_id) AS links,
                bool_and(list_contains({SCANNERS}, c.user_agent)) AS scanner_agents
            FROM {s["mail.click"]} c JOIN {s["mail.recipient"]} r USING (mailing_id, person_id)
            WHERE c.clicked_at <= r.delivered_at + INTERVAL 2 SECOND
            GROUP BY ALL
        ), links AS (
            SELECT mailing_id, count(*) AS links FROM {s["mail.mailing_link"]} GROUP BY ALL
        )
        SELECT count(*) FILTER (WHERE b.links = l.links AND b.scanner_agents),
            (SELECT count(delivered_at) FROM {s["mail.recipient"]})
        FROM burst b JOIN links l USING (mailing_id)
        """,
    )[0]
    assert 0.005 * recipients < bursts < 0.06 * recipients
    # humans never click that fast, and scanners come from their own address ranges
    assert (
        value(
            db,
            f"""SELECT count(*) FROM {s["mail.click"]} c
            JOIN {s["mail.recipient"]} r USING (mailing_id, person_id)
            WHERE c.clicked_at < r.delivered_at + INTERVAL 10 SECOND
              AND NOT list_contains({SCANNERS}, c.user_agent)""",
        )
        == 0
    )
    prefixes = rows(
        db,
        f"""SELECT DISTINCT split_part(ip, '.', 1) || '.' || split_part(ip, '.', 2)
            FROM {s["mail.click"]} WHERE list_contains({SCANNERS}, user_agent)""",
    )
    assert {p for (p,) in prefixes} <= {
        "40.94",
        "52.100",
        "104.47",
        "205.139",
        "207.211",
        "170.10",
        "148.163",
        "67.231",
        "209.222",
        "64.235",
    }


def test_repeat_clicks_and_heavy_clickers(
    db: duckdb.DuckDBPyConnection, staged: dict[str, str]
) -> None:
    human = f"SELECT * FROM {staged['mail.click']} WHERE NOT list_contains({SCANNERS}, user_agent)"
    repeats = value(
        db,
        f"SELECT count(*) FROM (SELECT mailing_id, person_id, link_id FROM ({human}) "
        "GROUP BY ALL HAVING count(*) > 1)",
    )
    assert repeats > 1_000
    per_person = rows(
        db,
        f"SELECT quantile_cont(n, 0.5), max(n) FROM (SELECT person_id, count(*) AS n "
        f"FROM ({human}) GROUP BY ALL)",
    )[0]
    assert per_person[1] > 10 * per_person[0]


def test_clicks_decay_after_delivery(db: duckdb.DuckDBPyConnection, staged: dict[str, str]) -> None:
    first_day, first_hour, total = rows(
        db,
        f"""
        SELECT count(*) FILTER (WHERE c.clicked_at < r.delivered_at + INTERVAL 1 DAY),
            count(*) FILTER (WHERE c.clicked_at < r.delivered_at + INTERVAL 1 HOUR), count(*)
        FROM {staged["mail.click"]} c
        JOIN {staged["mail.recipient"]} r USING (mailing_id, person_id)
        """,
    )[0]
    assert 0.2 * total < first_hour < first_day and 0.7 * total < first_day < total


def test_opens(db: duckdb.DuckDBPyConnection, staged: dict[str, str]) -> None:
    s = staged
    total, after, by_recipient = rows(
        db,
        f"""
        SELECT count(*), count(*) FILTER (WHERE o.opened_at >= r.delivered_at), count(r.person_id)
        FROM {s["mail.open"]} o LEFT JOIN {s["mail.recipient"]} r USING (mailing_id, person_id)
        """,
    )[0]
    assert 20_000 < total == after == by_recipient
    assert value(db, f"SELECT count(*) - count(DISTINCT open_id) FROM {s['mail.open']}") == 0


# --- malformed rows ---------------------------------------------------------------------------


def test_malformed_rows_of_every_kind(
    db: duckdb.DuckDBPyConnection, staged: dict[str, str]
) -> None:
    bad = staged[MALFORMED_CLICKS]
    good = staged["mail.click"]
    kinds = dict(rows(db, f"SELECT defect, count(*) FROM {bad}_defect GROUP BY ALL"))
    assert kinds == {d: PER_DEFECT for d in DEFECTS}
    assert value(db, f"SELECT count(*) FROM {bad}") == len(DEFECTS) * PER_DEFECT

    def of(defect: str) -> str:
        return f"(SELECT * FROM {bad}_defect WHERE defect = '{defect}')"

    now = datetime.now()
    assert (
        value(db, f"SELECT count(TRY_CAST(clicked_at AS TIMESTAMP)) FROM {of('bad_timestamp')}")
        == 0
    )
    future = rows(db, f"SELECT clicked_at::TIMESTAMP FROM {of('future_timestamp')}")
    assert all(t > now for (t,) in future)
    for defect, column, target, key in (
        ("unknown_person", "person_id", "crm.person", "person_id"),
        ("unknown_link", "link_id", "mail.link", "link_id"),
        ("unknown_mailing", "mailing_id", "mail.mailing", "mailing_id"),
    ):
        known = value(
            db,
            f"SELECT count(*) FROM {of(defect)} d JOIN {staged[target]} t "
            f"ON t.{key} = d.{column}::BIGINT",
        )
        assert known == 0, defect
    not_in_mailing = rows(
        db,
        f"""SELECT count(l.link_id), count(ml.link_id) FROM {of("link_not_in_mailing")} d
            LEFT JOIN {staged["mail.link"]} l ON l.link_id = d.link_id::BIGINT
            LEFT JOIN {staged["mail.mailing_link"]} ml
              ON ml.link_id = d.link_id::BIGINT AND ml.mailing_id = d.mailing_id::BIGINT""",
    )[0]
    assert not_in_mailing == (PER_DEFECT, 0)
    numeric = (
        "TRY_CAST(click_id AS BIGINT) IS NOT NULL AND TRY_CAST(person_id AS BIGINT) IS NOT NULL "
        "AND TRY_CAST(link_id AS BIGINT) IS NOT NULL AND TRY_CAST(mailing_id AS BIGINT) IS NOT NULL"
    )
    assert value(db, f"SELECT count(*) FROM {of('non_numeric_id')} WHERE {numeric}") == 0
    assert value(db, f"SELECT count(*) FROM {of('non_numeric_id')} WHERE NOT ({numeric})") == 4

    columns = ", ".join(table("mail.click").column_names)
    as_text = f"SELECT {', '.join(f'{c}::VARCHAR AS {c}' for c in columns.split(', '))} FROM {good}"
    same_id = f"SELECT d.defect, g.click_id FROM {bad}_defect d JOIN ({as_text}) g USING (click_id)"
    collisions = dict(rows(db, f"SELECT defect, count(*) FROM ({same_id}) GROUP BY ALL"))
    assert collisions == {"conflicting_click_id": PER_DEFECT, "exact_duplicate": PER_DEFECT}
    identical = rows(
        db,
        f"SELECT d.defect, count(*) FROM {bad}_defect d JOIN ({as_text}) g "
        f"USING (click_id, mailing_id, link_id, person_id, user_agent, ip) "
        "WHERE TRY_CAST(d.clicked_at AS TIMESTAMP) = g.clicked_at::TIMESTAMP GROUP BY ALL",
    )
    assert dict(identical) == {"exact_duplicate": PER_DEFECT}


# --- the definitions file ---------------------------------------------------------------------

TEMPLATE_FIELDS = set(PLACEHOLDERS)


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    with data_path("demo-definitions.yaml").open(encoding="utf-8") as f:
        loaded = yaml.safe_load(f)
    assert isinstance(loaded, dict)
    return loaded


def test_definitions_use_every_action_type_and_policy(definitions: dict[str, Any]) -> None:
    assert definitions["version"] == 1
    assert definitions["bot_filter"]["enabled"] is True
    actions = [a for link in definitions["links"] for a in link["actions"]]
    ids = [a["id"] for a in actions]
    assert len(ids) == len(set(ids))
    assert {a["type"] for a in actions} == {
        "interest",
        "set_field",
        "selection",
        "project",
        "follow_up",
        "request",
        "script",
        "response",
    }
    assert {a.get("fire") for a in actions} >= {"once", "once_per_mailing", "every_click"}
    assert any(a["type"] == "interest" and a.get("scope") == "contact" for a in actions)
    assert any(a["type"] == "interest" and a.get("add") for a in actions)
    assert any(a["type"] == "interest" and a.get("remove") for a in actions)
    follow_ups = [a for a in actions if a["type"] == "follow_up"]
    assert any(a["owner"] == "contact_owner" and "fallback" in a for a in follow_ups)
    assert any(isinstance(a["owner"], dict) and "team" in a["owner"] for a in follow_ups)
    assert any(a["due"].get("next_free_slot") for a in follow_ups)
    for a in actions:
        if a.get("owner") == "contact_owner":
            assert isinstance(a.get("fallback"), int), a["id"]
        if "due" in a:
            assert set(a["due"]) <= {"business_days", "at", "next_free_slot"}
            assert re.fullmatch(r"\d\d:\d\d", a["due"]["at"])
    responses = [a for a in actions if a["type"] == "response"]
    assert any("redirect" in a for a in responses)
    assert any("feedback_text" in a for a in responses)
    assert any("form" in a and a["form"].get("prefill") for a in responses)
    assert all(a["redirect"].startswith("https://") for a in responses if "redirect" in a)
    assert [a["script"] for a in actions if a["type"] == "script"] == ["crm_enrich"]
    assert any("mailings" in link for link in definitions["links"])
    field_types = {a["field"] for a in actions if a["type"] == "set_field"}
    assert len(field_types) >= 4
    for a in actions:
        for key in ("description", "title", "feedback_text"):
            if key in a:
                assert set(re.findall(r"\{(\w+)\}", a[key])) <= TEMPLATE_FIELDS, a["id"]


def test_definitions_name_only_what_the_demo_crm_has(
    db: duckdb.DuckDBPyConnection, staged: dict[str, str], definitions: dict[str, Any]
) -> None:
    s = staged

    def names(target: str) -> set[str]:
        return {n for (n,) in rows(db, f"SELECT name FROM {s[target]}")}

    interests, selections, projects = (
        names("crm.interest"),
        names("crm.selection"),
        names("crm.project"),
    )
    fields = {
        n: (t, o) for n, t, o in rows(db, f"SELECT name, type, options FROM {s['crm.extra_field']}")
    }
    associates = {i for (i,) in rows(db, f"SELECT associate_id FROM {s['crm.associate']}")}
    teams = {t for (t,) in rows(db, f"SELECT DISTINCT team FROM {s['crm.associate']}") if t}
    links = {i for (i,) in rows(db, f"SELECT link_id FROM {s['mail.link']}")}
    mailing_links = set(rows(db, f"SELECT mailing_id, link_id FROM {s['mail.mailing_link']}"))
    for link in definitions["links"]:
        assert link["link"] in links
        for mailing in link.get("mailings", []):
            assert (mailing, link["link"]) in mailing_links
        for a in link["actions"]:
            kind = a["type"]
            if kind in ("interest", "selection", "project"):
                known = {"interest": interests, "selection": selections, "project": projects}[kind]
                assert set(a.get("add", [])) | set(a.get("remove", [])) <= known, a["id"]
            if kind == "set_field":
                field_type, options = fields[a["field"]]
                v = a["value"]
                assert isinstance(v, str)
                if field_type == "integer":
                    int(v)
                elif field_type == "decimal":
                    float(v)
                elif field_type == "date":
                    date.fromisoformat(v)
                elif field_type == "boolean":
                    assert v in ("true", "false")
                elif field_type == "list":
                    assert v in options
            if kind == "follow_up" and "project" in a:
                assert a["project"] in projects
            for key in ("created_by", "fallback"):
                if key in a:
                    assert a[key] in associates, a["id"]
            owner = a.get("owner")
            if isinstance(owner, int):
                assert owner in associates
            elif isinstance(owner, dict):
                assert owner["team"] in teams
            elif owner is not None:
                assert owner in ("contact_owner", "unassigned")


# --- scale ------------------------------------------------------------------------------------


def test_scaled_click_count() -> None:
    con = duckdb.connect()
    staged = generate(con, clicks=200_000, seed=3)
    assert 180_000 <= value(con, f"SELECT count(*) FROM {staged['mail.click']}") <= 220_000
    persons = value(con, f"SELECT count(*) FROM {staged['crm.person']}")
    assert persons > 30_000
    assert value(con, f"SELECT count(*) FROM {staged['crm.associate']}") == 20


# --- Hillstrom --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hillstrom() -> Iterator[tuple[duckdb.DuckDBPyConnection, dict[str, str]]]:
    con = duckdb.connect()
    yield con, stage_hillstrom(con)
    con.close()


def test_hillstrom_counts_match_the_csv(
    hillstrom: tuple[duckdb.DuckDBPyConnection, dict[str, str]],
) -> None:
    con, s = hillstrom
    csv = f"read_csv('{data_path('hillstrom.csv')}', header = true)"
    assert value(con, f"SELECT count(*) FROM {s['crm.person']}") == 31_828
    assert (
        value(
            con,
            f"SELECT count(*) FROM {s['crm.person']} p JOIN {csv} c ON c.customer_id = p.person_id",
        )
        == 31_828
    )
    expected = dict(rows(con, f"SELECT segment, count(*) FROM {csv} GROUP BY ALL"))
    found = dict(
        rows(
            con,
            f"SELECT m.name, count(*) FROM {s['mail.recipient']} r "
            f"JOIN {s['mail.mailing']} m USING (mailing_id) GROUP BY ALL",
        )
    )
    assert found == {k: v for k, v in expected.items() if k != "No E-Mail"}
    visits = dict(
        rows(
            con,
            f"SELECT segment, sum(visit)::BIGINT FROM {csv} WHERE segment <> 'No E-Mail' "
            "GROUP BY ALL",
        )
    )
    clicks = dict(
        rows(
            con,
            f"SELECT m.name, count(*) FROM {s['mail.click']} c "
            f"JOIN {s['mail.mailing']} m USING (mailing_id) GROUP BY ALL",
        )
    )
    assert clicks == visits
    assert (
        value(
            con,
            f"SELECT count(*) FROM {s['mail.click']} c JOIN {csv} x ON x.customer_id = c.person_id "
            "WHERE x.visit = 0 OR x.segment = 'No E-Mail'",
        )
        == 0
    )


def test_hillstrom_fields_and_timing(
    hillstrom: tuple[duckdb.DuckDBPyConnection, dict[str, str]],
) -> None:
    con, s = hillstrom
    fields = dict(rows(con, f"SELECT name, type FROM {s['crm.extra_field']}"))
    assert fields == {
        "recency": "integer",
        "history": "decimal",
        "history_segment": "list",
        "mens": "boolean",
        "womens": "boolean",
        "newbie": "boolean",
        "zip_code": "list",
        "channel": "list",
        "segment": "list",
    }
    assert value(con, f"SELECT count(*) FROM {s['crm.person_field']}") == 31_828 * len(fields)
    late, first_two_days, total, spread = rows(
        con,
        f"""
        SELECT count(*) FILTER (WHERE c.clicked_at >= m.sent_at + INTERVAL 14 DAY
                                   OR c.clicked_at < r.delivered_at),
            count(*) FILTER (WHERE c.clicked_at < r.delivered_at + INTERVAL 2 DAY), count(*),
            max(c.clicked_at) - min(c.clicked_at)
        FROM {s["mail.click"]} c JOIN {s["mail.recipient"]} r USING (mailing_id, person_id)
        JOIN {s["mail.mailing"]} m USING (mailing_id)
        """,
    )[0]
    assert late == 0
    assert first_two_days > 0.9 * total
    assert spread.days >= 7
    assert (
        value(
            con,
            f"SELECT max(delivered_at - m.sent_at) FROM {s['mail.recipient']} "
            f"JOIN {s['mail.mailing']} m USING (mailing_id)",
        ).total_seconds()
        <= 600
    )
    baseline = dict(rows(con, "SELECT segment, visit_rate FROM hillstrom_stage.segment_outcome"))
    assert 0.09 < baseline["No E-Mail"] < 0.12


def test_hillstrom_is_deterministic(
    hillstrom: tuple[duckdb.DuckDBPyConnection, dict[str, str]],
) -> None:
    con, s = hillstrom
    other = duckdb.connect()
    assert fingerprint(other, stage_hillstrom(other, data_path("hillstrom.csv"))) == fingerprint(
        con, s
    )
