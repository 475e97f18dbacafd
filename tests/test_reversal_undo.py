"""Reversal when clicks become bots' and `linksim undo`, on random small worlds and by hand.

Reversal: apply under one bot filter, then under another; every table must end as a fresh apply
under the second. Undo: apply, apply other definitions, undo the latest run; every `crm` table
must be back to what the first apply left, and undoing that one too, back to the start.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import linksim
from linksim.cli import main
from linksim.errors import UsageError
from tests.oracle import snapshot
from tests.strategies import (
    SCRIPTS,
    definitions_for,
    worlds,
    worlds_and_definitions,
    worlds_and_tied_definitions,
)
from tests.test_engine_properties import dump, examples, setup, team_exempt

BOT_FILTERS = st.fixed_dictionaries(
    {"enabled": st.booleans()},
    optional={
        "min_seconds_after_delivery": st.sampled_from((0, 10)),
        "max_links_per_second": st.sampled_from((1, 3)),
        "user_agents": st.just(["acmelinkcheck"]),
        "ip_ranges": st.just(["203.0.113.0/24"]),
        "default_lists": st.booleans(),
    },
)

LOGS = ("linksim.run", "linksim.change", "linksim.journal", "linksim.batch", "linksim.script_run")


def crm(con: duckdb.DuckDBPyConnection) -> dict[str, list[Any]]:
    """Every `crm` table, and linksim's records of removals and of the writers of tied targets
    (what later runs compare clocks with)."""
    tables = dump(con, ("crm",))
    for name in ("linksim.removal", "linksim.state_writer"):
        tables[name] = sorted(
            con.execute(f"SELECT * EXCLUDE (run_id) FROM {name}").fetchall(), key=repr
        )
    return tables


def changes(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Change rows as sorted tuples, reversals (with their cause) included."""
    return sorted(
        (tuple(None if pd.isna(v) else v for v in row) for row in frame.astype(object).values),
        key=repr,
    )


@examples(6)
@given(st.data())
def test_a_new_bot_filter_ends_as_a_fresh_apply_under_it(data: st.DataObject) -> None:
    """…and its preview shows the same changes, reversals included, and writes nothing."""
    world, raw = data.draw(worlds_and_definitions())
    first = {**raw, "bot_filter": data.draw(BOT_FILTERS, label="first filter")}
    second = {**raw, "bot_filter": data.draw(BOT_FILTERS, label="second filter")}
    con, defs_first = setup(world, first)
    fresh, defs_second = setup(world, second)
    linksim.apply(con, defs_first, scripts=SCRIPTS)
    before = dump(con, ("crm",))
    preview = linksim.preview(con, defs_second, run_scripts=True, scripts=SCRIPTS)
    assert dump(con, ("crm",)) == before  # the reversal it shows is rolled back
    applied = linksim.apply(con, defs_second, scripts=SCRIPTS)
    assert changes(preview.changes) == changes(applied.changes)
    linksim.apply(fresh, defs_second, scripts=SCRIPTS)
    expected = team_exempt(snapshot(fresh), world, second)
    actual = team_exempt(snapshot(con), world, second)
    assert actual.tables() == expected.tables(), "left = fresh\n" + expected.diff(actual)
    bots = "SELECT click_id, reason, detail FROM linksim.bot_click ORDER BY click_id"
    assert con.execute(bots).fetchall() == fresh.execute(bots).fetchall()


@examples(6)
@given(st.data())
def test_undo_of_the_latest_run_restores_every_crm_table(data: st.DataObject) -> None:
    world = data.draw(worlds())
    first = data.draw(definitions_for(world), label="first definitions")
    second = data.draw(definitions_for(world), label="second definitions")
    con, defs_first = setup(world, first)
    defs_second = linksim.parse_definitions(second)
    start = crm(con)
    run_1 = linksim.apply(con, defs_first, scripts=SCRIPTS).run_id
    after_1 = crm(con)
    run_2 = linksim.apply(con, defs_second, scripts=SCRIPTS).run_id
    result = linksim.undo(con, run_2)
    assert result.kept.empty
    assert crm(con) == after_1
    linksim.undo(con, run_1)
    assert crm(con) == start
    statuses = con.execute("SELECT run_id, mode, status FROM linksim.run ORDER BY 1").fetchall()
    assert [s[1:] for s in statuses] == [
        ("apply", "undone"),
        ("apply", "undone"),
        ("undo", "ok"),
        ("undo", "ok"),
    ]


@examples(4)
@given(worlds_and_tied_definitions(), st.data())
def test_undoing_batches_in_reverse_restores_the_writers_of_tied_targets(
    world_and_defs: tuple[dict[str, Any], dict[str, Any]], data: st.DataObject
) -> None:
    # The later half first, then the earlier: the second run's ties read the writers the first
    # recorded. Each undo puts back the rows and the writers as they were before its run.
    world, raw = world_and_defs
    con, defs = setup(world, raw)
    times = sorted({c["clicked_at"] for c in world["mail.click"]})
    cut = data.draw(st.sampled_from(times), label="cut")
    states = [crm(con)]
    runs = []
    for since, until in ((cut, None), (None, cut)):
        runs.append(linksim.apply(con, defs, since=since, until=until, scripts=SCRIPTS).run_id)
        states.append(crm(con))
    for run_id, before in zip(reversed(runs), reversed(states[:-1]), strict=True):
        assert linksim.undo(con, run_id).kept.empty
        assert crm(con) == before


# --- by hand ----------------------------------------------------------------------------------

T0 = dt.datetime(2026, 3, 2, 9, 0)  # a Monday


def _world(path: Path) -> None:
    con = linksim.connect(path)
    for table, rows in (
        ("crm.associate", [{"associate_id": 1, "name": "Ann", "timezone": "UTC"}]),
        ("crm.person", [{"person_id": p, "first_name": f"P{p}"} for p in (1, 2)]),
        ("crm.selection", [{"selection_id": 1, "name": "Hot leads"}]),
        ("crm.extra_field", [{"name": "stage", "type": "text"}]),
        ("mail.mailing", [{"mailing_id": 7, "name": "March", "sent_at": T0}]),
        ("mail.link", [{"link_id": 1, "url": "https://ex.com/1", "name": "L1"}]),
        ("mail.mailing_link", [{"mailing_id": 7, "link_id": 1}]),
        ("mail.recipient", [{"mailing_id": 7, "person_id": p, "delivered_at": T0} for p in (1, 2)]),
        (
            "mail.click",
            [  # person 1 by a scanner at delivery, then by hand; person 2 by a scanner only
                {
                    "click_id": 1,
                    "mailing_id": 7,
                    "link_id": 1,
                    "person_id": 1,
                    "clicked_at": T0 + dt.timedelta(seconds=2),
                    "user_agent": "Scanner/1",
                },
                {
                    "click_id": 2,
                    "mailing_id": 7,
                    "link_id": 1,
                    "person_id": 2,
                    "clicked_at": T0 + dt.timedelta(seconds=3),
                    "user_agent": "Scanner/1",
                },
                {
                    "click_id": 3,
                    "mailing_id": 7,
                    "link_id": 1,
                    "person_id": 1,
                    "clicked_at": T0 + dt.timedelta(hours=2),
                    "user_agent": "Firefox",
                },
            ],
        ),
    ):
        linksim.load(con, table, pd.DataFrame(rows))
    con.close()


def _defs(bot_filter: dict[str, Any]) -> linksim.Definitions:
    return linksim.parse_definitions(
        {
            "version": 1,
            "bot_filter": bot_filter,
            "links": [
                {
                    "link": 1,
                    "actions": [
                        {"id": "call", "type": "follow_up", "owner": 1},
                        {"id": "hot", "type": "selection", "add": ["Hot leads"]},
                        {"id": "stage", "type": "set_field", "field": "stage", "value": "lead"},
                    ],
                }
            ],
        }
    )


def test_turning_the_filter_on_reverses_the_scanner_changes(db_path: Path) -> None:
    _world(db_path)
    con = linksim.connect(db_path)
    linksim.apply(con, _defs({"enabled": False}))
    assert con.execute(
        "SELECT person_id, source_click_id FROM crm.appointment ORDER BY 1"
    ).fetchall() == [(1, 1), (2, 2)]
    result = linksim.apply(con, _defs({"enabled": True, "user_agents": ["scanner"]}))
    # person 2's follow-up, selection and field go; person 1's move to the human click
    assert con.execute(
        "SELECT person_id, source_click_id FROM crm.appointment ORDER BY 1"
    ).fetchall() == [(1, 3)]
    assert con.execute(
        "SELECT person_id, source_click_id FROM crm.selection_member ORDER BY 1"
    ).fetchall() == [(1, 3)]
    assert con.execute("SELECT person_id, value FROM crm.person_field").fetchall() == [(1, "lead")]
    causes = con.execute(
        "SELECT person_id, target_kind, old_value, new_value, cause FROM linksim.change "
        "WHERE run_id = ? AND cause IS NOT NULL ORDER BY 1, 2",
        [result.run_id],
    ).fetchall()
    assert ("reversal: click 2 is a bot's (user_agent)") in {c[4] for c in causes}
    assert (2, "selection", "member", None) in {c[:4] for c in causes}
    assert result.reversal["reversed"] == len(causes) and result.reversal["edited_since"] == 0
    assert "changes reversed" in str(result)
    con.close()


def test_switching_the_filter_back_ends_as_the_first_apply(db_path: Path, tmp_path: Path) -> None:
    """The first job's windows were committed, but another job wrote since: they run again."""
    _world(db_path)
    first = tmp_path / "first.duckdb"
    first.write_bytes(db_path.read_bytes())
    on, off = _defs({"enabled": True, "user_agents": ["scanner"]}), _defs({"enabled": False})
    con = linksim.connect(first)
    linksim.apply(con, on)
    expected = crm(con)
    con.close()
    con = linksim.connect(db_path)
    linksim.apply(con, on)
    linksim.apply(con, off)
    assert crm(con) != expected
    again = linksim.apply(con, on)
    assert again.batches["skipped"] == 0 and again.reversal["reversed"] > 0
    assert crm(con) == expected
    con.close()


def test_a_row_edited_since_is_kept_and_counted(db_path: Path) -> None:
    _world(db_path)
    con = linksim.connect(db_path)
    linksim.apply(con, _defs({"enabled": False}))
    edit = pd.DataFrame(
        [
            {
                "person_id": 2,
                "field": "stage",
                "value": "customer",
                "set_at": T0 + dt.timedelta(days=1),
            }
        ]
    )
    linksim.load(con, "crm.person_field", edit)
    result = linksim.apply(con, _defs({"enabled": True, "user_agents": ["scanner"]}))
    assert result.reversal["edited_since"] == 1
    assert result.reversal_kept[["target_kind", "target", "person_id"]].values.tolist() == [
        ["field", "stage", 2]
    ]
    assert con.execute("SELECT value FROM crm.person_field WHERE person_id = 2").fetchall() == [
        ("customer",)
    ]
    con.close()


def test_undo_keeps_what_changed_since_and_says_who(db_path: Path) -> None:
    _world(db_path)
    con = linksim.connect(db_path)
    first = linksim.apply(con, _defs({"enabled": False})).run_id
    edit = pd.DataFrame(
        [
            {
                "person_id": 1,
                "field": "stage",
                "value": "customer",
                "set_at": T0 + dt.timedelta(days=1),
            }
        ]
    )
    linksim.load(con, "crm.person_field", edit)
    result = linksim.undo(con, first)
    assert list(result.kept["reason"]) == ["changed since by hand or by a load"]
    assert con.execute("SELECT person_id, value FROM crm.person_field").fetchall() == [
        (1, "customer")
    ]
    assert con.execute("SELECT count(*) FROM crm.appointment").fetchall() == [(0,)]
    with pytest.raises(UsageError, match="already undone"):
        linksim.undo(con, first)
    con.close()


def test_undo_from_the_command_line(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _world(db_path)
    con = linksim.connect(db_path)
    run_id = linksim.apply(con, _defs({"enabled": False})).run_id
    con.close()
    assert main(["undo", str(run_id), "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"undo of run {run_id} (run {run_id + 1}): 6 rows restored")
    assert main(["undo", "99", "--db", str(db_path)]) == 2
    assert "run 99 does not exist" in capsys.readouterr().err
