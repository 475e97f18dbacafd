"""Check the names in definitions against a database: links, mailings, CRM names and field types.

Parsing needs no database; this step does. It gathers every name the definitions use, asks the
database about each kind of name in one parameterised query, and reports all unknown names at
once, each with the closest existing ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from linksim.definitions._owners import TeamOwner
from linksim.definitions._problems import Problem, problem
from linksim.definitions.field_values import value_problem
from linksim.definitions.file import Action, Definitions
from linksim.definitions.follow_up import FollowUpAction
from linksim.definitions.request import RequestAction
from linksim.definitions.response import ResponseAction
from linksim.definitions.state import (
    InterestAction,
    ProjectAction,
    SelectionAction,
    SetFieldAction,
)
from linksim.errors import DefinitionError
from linksim.store.schema import table

__all__ = ["PERSON_COLUMNS", "check_definitions", "find_problems"]

PERSON_COLUMNS: tuple[str, ...] = table("crm.person").column_names
"""The person columns a form may be prefilled with (besides extra fields)."""

# kind -> (what the user calls it, where it lives, the query listing existing names as `name`)
_NAMES: dict[str, tuple[str, str, str]] = {
    "interest": ("interest", "crm.interest", "SELECT name FROM crm.interest"),
    "selection": ("selection", "crm.selection", "SELECT name FROM crm.selection"),
    "project": ("project", "crm.project", "SELECT name FROM crm.project"),
    "field": ("extra field", "crm.extra_field", "SELECT name FROM crm.extra_field"),
    "prefill": (
        "prefill name",
        "the person columns or crm.extra_field",
        "SELECT name FROM crm.extra_field UNION SELECT unnest(?::VARCHAR[])",
    ),
    "team": (
        "team",
        "crm.associate.team",
        "SELECT DISTINCT team AS name FROM crm.associate WHERE team IS NOT NULL",
    ),
    "url": ("link URL", "mail.link", "SELECT DISTINCT url AS name FROM mail.link"),
}
# kind -> (what the user calls it, where it lives, the query listing existing ids as `id`)
_IDS: dict[str, tuple[str, str, str]] = {
    "link": ("link id", "mail.link", "SELECT link_id AS id FROM mail.link"),
    "mailing": ("mailing", "mail.mailing", "SELECT mailing_id AS id FROM mail.mailing"),
    "associate": ("associate id", "crm.associate", "SELECT associate_id AS id FROM crm.associate"),
}
_SOURCE_PARAMS: dict[str, list[Any]] = {"prefill": [list(PERSON_COLUMNS)]}

_UNKNOWN_NAMES = """
WITH existing AS ({source}),
wanted AS (SELECT DISTINCT unnest(?::VARCHAR[]) AS name)
SELECT w.name,
       list(e.name ORDER BY jaro_winkler_similarity(lower(w.name), lower(e.name)) DESC, e.name)
           FILTER (WHERE jaro_winkler_similarity(lower(w.name), lower(e.name)) >= 0.8)
FROM wanted AS w LEFT JOIN existing AS e ON true
WHERE NOT EXISTS (SELECT 1 FROM existing AS x WHERE x.name = w.name)
GROUP BY w.name
"""

_UNKNOWN_IDS = """
WITH existing AS ({source})
SELECT DISTINCT w.id FROM unnest(?::BIGINT[]) AS w(id)
WHERE NOT EXISTS (SELECT 1 FROM existing AS e WHERE e.id = w.id)
"""

_FIELD_TYPES = """
SELECT name, type, options FROM crm.extra_field WHERE name IN (SELECT unnest(?::VARCHAR[]))
"""

_UNUSED_LINKS = """
WITH wanted AS (
    SELECT unnest(?::BIGINT[]) AS mailing_id, unnest(?::BIGINT[]) AS link_id,
           unnest(?::VARCHAR[]) AS url
)
SELECT DISTINCT w.mailing_id, w.link_id, w.url FROM wanted AS w
WHERE NOT EXISTS (
    SELECT 1 FROM mail.mailing_link AS ml JOIN mail.link AS l ON l.link_id = ml.link_id
    WHERE ml.mailing_id = w.mailing_id AND (l.link_id = w.link_id OR l.url = w.url)
)
"""


@dataclass(frozen=True)
class _Ref:
    """One name or id the definitions use, and where."""

    kind: str
    value: Any
    link: int | str
    action: str | None
    field: str


def find_problems(
    defs: Definitions, con: duckdb.DuckDBPyConnection, *, source: str | None = None
) -> list[dict[str, object]]:
    """Every name in ``defs`` that the database lacks, and every value that does not fit.

    Args:
        defs: parsed definitions.
        con: a linksim database (see `linksim.connect`).
        source: the file name to put in each problem.

    Returns:
        Problems in file order, each with ``file``, ``link``, ``action``, ``field``, ``message``
        and ``code`` (``unknown-name``, ``link-not-in-mailing`` or ``type-mismatch``).

    >>> from linksim.definitions.loading import parse_definitions
    >>> from linksim.store.connect import connect
    >>> from linksim.store.query import run
    >>> con = connect(":memory:")
    >>> run(con, "INSERT INTO mail.link VALUES (101, 'https://example.com/p', 'Product')")
    >>> run(con, "INSERT INTO crm.interest VALUES (1, 'Product news')")
    >>> defs = parse_definitions({"version": 1, "links": [{"link": 101, "actions": [
    ...     {"id": "news", "type": "interest", "add": ["Product New"]}]}]})
    >>> [p["message"] for p in find_problems(defs, con)]
    ["unknown interest 'Product New'; did you mean 'Product news'?"]
    """
    refs = list(_references(defs))
    unknown_names = {
        kind: _unknown_names(con, kind, {r.value for r in refs if r.kind == kind})
        for kind in _NAMES
    }
    unknown_ids = {
        kind: _unknown_ids(con, kind, {r.value for r in refs if r.kind == kind}) for kind in _IDS
    }
    fields = _field_types(con, {r.value for r in refs if r.kind == "field"})
    unused = _unused_links(defs, con, unknown_ids["mailing"], unknown_ids["link"], unknown_names)

    problems: list[Problem] = []
    for ref in refs:
        message = _unknown_message(ref, unknown_names, unknown_ids)
        if message:
            problems.append(_at(ref, source, message, "unknown-name"))
        message = _unused_message(ref, unused)
        if message:
            problems.append(_at(ref, source, message, "link-not-in-mailing"))
            problems[-1]["mailings"] = [ref.value]  # the mailing it is about
        if ref.kind == "value" and ref.value[0] in fields:
            name, text = ref.value
            field_type, options = fields[name]
            message = value_problem(name, field_type, options, text)
            if message:
                problems.append(_at(ref, source, message, "type-mismatch"))
    return problems


def check_definitions(
    defs: Definitions, con: duckdb.DuckDBPyConnection, *, source: str | None = None
) -> None:
    """Raise `DefinitionError` listing every problem :func:`find_problems` finds, if any.

    >>> from linksim.definitions.loading import parse_definitions
    >>> from linksim.store.connect import connect
    >>> defs = parse_definitions({"version": 1, "links": [{"link": 101, "actions": [
    ...     {"id": "hot", "type": "selection", "add": ["Hot leads"]}]}]})
    >>> check_definitions(defs, connect(":memory:"), source="defs.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    linksim.errors.DefinitionError: defs.yaml: link 101, field 'link': unknown link id 101: ...
    defs.yaml: link 101, action 'hot', field 'add': unknown selection 'Hot leads': ...
    """
    problems = find_problems(defs, con, source=source)
    if problems:
        raise DefinitionError(problems)


# --- what the definitions name --------------------------------------------------------------------


def _references(defs: Definitions) -> Iterator[_Ref]:
    for entry in defs.links:
        key = entry.key
        if entry.link is not None:
            yield _Ref("link", entry.link, key, None, "link")
        else:
            yield _Ref("url", entry.url, key, None, "url")
        for mailing in entry.mailings or ():
            yield _Ref("mailing", mailing, key, None, "mailings")
        for action in entry.actions:
            for kind, value, field in _action_names(action):
                yield _Ref(kind, value, key, action.id, field)


def _action_names(action: Action) -> Iterator[tuple[str, Any, str]]:
    if isinstance(action, InterestAction | SelectionAction | ProjectAction):
        for name in action.add:
            yield action.type, name, "add"
        for name in action.remove:
            yield action.type, name, "remove"
    elif isinstance(action, SetFieldAction):
        yield "field", action.field, "field"
        yield "value", (action.field, action.value_text), "value"
    elif isinstance(action, FollowUpAction | RequestAction):
        if isinstance(action, FollowUpAction):
            if action.project is not None:
                yield "project", action.project, "project"
            if action.created_by is not None:
                yield "associate", action.created_by, "created_by"
        if isinstance(action.owner, int):
            yield "associate", action.owner, "owner"
        elif isinstance(action.owner, TeamOwner):
            yield "team", action.owner.team, "owner.team"
        if action.fallback is not None:
            yield "associate", action.fallback, "fallback"
    elif isinstance(action, ResponseAction) and action.form is not None:
        for name in action.form.prefill:
            yield "prefill", name, "form.prefill"


# --- what the database has ------------------------------------------------------------------------


def _unknown_names(
    con: duckdb.DuckDBPyConnection, kind: str, wanted: set[str]
) -> dict[str, list[str]]:
    """The wanted names the database lacks, each with up to 3 close existing names."""
    if not wanted:
        return {}
    sql = _UNKNOWN_NAMES.format(source=_NAMES[kind][2])
    params = [*_SOURCE_PARAMS.get(kind, []), sorted(wanted)]
    rows = con.execute(sql, params).fetchall()
    return {name: list(close or [])[:3] for name, close in rows}


def _unknown_ids(con: duckdb.DuckDBPyConnection, kind: str, wanted: set[int]) -> set[int]:
    if not wanted:
        return set()
    sql = _UNKNOWN_IDS.format(source=_IDS[kind][2])
    return {row[0] for row in con.execute(sql, [sorted(wanted)]).fetchall()}


def _field_types(
    con: duckdb.DuckDBPyConnection, names: set[str]
) -> dict[str, tuple[str, list[str] | None]]:
    if not names:
        return {}
    rows = con.execute(_FIELD_TYPES, [sorted(names)]).fetchall()
    return {name: (field_type, options) for name, field_type, options in rows}


def _unused_links(
    defs: Definitions,
    con: duckdb.DuckDBPyConnection,
    unknown_mailings: set[int],
    unknown_links: set[int],
    unknown_names: dict[str, dict[str, list[str]]],
) -> set[tuple[int, int | str]]:
    """(mailing, link key) pairs the definitions name whose mailing does not use the link."""
    pairs = {
        (mailing, entry.link, entry.url)
        for entry in defs.links
        for mailing in entry.mailings or ()
        if mailing not in unknown_mailings
        and entry.link not in unknown_links
        and entry.url not in unknown_names["url"]
    }
    if not pairs:
        return set()
    columns: Sequence[list[Any]] = [list(c) for c in zip(*sorted(pairs, key=str), strict=True)]
    rows = con.execute(_UNUSED_LINKS, columns).fetchall()
    return {(mailing, link if link is not None else url) for mailing, link, url in rows}


# --- what to say ----------------------------------------------------------------------------------


def _unknown_message(
    ref: _Ref, names: dict[str, dict[str, list[str]]], ids: dict[str, set[int]]
) -> str | None:
    if ref.kind in _NAMES and ref.value in names[ref.kind]:
        label, where, _ = _NAMES[ref.kind]
        close = names[ref.kind][ref.value]
        if close:
            return f"unknown {label} {ref.value!r}; did you mean {_either(close)}?"
        return f"unknown {label} {ref.value!r}: no such name in {where}"
    if ref.kind in _IDS and ref.value in ids[ref.kind]:
        label, where, _ = _IDS[ref.kind]
        return f"unknown {label} {ref.value}: no such {label.removesuffix(' id')} in {where}"
    return None


def _unused_message(ref: _Ref, unused: set[tuple[int, int | str]]) -> str | None:
    if ref.kind != "mailing" or (ref.value, ref.link) not in unused:
        return None
    return (
        f"mailing {ref.value} does not use this link (no row in mail.mailing_link), so these "
        f"actions can never fire for it; remove {ref.value} from `mailings` or load the "
        "mailing's links"
    )


def _either(names: list[str]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _at(ref: _Ref, source: str | None, message: str, code: str) -> Problem:
    return problem(source, message, link=ref.link, action=ref.action, field=ref.field, code=code)
