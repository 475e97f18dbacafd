"""Properties the set-based engine must keep (SPEC §4, docs/SEMANTICS.md), on random small worlds.

The reference is the sequential replay in tests/oracle.py; the worlds and definitions come from
tests/strategies.py. Every property builds fresh in-memory databases from the drawn world.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import re
from typing import Any

import duckdb
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import linksim
from linksim.definitions import PERSON_COLUMNS, Definitions, check_definitions, parse_definitions
from linksim.store.schema import TABLES
from tests.oracle import CHANGE_COLUMNS, Expected, Row, replay, rows, snapshot
from tests.strategies import (
    SCRIPTS,
    World,
    fixed_tables,
    insert_world,
    new_database,
    worlds_and_definitions,
    worlds_and_tied_definitions,
)

# Each engine run takes a few hundred milliseconds; the example counts keep the whole file near a
# minute on 2 cores (CI's budget). LINKSIM_PROPERTY_SCALE=10 runs ten times as many examples.
SCALE = float(os.environ.get("LINKSIM_PROPERTY_SCALE", "1"))


def examples(n: int) -> settings:
    """Hypothesis settings for a property that tries about ``n`` examples."""
    return settings(
        max_examples=max(1, round(n * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


Scope = dict[str, Any]


def setup(world: World, raw: dict[str, Any]) -> tuple[duckdb.DuckDBPyConnection, Definitions]:
    """A fresh database holding ``world``, and the parsed definitions (valid for it)."""
    con = new_database(world)
    defs = parse_definitions(raw)
    check_definitions(defs, con)
    return con, defs


def plain(value: Any) -> Any:
    """A DataFrame cell as the Python value DuckDB would give (NULL as None)."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if value is None or (not isinstance(value, str | bytes) and pd.isna(value)):
        return None
    if hasattr(value, "item"):  # a numpy scalar
        return value.item()
    return value


def change_rows(frame: pd.DataFrame) -> list[Row]:
    """The rows of a `.changes` DataFrame in the shape of `Expected.changes`."""
    columns = frame[list(CHANGE_COLUMNS)].astype(object)
    return rows(tuple(plain(v) for v in r) for r in columns.itertuples(index=False))


def comparable_changes(changes: list[Row]) -> list[Row]:
    """Change rows with the old and new time of a moved follow-up or ticket as timestamps:
    SEMANTICS.md does not fix how they are written as text."""
    out = []
    for click_id, action_id, person_id, contact_id, kind, target, old, new, at in changes:
        if kind in ("appointment", "ticket") and old is not None:
            old, new = as_time(old), as_time(new)
        out.append((click_id, action_id, person_id, contact_id, kind, target, old, new, at))
    return rows(out)


def as_time(text: str | None) -> dt.datetime | None:
    return None if text is None else pd.Timestamp(text).to_pydatetime()


def dump(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> dict[str, list[Row]]:
    """Every row of every table of these schemas."""
    return {
        t.name: sorted(con.execute(f"SELECT * FROM {t.name}").fetchall(), key=repr)
        for t in TABLES
        if t.schema in schemas
    }


def scopes(world: World) -> st.SearchStrategy[Scope]:
    """A scope of a run: `since`, `until` from the clicks' times (or around them), a mailing."""
    times = sorted({c["clicked_at"] for c in world["mail.click"]})
    moments = st.sampled_from(times) if times else st.nothing()
    bound = st.one_of(st.none(), moments, moments.map(lambda t: t + dt.timedelta(seconds=1)))
    mailings = st.sampled_from([m["mailing_id"] for m in world["mail.mailing"]])
    return st.fixed_dictionaries(
        {}, optional={"since": bound, "until": bound, "mailing": st.one_of(st.none(), mailings)}
    ).filter(lambda s: not (s.get("since") and s.get("until") and s["since"] >= s["until"]))


def check_against_oracle(con: duckdb.DuckDBPyConnection, defs: Definitions, scope: Scope) -> None:
    """Apply with ``scope`` and compare tables, changes and counts with the replay."""
    expected = replay(con, defs, scripts=SCRIPTS, **scope)
    result = linksim.apply(con, defs, scripts=SCRIPTS, **scope)
    actual = snapshot(con)
    assert actual.tables() == expected.tables(), "left = oracle, right = engine\n" + expected.diff(
        actual
    )
    assert comparable_changes(change_rows(result.changes)) == comparable_changes(expected.changes)
    assert {k: result.counts[k] for k in expected.counts} == expected.counts


# --- engine == oracle -----------------------------------------------------------------------------


@examples(24)
@given(worlds_and_definitions())
def test_apply_ends_as_the_sequential_replay(world_and_defs: tuple[World, dict[str, Any]]) -> None:
    con, defs = setup(*world_and_defs)
    check_against_oracle(con, defs, {})


@examples(12)
@given(st.data())
def test_a_restricted_scope_touches_only_what_the_replay_predicts(data: st.DataObject) -> None:
    world, raw = data.draw(worlds_and_definitions())
    scope = data.draw(scopes(world), label="scope")
    con, defs = setup(world, raw)
    check_against_oracle(con, defs, scope)


# --- clicks loaded later -------------------------------------------------------------------------


@examples(8)
@given(st.data())
def test_clicks_loaded_later_end_as_one_apply_of_them_all(data: st.DataObject) -> None:
    """An apply, then more clicks (earlier ones too), then an apply: the rows end as one apply
    of all the clicks. What an earlier click now fires instead, or what a click that is now
    part of a burst fired, is reversed first (docs/SEMANTICS.md §10)."""
    world, raw = data.draw(worlds_and_definitions())
    ids = [c["click_id"] for c in world["mail.click"]]
    late = data.draw(st.sets(st.sampled_from(ids)) if ids else st.just(set()), label="late")
    clicks = {False: [], True: []}
    for c in world["mail.click"]:
        clicks[c["click_id"] in late].append(c)
    con, defs = setup({**world, "mail.click": clicks[False]}, raw)
    linksim.apply(con, defs, scripts=SCRIPTS)
    insert_world(con, {"mail.click": clicks[True]})
    linksim.apply(con, defs, scripts=SCRIPTS)
    once, _ = setup(world, raw)
    check_against_oracle(once, defs, {})
    expected = without_hits(team_exempt(snapshot(once), world, raw))
    actual = without_hits(team_exempt(snapshot(con), world, raw))
    assert actual.tables() == expected.tables(), "left = one apply\n" + expected.diff(actual)


def without_hits(result: Expected) -> Expected:
    """``result`` with the {link_hits} counts in texts masked: a created row or a response is
    rendered once, and a click loaded later before its source does not re-render it."""

    def mask(row: Row, i: int) -> Row:
        text = row[i]
        if isinstance(text, str):
            text = re.sub(r"Hits: \d+", "Hits: #", text)
        return (*row[:i], text, *row[i + 1 :])

    tables = result.tables()
    tables.update(
        appointment=rows(mask(r, 8) for r in result.appointment),
        ticket=rows(mask(r, 1) for r in result.ticket),
        response=rows(mask(r, 4) for r in result.response),
    )
    return Expected(**tables)


# --- idempotence ----------------------------------------------------------------------------------


@examples(12)
@given(worlds_and_definitions())
def test_applying_twice_is_applying_once(world_and_defs: tuple[World, dict[str, Any]]) -> None:
    con, defs = setup(*world_and_defs)
    linksim.apply(con, defs, scripts=SCRIPTS)
    once = snapshot(con)
    again = linksim.apply(con, defs, scripts=SCRIPTS)
    assert snapshot(con).tables() == once.tables(), once.diff(snapshot(con))
    assert change_rows(again.changes) == []


# --- batch invariance -----------------------------------------------------------------------------


def team_exempt(result: Expected, world: World, raw: dict[str, Any]) -> Expected:
    """``result`` without what SPEC §4.6 exempts from batch invariance: the owner of a
    `{team: …}` row (checked to be a member of the team instead), what follows from it (the due
    time, and the start of the team members' appointments), and prefilled extra field values
    (a form shows the values of its batch's time)."""
    teams = {a["associate_id"]: a["team"] for a in world["crm.associate"]}
    team_of = {
        action["id"]: action["owner"]["team"]
        for entry in raw["links"]
        for action in entry["actions"]
        if isinstance(action.get("owner"), dict)
    }
    members = {a for a, team in teams.items() if team in team_of.values()}
    appointments = []
    for row in result.appointment:
        row = list(row)
        action = row[11]
        if action in team_of:
            assert teams[row[6]] == team_of[action], row
            row[6] = row[14] = None
        if row[6] is None or row[6] in members:
            row[9] = None  # starts_at
        appointments.append(tuple(row))
    tickets = []
    for row in result.ticket:
        if row[8] in team_of:
            assert teams[row[4]] == team_of[row[8]], row
            row = (*row[:4], None, *row[5:])
        tickets.append(row)
    responses = []
    for row in result.response:
        if row[6] is not None:
            prefill = json.loads(row[6])
            kept = {k: v for k, v in prefill.items() if k in PERSON_COLUMNS}
            row = (*row[:6], json.dumps(kept, sort_keys=True))
        responses.append(row)
    tables = result.tables()
    tables.update(appointment=rows(appointments), ticket=rows(tickets), response=rows(responses))
    return Expected(**tables)


Batches = list[tuple[dt.datetime | None, dt.datetime | None]]


def random_batches(world: World, rnd: random.Random) -> Batches:
    """Windows cut at up to four click times, some twice, in a random order."""
    times = sorted({c["clicked_at"] for c in world["mail.click"]})
    cuts = sorted(set(rnd.sample(times, k=min(len(times), rnd.randint(1, 4)))))
    batches: Batches = list(itertools.pairwise([None, *cuts, None]))
    batches += rnd.sample(batches, k=rnd.randint(0, len(batches)))  # some run twice
    rnd.shuffle(batches)
    return batches


def applied_in_batches(
    world: World, raw: dict[str, Any], batches: Batches
) -> duckdb.DuckDBPyConnection:
    """A fresh database of ``world`` with the definitions applied batch after batch."""
    batched, defs = setup(world, raw)
    for since, until in batches:
        linksim.apply(batched, defs, since=since, until=until, scripts=SCRIPTS)
    return batched


@examples(6)
@given(worlds_and_definitions(), st.randoms(use_true_random=False))
def test_batches_in_any_order_end_as_one_pass(
    world_and_defs: tuple[World, dict[str, Any]], rnd: random.Random
) -> None:
    world, raw = world_and_defs
    one_pass, defs = setup(world, raw)
    linksim.apply(one_pass, defs, scripts=SCRIPTS)

    batches = random_batches(world, rnd)
    batched = applied_in_batches(world, raw, batches)

    expected = team_exempt(snapshot(one_pass), world, raw)
    actual = team_exempt(snapshot(batched), world, raw)
    assert actual.tables() == expected.tables(), f"batches {batches}\n" + expected.diff(actual)


@examples(5)
@given(worlds_and_tied_definitions(), st.randoms(use_true_random=False))
def test_actions_of_one_click_that_fire_in_other_batches_end_as_one_pass(
    world_and_defs: tuple[World, dict[str, Any]], rnd: random.Random
) -> None:
    # The actions of a click write the same targets differently and some wait for a
    # confirmation: the tie on that click's clock goes to the later action in every order.
    world, raw = world_and_defs
    one_pass, defs = setup(world, raw)
    expected = replay(one_pass, defs, scripts=SCRIPTS)
    linksim.apply(one_pass, defs, scripts=SCRIPTS)
    assert snapshot(one_pass).tables() == expected.tables(), expected.diff(snapshot(one_pass))

    batches = random_batches(world, rnd)
    batched = applied_in_batches(world, raw, batches)
    actual = snapshot(batched)
    assert actual.tables() == expected.tables(), f"batches {batches}\n" + expected.diff(actual)


# --- preview = apply ------------------------------------------------------------------------------


@examples(10)
@given(st.data())
def test_preview_reports_what_apply_then_does_and_writes_nothing(data: st.DataObject) -> None:
    world, raw = data.draw(worlds_and_definitions())
    scope = data.draw(st.one_of(st.just({}), scopes(world)), label="scope")
    con, defs = setup(world, raw)
    before = dump(con, ("crm", "mail")), snapshot(con)
    preview = linksim.preview(con, defs, run_scripts=True, scripts=SCRIPTS, **scope)
    assert (dump(con, ("crm", "mail")), snapshot(con)) == before
    applied = linksim.apply(con, defs, scripts=SCRIPTS, **scope)
    assert change_rows(preview.changes) == change_rows(applied.changes)


# --- minimal examples the properties found --------------------------------------------------------

T0 = dt.datetime(2026, 3, 27, 22, 0)  # a Friday


def one_click_world() -> World:
    """Person 1 clicked link 1 of mailing 1 once (click 2, at T0)."""
    world = fixed_tables()
    world["crm.associate"] = [{"associate_id": 1, "name": "A1", "timezone": "UTC"}]
    world["crm.person"] = [{"person_id": 1}]
    world["mail.mailing"] = [{"mailing_id": 1, "name": "M", "sent_at": T0}]
    world["mail.link"] = [{"link_id": 1, "url": "https://ex.com/a", "name": "L"}]
    world["mail.mailing_link"] = [{"mailing_id": 1, "link_id": 1}]
    world["mail.click"] = [
        {"click_id": 2, "mailing_id": 1, "link_id": 1, "person_id": 1, "clicked_at": T0}
    ]
    return world


def moved_source_changes(action: dict[str, Any], late_at: dt.datetime) -> tuple[list[Row], ...]:
    """Apply, load an earlier click 1 at ``late_at``, apply again: (expected, actual) changes."""
    con, defs = setup(
        one_click_world(), {"version": 1, "links": [{"link": 1, "actions": [action]}]}
    )
    linksim.apply(con, defs)
    late = {"click_id": 1, "mailing_id": 1, "link_id": 1, "person_id": 1, "clicked_at": late_at}
    insert_world(con, {"mail.click": [late]})
    expected = replay(con, defs).changes
    return expected, change_rows(linksim.apply(con, defs).changes)


def test_a_moved_source_is_a_change_even_when_the_start_stays() -> None:
    # SEMANTICS §4: "`linksim.change` gets a row ... per moved source or start".
    expected, actual = moved_source_changes({"id": "call", "type": "follow_up", "owner": 1}, T0)
    assert [c[4:8] for c in expected] == [
        ("appointment", "call/p1/m1", "2026-03-30 09:00:00", "2026-03-30 09:00:00")
    ]
    assert comparable_changes(actual) == comparable_changes(expected)


def test_a_moved_ticket_keeps_the_exact_old_and_new_created_at() -> None:
    # SEMANTICS §4: old_value/new_value are "the old and new starts_at/created_at".
    earlier = T0 - dt.timedelta(microseconds=400_000)
    expected, actual = moved_source_changes({"id": "tic", "type": "request", "title": "Q"}, earlier)
    assert [c[6:8] for c in expected] == [("2026-03-27 22:00:00", "2026-03-27 21:59:59.6")]
    assert comparable_changes(actual) == comparable_changes(expected)


MIDDLE = T0 + dt.timedelta(hours=12)
MEMBERS = "SELECT person_id, project_id FROM crm.project_member"


def out_then_confirmed_in() -> tuple[World, dict[str, Any]]:
    """Click 2 (at T0) fires `out` (remove project Launch) at once, and the later action `in`
    (add it) only when click 3 confirms it, a day later: the halves at `MIDDLE` split them."""
    world = one_click_world()
    confirming = {"click_id": 3, "mailing_id": 1, "link_id": 1, "person_id": 1,
                  "clicked_at": T0 + dt.timedelta(days=1)}  # fmt: skip
    world["mail.click"].append(confirming)
    actions = [
        {"id": "out", "type": "project", "remove": ["Launch"], "fire": "once"},
        {"id": "in", "type": "project", "add": ["Launch"], "fire": "once", "require": "confirmed"},
    ]
    links = [{"link": 1, "actions": actions}]
    return world, {"version": 1, "bot_filter": {"enabled": False}, "links": links}


def test_an_earlier_batch_run_last_keeps_the_confirmed_action_of_the_same_click() -> None:
    # SPEC §4.6: batches "in any order and any number of times" end as one pass. One pass
    # applies both in action order: Launch present. The first half, run after the second, ties
    # the clock (T0, click 2) that `in` wrote: `in` comes later, so Launch stays.
    world, raw = out_then_confirmed_in()
    one_pass, defs = setup(world, raw)
    linksim.apply(one_pass, defs)
    batched, _ = setup(world, raw)
    for since, until in ((MIDDLE, None), (None, MIDDLE)):
        linksim.apply(batched, defs, since=since, until=until)
    assert one_pass.execute(MEMBERS).fetchall() == [(1, 1)]
    assert batched.execute(MEMBERS).fetchall() == [(1, 1)]
    writers = "SELECT action_id, source_click_id FROM linksim.state_writer"
    assert batched.execute(writers).fetchall() == [("in", 2)]


def test_an_unknown_writer_loses_the_tie_to_the_click_run_again() -> None:
    # A file from before linksim.state_writer (schema version 3) knows no writers: the second
    # half, run again, rewrites Launch as `in`'s, so the first half run again keeps it.
    world, raw = out_then_confirmed_in()
    con, defs = setup(world, raw)
    linksim.apply(con, defs)
    con.execute("DELETE FROM linksim.state_writer").fetchall()
    for since, until in ((MIDDLE, None), (None, MIDDLE)):
        linksim.apply(con, defs, since=since, until=until)
    assert con.execute(MEMBERS).fetchall() == [(1, 1)]


def test_undoing_a_run_keeps_what_a_later_run_wrote_on_the_same_click() -> None:
    # The later run's write has the same source click as the undone run's: it still counts as
    # a change since, so undo keeps Launch (and says why) instead of putting the removal back.
    world, raw = out_then_confirmed_in()
    con, defs = setup(world, raw)
    first = linksim.apply(con, defs, until=MIDDLE).run_id
    linksim.apply(con, defs, since=MIDDLE)
    linksim.undo(con, first)
    assert con.execute(MEMBERS).fetchall() == [(1, 1)]
    assert con.execute("SELECT count(*) FROM linksim.removal").fetchall() == [(0,)]
    assert con.execute("SELECT action_id FROM linksim.state_writer").fetchall() == [("in",)]
