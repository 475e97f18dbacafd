"""preview and apply on a small hand-made world: exact results, CLI output, scripts, records."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

import linksim
from linksim import runs
from linksim.cli import main
from linksim.runs import pipeline_sql

T0 = dt.datetime(2026, 3, 2, 9, 0)  # a Monday


def _load(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, object]]) -> None:
    report = linksim.load(con, table, pd.DataFrame(rows))
    assert report.quarantined == 0, report


@pytest.fixture
def world(db_path: Path) -> Path:
    """Two reps, two persons, one mailing with two links, a few clicks."""
    con = linksim.connect(db_path)
    _load(
        con,
        "crm.associate",
        [
            {
                "associate_id": 1,
                "name": "Ann",
                "team": "Sales",
                "daily_capacity": 1,
                "timezone": "Europe/Oslo",
            },
            {
                "associate_id": 2,
                "name": "Bo",
                "team": "Sales",
                "daily_capacity": None,
                "timezone": "UTC",
            },
        ],
    )
    _load(con, "crm.contact", [{"contact_id": 10, "name": "Acme <AS>", "owner_id": 1}])
    _load(
        con,
        "crm.person",
        [
            {
                "person_id": 100,
                "contact_id": 10,
                "first_name": "Eva",
                "last_name": "Lund",
                "email": "eva@acme.example",
            },
            {
                "person_id": 101,
                "contact_id": None,
                "first_name": "<b>Tom</b>",
                "last_name": None,
                "email": None,
            },
        ],
    )
    _load(con, "crm.extra_field", [{"name": "last_cta", "type": "text", "options": None}])
    _load(
        con,
        "crm.person_field",
        [  # a manual edit newer than every click: it must win
            {
                "person_id": 101,
                "field": "last_cta",
                "value": "manual",
                "set_at": T0 + dt.timedelta(days=9),
            },
        ],
    )
    _load(con, "crm.interest", [{"interest_id": 1, "name": "News"}])
    _load(con, "mail.mailing", [{"mailing_id": 7, "name": "March news", "sent_at": T0}])
    _load(
        con,
        "mail.link",
        [
            {"link_id": 1, "url": "https://example.com/a", "name": "Read more"},
            {"link_id": 2, "url": "https://example.com/b", "name": "Call me"},
        ],
    )
    _load(
        con, "mail.mailing_link", [{"mailing_id": 7, "link_id": 1}, {"mailing_id": 7, "link_id": 2}]
    )
    _load(
        con,
        "mail.recipient",
        [
            {"mailing_id": 7, "person_id": 100, "delivered_at": T0},
            {"mailing_id": 7, "person_id": 101, "delivered_at": T0},
        ],
    )
    _load(
        con,
        "mail.click",
        [
            {
                "click_id": 1,
                "mailing_id": 7,
                "link_id": 1,
                "person_id": 100,
                "clicked_at": T0 + dt.timedelta(hours=1),
            },
            {
                "click_id": 2,
                "mailing_id": 7,
                "link_id": 1,
                "person_id": 101,
                "clicked_at": T0 + dt.timedelta(hours=2),
            },
            {
                "click_id": 3,
                "mailing_id": 7,
                "link_id": 2,
                "person_id": 100,
                "clicked_at": T0 + dt.timedelta(hours=3),
            },
            {
                "click_id": 4,
                "mailing_id": 7,
                "link_id": 2,
                "person_id": 100,
                "clicked_at": T0 + dt.timedelta(hours=4),
            },
        ],
    )
    con.close()
    return db_path


DEFS = {
    "version": 1,
    "links": [
        {
            "link": 1,
            "actions": [
                {"id": "news", "type": "interest", "add": ["News"]},
                {"id": "cta", "type": "set_field", "field": "last_cta", "value": "read-more"},
                {"id": "hi", "type": "response", "feedback_text": "Thanks, {first_name}!"},
            ],
        },
        {
            "link": 2,
            "actions": [
                {
                    "id": "call",
                    "type": "follow_up",
                    "owner": "contact_owner",
                    "fallback": 2,
                    "description": "Call {person_name} ({link_hits} clicks)",
                    "due": {"business_days": 1, "at": "09:00", "next_free_slot": True},
                },
                {
                    "id": "form",
                    "type": "response",
                    "form": {"form_id": "callme", "prefill": ["email", "last_cta"]},
                },
            ],
        },
    ],
}


@pytest.fixture
def defs_file(tmp_path: Path) -> Path:
    path = tmp_path / "defs.json"
    path.write_text(json.dumps(DEFS))
    return path


def _crm(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
    tables = ["crm.person_field", "crm.person_interest", "crm.appointment", "crm.ticket"]
    return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=str) for t in tables}


def test_apply_makes_exactly_the_expected_changes(world: Path) -> None:
    con = linksim.connect(world)
    result = linksim.apply(con, linksim.parse_definitions(DEFS))
    assert result.counts == {"seen": 4, "eligible": 4, "bot": 0, "duplicate": 0, "quarantined": 0}
    fields = con.execute(
        "SELECT person_id, value, source_click_id FROM crm.person_field ORDER BY person_id"
    ).fetchall()
    assert fields == [(100, "read-more", 1), (101, "manual", None)]  # the manual edit won
    assert con.execute(
        "SELECT person_id, interest_id FROM crm.person_interest ORDER BY 1"
    ).fetchall() == [(100, 1), (101, 1)]
    (appointment,) = con.execute(
        "SELECT appointment_id, owner_id, description, starts_at, source_click_id "
        "FROM crm.appointment"
    ).fetchall()
    # once per mailing: the earliest click (3) is the source; Ann (contact owner) in Oslo,
    # next working day 09:00 local = 08:00 UTC
    assert appointment == (
        "call/p100/m7",
        1,
        "Call Eva Lund (1 clicks)",
        dt.datetime(2026, 3, 3, 8, 0),
        3,
    )
    responses = con.execute(
        "SELECT click_id, action_id, kind, text, form_id, prefill "
        "FROM linksim.response ORDER BY click_id, action_id"
    ).fetchall()
    assert responses[:2] == [
        (1, "hi", "feedback", "Thanks, Eva!", None, None),
        (2, "hi", "feedback", "Thanks, &lt;b&gt;Tom&lt;/b&gt;!", None, None),  # escaped
    ]
    # the form is prefilled from what was stored before the run
    assert [r[1:5] for r in responses[2:]] == [("form", "form", None, "callme")] * 2
    assert json.loads(responses[2][5]) == {"email": "eva@acme.example", "last_cta": None}
    changes = result.changes[
        ["click_id", "action_id", "target_kind", "target", "old_value", "new_value"]
    ]
    assert changes.values.tolist() == [
        [1, "cta", "field", "last_cta", None, "read-more"],
        [1, "news", "interest", "News", None, "member"],
        [2, "news", "interest", "News", None, "member"],
        [3, "call", "appointment", "call/p100/m7", None, "call/p100/m7"],
    ]
    run = con.execute(
        "SELECT mode, status, clicks_seen, clicks_eligible FROM linksim.run"
    ).fetchall()
    assert run == [("apply", "ok", 4, 4)]
    con.close()


def test_preview_writes_nothing_and_equals_the_apply_that_follows(world: Path) -> None:
    con = linksim.connect(world)
    defs = linksim.parse_definitions(DEFS)
    before = _crm(con)
    previewed = linksim.preview(con, defs)
    assert _crm(con) == before
    applied = linksim.apply(con, defs)
    assert previewed.changes.drop(columns=[]).equals(applied.changes)
    again = linksim.apply(con, defs)
    assert again.changes.empty and again.responses.empty  # responses are recorded once
    con.close()


def test_scope_restricts_the_clicks(world: Path) -> None:
    con = linksim.connect(world)
    defs = linksim.parse_definitions(DEFS)
    result = linksim.apply(con, defs, until=T0 + dt.timedelta(hours=1, minutes=30))
    assert result.counts["seen"] == 1
    assert set(result.changes["click_id"]) == {1}
    with pytest.raises(linksim.UsageError, match="not before"):
        linksim.preview(con, defs, since=T0, until=T0)
    con.close()


def test_an_unknown_name_stops_the_run_before_anything_happens(world: Path) -> None:
    con = linksim.connect(world)
    bad = json.loads(json.dumps(DEFS))
    bad["links"][0]["actions"][0]["add"] = ["Newz"]
    with pytest.raises(linksim.DefinitionError, match="did you mean 'News'"):
        linksim.apply(con, linksim.parse_definitions(bad))
    assert con.execute("SELECT count(*) FROM linksim.run").fetchall() == [(0,)]
    con.close()


def test_scripts_get_the_batch_and_may_set_fields(world: Path) -> None:
    seen: list[pd.DataFrame] = []

    def score(clicks: pd.DataFrame) -> pd.DataFrame:
        seen.append(clicks)
        return pd.DataFrame(
            {"click_id": clicks["click_id"], "field": "last_cta", "value": "scored"}
        )

    def broken(clicks: pd.DataFrame) -> None:
        raise RuntimeError("service down")

    defs = json.loads(json.dumps(DEFS))
    defs["links"][0]["actions"].append({"id": "enrich", "type": "script", "script": "score"})
    defs["links"][1]["actions"].append({"id": "oops", "type": "script", "script": "broken"})
    con = linksim.connect(world)
    parsed = linksim.parse_definitions(defs)
    skipped = linksim.preview(con, parsed, scripts={"score": score, "broken": broken})
    assert [r.status for r in skipped.script_runs] == ["skipped", "skipped"] and not seen
    result = linksim.apply(con, parsed, scripts={"score": score, "broken": broken})
    (frame,) = seen
    assert list(frame.columns) == [
        "cust_id",
        "link_id",
        "shipment_id",
        "link_url",
        "link_hits",
        "return_url",
        "click_id",
        "clicked_at",
    ]
    assert frame["cust_id"].tolist() == [100, 101]  # once per mailing, in click order
    assert [(r.script, r.status) for r in result.script_runs] == [
        ("score", "ok"),
        ("broken", "error"),
    ]
    assert "service down" in (result.script_runs[1].error or "")
    # the script's change comes after set_field in the same click: it wins for person 100
    assert con.execute("SELECT value FROM crm.person_field WHERE person_id = 100").fetchall() == [
        ("scored",)
    ]
    recorded = con.execute(
        "SELECT script, status, clicks FROM linksim.script_run WHERE run_id = ? ORDER BY script",
        [result.run_id],
    ).fetchall()
    assert recorded == [("broken", "error", 1), ("score", "ok", 2)]
    con.close()


def test_a_script_returning_bad_rows_changes_nothing(world: Path) -> None:
    def liar(clicks: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"click_id": [999], "field": ["last_cta"], "value": ["x"]})

    defs = json.loads(json.dumps(DEFS))
    defs["links"][0]["actions"] = [{"id": "enrich", "type": "script", "script": "liar"}]
    con = linksim.connect(world)
    result = linksim.apply(con, linksim.parse_definitions(defs), scripts={"liar": liar})
    assert result.script_runs[0].status == "error"
    assert "clicks it was not given" in (result.script_runs[0].error or "")
    assert result.changes[result.changes["target_kind"] == "field"].empty
    con.close()


def test_a_failed_batch_leaves_the_insertion_order_as_it_was(
    world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch inserts unordered (`unordered_inserts`), and DuckDB's setting is the database's:
    a batch that fails in DuckDB, aborting its transaction, must still set it back."""

    def failing(con: duckdb.DuckDBPyConnection, run_id: int, **_: Any) -> None:
        con.execute("SELECT CAST('not a number' AS INTEGER)")

    monkeypatch.setattr(runs, "write_changes", failing)
    con = linksim.connect(world)
    with pytest.raises(duckdb.ConversionException):
        linksim.apply(con, linksim.parse_definitions(DEFS))
    setting = "SELECT current_setting('preserve_insertion_order')"
    assert con.execute(setting).fetchone() == (True,)
    assert con.execute("SELECT count(*) FROM linksim.journal").fetchone() == (0,)
    con.close()


def test_cli_preview_then_apply(
    world: Path, defs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preview", str(defs_file), "--db", str(world)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "preview (run 1): 4 clicks seen, 4 eligible, 0 bot, 0 duplicate, 0 quarantined"
    )
    assert out[1] == "4 changes, 4 responses"
    assert main(["apply", str(defs_file), "--db", str(world), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["mode"] == "apply" and summary["changes"] == 4
    assert summary["follow_ups_per_owner"][0]["owner_id"] == 1
    assert main(["preview", str(defs_file), "--db", str(world)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "0 changes, 0 responses"


def test_cli_scripts_module_registers_with_the_decorator(
    world: Path,
    defs_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "my_scripts.py").write_text(
        "import pandas as pd\nimport linksim\n\n"
        "@linksim.script('tag_them')\n"
        "def tag(clicks):\n"
        "    return pd.DataFrame({'click_id': clicks['click_id'], 'field': 'last_cta',"
        " 'value': 'tagged'})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    defs = json.loads(json.dumps(DEFS))
    defs["links"][0]["actions"] = [{"id": "tag", "type": "script", "script": "tag_them"}]
    defs_file.write_text(json.dumps(defs))
    args = ["apply", str(defs_file), "--db", str(world), "--scripts", "my_scripts"]
    assert main(args) == 0
    assert "script tag_them (tag): ok, 2 clicks" in capsys.readouterr().out
    assert main(["apply", str(defs_file), "--db", str(world), "--scripts", "no_such_module"]) == 2
    assert "cannot import the scripts module 'no_such_module'" in capsys.readouterr().err


def test_cli_bad_timestamp_is_a_usage_error(
    world: Path, defs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["preview", str(defs_file), "--db", str(world), "--since", "yesterday"])
    assert exit_info.value.code == 2
    assert "expected a date or timestamp" in capsys.readouterr().err


def test_result_shows_itself_and_plots(world: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    con = linksim.connect(world)
    result = linksim.preview(con, linksim.parse_definitions(DEFS))
    html = result._repr_html_()
    assert "<table" in html and "Changes by action" in html
    assert "<b>Tom</b>" not in html
    figure = result.plot()
    assert len(figure.axes) == 2
    con.close()


def test_every_step_is_printable_sql() -> None:
    sql = pipeline_sql()
    for step in (
        "classified",
        "eligible",
        "fired",
        "state_win",
        "schedule",
        "responses",
        "changes",
    ):
        assert f"CREATE OR REPLACE TEMP TABLE ls_{step} AS" in sql
