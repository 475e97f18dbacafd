"""From SuperOffice's tables to linksim's (SPEC §2): one SQL query per table, over whole tables.

Every row of a source table is *routed*: to the linksim table it fills, to ``lookup`` (a list the
import reads names from), or skipped with a reason. `route` writes that decision per row into
``so_route_<source>``, so that the report can account for every exported row; `target_sql` gives
the rows of one linksim table, which the loader then casts, checks and quarantines like any load.

SuperOffice conventions kept in mind here:

- id 0 means "none" (a person without a company, a contact without an owner, no project);
- ``DateTime`` columns are the server's local time (``--timezone``); ``UtcDateTime`` ones are UTC;
- person and contact interests are two lists (`PersInt`, `ContInt`) while linksim has one
  `crm.interest` table: a person interest keeps its id, a contact interest gets
  `CONTACT_INTEREST_OFFSET` added, and items of the same name become one linksim interest
  (definitions name interests; ``scope: contact`` picks the contact's membership).
"""

from __future__ import annotations

from linksim.superoffice.sources import staged

__all__ = [
    "CONTACT_INTEREST_OFFSET",
    "DATE_COLUMNS",
    "DATE_FORMATS",
    "DELETED",
    "DERIVED",
    "LINK_TYPES",
    "LOAD_ORDER",
    "PREPARE",
    "ROUTES",
    "TARGETS",
    "lookup_sql",
    "parsed_timestamp",
    "route_sql",
]

CONTACT_INTEREST_OFFSET = 1_000_000_000
"""Added to a `ContInt` id to make its linksim interest id, apart from the `PersInt` ids."""

LINK_TYPES = {"0": "Unknown", "1": "Link", "2": "Image", "3": "Unsubscribe", "4": "Consent"}
"""SuperOffice's ShipmentLinkType, the kind of a `s_link_customer` row."""

# ShipmentAddrStatus values of an address that was never sent, with their names
_NEVER_SENT = {"2": "Duplicate", "3": "Blocked", "7": "test recipient", "9": "NoSubscription",
               "11": "TooManyBounces"}  # fmt: skip
# ... and of one that reached the recipient (sending_time is then the delivery time)
_DELIVERED = ("4", "6", "10")  # Sent, Opened, Complained
# ShipmentStatus values of a shipment that sent (some of) its messages
_SENDING = ("1", "4", "5", "6")  # Ok, Started, StatusFailed, Retry

EPOCH = "1970-01-01 00:00:00"
"""The `since` of a membership SuperOffice has no time for: any click may then change it."""


def _id(column: str) -> str:
    """An id as text; SuperOffice's 0 (and an empty cell) is NULL."""
    return f"nullif(nullif(trim({column}), ''), '0')"


DATE_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y")
"""Besides ISO 8601 (2024-03-05 10:00:00), the day-first dates of European exports."""

DATE_COLUMNS = {
    "personinterest": ("startdate", "registered"),
    "contactinterest": ("startdate", "registered"),
    "selection": ("registered",),
    "project": ("registered",),
    "projectmember": ("registered",),
    "s_shipment": ("start_date",),
    "s_shipment_addr": ("sending_time",),
    "s_link": ("task_start",),
    "s_link_customer": ("pressed",),
}
"""The DateTime columns read, per source."""


def parsed_timestamp(column: str) -> str:
    """A SuperOffice DateTime text as a TIMESTAMP (server time), or NULL when unreadable."""
    formats = "[" + ", ".join(f"'{f}'" for f in DATE_FORMATS) + "]"
    return (
        f"coalesce(TRY_CAST(trim({column}) AS TIMESTAMP), try_strptime(trim({column}), {formats}))"
    )


def _ts(column: str) -> str:
    """A local SuperOffice DateTime as UTC text (``$tz`` is the server's zone); text that is not a
    timestamp is passed on unchanged, for the loader to quarantine with its reason."""
    parsed = parsed_timestamp(column)
    return (
        f"CASE WHEN {parsed} IS NULL THEN nullif(trim({column}), '') "
        f"ELSE CAST(timezone('UTC', timezone($tz, {parsed})) AS VARCHAR) END"
    )


def _in(values: tuple[str, ...] | dict[str, str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _case(column: str, names: dict[str, str]) -> str:
    return (
        "CASE " + " ".join(f"WHEN {column} = '{v}' THEN '{n}'" for v, n in names.items()) + " END"
    )


DELETED = "coalesce(TRY_CAST(trim(deleted) AS INTEGER), 0) <> 0"
"""SQL: the row's ``deleted`` column marks it deleted in SuperOffice."""
_DELETED_REASON = "'deleted in SuperOffice (deleted = 1)'"


def _of_deleted(source: str, column: str) -> str:
    """The reason for a membership of an interest item deleted in SuperOffice."""
    return (
        f"CASE WHEN EXISTS (SELECT 1 FROM so_interest_names m WHERE m.source = '{source}' "
        f"AND m.source_id = {_id('s.' + column)} AND m.deleted) THEN 'its interest "
        f"({'PersInt' if source == 'persint' else 'ContInt'} ' || {_id('s.' + column)} || ') is "
        "deleted in SuperOffice' END"
    )


# --- routing: every source row goes to a table, to `lookup`, or is skipped with a reason ---------

# source -> (SQL giving `_to` per row of `s`, SQL giving `_reason` or NULL, extra FROM text)
ROUTES: dict[str, tuple[str, str, str]] = {
    "associate": (
        "'crm.associate'",
        f"CASE WHEN {_id('s.associate_id')} IS NULL THEN "
        "'associate_id 0 or empty: SuperOffice''s placeholder for nobody' END",
        "",
    ),
    "contact": (
        "'crm.contact'",
        f"CASE WHEN {_id('s.contact_id')} IS NULL THEN "
        "'contact_id 0 or empty: SuperOffice''s placeholder for no company' END",
        "",
    ),
    "person": (
        "'crm.person'",
        f"CASE WHEN {_id('s.person_id')} IS NULL THEN 'person_id 0 or empty' END",
        "",
    ),
    "persint": (
        "'crm.interest'",
        f"CASE WHEN m.deleted THEN {_DELETED_REASON} "
        "WHEN m.kept_row <> s._row THEN 'same name as person interest ' || m.kept_id || "
        "': one linksim interest' END",
        "LEFT JOIN so_interest_names m ON m.source = 'persint' AND m.source_row = s._row",
    ),
    "contint": (
        "'crm.interest'",
        f"CASE WHEN m.deleted THEN {_DELETED_REASON} "
        "WHEN m.kept_source <> 'contint' OR m.kept_row <> s._row THEN 'same name as ' || "
        "CASE m.kept_source WHEN 'persint' THEN 'person' ELSE 'contact' END || ' interest ' || "
        "m.kept_id || ': one linksim interest, which scope: contact applies to the contact' END",
        "LEFT JOIN so_interest_names m ON m.source = 'contint' AND m.source_row = s._row",
    ),
    "personinterest": ("'crm.person_interest'", _of_deleted("persint", "pinterest_idx"), ""),
    "contactinterest": ("'crm.contact_interest'", _of_deleted("contint", "cinterest_idx"), ""),
    "selection": ("'crm.selection'", "NULL", ""),
    "selectionmember": (
        "'crm.selection_member'",
        f"CASE WHEN {_id('s.person_id')} IS NULL THEN 'a contact member without a person: "
        "linksim''s selections hold persons' END",
        "",
    ),
    "project": ("'crm.project'", "NULL", ""),
    "projectmember": (
        "'crm.project_member'",
        f"CASE WHEN {_id('s.person_id')} IS NULL THEN 'no person_id' END",
        "",
    ),
    "s_shipment": ("'mail.mailing'", "NULL", ""),
    "s_link": ("'mail.link'", "NULL", ""),
    "s_shipment_addr": (
        "'mail.recipient'",
        f"CASE WHEN {_id('s.customer_id')} IS NULL THEN 'no person (customer_id 0): an address "
        "that is not a person' "
        f"WHEN trim(s.status) IN {_in(_NEVER_SENT)} THEN 'never sent (status ' || trim(s.status) "
        f"|| ', ' || {_case('trim(s.status)', _NEVER_SENT)} || ')' "
        "WHEN d.first_row <> s._row THEN 'the same person again in this shipment (a flow sends "
        "it once per instance): the first delivery is kept' END",
        "LEFT JOIN so_first_address d ON d._row = s._row",
    ),
    "s_link_customer": (
        "CASE trim(s.link_type) WHEN '1' THEN 'mail.click' WHEN '2' THEN 'mail.open' "
        "WHEN '3' THEN 'mail.link_event' WHEN '4' THEN 'mail.link_event' END",
        f"CASE WHEN {_id('s.customer_id')} IS NULL THEN 'anonymous (customer_id 0): no person "
        "to act on' WHEN trim(s.link_type) NOT IN ('1', '2', '3', '4') OR s.link_type IS NULL "
        "THEN 'link_type ' || coalesce(trim(s.link_type), 'empty') || ' (Unknown): not a "
        "ShipmentLinkType linksim knows' END",
        "",
    ),
}

# Helper tables the routes and targets read, built before them (from the staged sources only).
PREPARE = (
    # Interest items by name: the first person interest, else the first contact interest, of a
    # name is the one linksim keeps; an item deleted in SuperOffice stands alone, and is not kept.
    f"""CREATE OR REPLACE TEMP TABLE so_interest_names AS
    WITH items AS (
        SELECT 'persint' AS source, _row AS source_row, {_id("persint_id")} AS source_id,
               TRY_CAST({_id("persint_id")} AS BIGINT) AS interest_id, trim(name) AS name,
               {DELETED} AS deleted
        FROM {staged("persint")}
        UNION ALL
        SELECT 'contint', _row, {_id("contint_id")},
               TRY_CAST({_id("contint_id")} AS BIGINT) + {CONTACT_INTEREST_OFFSET}, trim(name),
               {DELETED}
        FROM {staged("contint")}
    )
    SELECT *,
           first_value(source) OVER w AS kept_source, first_value(source_row) OVER w AS kept_row,
           first_value(source_id) OVER w AS kept_id,
           first_value(interest_id) OVER w AS kept_interest_id
    FROM items
    WINDOW w AS (PARTITION BY CASE WHEN deleted OR name IS NULL THEN source || source_row
                                   ELSE name END
                 ORDER BY source DESC, interest_id NULLS LAST, source_row)""",
    # The first address row of each (shipment, person) that was sent or is planned.
    f"""CREATE OR REPLACE TEMP TABLE so_first_address AS
    SELECT _row, first_value(_row) OVER (
               PARTITION BY trim(shipment_id), {_id("customer_id")}
               ORDER BY {parsed_timestamp("sending_time")} NULLS LAST, _row) AS first_row
    FROM {staged("s_shipment_addr")}
    WHERE {_id("customer_id")} IS NOT NULL
      AND coalesce(trim(status), '') NOT IN {_in(_NEVER_SENT)}""",
)


def route_sql(source: str) -> str:
    """The statement that writes ``so_route_<source>``: ``_row``, ``_to`` and ``_reason``."""
    to, reason, joins = ROUTES.get(source, ("'lookup'", "NULL", ""))
    return (
        f"CREATE OR REPLACE TEMP TABLE so_route_{source} AS "
        f"SELECT s._row, CASE WHEN _reason IS NULL THEN {to} END AS _to, _reason FROM ("
        f"SELECT s.*, {reason} AS _reason FROM {staged(source)} s {joins}) s"
    )


def _routed(source: str, target: str) -> str:
    """The rows of ``source`` routed to ``target``, as ``s``."""
    return (
        f"(SELECT s.* FROM {staged(source)} s JOIN so_route_{source} r ON r._row = s._row "
        f"WHERE r._to = '{target}') s"
    )


def _interest_id(source: str, column: str) -> str:
    """The linksim interest of a membership row (unknown items keep their raw id, so that the
    loader quarantines them as an unknown interest)."""
    raw = _id(f"s.{column}")
    offset = f" + {CONTACT_INTEREST_OFFSET}" if source == "contint" else ""
    return (
        f"coalesce((SELECT CAST(min(m.kept_interest_id) AS VARCHAR) FROM so_interest_names m "
        f"WHERE m.source = '{source}' AND m.source_id = {raw}), "
        f"CAST(TRY_CAST({raw} AS BIGINT){offset} AS VARCHAR), {raw})"
    )


def _since(*columns: str) -> str:
    return f"coalesce({', '.join(_ts(c) for c in columns)}, '{EPOCH}')"


def lookup_sql(lookup: str, key: str, value: str, column: str = "name") -> str:
    """The ``column`` of the row of list ``lookup`` whose ``key`` is ``value`` (SQL text): one
    value even where an export repeats a key."""
    return (
        f"(SELECT min(nullif(trim(l.{column}), '')) FROM {staged(lookup)} l "
        f"WHERE trim(l.{key}) = trim({value}))"
    )


TARGETS: dict[str, str] = {
    "crm.associate": f"""
        SELECT {_id("s.associate_id")} AS associate_id,
               coalesce(nullif(trim(concat_ws(' ', p.firstname, p.lastname)), ''),
                        nullif(trim(s.name), '')) AS name,
               {lookup_sql("usergroup", "usergroup_id", _id("s.group_idx"))} AS team
        FROM {_routed("associate", "crm.associate")}
        LEFT JOIN {staged("person")} p ON {_id("p.person_id")} = {_id("s.person_id")}""",
    "crm.contact": f"""
        SELECT {_id("s.contact_id")} AS contact_id, nullif(trim(s.name), '') AS name,
               {lookup_sql("category", "category_id", _id("s.category_idx"))} AS category,
               {lookup_sql("business", "business_id", _id("s.business_idx"))} AS business,
               {lookup_sql("country", "country_id", _id("s.country_id"))} AS country,
               {_id("s.associate_id")} AS owner_id
        FROM {_routed("contact", "crm.contact")}""",
    "crm.person": f"""
        SELECT {_id("s.person_id")} AS person_id, {_id("s.contact_id")} AS contact_id,
               nullif(trim(s.firstname), '') AS first_name,
               nullif(trim(s.lastname), '') AS last_name,
               e.email, {_id("s.associate_id")} AS owner_id
        FROM {_routed("person", "crm.person")}
        LEFT JOIN (  -- a person's first address by rank
            SELECT {_id("person_id")} AS person_id,
                   arg_min(trim(email_address),
                           [coalesce(TRY_CAST(trim(rank) AS BIGINT), 9e18::BIGINT), _row]) AS email
            FROM {staged("email")}
            WHERE nullif(trim(email_address), '') IS NOT NULL
            GROUP BY ALL
        ) e ON e.person_id = {_id("s.person_id")}""",
    "crm.interest": """
        SELECT coalesce(CAST(m.kept_interest_id AS VARCHAR), m.source_id) AS interest_id, m.name
        FROM so_interest_names m
        WHERE m.source = m.kept_source AND m.source_row = m.kept_row AND NOT m.deleted""",
    "crm.selection": f"""
        SELECT {_id("s.selection_id")} AS selection_id, nullif(trim(s.name), '') AS name
        FROM {_routed("selection", "crm.selection")}""",
    "crm.project": f"""
        SELECT {_id("s.project_id")} AS project_id, nullif(trim(s.name), '') AS name
        FROM {_routed("project", "crm.project")}""",
    "crm.person_interest": f"""
        SELECT {_id("s.person_id")} AS person_id,
               {_interest_id("persint", "pinterest_idx")} AS interest_id,
               {_since("s.startdate", "s.registered")} AS since
        FROM {_routed("personinterest", "crm.person_interest")}""",
    "crm.contact_interest": f"""
        SELECT {_id("s.contact_id")} AS contact_id,
               {_interest_id("contint", "cinterest_idx")} AS interest_id,
               {_since("s.startdate", "s.registered")} AS since
        FROM {_routed("contactinterest", "crm.contact_interest")}""",
    "crm.selection_member": f"""
        SELECT {_id("s.selection_id")} AS selection_id, {_id("s.person_id")} AS person_id,
               coalesce((SELECT {_ts("x.registered")} FROM {staged("selection")} x
                         WHERE {_id("x.selection_id")} = {_id("s.selection_id")} LIMIT 1),
                        '{EPOCH}') AS since
        FROM {_routed("selectionmember", "crm.selection_member")}""",
    "crm.project_member": f"""
        SELECT {_id("s.project_id")} AS project_id, {_id("s.person_id")} AS person_id,
               {_since("s.registered")} AS since
        FROM {_routed("projectmember", "crm.project_member")}""",
    "mail.mailing": f"""
        SELECT {_id("s.id")} AS mailing_id,
               coalesce(nullif(trim(s.description), ''), 'Shipment ' || trim(s.id)) AS name,
               CASE WHEN trim(s.status) IN {_in(_SENDING)} OR a.delivered IS NOT NULL
                    THEN coalesce(CAST(least(TRY_CAST({_ts("s.start_date")} AS TIMESTAMP),
                                             a.delivered) AS VARCHAR), {_ts("s.start_date")})
               END AS sent_at
        FROM {_routed("s_shipment", "mail.mailing")}
        LEFT JOIN (
            SELECT {_id("shipment_id")} AS shipment_id,
                   min(TRY_CAST({_ts("sending_time")} AS TIMESTAMP)) AS delivered
            FROM {staged("s_shipment_addr")}
            WHERE trim(status) IN {_in(_DELIVERED)} GROUP BY ALL
        ) a ON a.shipment_id = {_id("s.id")}""",
    "mail.link": f"""
        SELECT {_id("s.id")} AS link_id, nullif(trim(s.url), '') AS url,
               nullif(trim(s.description), '') AS name
        FROM {_routed("s_link", "mail.link")}""",
    "mail.recipient": f"""
        SELECT {_id("s.shipment_id")} AS mailing_id, {_id("s.customer_id")} AS person_id,
               CASE WHEN trim(s.status) IN {_in(_DELIVERED)} THEN {_ts("s.sending_time")}
               END AS delivered_at
        FROM {_routed("s_shipment_addr", "mail.recipient")}""",
    "mail.click": f"""
        SELECT nullif(trim(s.id), '') AS click_id, {_id("s.shipment_id")} AS mailing_id,
               {_id("s.link_id")} AS link_id, {_id("s.customer_id")} AS person_id,
               {_ts("s.pressed")} AS clicked_at, nullif(s.http_user_agent, '') AS user_agent
        FROM {_routed("s_link_customer", "mail.click")}""",
    "mail.open": f"""
        SELECT nullif(trim(s.id), '') AS open_id, {_id("s.shipment_id")} AS mailing_id,
               {_id("s.customer_id")} AS person_id, {_ts("s.pressed")} AS opened_at,
               nullif(s.http_user_agent, '') AS user_agent
        FROM {_routed("s_link_customer", "mail.open")}""",
    "mail.link_event": f"""
        SELECT nullif(trim(s.id), '') AS event_id,
               CASE trim(s.link_type) WHEN '3' THEN 'unsubscribe' ELSE 'consent' END AS kind,
               {_id("s.shipment_id")} AS mailing_id, {_id("s.link_id")} AS link_id,
               {_id("s.customer_id")} AS person_id, {_ts("s.pressed")} AS occurred_at,
               nullif(s.http_user_agent, '') AS user_agent
        FROM {_routed("s_link_customer", "mail.link_event")}""",
}
"""The rows of each linksim table, in load order (a table after those it refers to)."""

DERIVED: dict[str, tuple[str, str]] = {
    # A link is used by a mailing where it was clicked in it: s_link has no shipment column.
    "mail.mailing_link": (
        f"""SELECT DISTINCT {_id("s.shipment_id")} AS mailing_id, {_id("s.link_id")} AS link_id
        FROM {_routed("s_link_customer", "mail.click")}""",
        "the (shipment, link) pairs of the clicks: s_link names no shipment",
    ),
    # A field that a link sets must exist to be set: a missing one is created as text.
    "crm.extra_field": (
        f"""SELECT DISTINCT trim(s.extra_field) AS name, 'text' AS type
        FROM {staged("s_link")} s
        WHERE nullif(trim(s.extra_field), '') IS NOT NULL
          AND trim(s.extra_field) NOT IN (SELECT name FROM crm.extra_field)""",
        "the fields that s_link.extra_field sets and the database lacks, as text fields",
    ),
}
"""Rows no single source row gives: (SQL, where they come from)."""

LOAD_ORDER = (
    "crm.associate", "crm.contact", "crm.person", "crm.interest", "crm.selection", "crm.project",
    "crm.extra_field", "crm.person_interest", "crm.contact_interest", "crm.selection_member",
    "crm.project_member", "mail.mailing", "mail.link", "mail.mailing_link", "mail.recipient",
    "mail.click", "mail.open", "mail.link_event",
)  # fmt: skip
