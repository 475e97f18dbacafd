"""The loader's per-row rules, derived from the declared schema: how a value is cast, and why a row
is refused.

Everything here returns SQL *text* built only from declared names (checked by :func:`ident`) and
constant literals; values from the input never appear in it. The checks read a relation aliased
``s`` whose columns are ``_in_<name>`` (the input value as given, for the columns the input has)
and ``<name>`` (the value cast to the declared type, for every declared column: NULL or the
default where the input lacks it).

A row gets the reason of the first rule it breaks, in this order: per column in declared order
(missing, not castable, below the minimum, not an allowed value, too long, in the future), then per
column its reference, then the table's own rules (:data:`TABLE_RULES`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from linksim.store.schema import Column, Table

__all__ = [
    "FUTURE",
    "MAX_TEXT",
    "TABLE_RULES",
    "Check",
    "accepts",
    "cast_sql",
    "checks",
    "col",
    "family",
    "ident",
    "input_sql",
    "literal",
    "qualified",
]

MAX_TEXT = 10_000
"""The longest text value (in characters) a VARCHAR column accepts."""

FUTURE = "$1"
"""The one parameter the checks may use: the latest timestamp that is not "in the future"."""

_IDENT = re.compile(r"[a-z_][a-z0-9_]*")
_WHOLE = r"\s*[+-]?[0-9]+\s*"


@dataclass(frozen=True)
class Check:
    """One rule: a SQL condition that is true for a bad row, and the reason recorded for it."""

    condition: str
    reason: str


def ident(name: str) -> str:
    """Quote a declared identifier; anything that is not a plain lower-case name is refused.

    >>> ident("click_id")
    '"click_id"'
    """
    if not _IDENT.fullmatch(name):
        raise ValueError(f"not a declared identifier: {name!r}")
    return f'"{name}"'


def qualified(name: str) -> str:
    """Quote a declared ``schema.table`` name.

    >>> qualified("mail.click")
    '"mail"."click"'
    """
    return ".".join(ident(part) for part in name.split("."))


def literal(value: str) -> str:
    """A SQL string literal for a constant of this module or of the schema (never for input).

    >>> literal("it's")
    "'it''s'"
    """
    return "'" + value.replace("'", "''") + "'"


def family(duck_type: str) -> str:
    """The family of a DuckDB type, as far as casting to a declared type is concerned.

    >>> family("TIMESTAMP WITH TIME ZONE"), family("DECIMAL(18,3)"), family("VARCHAR[]")
    ('timestamp', 'float', 'list')
    """
    t = duck_type.upper().strip('"')
    if t.endswith("]") or t.startswith("LIST"):
        return "list"
    if t.startswith(("STRUCT", "MAP", "UNION")):
        return "other"
    if t in ("VARCHAR", "JSON") or t.startswith(("VARCHAR", "STRING", "TEXT")):
        return "text"
    if re.fullmatch(r"U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|INT\d*|UINT\d*", t):
        return "integer"
    if t in ("DOUBLE", "FLOAT", "REAL") or t.startswith("DECIMAL"):
        return "float"
    if t.startswith("TIMESTAMP") or t == "DATE":
        return "timestamp"
    if t == "NULL":
        return "null"
    return "other"


# target type -> source families it can be cast from (anything else is a whole-input error)
_ACCEPTS = {
    "BIGINT": {"text", "integer", "float", "null"},
    "INTEGER": {"text", "integer", "float", "null"},
    "TIMESTAMP": {"text", "timestamp", "null"},
    "VARCHAR[]": {"text", "list", "null"},
}


def accepts(column: Column, duck_type: str) -> bool:
    """Whether a source column of this DuckDB type can be cast to the declared column.

    >>> from linksim.store.schema import table
    >>> accepts(table("mail.click").column("clicked_at"), "BOOLEAN")
    False
    """
    allowed = _ACCEPTS.get(column.type)
    return allowed is None or family(duck_type) in allowed


def input_sql(duck_type: str, expr: str) -> str:
    """The input value ``expr`` as given, except that an empty or blank text is NULL.

    >>> input_sql("VARCHAR", "#5")
    "CASE WHEN trim(#5) = '' THEN NULL ELSE #5 END"
    """
    if family(duck_type) == "text":
        text = expr if duck_type.upper() == "VARCHAR" else f"CAST({expr} AS VARCHAR)"
        return f"CASE WHEN trim({text}) = '' THEN NULL ELSE {text} END"
    return expr


def cast_sql(column: Column, duck_type: str) -> str:
    """SQL casting ``_in_<name>`` (of ``duck_type``) to the declared type; NULL where it cannot.

    Typed input is cast directly (a no-op when the type is already right), text is parsed: whole
    numbers only for integers, timestamps through TIMESTAMPTZ so that an offset converts to UTC.

    >>> from linksim.store.schema import table
    >>> print(cast_sql(table("mail.click").column("click_id"), "BIGINT"))
    TRY_CAST("_in_click_id" AS BIGINT)
    >>> "TIMESTAMPTZ" in cast_sql(table("mail.click").column("clicked_at"), "VARCHAR")
    True
    """
    x = ident(f"_in_{column.name}")
    fam = family(duck_type)
    target = column.type
    if target in ("BIGINT", "INTEGER"):
        if fam == "text":
            whole = f"regexp_full_match({x}, {literal(_WHOLE)})"
            expr = f"CASE WHEN {whole} THEN TRY_CAST(trim({x}) AS {target}) END"
        elif fam == "float":
            expr = f"CASE WHEN {x} = trunc({x}) THEN TRY_CAST({x} AS {target}) END"
        else:
            expr = f"TRY_CAST({x} AS {target})"
    elif target == "TIMESTAMP":
        if fam == "text":
            parsed = f"TRY_CAST(TRY_CAST(trim({x}) AS TIMESTAMPTZ) AS TIMESTAMP)"
        else:  # TIMESTAMPTZ converts to UTC: a load runs with the session time zone UTC
            parsed = f"TRY_CAST({x} AS TIMESTAMP)"
        expr = f"CASE WHEN isfinite({parsed}) THEN {parsed} END"  # refuses "infinity"
    elif target == "VARCHAR[]" and fam == "text":
        expr = f"TRY_CAST(TRY_CAST({x} AS JSON) AS VARCHAR[])"
    elif target == "VARCHAR":
        expr = x if fam == "text" else f"CAST({x} AS VARCHAR)"
    else:
        expr = f"TRY_CAST({x} AS {target})"
    if column.default is not None:
        expr = f"CASE WHEN {x} IS NULL THEN CAST({column.default} AS {target}) ELSE {expr} END"
    return expr


def col(name: str) -> str:
    """A column of the checked relation ``s``.

    >>> col("person_id")
    's."person_id"'
    """
    return f"s.{ident(name)}"


def _not_castable(column: Column) -> str | None:
    return {
        "BIGINT": "is not a whole number",
        "INTEGER": "is not a whole number",
        "TIMESTAMP": "is not a timestamp",
        "VARCHAR[]": "is not a JSON array of texts",
        "VARCHAR": None,  # everything has a text form
    }.get(column.type, f"is not a valid {column.type}")


def _column_checks(t: Table, column: Column) -> list[Check]:
    name = column.name
    x, v = col(f"_in_{name}"), col(name)
    out = []
    if not column.nullable and column.default is None:
        out.append(Check(f"{x} IS NULL", f"{name} is missing"))
    not_castable = _not_castable(column)
    if not_castable:
        out.append(Check(f"{x} IS NOT NULL AND {v} IS NULL", f"{name} {not_castable}"))
    if column.min_value is not None:
        bound = int(column.min_value)
        text = "is negative" if bound == 0 else f"is below {bound}"
        out.append(Check(f"{v} < {bound}", f"{name} {text}"))
    if column.one_of:
        allowed = ", ".join(literal(a) for a in column.one_of)
        reason = f"{name} is not one of: {', '.join(column.one_of)}"
        out.append(Check(f"{v} NOT IN ({allowed})", reason))
    if column.type == "VARCHAR":
        reason = f"{name} is longer than {MAX_TEXT:,} characters"
        out.append(Check(f"length({v}) > {MAX_TEXT}", reason))
    if column.type == "TIMESTAMP" and not column.may_be_future:
        out.append(Check(f"{v} > {FUTURE}", f"{name} is in the future"))
    return out


def _reference_check(column: Column) -> Check:
    assert column.references is not None
    ref_table, ref_column = column.references.rsplit(".", 1)
    noun = ref_table.split(".")[1].replace("_", " ")
    # "unknown person" for person_id, "unknown associate in owner_id" where the name says less
    plain = column.name in (ref_column, ref_table.split(".")[1].removeprefix("extra_"))
    reason = f"unknown {noun}" if plain else f"unknown {noun} in {column.name}"
    v = col(column.name)
    exists = f"SELECT 1 FROM {qualified(ref_table)} r WHERE r.{ident(ref_column)} = {v}"
    return Check(f"{v} IS NOT NULL AND NOT EXISTS ({exists})", reason)


# --- the rules of single tables ----------------------------------------------------------------

_SENT = "(SELECT m.sent_at FROM mail.mailing m WHERE m.mailing_id = s.mailing_id)"
_HAS_RECIPIENTS = "s.mailing_id IN (SELECT DISTINCT r.mailing_id FROM mail.recipient r)"
_IS_RECIPIENT = (
    "EXISTS (SELECT 1 FROM mail.recipient r "
    "WHERE r.mailing_id = s.mailing_id AND r.person_id = s.person_id)"
)


def _event_checks(at: str, verb: str) -> list[Check]:
    return [
        Check(f"{_SENT} IS NULL", "mailing was not sent"),
        Check(f"{col(at)} < {_SENT}", f"{verb} before the mailing was sent"),
        Check(
            f"{_HAS_RECIPIENTS} AND NOT {_IS_RECIPIENT}",
            "person is not a recipient of this mailing",
        ),
    ]


def _field_check(kind: str, bad: str, reason: str) -> Check:
    field_type = "(SELECT f.type FROM crm.extra_field f WHERE f.name = s.field)"
    return Check(f"s.value IS NOT NULL AND {field_type} = {literal(kind)} AND {bad}", reason)


_OPTIONS = "(SELECT f.options FROM crm.extra_field f WHERE f.name = s.field)"

TABLE_RULES: dict[str, tuple[Check, ...]] = {
    "mail.click": (
        Check(
            "NOT EXISTS (SELECT 1 FROM mail.mailing_link ml "
            "WHERE ml.mailing_id = s.mailing_id AND ml.link_id = s.link_id)",
            "link is not used by this mailing",
        ),
        *_event_checks("clicked_at", "clicked"),
    ),
    "mail.open": tuple(_event_checks("opened_at", "opened")),
    "mail.link_event": tuple(_event_checks("occurred_at", "occurred")),
    "crm.person_field": (
        _field_check(
            "integer",
            f"NOT regexp_full_match(s.value, {literal(_WHOLE)})",
            "value is not a whole number (field type integer)",
        ),
        _field_check(
            "decimal",
            "NOT coalesce(isfinite(TRY_CAST(trim(s.value) AS DOUBLE)), false)",
            "value is not a number (field type decimal)",
        ),
        _field_check(
            "date",
            "TRY_CAST(trim(s.value) AS DATE) IS NULL",
            "value is not a date (field type date)",
        ),
        _field_check(
            "boolean",
            "TRY_CAST(trim(s.value) AS BOOLEAN) IS NULL",
            "value is not true or false (field type boolean)",
        ),
        _field_check(
            "list",
            f"NOT coalesce(list_contains({_OPTIONS}, s.value), false)",
            "value is not one of the field's options (field type list)",
        ),
    ),
    "crm.extra_field": (
        Check("s.type = 'list' AND coalesce(len(s.options), 0) = 0", "a list field needs options"),
    ),
    "crm.associate": (
        Check(
            "s.timezone NOT IN (SELECT z.name FROM pg_timezone_names() z)",
            "timezone is not a known IANA time zone",
        ),
    ),
}
"""Rules of single tables that the column declarations cannot express (SPEC §4.1 for clicks)."""


def checks(t: Table, supplied: dict[str, str]) -> list[Check]:
    """Every rule for a row of ``t``, in the order they are tried.

    Args:
        t: the declared target table.
        supplied: the input's columns, declared name -> DuckDB type.

    >>> from linksim.store.schema import table
    >>> for c in checks(table("crm.interest"), {"interest_id": "VARCHAR", "name": "VARCHAR"}):
    ...     print(c.reason)
    interest_id is missing
    interest_id is not a whole number
    interest_id is negative
    name is missing
    name is longer than 10,000 characters
    """
    columns = [c for c in t.columns if c.name in supplied]
    out: list[Check] = []
    for column in columns:
        out.extend(_column_checks(t, column))
    out.extend(_reference_check(c) for c in columns if c.references)
    out.extend(TABLE_RULES.get(t.name, ()))
    return out
