"""The demo company's CRM: associates, contacts, persons, fields, memberships and appointments.

Each statement builds a whole table in DuckDB from ``range()`` and seeded hashes (`Rng`). Two helper
tables carry what later steps need: ``<schema>__contact`` and ``<schema>__person`` hold the latent
attributes (region, click propensity, mail gateway, unsubscribe point …) that the staging tables
do not show.
"""

from __future__ import annotations

import duckdb

from linksim.demo import agents
from linksim.demo import catalog as cat
from linksim.demo import model as mdl
from linksim.demo._sql import Rng, Stream, lit, values
from linksim.demo._stage import WORK, create_stage
from linksim.store.query import run

__all__ = ["stage_crm"]

SPAN_START = "TIMESTAMP '2025-11-01'"
HISTORY_START = "TIMESTAMP '2022-01-01'"
# Appointments are booked two weeks past the extract: follow-ups of late-October clicks land there.
CALENDAR_END = "TIMESTAMP '2026-11-15'"


def _by_region(items: list[tuple[object, ...]]) -> str:
    return lit([list(x) for x in items])


def _share_case(u: str, options: list[tuple[str, float]]) -> str:
    """CASE picking option i when ``u`` falls in its slice of the cumulative shares."""
    parts, total = [], 0.0
    for value, share in options[:-1]:
        total += share
        parts.append(f"WHEN {u} < {total!r} THEN {value}")
    return f"CASE {' '.join(parts)} ELSE {options[-1][0]} END"


def _map_case(expr: str, mapping: dict[str, float]) -> str:
    whens = " ".join(f"WHEN {lit(k)} THEN {v!r}" for k, v in mapping.items())
    return f"CASE {expr} {whens} END"


def _associates(con: duckdb.DuckDBPyConnection, rng: Rng, s: str) -> str:
    name = create_stage(con, s, "crm.associate")
    cols = ["associate_id", "name", "team", "daily_capacity", "timezone"]
    run(con, f"INSERT INTO {name} BY NAME SELECT * FROM {values(cat.ASSOCIATES, cols)}")
    members = []
    for region_index, region in enumerate(cat.REGIONS):
        team = [a[0] for a in cat.ASSOCIATES if a[2] == region.team]
        members += [(a, region_index, rank, len(team)) for rank, a in enumerate(team)]
    columns = ["associate_id", "region", "team_rank", "team_size"]
    run(
        con,
        f"{WORK} {s}__team_member AS SELECT * FROM {values(members, columns)}",
    )
    return name


def _contacts(con: duckdb.DuckDBPyConnection, rng: Rng, s: str, scale: mdl.Scale) -> str:
    k = "contact_id"
    regions = [(str(i), r.share) for i, r in enumerate(cat.REGIONS)]
    categories = [(lit(c), share) for c, share, _ in cat.CATEGORIES]
    mults = mdl.normalised(cat.CATEGORIES)
    persons_in_contacts = round(scale.persons * (1 - mdl.LOOSE_SHARE))
    run(
        con,
        f"""
        {WORK} {s}__contact AS
        WITH drawn AS (
            SELECT range + 1 AS contact_id,
                {rng.u(k, Stream.CONTACT_REGION)} AS u_region,
                {rng.pick(k, Stream.CONTACT_COUNTRY, 4)} AS country_pick,
                {rng.u(k, Stream.CONTACT_OWNER)} AS u_owner,
                {rng.chance(k, Stream.CONTACT_NO_OWNER, mdl.OWNERLESS_CONTACTS)} AS no_owner,
                floor(1000 * (0.25 - ln({rng.u(k, Stream.CONTACT_SIZE)})))::BIGINT AS weight,
                {rng.chance(k, Stream.CONTACT_SCANNED, mdl.SCANNED_CONTACT_SHARE)} AS scanned,
                {rng.pick(k, Stream.CONTACT_GATEWAY, len(agents.GATEWAYS))} AS gateway,
                {rng.pick(k, Stream.CONTACT_PREFIX, 12)} AS prefix_pick,
                {rng.pick(k, Stream.CONTACT_CORE, len(cat.COMPANY_CORES))} AS core_pick,
                {rng.u(k, Stream.CONTACT_CATEGORY)} AS u_category,
                {rng.pick(k, Stream.CONTACT_BUSINESS, len(cat.BUSINESSES))} AS business_pick,
                {rng.pick(k, Stream.CONTACT_IP, 1 << 24)} AS ip_low
            FROM range({scale.contacts})
        ), shaped AS (
            SELECT *,
                {_share_case("u_region", regions)} AS region,
                {_share_case("u_category", categories)} AS category
            FROM drawn
        ), named AS (
            SELECT c.*,
                {_by_region([r.countries for r in cat.REGIONS])}[c.region + 1][country_pick + 1]
                    AS country_row,
                {_by_region([r.company_prefixes for r in cat.REGIONS])}[c.region + 1]
                    [prefix_pick + 1] AS prefix,
                {lit(list(cat.COMPANY_CORES))}[core_pick + 1] AS core,
                {_by_region([r.ip_prefixes for r in cat.REGIONS])}[c.region + 1] AS ip_prefixes,
                CASE WHEN NOT c.no_owner THEN t.associate_id END AS owner_id,
                sum(weight) OVER (ORDER BY c.contact_id) AS cum_weight
            FROM shaped c LEFT JOIN {s}__team_member t
              ON t.region = c.region AND t.team_rank = floor(c.u_owner * t.team_size)
        )
        SELECT contact_id, region, owner_id, category,
            prefix || ' ' || core || ' ' || country_row[3] AS name,
            country_row[1] AS country,
            {lit(list(cat.BUSINESSES))}[business_pick + 1] AS business,
            lower(strip_accents(prefix || core)) || '.' || country_row[2] AS domain,
            {_map_case("category", mults)} AS category_mult,
            scanned, gateway,
            list_element(ip_prefixes, 1 + (ip_low >> 8) % len(ip_prefixes))::BIGINT * 16777216
                + ip_low AS office_ip,
            ((cum_weight - weight)::HUGEINT * {persons_in_contacts}
                // (SELECT sum(weight) FROM drawn))::BIGINT + 1 AS p_start,
            (cum_weight::HUGEINT * {persons_in_contacts}
                // (SELECT sum(weight) FROM drawn))::BIGINT AS p_end
        FROM named
        """,
    )
    name = create_stage(con, s, "crm.contact")
    run(
        con,
        f"INSERT INTO {name} BY NAME SELECT contact_id, name, category, business, country, "
        f"owner_id FROM {s}__contact",
    )
    return name


def _persons(
    con: duckdb.DuckDBPyConnection, rng: Rng, s: str, scale: mdl.Scale, sent_mailings: int
) -> str:
    k = "person_id"
    regions = [(str(i), r.share) for i, r in enumerate(cat.REGIONS)]
    roles = mdl.normalised(cat.ROLES)
    role_shares = [(str(i), share) for i, (_, share, _) in enumerate(cat.ROLES)]
    first = _by_region([r.first_names for r in cat.REGIONS])
    last = _by_region([r.last_names for r in cat.REGIONS])
    first_ascii = _by_region([tuple(map(cat.ascii_name, r.first_names)) for r in cat.REGIONS])
    last_ascii = _by_region([tuple(map(cat.ascii_name, r.last_names)) for r in cat.REGIONS])
    sigma = mdl.PROPENSITY_SIGMA
    in_contacts = round(scale.persons * (1 - mdl.LOOSE_SHARE))
    run(
        con,
        f"""
        {WORK} {s}__person AS
        WITH placed AS (
            SELECT unnest(range(p_start, p_end + 1)) AS person_id, contact_id, region,
                owner_id AS contact_owner, category_mult, scanned, gateway, domain, office_ip
            FROM {s}__contact WHERE p_end >= p_start
            UNION ALL
            SELECT range, NULL, {_share_case(rng.u("range", Stream.PERSON_REGION), regions)},
                NULL, 1.0, FALSE, 0, NULL, NULL
            FROM range({in_contacts + 1}, {scale.persons + 1})
        ), drawn AS (
            SELECT *,
                {rng.u(k, Stream.PERSON_FIRST)} AS u_first,
                {rng.u(k, Stream.PERSON_LAST)} AS u_last,
                {_share_case(rng.u(k, Stream.PERSON_ROLE), role_shares)} AS role,
                {rng.pick(k, Stream.PERSON_STAGE, len(cat.STAGES))} AS stage,
                exp({sigma!r} * {rng.normal(k, Stream.PERSON_PROPENSITY)} - {sigma**2 / 2!r})
                    AS base_propensity
            FROM placed
        ), named AS (
            SELECT *,
                list_element({first}[region + 1], (1 + floor(u_first * len({
            first
        }[region + 1])))::BIGINT)
                    AS first_name,
                list_element({last}[region + 1], (1 + floor(u_last * len({
            last
        }[region + 1])))::BIGINT)
                    AS last_name,
                list_element({first_ascii}[region + 1],
                    (1 + floor(u_first * len({first_ascii}[region + 1])))::BIGINT) AS first_ascii,
                list_element({last_ascii}[region + 1],
                    (1 + floor(u_last * len({last_ascii}[region + 1])))::BIGINT) AS last_ascii
            FROM drawn
        )
        SELECT person_id, contact_id, region, first_name, last_name,
            CASE WHEN {rng.chance(k, Stream.PERSON_EMAIL, mdl.HAS_EMAIL)} THEN
                first_ascii || '.' || last_ascii || CASE WHEN domain IS NULL THEN
                    {rng.pick(k, Stream.PERSON_MAILBOX, 100)}::VARCHAR || '@'
                    || {lit(list(cat.MAILBOXES))}[1 + person_id % {len(cat.MAILBOXES)}]
                ELSE '@' || domain END
            END AS email,
            CASE WHEN {rng.chance(k, Stream.PERSON_OWNER, mdl.PERSON_OWNER_SHARE)} THEN
                CASE WHEN contact_owner IS NOT NULL AND {rng.u(k, Stream.PERSON_OWNER_PICK)} < 0.7
                    THEN contact_owner
                    ELSE 3 + {rng.pick(k, Stream.PERSON_OWNER_PICK, len(cat.ASSOCIATES) - 2)}
                END
            END AS owner_id,
            role, stage,
            base_propensity * {
            _map_case("role", {str(i): roles[r[0]] for i, r in enumerate(cat.ROLES)})
        } * category_mult
                AS propensity,
            CASE WHEN {rng.chance(k, Stream.PERSON_UNSUB, mdl.UNSUB_SHARE)}
                THEN {rng.pick(k, Stream.PERSON_UNSUB_AT, sent_mailings)} ELSE 1000000
            END AS unsub_ordinal,
            {rng.pick(k, Stream.PERSON_UA, len(agents.BROWSER_USER_AGENTS))} AS user_agent_pick,
            coalesce(office_ip,
                list_element({_by_region([r.ip_prefixes for r in cat.REGIONS])}[region + 1],
                    1 + {rng.pick(k, Stream.PERSON_IP, 8)})::BIGINT * 16777216
                    + {rng.pick(k, Stream.PERSON_IP, 1 << 24)}) AS home_ip,
            scanned, gateway
        FROM named
        """,
    )
    name = create_stage(con, s, "crm.person")
    run(
        con,
        f"INSERT INTO {name} BY NAME SELECT person_id, contact_id, first_name, last_name, email, "
        f"owner_id FROM {s}__person",
    )
    return name


def _when(rng: Rng, key: str, stream_recent: int, stream_at: int) -> str:
    """A set_at/since time: mostly in the years before the span, some during it."""
    span = f"(TIMESTAMP '{cat.EXTRACT_AT:%Y-%m-%d}' - {SPAN_START})"
    history = f"({SPAN_START} - {HISTORY_START})"
    at = rng.u(key, stream_at)
    return (
        f"CASE WHEN {rng.chance(key, stream_recent, mdl.RECENT_SHARE)}"
        f" THEN {SPAN_START} + to_microseconds(floor({at} * epoch_us({span}))::BIGINT)"
        f" ELSE {HISTORY_START} + to_microseconds(floor({at} * epoch_us({history}))::BIGINT) END"
    )


def _fields(con: duckdb.DuckDBPyConnection, rng: Rng, s: str) -> tuple[str, str]:
    extra = create_stage(con, s, "crm.extra_field")
    rows = [
        (i, n, t, list(o) if o else None, sh) for i, (n, t, o, sh) in enumerate(cat.EXTRA_FIELDS)
    ]
    run(
        con,
        f"{WORK} {s}__field AS SELECT * "
        f"FROM {values(rows, ['field_index', 'name', 'type', 'options', 'share'])}",
    )
    run(
        con,
        f"INSERT INTO {extra} BY NAME "
        f"SELECT name, type, options::VARCHAR[] AS options FROM {s}__field",
    )
    key = "p.person_id * 16 + f.field_index"
    u, u2 = rng.u(key, Stream.FIELD_VALUE), rng.u(key, Stream.FIELD_VALUE_2)
    languages = _by_region([r.languages for r in cat.REGIONS])
    budget = f"round(8000 * exp({rng.normal(key, Stream.FIELD_VALUE)}), -2)"
    value = f"""CASE f.name
        WHEN 'newsletter_opt_in' THEN CASE WHEN {u} < 0.9 THEN 'true' ELSE 'false' END
        WHEN 'lead_score' THEN least(100, floor(10 + 15 * p.propensity + 40 * {u}))::BIGINT::VARCHAR
        WHEN 'budget_eur' THEN printf('%.2f', {budget})
        WHEN 'last_cta' THEN {lit(list(cat.LAST_CTAS))}[1 + floor({u} * {len(cat.LAST_CTAS)})::INT]
        WHEN 'last_webinar' THEN (DATE '2024-01-01' + floor({u} * 660)::INT)::VARCHAR
        WHEN 'customer_since' THEN (DATE '2014-01-01' + floor({u} * 4300)::INT)::VARCHAR
        WHEN 'preferred_language' THEN CASE WHEN {u2} < 0.6 THEN {languages}[p.region + 1][1]
            ELSE list_element({languages}[p.region + 1],
                              (1 + floor({u} * len({languages}[p.region + 1])))::BIGINT) END
        WHEN 'job_role' THEN {lit([r[0] for r in cat.ROLES])}[p.role + 1]
        WHEN 'lifecycle_stage' THEN {lit(list(cat.STAGES))}[p.stage + 1]
    END"""
    person_field = create_stage(con, s, "crm.person_field")
    run(
        con,
        f"""
        INSERT INTO {person_field} BY NAME
        SELECT p.person_id, f.name AS field, {value} AS value,
            {_when(rng, key, Stream.FIELD_RECENT, Stream.FIELD_SET_AT)} AS set_at
        FROM {s}__person p CROSS JOIN {s}__field f
        WHERE {rng.u(key, Stream.FIELD_HAS)} < f.share
        """,
    )
    return extra, person_field


def _memberships(con: duckdb.DuckDBPyConnection, rng: Rng, s: str) -> dict[str, str]:
    staged: dict[str, str] = {}
    catalogs = {
        "interest": [(n, sp) for n, sp, _ in cat.INTERESTS],
        "selection": list(cat.SELECTIONS),
        "project": list(cat.PROJECTS),
    }
    for kind, rows in catalogs.items():
        staged[f"crm.{kind}"] = name = create_stage(con, s, f"crm.{kind}")
        numbered = [(i + 1, n, share) for i, (n, share) in enumerate(rows)]
        run(
            con,
            f"{WORK} {s}__{kind} AS SELECT * FROM "
            f"{values(numbered, [f'{kind}_id', 'name', 'share'])}",
        )
        run(con, f"INSERT INTO {name} BY NAME SELECT {kind}_id, name FROM {s}__{kind}")
    contact_shares = [(i + 1, sc) for i, (_, _, sc) in enumerate(cat.INTERESTS)]
    run(
        con,
        f"{WORK} {s}__contact_interest AS SELECT * FROM "
        f"{values(contact_shares, ['interest_id', 'share'])}",
    )
    # (target, owner table, owner key, catalog, its id, key offset): one stream, disjoint keys
    plans = (
        ("crm.person_interest", "_person", "person_id", "_interest", "interest_id", 0),
        ("crm.selection_member", "_person", "person_id", "_selection", "selection_id", 16),
        ("crm.project_member", "_person", "person_id", "_project", "project_id", 32),
        ("crm.contact_interest", "_contact", "contact_id", "_contact_interest", "interest_id", 48),
    )
    for target, owners, owner_key, catalog, item_key, offset in plans:
        key = f"o.{owner_key} * 64 + {offset} + c.{item_key}"
        staged[target] = name = create_stage(con, s, target)
        run(
            con,
            f"""
            INSERT INTO {name} BY NAME
            SELECT o.{owner_key}, c.{item_key},
                {_when(rng, key, Stream.MEMBER_RECENT, Stream.MEMBER_SINCE)} AS since
            FROM {s}_{owners} o CROSS JOIN {s}_{catalog} c
            WHERE {rng.u(key, Stream.MEMBER_HAS)} < c.share
            """,
        )
    return staged


# (kind, task_type, description)
APPOINTMENT_TYPES = (
    ("task", "Phone call", "Call about the renewal"),
    ("task", "Phone call", "Follow up on the quote"),
    ("task", "Follow-up e-mail", "Send the case study"),
    ("meeting", "Meeting", "Quarterly business review"),
    ("meeting", "Demo", "Product demo"),
    ("meeting", "Meeting", "Onboarding check-in"),
)


def _appointments(con: duckdb.DuckDBPyConnection, rng: Rng, s: str) -> str:
    """Existing follow-ups: each working day of the span and of the two weeks booked ahead
    (to ``CALENDAR_END``), each associate has up to their capacity (4 when unlimited)."""
    run(
        con,
        f"""
        {WORK} {s}__owned AS
        SELECT owner_id, contact_id, p_start, p_end,
            row_number() OVER (PARTITION BY owner_id ORDER BY contact_id) - 1 AS owned_rank,
            count(*) OVER (PARTITION BY owner_id) AS owned
        FROM {s}__contact WHERE owner_id IS NOT NULL
        """,
    )
    day_key = "a.associate_id * 100000 + (d.day - DATE '2025-01-01')"
    k = "(x.day_key * 8 + x.j)"
    name = create_stage(con, s, "crm.appointment")
    types = values(
        [(i, *t) for i, t in enumerate(APPOINTMENT_TYPES)],
        ["type_index", "kind", "task_type", "description"],
    )
    run(
        con,
        f"""
        INSERT INTO {name} BY NAME
        WITH days AS (
            SELECT d::DATE AS day FROM range({SPAN_START}, {CALENDAR_END}, INTERVAL 1 DAY)
                AS t(d)
            WHERE isodow(d) <= 5
        ), counted AS (
            SELECT a.associate_id, a.timezone, d.day, {day_key} AS day_key,
                floor({rng.u(day_key, Stream.APPT_COUNT)} * 0.9
                      * (coalesce(a.daily_capacity, 4) + 1))::INTEGER AS n
            FROM {s}.crm_associate a CROSS JOIN days d
        ), expanded AS (
            SELECT *, unnest(range(n)) AS j FROM counted WHERE n > 0
        ), typed AS (
            SELECT x.*, t.*, {k} AS k,
                {rng.u(k, Stream.APPT_CONTACT)} AS u_contact
            FROM expanded x
            JOIN {types}
              ON t.type_index = {rng.pick(k, Stream.APPT_TYPE, len(APPOINTMENT_TYPES))}
        )
        SELECT 'crm-' || y.associate_id || '-' || strftime(y.day, '%Y%m%d') || '-' || y.j
                AS appointment_id,
            y.kind, y.task_type,
            CASE WHEN o.p_end >= o.p_start
                THEN o.p_start + {rng.pick("y.k", Stream.APPT_PERSON, "o.p_end - o.p_start + 1")}
            END AS person_id,
            o.contact_id, NULL AS project_id, y.associate_id AS owner_id,
            y.associate_id AS created_by_id,
            y.description || coalesce(' (' || c.name || ')', '') AS description,
            timezone('UTC', timezone(y.timezone, y.day::TIMESTAMP
                + to_minutes(540 + 30 * {rng.pick("y.k", Stream.APPT_SLOT, 16)}))) AS starts_at,
            [15, 30, 30, 45, 60][1 + {rng.pick("y.k", Stream.APPT_DURATION, 5)}]
                AS duration_minutes,
            NULL AS source_action, NULL AS source_click_id, NULL AS source_mailing_id
        FROM typed y
        LEFT JOIN {s}__owned o
          ON o.owner_id = y.associate_id AND o.owned_rank = floor(y.u_contact * o.owned)
        LEFT JOIN {s}.crm_contact c ON c.contact_id = o.contact_id
        """,
    )
    return name


def stage_crm(
    con: duckdb.DuckDBPyConnection, rng: Rng, schema: str, scale: mdl.Scale, sent_mailings: int
) -> dict[str, str]:
    """Stage every CRM table; returns target → staging table in load order."""
    staged = {
        "crm.associate": _associates(con, rng, schema),
        "crm.contact": _contacts(con, rng, schema, scale),
        "crm.person": _persons(con, rng, schema, scale, sent_mailings),
    }
    staged["crm.extra_field"], staged["crm.person_field"] = _fields(con, rng, schema)
    members = _memberships(con, rng, schema)
    for kind in ("crm.interest", "crm.selection", "crm.project"):
        staged[kind] = members.pop(kind)
    staged.update(members)
    staged["crm.appointment"] = _appointments(con, rng, schema)
    return staged
