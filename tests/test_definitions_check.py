"""Definitions checked against a database (linksim/definitions/check.py)."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from linksim.definitions import (
    Definitions,
    check_definitions,
    find_problems,
    parse_definitions,
)
from linksim.errors import DefinitionError
from linksim.store.query import fetch_value, run

ROWS: dict[str, list[tuple[Any, ...]]] = {
    "crm.associate": [(3, "Ann", "Sales", 5, "UTC"), (4, "Bo", "Support", None, "UTC")],
    "crm.interest": [(1, "Product news"), (2, "Product updates"), (3, "Events")],
    "crm.selection": [(1, "Hot leads"), (2, "Cold")],
    "crm.project": [(1, "Launch 2026")],
    "crm.extra_field": [
        ("last_cta", "text", None),
        ("employees", "integer", None),
        ("revenue", "decimal", None),
        ("renewal", "date", None),
        ("newsletter", "boolean", None),
        ("tier", "list", ["gold", "silver"]),
    ],
    "mail.mailing": [(7, "Spring", None), (8, "Summer", None), (9, "Autumn", None)],
    "mail.link": [
        (101, "https://example.com/p", "Product"),
        (102, "https://example.com/form", "Form"),
    ],
    "mail.mailing_link": [(7, 101), (8, 101), (7, 102), (9, 102)],
}


@pytest.fixture
def db(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The empty test database with a few CRM names, mailings and links."""
    for table, rows in ROWS.items():
        marks = ", ".join("?" * len(rows[0]))
        for row in rows:
            run(con, f"INSERT INTO {table} VALUES ({marks})", list(row))
    return con


def good() -> dict[str, Any]:
    """Definitions that name only what `db` has."""
    return {
        "version": 1,
        "links": [
            {
                "link": 101,
                "mailings": [7, 8],
                "actions": [
                    {"id": "news", "type": "interest", "remove": ["Product news", "Events"]},
                    {"id": "cta", "type": "set_field", "field": "last_cta", "value": "product"},
                    {"id": "tier", "type": "set_field", "field": "tier", "value": "gold"},
                    {"id": "clear", "type": "set_field", "field": "employees", "value": None},
                    {"id": "hot", "type": "selection", "add": ["Hot leads"], "remove": ["Cold"]},
                    {"id": "launch", "type": "project", "add": ["Launch 2026"]},
                    {
                        "id": "call",
                        "type": "follow_up",
                        "project": "Launch 2026",
                        "created_by": 3,
                        "owner": "contact_owner",
                        "fallback": 4,
                    },
                    {"id": "team", "type": "follow_up", "owner": {"team": "Sales"}},
                    {"id": "ticket", "type": "request", "title": "Hi", "owner": 4},
                ],
            },
            {
                "url": "https://example.com/form",
                "mailings": [9],
                "actions": [
                    {
                        "id": "form",
                        "type": "response",
                        "form": {"form_id": "f", "prefill": ["email", "first_name", "tier"]},
                    }
                ],
            },
        ],
    }  # fmt: skip


def with_action(action: dict[str, Any], **link: Any) -> Definitions:
    """`good()` with one more action on link 101 (and the link's keys changed)."""
    data = good()
    data["links"][0]["actions"].append({"id": "new", **action})
    data["links"][0].update(link)
    return parse_definitions(data)


def test_good_definitions_have_no_problems(db: duckdb.DuckDBPyConnection) -> None:
    defs = parse_definitions(good())
    assert find_problems(defs, db) == []
    assert check_definitions(defs, db) is None


ACTION_CASES = [  # id, the added action, field, message fragment
    ("interest close", {"type": "interest", "add": ["Product New"]}, "add",
     "unknown interest 'Product New'; did you mean 'Product news' or 'Product updates'?"),
    ("interest case", {"type": "interest", "remove": ["events"]}, "remove",
     "unknown interest 'events'; did you mean 'Events'?"),
    ("selection", {"type": "selection", "add": ["Hot lead"]}, "add",
     "unknown selection 'Hot lead'; did you mean 'Hot leads'?"),
    ("project far", {"type": "project", "remove": ["Zebra"]}, "remove",
     "unknown project 'Zebra': no such name in crm.project"),
    ("follow-up project", {"type": "follow_up", "owner": 3, "project": "Launch 2025"}, "project",
     "unknown project 'Launch 2025'; did you mean 'Launch 2026'?"),
    ("field", {"type": "set_field", "field": "last_ct", "value": "x"}, "field",
     "unknown extra field 'last_ct'; did you mean 'last_cta'?"),
    ("owner", {"type": "follow_up", "owner": 99}, "owner",
     "unknown associate id 99: no such associate in crm.associate"),
    ("fallback", {"type": "follow_up", "owner": "contact_owner", "fallback": 98}, "fallback",
     "unknown associate id 98"),
    ("created_by", {"type": "follow_up", "owner": 3, "created_by": 97}, "created_by",
     "unknown associate id 97"),
    ("request owner", {"type": "request", "title": "T", "owner": 96}, "owner",
     "unknown associate id 96"),
    ("request fallback", {"type": "request", "title": "T", "owner": "contact_owner",
                          "fallback": 95}, "fallback", "unknown associate id 95"),
    ("team", {"type": "follow_up", "owner": {"team": "Sale"}}, "owner.team",
     "unknown team 'Sale'; did you mean 'Sales'?"),
    ("request team", {"type": "request", "title": "T", "owner": {"team": "Marketing"}},
     "owner.team", "unknown team 'Marketing': no such name in crm.associate.team"),
    ("prefill", {"type": "response", "form": {"form_id": "f", "prefill": ["emial"]}},
     "form.prefill", "unknown prefill name 'emial'; did you mean 'email'?"),
    ("prefill field", {"type": "response", "form": {"form_id": "f", "prefill": ["tire"]}},
     "form.prefill", "did you mean 'tier'?"),
    ("integer", {"type": "set_field", "field": "employees", "value": "many"}, "value",
     "field 'employees' has type integer: expected a whole number such as 42; found 'many'"),
    ("decimal", {"type": "set_field", "field": "revenue", "value": "1,5"}, "value",
     "expected a number such as 12.50; found '1,5'"),
    ("date", {"type": "set_field", "field": "renewal", "value": "2026-02-30"}, "value",
     "expected a date as YYYY-MM-DD, such as 2026-03-31; found '2026-02-30'"),
    ("boolean", {"type": "set_field", "field": "newsletter", "value": "yes"}, "value",
     "expected true or false; found 'yes'"),
    ("list", {"type": "set_field", "field": "tier", "value": "gld"}, "value",
     "expected one of 'gold', 'silver'; found 'gld'; did you mean 'gold'?"),
    ("number for integer", {"type": "set_field", "field": "employees", "value": 2.5}, "value",
     "found '2.5'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("action", "field", "message"), [c[1:] for c in ACTION_CASES], ids=[c[0] for c in ACTION_CASES]
)
def test_unknown_names_and_unfit_values(
    db: duckdb.DuckDBPyConnection, action: dict[str, Any], field: str, message: str
) -> None:
    problems = find_problems(with_action(action), db, source="d.yaml")
    assert len(problems) == 1, problems
    (problem,) = problems
    assert message in str(problem["message"])
    assert (problem["file"], problem["link"], problem["action"], problem["field"]) == (
        "d.yaml",
        101,
        "new",
        field,
    )


LINK_CASES = [  # id, changes to link 101, field, link label, message fragment
    ("link id", {"link": 999, "mailings": None}, "link", 999,
     "unknown link id 999: no such link in mail.link"),
    ("link url", {"link": None, "url": "https://example.com/P", "mailings": None}, "url",
     "https://example.com/P",
     "unknown link URL 'https://example.com/P'; did you mean 'https://example.com/p'"),
    ("mailing", {"mailings": [7, 70]}, "mailings", 101,
     "unknown mailing 70: no such mailing in mail.mailing"),
    ("mailing without the link", {"mailings": [9]}, "mailings", 101,
     "mailing 9 does not use this link (no row in mail.mailing_link)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field", "link", "message"),
    [c[1:] for c in LINK_CASES],
    ids=[c[0] for c in LINK_CASES],
)
def test_unknown_links_and_mailings(
    db: duckdb.DuckDBPyConnection, changes: dict[str, Any], field: str, link: object, message: str
) -> None:
    problems = find_problems(with_action({"type": "interest", "add": ["Events"]}, **changes), db)
    assert len(problems) == 1, problems
    (problem,) = problems
    assert message in str(problem["message"])
    assert (problem["link"], problem["action"], problem["field"]) == (link, None, field)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("employees", 12),
        ("employees", "-3"),
        ("revenue", 12.5),
        ("revenue", "100"),
        ("renewal", "2026-03-31"),
        ("newsletter", True),
        ("newsletter", "false"),
        ("tier", "silver"),
        ("last_cta", 42),
        ("renewal", None),
    ],
)
def test_values_that_fit(db: duckdb.DuckDBPyConnection, field: str, value: Any) -> None:
    defs = with_action({"type": "set_field", "field": field, "value": value})
    assert find_problems(defs, db) == []


def test_a_link_by_url_used_by_its_mailing_is_fine(db: duckdb.DuckDBPyConnection) -> None:
    defs = with_action(
        {"type": "interest", "add": ["Events"]},
        link=None,
        url="https://example.com/form",
        mailings=[7, 9],
    )
    assert find_problems(defs, db) == []


def test_an_empty_database_reports_everything_in_file_order(con: duckdb.DuckDBPyConnection) -> None:
    problems = find_problems(parse_definitions(good()), con)
    places = [(p["link"], p["action"], p["field"]) for p in problems]
    assert places[:4] == [
        (101, None, "link"),
        (101, None, "mailings"),
        (101, None, "mailings"),
        (101, "news", "remove"),
    ]
    assert ("https://example.com/form", "form", "form.prefill") in places
    prefill = [p for p in problems if p["field"] == "form.prefill"]
    assert [p["message"] for p in prefill] == [
        "unknown prefill name 'tier': no such name in the person columns or crm.extra_field"
    ]  # email and first_name are person columns


def test_check_definitions_raises_with_every_problem(db: duckdb.DuckDBPyConnection) -> None:
    defs = with_action({"type": "interest", "add": ["Nope", "Product New"]})
    with pytest.raises(DefinitionError) as info:
        check_definitions(defs, db, source="d.yaml")
    assert [p["message"] for p in info.value.problems] == [
        "unknown interest 'Nope': no such name in crm.interest",
        "unknown interest 'Product New'; did you mean 'Product news' or 'Product updates'?",
    ]
    assert str(info.value).splitlines()[0] == (
        "d.yaml: link 101, action 'new', field 'add': unknown interest 'Nope': no such name in "
        "crm.interest"
    )


def test_names_are_parameters_not_sql(db: duckdb.DuckDBPyConnection) -> None:
    evil = "x'); DROP TABLE crm.interest; --"
    defs = with_action({"type": "interest", "add": [evil, "O'Brien"]})
    messages = [p["message"] for p in find_problems(defs, db)]
    assert messages == [
        f"unknown interest {evil!r}: no such name in crm.interest",
        'unknown interest "O\'Brien": no such name in crm.interest',
    ]
    assert fetch_value(db, "SELECT count(*) FROM crm.interest") == 3


class CountingConnection:
    """A connection that counts the statements run through it."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements = 0

    def execute(self, sql: str, params: Any = None) -> Any:
        self.statements += 1
        return self.con.execute(sql, params)


def test_one_query_per_kind_of_name_not_per_action(db: duckdb.DuckDBPyConnection) -> None:
    def count(actions: int) -> int:
        data = good()
        data["links"][0]["actions"] += [
            {"id": f"i{n}", "type": "interest", "add": [f"Interest {n}"], "remove": ["Events"]}
            for n in range(actions)
        ]
        counting = CountingConnection(db)
        find_problems(parse_definitions(data), counting)  # type: ignore[arg-type]
        return counting.statements

    assert count(1) == count(200) <= 12
