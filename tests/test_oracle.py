"""Tests of the reference replay in tests/oracle.py on its own, so that it can be trusted.

Small hand-written worlds, each checking one sentence of docs/SEMANTICS.md, and two properties of
the replay itself (re-running changes nothing; batches end as one pass).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linksim.definitions import parse_definitions
from tests.oracle import replay, snapshot, store
from tests.strategies import SCRIPTS, World, fixed_tables, new_database, worlds_and_definitions

THU = dt.datetime(2026, 3, 5, 10, 0)  # a Thursday, 10:00 UTC
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def world(**extra: list[dict[str, Any]]) -> World:
    """Associate 1 (UTC, unlimited), contact 1 owned by 1, person 1 (of contact 1) and person 2
    (no contact), mailings 1 and 2 sharing link 1, link 2 in mailing 1; plus ``extra`` tables."""
    w = fixed_tables()
    w["crm.associate"] = [{"associate_id": 1, "name": "Ada", "timezone": "UTC"}]
    w["crm.contact"] = [{"contact_id": 1, "name": "O'Neil & Sons", "owner_id": 1}]
    w["crm.person"] = [
        {"person_id": 1, "contact_id": 1, "first_name": "Bo & <Co>", "last_name": "Lee"},
        {"person_id": 2, "contact_id": None, "first_name": "Eve", "last_name": None},
    ]
    w["mail.mailing"] = [
        {"mailing_id": 1, "name": "March", "sent_at": THU - DAY},
        {"mailing_id": 2, "name": "April", "sent_at": THU - DAY},
    ]
    w["mail.link"] = [
        {"link_id": 1, "url": "https://ex.com/a", "name": "A"},
        {"link_id": 2, "url": "https://ex.com/b", "name": "B"},
    ]
    w["mail.mailing_link"] = [
        {"mailing_id": 1, "link_id": 1},
        {"mailing_id": 2, "link_id": 1},
        {"mailing_id": 1, "link_id": 2},
    ]
    for table, table_rows in extra.items():
        w.setdefault(table.replace("__", "."), []).extend(table_rows)
    return w


def click(click_id: int, at: dt.datetime, *, person: int = 1, link: int = 1, mailing: int = 1):
    return {
        "click_id": click_id,
        "mailing_id": mailing,
        "link_id": link,
        "person_id": person,
        "clicked_at": at,
    }


def defs(*entries: dict[str, Any], bot_filter: dict[str, Any] | None = None):
    return parse_definitions(
        {"version": 1, "bot_filter": bot_filter or {"enabled": False}, "links": list(entries)}
    )


def run(w: World, d: Any, **scope: Any):
    return replay(new_database(w), d, scripts=SCRIPTS, **scope)


# --- state ----------------------------------------------------------------------------------------

SET_NOTE = {
    "link": 1,
    "actions": [{"id": "note", "type": "set_field", "field": "note", "value": "hot"}],
}


def test_a_manual_edit_newer_than_the_click_wins() -> None:
    manual = {"person_id": 1, "field": "note", "value": "manual", "set_at": THU + HOUR}
    result = run(world(crm__person_field=[manual], mail__click=[click(1, THU)]), defs(SET_NOTE))
    assert result.person_field == [(1, "note", "manual", THU + HOUR, None)]
    assert result.changes == []


def test_a_manual_edit_wins_a_tie_and_an_older_one_loses() -> None:
    tie = {"person_id": 1, "field": "note", "value": "manual", "set_at": THU}
    older = {"person_id": 2, "field": "note", "value": "manual", "set_at": THU - HOUR}
    clicks = [click(1, THU), click(2, THU, person=2)]
    result = run(world(crm__person_field=[tie, older], mail__click=clicks), defs(SET_NOTE))
    assert result.person_field == [
        (1, "note", "manual", THU, None),
        (2, "note", "hot", THU, 2),
    ]
    assert result.changes == [(2, "note", 2, None, "field", "note", "manual", "hot", THU)]


def test_equal_timestamps_go_to_the_higher_click_id() -> None:
    entries = (
        {"link": 1, "actions": [{"id": "x", "type": "set_field", "field": "note", "value": "one"}]},
        {"link": 2, "actions": [{"id": "y", "type": "set_field", "field": "note", "value": "two"}]},
    )
    for high_link, value in ((1, "one"), (2, "two")):
        clicks = [click(5, THU, link=high_link), click(3, THU, link=3 - high_link)]
        result = run(world(mail__click=clicks), defs(*entries))
        assert result.person_field == [(1, "note", value, THU, 5)]


def test_the_same_click_later_in_the_file_wins() -> None:
    entry = {
        "link": 1,
        "actions": [
            {"id": "x", "type": "set_field", "field": "note", "value": "one"},
            {"id": "y", "type": "set_field", "field": "note", "value": "two"},
        ],
    }
    result = run(world(mail__click=[click(1, THU)]), defs(entry))
    assert result.person_field == [(1, "note", "two", THU, 1)]
    assert [c[1] for c in result.changes] == ["y"]


def test_a_re_add_bumps_since_without_a_change_row() -> None:
    member = {"selection_id": 1, "person_id": 1, "since": THU - 30 * DAY}
    hot = {"link": 1, "actions": [{"id": "hot", "type": "selection", "add": ["Hot"]}]}
    result = run(world(crm__selection_member=[member], mail__click=[click(4, THU)]), defs(hot))
    assert result.selection_member == [(1, 1, THU, 4)]
    assert result.changes == []


def test_a_removal_keeps_its_clock_and_an_older_add_cannot_undo_it() -> None:
    member = {"selection_id": 1, "person_id": 1, "since": THU - 30 * DAY}
    entries = (
        {"link": 1, "actions": [{"id": "add", "type": "selection", "add": ["Hot"]}]},
        {"link": 2, "actions": [{"id": "rm", "type": "selection", "remove": ["Hot"]}]},
    )
    w = world(crm__selection_member=[member], mail__click=[click(1, THU + HOUR, link=2)])
    con = new_database(w)
    parsed = defs(*entries)
    first = replay(con, parsed)
    assert first.selection_member == []
    assert first.removal == [("selection", "person", 1, 1, THU + HOUR, 1)]
    assert first.changes == [(1, "rm", 1, None, "selection", "Hot", "member", None, THU + HOUR)]
    store(con, first)
    # An older add, loaded later, loses against the removal's clock; a newer one deletes it.
    con.execute("INSERT INTO mail.click VALUES (2, 1, 1, 1, ?, NULL, NULL)", [THU]).fetchall()
    assert replay(con, parsed).tables() == first.tables()
    con.execute("INSERT INTO mail.click VALUES (3, 1, 1, 1, ?, NULL, NULL)", [THU + DAY]).fetchall()
    last = replay(con, parsed)
    assert last.selection_member == [(1, 1, THU + DAY, 3)]
    assert last.removal == []


def test_removing_an_absent_target_records_its_clock() -> None:
    entry = {
        "link": 1,
        "actions": [{"id": "rm", "type": "interest", "remove": ["News"], "scope": "contact"}],
    }
    clicks = [click(1, THU), click(2, THU, person=2)]  # person 2 has no contact: nothing
    result = run(world(mail__click=clicks), defs(entry))
    assert result.removal == [("interest", "contact", 1, 1, THU, 1)]
    assert result.changes == []


def test_clearing_a_field_keeps_the_row_with_its_clock() -> None:
    entry = {
        "link": 1,
        "actions": [{"id": "clr", "type": "set_field", "field": "note", "value": None}],
    }
    stored = {
        "person_id": 1,
        "field": "note",
        "value": "x",
        "set_at": THU - DAY,
        "source_click_id": 9,
    }
    result = run(world(crm__person_field=[stored], mail__click=[click(1, THU)]), defs(entry))
    assert result.person_field == [(1, "note", None, THU, 1)]


# --- firing and bots ------------------------------------------------------------------------------

CALL = {
    "id": "call",
    "type": "follow_up",
    "owner": 1,
    "due": {"business_days": 0, "at": "09:00"},
}


def test_once_per_mailing_picks_the_earliest_click() -> None:
    clicks = [
        click(9, THU),
        click(2, THU + HOUR),
        click(4, THU),
        click(1, THU + 2 * HOUR, mailing=2),
    ]
    result = run(world(mail__click=clicks), defs({"link": 1, "actions": [CALL]}))
    assert [(a[0], a[12], a[13]) for a in result.appointment] == [
        ("call/p1/m1", 4, 1),
        ("call/p1/m2", 1, 2),
    ]
    once = run(world(mail__click=clicks), defs({"link": 1, "actions": [{**CALL, "fire": "once"}]}))
    assert [(a[0], a[12]) for a in once.appointment] == [("call/p1", 4)]


def test_firing_looks_at_all_eligible_clicks_not_only_the_scope() -> None:
    clicks = [click(1, THU), click(2, THU + DAY)]
    result = run(world(mail__click=clicks), defs({"link": 1, "actions": [CALL]}), since=THU + HOUR)
    assert result.appointment == []  # the earliest click, out of scope, is the one that fires


def test_bots_too_soon_and_bursts_do_not_fire() -> None:
    recipient = {"mailing_id": 1, "person_id": 1, "delivered_at": THU - dt.timedelta(seconds=5)}
    clicks = [
        click(1, THU),  # 5 s after delivery: too soon
        click(2, THU + HOUR),  # 3 distinct links within a second, with 3 and 4
        click(3, THU + HOUR + dt.timedelta(milliseconds=500), link=2),
        click(4, THU + HOUR + dt.timedelta(milliseconds=900), link=3),
        click(5, THU + 2 * HOUR),  # alone: eligible
    ]
    w = world(mail__recipient=[recipient], mail__click=clicks)
    w["mail.link"].append({"link_id": 3, "url": "https://ex.com/c", "name": "C"})
    w["mail.mailing_link"].append({"mailing_id": 1, "link_id": 3})
    hit = {
        "link": 1,
        "actions": [{"id": "hit", "type": "response", "redirect": "https://ex.com/t"}],
    }
    rules = {"enabled": True, "min_seconds_after_delivery": 10, "max_links_per_second": 2}
    result = run(w, defs(hit, bot_filter=rules))
    assert [r[0] for r in result.response] == [5]
    relaxed = run(w, defs(hit, bot_filter={**rules, "max_links_per_second": 3}))
    assert [r[0] for r in relaxed.response] == [2, 5]


# --- created rows ---------------------------------------------------------------------------------


def test_next_free_slot_skips_a_full_day_and_a_weekend() -> None:
    w = world(
        crm__appointment=[
            {
                "appointment_id": "manual",
                "kind": "meeting",
                "owner_id": 1,
                "starts_at": THU + DAY + 5 * HOUR,  # Friday
                "duration_minutes": 60,
            }
        ],
        mail__click=[click(1, THU), click(2, THU, person=2)],
    )
    w["crm.associate"][0]["daily_capacity"] = 1
    slot = {**CALL, "due": {"business_days": 1, "at": "09:00", "next_free_slot": True}}
    result = run(w, defs({"link": 1, "actions": [slot]}))
    monday = dt.datetime(2026, 3, 9, 9, 0)
    starts = {a[0]: (a[9], a[14]) for a in result.appointment}
    assert starts == {
        "manual": (THU + DAY + 5 * HOUR, None),
        "call/p1/m1": (monday, dt.datetime(2026, 3, 6, 9, 0)),
        "call/p2/m1": (monday + DAY, dt.datetime(2026, 3, 6, 9, 0)),
    }


def test_due_days_are_working_days_in_the_owners_time_zone() -> None:
    friday_night = dt.datetime(2026, 3, 6, 20, 0)  # Saturday 05:00 in Tokyo
    w = world(mail__click=[click(1, friday_night)])
    w["crm.associate"][0]["timezone"] = "Asia/Tokyo"
    for days, due in ((0, dt.datetime(2026, 3, 9, 0, 0)), (2, dt.datetime(2026, 3, 10, 0, 0))):
        action = {**CALL, "due": {"business_days": days, "at": "09:00"}}
        (row,) = run(w, defs({"link": 1, "actions": [action]})).appointment
        assert (row[9], row[14]) == (due, due)
    w["crm.associate"][0]["timezone"] = "UTC"
    (row,) = run(
        w, defs({"link": 1, "actions": [{**CALL, "due": {"business_days": 0}}]})
    ).appointment
    assert row[9] == dt.datetime(2026, 3, 6, 9, 0)  # Friday is a working day in UTC


def test_contact_owner_falls_back() -> None:
    w = world(
        crm__associate=[{"associate_id": 2, "name": "Bob", "timezone": "UTC"}],
        crm__contact=[{"contact_id": 2, "name": "NoOwner", "owner_id": None}],
        crm__person=[{"person_id": 3, "contact_id": 2, "first_name": "Cy"}],
        mail__click=[click(1, THU), click(2, THU, person=2), click(3, THU, person=3)],
    )
    follow = {**CALL, "owner": "contact_owner", "fallback": 2}
    ticket = {"id": "tic", "type": "request", "title": "Q", "owner": "contact_owner"}
    result = run(w, defs({"link": 1, "actions": [follow, ticket]}))
    assert {a[3]: a[6] for a in result.appointment} == {1: 1, 2: 2, 3: 2}
    assert {t[6]: t[4] for t in result.ticket} == {1: 1, 2: None, 3: None}


def test_teams_are_water_filled_per_day_ties_to_the_lower_id() -> None:
    w = world(
        crm__associate=[
            {"associate_id": 2, "name": "Bob", "team": "Sales", "timezone": "UTC"},
            {"associate_id": 3, "name": "Cy", "team": "Sales", "timezone": "Europe/Oslo"},
        ],
        crm__ticket=[
            {
                "ticket_id": "old",
                "title": "t",
                "priority": "low",
                "owner_id": 2,
                "status": "open",
                "created_at": THU - HOUR,
            }
        ],
        mail__click=[
            click(i, THU + i * HOUR, person=1 + i % 2, mailing=1 + i // 2) for i in range(4)
        ],
    )
    ticket = {"id": "tic", "type": "request", "title": "Q", "owner": {"team": "Sales"}}
    result = run(w, defs({"link": 1, "actions": [ticket]}))
    # Bob already has one ticket that day: Cy, Bob (tie -> lower id), Cy, Bob.
    owners = {t[0]: t[4] for t in result.ticket}
    assert owners == {"old": 2, "tic/p1/m1": 3, "tic/p2/m1": 2, "tic/p1/m2": 3, "tic/p2/m2": 2}


def test_templates_and_html_escaping() -> None:
    feedback = "Hi {first_name}, <b>{contact_name}</b> {link_hits}"
    form = {"form_id": "f", "prefill": ["first_name", "contact_id", "note", "vip"]}
    title = "{person_name} {clicked_at} {{x}} {mailing_name}"
    entry = {
        "link": 1,
        "actions": [
            {"id": "fb", "type": "response", "feedback_text": feedback},
            {"id": "form", "type": "response", "form": form},
            {"id": "t", "type": "request", "title": title, "fire": "every_click"},
            {"id": "n", "type": "set_field", "field": "note", "value": "a&b"},
        ],
    }
    result = run(world(mail__click=[click(1, THU), click(2, THU + HOUR)]), defs(entry))
    texts = [r[4] for r in result.response if r[1] == "fb"]
    assert texts == [
        "Hi Bo &amp; &lt;Co&gt;, <b>O&#x27;Neil &amp; Sons</b> 1",
        "Hi Bo &amp; &lt;Co&gt;, <b>O&#x27;Neil &amp; Sons</b> 2",
    ]
    forms = [json.loads(r[6]) for r in result.response if r[1] == "form"]
    # A form shows the values stored before the run: not the note this run sets.
    assert forms[0] == {"first_name": "Bo & <Co>", "contact_id": "1", "note": None, "vip": None}
    assert [t[1] for t in result.ticket] == [
        "Bo & <Co> Lee 2026-03-05 10:00 {x} March",
        "Bo & <Co> Lee 2026-03-05 11:00 {x} March",
    ]


def test_a_recorded_response_is_never_rewritten() -> None:
    form = {"id": "form", "type": "response", "form": {"form_id": "f", "prefill": ["note"]}}
    con = new_database(world(mail__click=[click(1, THU)]))
    parsed = defs({"link": 1, "actions": [form]})
    first = replay(con, parsed)
    assert first.response == [(1, "form", "form", None, None, "f", '{"note": null}')]
    store(con, first)
    con.execute("INSERT INTO crm.person_field VALUES (1, 'note', 'new', ?, NULL)", [THU]).fetchall()
    assert replay(con, parsed).response == first.response


def test_scripts_write_fields_and_a_failing_script_changes_nothing() -> None:
    entries = (
        {
            "link": 1,
            "actions": [
                {"id": "s", "type": "script", "script": "tag"},
                {"id": "r", "type": "response", "redirect": "https://ex.com/r"},
            ],
        },
        {"link": 2, "actions": [{"id": "b", "type": "script", "script": "bad"}]},
    )
    clicks = [click(1, THU), click(2, THU, link=2)]
    result = run(world(mail__click=clicks), defs(*entries))
    assert result.person_field == [
        (1, "note", "https://ex.com/r p1 l1 2026-03-05 10:00:00.000000", THU, 1),
        (1, "score", "101", THU, 1),
    ]


# --- the replay as a whole ------------------------------------------------------------------------


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds_and_definitions(), st.randoms(use_true_random=False))
def test_the_oracle_is_idempotent_and_batch_invariant(
    world_and_defs: tuple[World, dict[str, Any]], rnd: random.Random
) -> None:
    w, raw = world_and_defs
    d = parse_definitions(raw)
    con = new_database(w)
    once = replay(con, d, scripts=SCRIPTS)
    store(con, once)
    again = replay(con, d, scripts=SCRIPTS)
    assert again.tables() == once.tables(), once.diff(again)
    assert again.changes == []

    times = sorted({c["clicked_at"] for c in w["mail.click"]})
    cuts = sorted(rnd.sample(times, k=min(len(times), 3)))
    bounds = [None, *cuts, None]
    batches = list(itertools.pairwise(bounds))
    batches += rnd.sample(batches, k=min(2, len(batches)))
    rnd.shuffle(batches)
    batched = new_database(w)
    for since, until in batches:
        store(batched, replay(batched, d, since=since, until=until, scripts=SCRIPTS))
    result = snapshot(batched)
    state = ["person_field", "person_interest", "contact_interest", "selection_member"]
    state += ["project_member", "removal", "state_writer"]
    if "team" not in json.dumps(raw):  # a team assignment depends on the order of batches
        state += ["appointment", "ticket"]
    for name in state:
        assert getattr(result, name) == getattr(once, name), (name, batches)
