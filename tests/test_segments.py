"""Segmentation helpers: who clicked, engagement segments, cross-tabs — on a hand-made world."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

import linksim
from linksim.errors import UsageError
from linksim.segments import clickers, crosstab, engagement, links, save_selection

T0 = dt.datetime(2026, 3, 2, 9, 0)
DAY = dt.timedelta(days=1)


def _load(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, object]]) -> None:
    assert linksim.load(con, table, pd.DataFrame(rows)).quarantined == 0


@pytest.fixture
def world(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    _load(con, "crm.contact", [
        {"contact_id": 1, "name": "Acme", "category": "Customer", "country": "Norway"},
        {"contact_id": 2, "name": "Beta", "category": "Prospect", "country": "Sweden"},
    ])  # fmt: skip
    _load(con, "crm.person", [
        {"person_id": 1, "contact_id": 1, "first_name": "Ann"},
        {"person_id": 2, "contact_id": 1, "first_name": "Bo"},
        {"person_id": 3, "contact_id": 2, "first_name": "Cy"},
    ])  # fmt: skip
    _load(con, "crm.extra_field", [{"name": "role", "type": "text", "options": None}])
    _load(
        con, "crm.person_field", [{"person_id": 1, "field": "role", "value": "CTO", "set_at": T0}]
    )
    _load(con, "mail.mailing", [{"mailing_id": m, "name": f"M{m}", "sent_at": T0} for m in (7, 8)])
    _load(con, "mail.link", [{"link_id": k, "url": f"https://x.example/{k}"} for k in (1, 2)])
    _load(con, "mail.mailing_link", [
        {"mailing_id": m, "link_id": k} for m in (7, 8) for k in (1, 2)
    ])  # fmt: skip
    _load(con, "mail.recipient", [
        {"mailing_id": m, "person_id": p, "delivered_at": T0} for m in (7, 8) for p in (1, 2, 3)
    ])  # fmt: skip
    clicks = [
        # Ann: 5 clicks over two mailings, the last 100 days ago -> lapsed / frequent
        *({"click_id": i, "mailing_id": 7 + i % 2, "link_id": 1 + i % 2, "person_id": 1,
           "clicked_at": T0 + i * DAY} for i in range(1, 6)),
        # Bo: one click 100 days after the send (the newest of all) -> active / one-off
        {"click_id": 10, "mailing_id": 7, "link_id": 1, "person_id": 2,
         "clicked_at": T0 + 105 * DAY},
        # Cy: a scanner 2 s after delivery (a bot), and two clicks 60 days before the newest
        {"click_id": 20, "mailing_id": 8, "link_id": 2, "person_id": 3,
         "clicked_at": T0 + dt.timedelta(seconds=2)},
        {"click_id": 21, "mailing_id": 8, "link_id": 2, "person_id": 3,
         "clicked_at": T0 + 45 * DAY},
        {"click_id": 22, "mailing_id": 8, "link_id": 1, "person_id": 3,
         "clicked_at": T0 + 45 * DAY + dt.timedelta(minutes=5)},
    ]  # fmt: skip
    _load(con, "mail.click", clicks)
    return con


def test_clickers_count_eligible_clicks_per_person(world: duckdb.DuckDBPyConnection) -> None:
    people = clickers(world, fields=["role"]).set_index("person_id")
    assert people.loc[1, ["clicks", "links", "mailings"]].tolist() == [5, 2, 2]
    assert people.loc[3, "clicks"] == 2  # the scanner's click is not counted
    assert people.loc[1, "role"] == "CTO" and pd.isna(people.loc[2, "role"])
    assert people.loc[3, "category"] == "Prospect"
    only_8 = clickers(world, mailing=8).set_index("person_id")
    assert sorted(only_8.index) == [1, 3] and only_8.loc[1, "clicks"] == 3  # i = 1, 3, 5


def test_links_count_who_clicked_what(world: duckdb.DuckDBPyConnection) -> None:
    table = links(world)[["mailing_id", "link_id", "clicks", "people", "click_rate", "bot_clicks"]]
    assert sorted(table.itertuples(index=False, name=None)) == [
        (7, 1, 3, 2, 0.6667, 0),  # Ann twice, Bo once
        (8, 1, 1, 1, 0.3333, 0),  # Cy
        (8, 2, 4, 2, 0.6667, 1),  # Ann three times, Cy once; the scanner apart
    ]
    assert links(world, mailing=7)["mailing"].tolist() == ["M7"]


def test_engagement_segments_and_crosstab(world: duckdb.DuckDBPyConnection) -> None:
    people = engagement(clickers(world)).set_index("person_id")
    assert people.loc[1, "segment"] == "lapsed / frequent"
    assert people.loc[2, "segment"] == "active / one-off"
    assert people.loc[3, "segment"] == "cooling / repeat"
    table = crosstab(people.reset_index(), "category")
    assert table.loc["Customer"].sum() == 2 and table.loc["Prospect", "cooling / repeat"] == 1
    shares = crosstab(people.reset_index(), "category", share=True)
    assert shares.loc["Customer"].sum() == pytest.approx(1.0)
    with pytest.raises(UsageError, match="no such column"):
        crosstab(people, "shoe_size")
    with pytest.raises(UsageError, match="not an extra field"):
        clickers(world, fields=["shoe_size"])


def test_a_segment_saved_as_a_selection_goes_through_the_change_log_and_undoes(
    world: duckdb.DuckDBPyConnection,
) -> None:
    _load(world, "crm.selection", [{"selection_id": 4, "name": "Newsletter"}])
    _load(world, "crm.selection_member", [{"selection_id": 4, "person_id": 2, "since": T0}])
    people = engagement(clickers(world))
    frequent = people[people["frequency"] != "one-off"]  # Ann and Cy
    saved = save_selection(world, frequent, "Engaged")
    assert (saved.created, saved.added, saved.already) == (True, 2, 0)
    members = "SELECT person_id FROM crm.selection_member WHERE selection_id = ? ORDER BY 1"
    assert world.execute(members, [saved.selection_id]).fetchall() == [(1,), (3,)]
    log = world.execute(
        "SELECT person_id, target_kind, target, old_value, new_value, cause FROM linksim.change "
        "WHERE run_id = ? ORDER BY person_id",
        [saved.run_id],
    ).fetchall()
    assert log == [
        (1, "selection", "Engaged", None, "member", "saved segment"),
        (3, "selection", "Engaged", None, "member", "saved segment"),
    ]
    assert world.execute(
        "SELECT mode, status FROM linksim.run WHERE run_id = ?", [saved.run_id]
    ).fetchall() == [("segment", "ok")]
    # into an existing selection: who is in stays, with the date they joined
    again = save_selection(world, [1, 2, 2], "Newsletter", create=False)
    assert (again.created, again.added, again.already) == (False, 1, 1)
    assert world.execute(members, [4]).fetchall() == [(1,), (2,)]
    assert world.execute(
        "SELECT since FROM crm.selection_member WHERE selection_id = 4 AND person_id = 2"
    ).fetchall() == [(T0,)]
    # undo takes back exactly what each save added
    linksim.undo(world, again.run_id)
    assert world.execute(members, [4]).fetchall() == [(2,)]
    linksim.undo(world, saved.run_id)
    assert world.execute(members, [saved.selection_id]).fetchall() == []


def test_saving_a_segment_refuses_unknown_people_and_names(
    world: duckdb.DuckDBPyConnection,
) -> None:
    before = world.execute("SELECT count(*) FROM linksim.run").fetchall()
    with pytest.raises(UsageError, match=r"2 person ids are not in crm\.person"):
        save_selection(world, [1, 98, 99], "Engaged")
    with pytest.raises(UsageError, match="no person_id column"):
        save_selection(world, pd.DataFrame({"id": [1]}), "Engaged")
    with pytest.raises(UsageError, match="whole numbers; found 'x'"):
        save_selection(world, [1, "x"], "Engaged")
    with pytest.raises(UsageError, match="no people to save as 'Engaged'"):
        save_selection(world, pd.DataFrame({"person_id": []}), "Engaged")
    with pytest.raises(UsageError, match="no selection named 'Engaged'"):
        save_selection(world, [1], "Engaged", create=False)
    # nothing was written: no run, no selection
    assert world.execute("SELECT count(*) FROM linksim.run").fetchall() == before
    assert world.execute("SELECT count(*) FROM crm.selection").fetchall() == [(0,)]
    shown = save_selection(world, [1], "<b>VIP</b>")._repr_html_()
    assert "&lt;b&gt;VIP&lt;/b&gt;" in shown and "<b>" not in shown
