"""Planning helpers: workload against capacity, overflow, owner rules side by side, plots."""

from __future__ import annotations

import datetime as dt

import duckdb
import matplotlib
import pandas as pd
import pytest

import linksim
from linksim import planning
from linksim.errors import UsageError

matplotlib.use("Agg")

MONDAY = dt.datetime(2026, 3, 2, 9, 0)
TUESDAY, WEDNESDAY = dt.date(2026, 3, 3), dt.date(2026, 3, 4)

DEFS = linksim.parse_definitions(
    {
        "version": 1,
        "links": [
            {
                "link": 1,
                "actions": [
                    {"id": "note", "type": "set_field", "field": "stage", "value": "hot"},
                    {
                        "id": "call",
                        "type": "follow_up",
                        "owner": "contact_owner",
                        "fallback": 1,
                        "due": {"business_days": 1, "at": "09:00"},
                    },
                ],
            }
        ],
    }
)


def _load(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, object]]) -> None:
    assert linksim.load(con, table, pd.DataFrame(rows)).quarantined == 0


@pytest.fixture
def world(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Ann (1) owns Acme, whose three people click on Monday; Bo (2) owns Beta, one person.
    Both are in team T with room for 2 appointments a day."""
    _load(con, "crm.associate", [
        {"associate_id": 1, "name": "Ann", "team": "T", "daily_capacity": 2, "timezone": "UTC"},
        {"associate_id": 2, "name": "Bo", "team": "T", "daily_capacity": 2, "timezone": "UTC"},
    ])  # fmt: skip
    _load(con, "crm.contact", [
        {"contact_id": 1, "name": "Acme", "owner_id": 1},
        {"contact_id": 2, "name": "Beta", "owner_id": 2},
    ])  # fmt: skip
    _load(con, "crm.person", [
        {"person_id": p, "contact_id": 1 if p < 4 else 2} for p in (1, 2, 3, 4)
    ])  # fmt: skip
    _load(con, "crm.extra_field", [{"name": "stage", "type": "text", "options": None}])
    _load(con, "mail.mailing", [{"mailing_id": 7, "name": "News", "sent_at": MONDAY}])
    _load(con, "mail.link", [{"link_id": 1, "url": "https://x.example/demo"}])
    _load(con, "mail.mailing_link", [{"mailing_id": 7, "link_id": 1}])
    _load(con, "mail.recipient", [
        {"mailing_id": 7, "person_id": p, "delivered_at": MONDAY} for p in (1, 2, 3, 4)
    ])  # fmt: skip
    _load(con, "mail.click", [
        {"click_id": p, "mailing_id": 7, "link_id": 1, "person_id": p,
         "clicked_at": MONDAY + dt.timedelta(hours=1, minutes=p)} for p in (1, 2, 3, 4)
    ])  # fmt: skip
    return con


def test_workload_and_overflow_of_a_preview(world: duckdb.DuckDBPyConnection) -> None:
    frame = planning.workload(linksim.preview(world, DEFS))
    rows = frame[["owner_id", "day", "follow_ups", "appointments", "over", "load"]]
    assert rows.to_dict("records") == [
        {"owner_id": 1, "day": TUESDAY, "follow_ups": 3, "appointments": 3, "over": 1, "load": 1.5},
        {"owner_id": 2, "day": TUESDAY, "follow_ups": 1, "appointments": 1, "over": 0, "load": 0.5},
    ]
    assert planning.overflow(frame)["owner_id"].tolist() == [1]


def test_owner_rules_side_by_side(world: duckdb.DuckDBPyConnection) -> None:
    rules = planning.owner_rules(DEFS, "call", team="T")
    assert list(rules) == ["contact owner", "balanced team", "next free slot"]
    comparison = planning.compare_owner_rules(world, DEFS, "call", rules)
    summary = comparison.summary().set_index("rule")
    assert summary["follow_ups"].tolist() == [4, 4, 4]
    assert summary["days_over"].tolist() == [1, 0, 0]
    assert summary["over_capacity"].tolist() == [1, 0, 0]
    # the click is at about 10:00 on Monday, the call at 9:00 on Tuesday (or Wednesday)
    assert summary.loc["contact owner", "mean_days_to_due"] == pytest.approx(1.0)
    assert summary.loc["next free slot", "mean_days_to_due"] == pytest.approx(1.2)
    by_owner = comparison.by_owner()
    assert by_owner.to_dict("list") == {
        "contact owner": [3, 1],
        "balanced team": [2, 2],
        "next free slot": [3, 1],
    }
    moved = comparison.workload.query("rule == 'next free slot' and owner_id == 1")
    assert moved[["day", "follow_ups"]].to_dict("records") == [
        {"day": TUESDAY, "follow_ups": 2},
        {"day": WEDNESDAY, "follow_ups": 1},
    ]
    # nothing was written to the CRM
    assert world.execute("SELECT count(*) FROM crm.appointment").fetchall() == [(0,)]
    html = comparison._repr_html_()
    assert "<th>" in html and "balanced team" in html


def test_owner_rules_refuse_what_is_not_a_follow_up(world: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(UsageError, match="'note' is a set_field, not a follow_up"):
        planning.compare_owner_rules(world, DEFS, "note", {"x": {"owner": 2}})
    with pytest.raises(UsageError, match="no action 'nope'"):
        planning.owner_rules(DEFS, "nope", team="T")
    with pytest.raises(UsageError, match="at least one rule"):
        planning.compare_owner_rules(world, DEFS, "call", {})


def test_plots_are_titled_and_labelled(world: duckdb.DuckDBPyConnection) -> None:
    comparison = planning.compare_owner_rules(
        world, DEFS, "call", planning.owner_rules(DEFS, "call", team="T")
    )
    frame = comparison.workload.query("rule == 'contact owner'")
    figures = [
        comparison.plot(),
        planning.plot_calendar(frame),
        planning.plot_calendar(frame, owner=2, value="appointments"),
        planning.plot_workload(frame),
    ]
    for figure in figures:
        ax = figure.axes[0]
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    calendar = figures[1].axes[0]
    assert calendar.get_title() == "Follow-ups per day, all owners"
    over = calendar.collections[0].get_offsets().tolist()
    assert over == [[0, 1]]  # Tuesday of the first week
    with pytest.raises(UsageError, match="no workload"):
        planning.plot_calendar(frame, owner=99)


def test_the_comparison_counts_the_compared_action_only(world: duckdb.DuckDBPyConnection) -> None:
    spec = DEFS.model_dump(mode="json")
    spec["links"][0]["actions"].append(
        {"id": "meet", "type": "follow_up", "kind": "meeting", "owner": 2}
    )
    both = linksim.parse_definitions(spec)
    comparison = planning.compare_owner_rules(
        world, both, "call", planning.owner_rules(both, "call", team="T")
    )
    summary = comparison.summary().set_index("rule")
    assert summary["follow_ups"].tolist() == [4, 4, 4]  # not the 4 meetings of Bo
    assert comparison.by_owner()["contact owner"].tolist() == [3, 1]
    # capacity is about every appointment: Bo's 4 meetings and his call fill his Tuesday
    assert summary.loc["contact owner", "max_per_day"] == 5
