"""simulate: calibrated on Hillstrom, and each simulated world fires what real clicks would."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

import linksim
from linksim._resources import data_path
from linksim.cli import main
from linksim.demo.build import build_demo
from linksim.errors import UsageError
from linksim.simulation import SimulationResult, calibrate, simulate, worlds

PLANNED = 2026111  # "Product news November 2026": recipients and links, no clicks
# A fixed send for results compared across placements of the worlds: the mailing has no
# sent_at, so simulate would send it an hour from now. The worlds lie whole weeks apart in
# UTC, and those in summer time see the Berlin and Stockholm reps' local days and hours an hour
# off from those in winter: which worlds those are depends on the send and the spacing, and a
# follow-up at a day's edge can then land on another day (docs/SIMULATION.md, known limits)
SEND = dt.datetime(2026, 11, 26, 9, 0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("simulate") / "demo.duckdb"
    build_demo(path, clicks=5_000)
    return path


@pytest.fixture
def con(demo: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    copy = tmp_path / "demo.duckdb"
    shutil.copy(demo, copy)
    connection = linksim.connect(copy, create=False)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def defs() -> linksim.Definitions:
    return linksim.load_definitions(data_path("demo-definitions.yaml"))


# Definitions on the planned mailing's links that take every path through the worlds: state
# written from several links in an order that matters (per pattern), `once` and first clicks,
# an every-click ticket and a follow-up (per world); in the second, a contact-wide interest and
# an action that waits for a confirming click put every state action per world, with all the
# clicks of the persons concerned.
_NEWS, _FEATURES, _UNSUBSCRIBE, _DEMO, _PRICING = 20261111, 20261112, 1, 2, 3
TANGLED = {
    "version": 1,
    "links": [
        {"link": _NEWS, "actions": [
            {"id": "news-in", "type": "interest", "add": ["Product news"]},
            {"id": "news-cta", "type": "set_field", "field": "last_cta", "value": "news"},
            {"id": "news-cold", "type": "selection", "remove": ["Cold leads"]}]},
        {"link": _FEATURES, "actions": [
            {"id": "features-cta", "type": "set_field", "field": "last_cta",
             "value": "features", "fire": "once"},
            {"id": "features-ticket", "type": "request", "title": "Features: {person_name}",
             "priority": "low", "category": "Support", "owner": "unassigned",
             "fire": "every_click"}]},
        {"link": _UNSUBSCRIBE, "actions": [
            {"id": "unsub-news", "type": "interest", "remove": ["Product news"]},
            {"id": "unsub-sel", "type": "selection", "add": ["Unsubscribed"],
             "remove": ["Newsletter subscribers"]}]},
        {"link": _DEMO, "actions": [
            {"id": "demo-hot", "type": "selection", "add": ["Hot leads"],
             "remove": ["Cold leads"], "fire": "once_per_mailing"},
            {"id": "demo-call", "type": "follow_up", "kind": "task", "task_type": "Phone call",
             "description": "Call {person_name}", "created_by": 1, "owner": "contact_owner",
             "fallback": 3, "due": {"business_days": 1, "at": "09:00",
                                    "next_free_slot": True},
             "duration_minutes": 15}]},
        {"link": _PRICING, "actions": [
            {"id": "pricing-cta", "type": "set_field", "field": "last_cta", "value": "pricing"},
            {"id": "pricing-ticket", "type": "request", "title": "Pricing",
             "priority": "high", "category": "Sales", "owner": "contact_owner",
             "fallback": 16}]},
    ],
}  # fmt: skip
CONTACT_WIDE = {
    **TANGLED,
    "links": [
        *TANGLED["links"],
        {"link": _NEWS, "actions": [
            {"id": "news-company", "type": "interest", "scope": "contact",
             "add": ["AI assistant"]},
            {"id": "news-confirmed", "type": "set_field", "field": "lead_score", "value": "60",
             "require": "confirmed"}]},
    ],
}  # fmt: skip
VARIANTS = {"tangled": TANGLED, "contact-wide": CONTACT_WIDE}


@pytest.fixture(params=["demo", *VARIANTS])
def variant(request: pytest.FixtureRequest, defs: linksim.Definitions) -> linksim.Definitions:
    if request.param == "demo":
        return defs
    return linksim.parse_definitions(VARIANTS[request.param])


# --- calibration ----------------------------------------------------------------------------------


def test_hillstrom_backtest_is_calibrated_and_beats_the_base_rate(tmp_path: Path) -> None:
    path = tmp_path / "hillstrom.duckdb"
    build_demo(path, dataset="hillstrom")
    con = linksim.connect(path, create=False)
    try:
        result = calibrate.hillstrom_backtest(
            con, linksim.parse_definitions({"version": 1, "links": []}), worlds=300
        )
    finally:
        con.close()
    assert len(result.cells) > 200  # 5 folds x 2 mailings x (all + every covariate value)
    assert result.coverage90 >= 0.80, result.summary()
    assert result.mae < result.base_mae, result.summary()
    # and the intervals are not simply huge: the 50% interval holds about half
    assert 0.35 <= result.coverage50 <= 0.75, result.summary()


# --- the simulation -------------------------------------------------------------------------------


def test_simulate_gives_the_spec_json_and_is_reproducible(
    con: duckdb.DuckDBPyConnection, defs: linksim.Definitions
) -> None:
    first = simulate(con, defs, PLANNED, runs=40, seed=3, by="contact.category")
    assert isinstance(first, SimulationResult)
    left = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name LIKE 'sim%'"
    ).fetchall()[0][0]
    assert left == 0  # nothing big is left in the session
    out = first.to_dict()
    assert out["runs"] == 40
    row = out["metrics"][0]
    assert {"metric", "key", "mean", "p05", "p50", "p95"} <= set(row)
    clickers = first.metric("clickers")
    links = sorted(
        r[0]
        for r in con.execute(
            "SELECT link_id FROM mail.mailing_link WHERE mailing_id = ?", [PLANNED]
        ).fetchall()
    )
    assert sorted(int(k) for k in clickers["key"]) == links
    assert (clickers["p05"] <= clickers["p50"]).all() and (clickers["p50"] <= clickers["p95"]).all()
    by = first.metric("clickers_by")
    assert not by.empty and all("|" in k for k in by["key"])
    again = simulate(con, defs, PLANNED, runs=40, seed=3, by="contact.category")
    pd.testing.assert_frame_equal(first.metrics, again.metrics)
    other = simulate(con, defs, PLANNED, runs=40, seed=4, by="contact.category")
    assert not first.metrics["mean"].equals(other.metrics["mean"])
    json.dumps(out)  # JSON-ready


def test_passes_through_the_engine_do_not_change_the_result(
    con: duckdb.DuckDBPyConnection, defs: linksim.Definitions
) -> None:
    one = simulate(con, defs, PLANNED, runs=12, seed=5)
    many = simulate(con, defs, PLANNED, runs=12, seed=5, pass_clicks=300, keep_relations=True)
    assert con.execute("SELECT count(DISTINCT world) FROM sim_clicks").fetchall()[0][0] == 12
    assert len(worlds._passes(con, 300, 12)) >= 3  # the worlds went through in several passes
    pd.testing.assert_frame_equal(one.metrics, many.metrics)
    pd.testing.assert_frame_equal(one.capacity, many.capacity)


def test_shared_patterns_and_far_follow_ups_do_not_change_the_result(
    con: duckdb.DuckDBPyConnection,
    variant: linksim.Definitions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each person's distinct pattern of clicks goes through the engine once, for every world
    # that drew it; without sharing, every world's clicks go through as drawn.
    defs = variant
    shared = simulate(con, defs, PLANNED, runs=30, seed=8, send_at=SEND, keep_relations=True)
    patterns = con.execute("SELECT count(*) FROM sim_pattern_world").fetchall()[0][0]
    worlds_of_patterns = con.execute(
        "SELECT count(DISTINCT world) FROM sim_pattern_world"
    ).fetchall()[0][0]
    assert patterns > 100 and worlds_of_patterns == 30  # the sharing was used
    monkeypatch.setattr(worlds, "run_worlds", partial(worlds.run_worlds, share_patterns=False))
    unshared = simulate(con, defs, PLANNED, runs=30, seed=8, send_at=SEND)
    pd.testing.assert_frame_equal(shared.metrics, unshared.metrics)
    pd.testing.assert_frame_equal(shared.capacity, unshared.capacity)
    # Worlds a week apart, the sales reps' capacity one a day, their calendars copied for a
    # day: the follow-ups of one world reach the next one's days, so the pass is run again with
    # the worlds further apart, and the result is that of worlds far apart.
    con.execute("UPDATE crm.associate SET daily_capacity = 1").fetchall()
    monkeypatch.setattr(worlds, "CALENDAR", dt.timedelta(days=1))
    far = simulate(con, defs, PLANNED, runs=30, seed=8, send_at=SEND)
    monkeypatch.setattr(worlds, "SHIFT", dt.timedelta(weeks=1))
    shifts: list[object] = []
    run_pass = worlds._run_pass

    def spy(*args: Any) -> dt.timedelta | None:
        shifts.append(args[5])  # (con, defs, real, send_at, mailing, shift, params)
        return run_pass(*args)

    monkeypatch.setattr(worlds, "_run_pass", spy)
    near = simulate(con, defs, PLANNED, runs=30, seed=8, send_at=SEND)
    assert shifts[0] == dt.timedelta(weeks=1) and shifts[1] >= dt.timedelta(weeks=2)
    pd.testing.assert_frame_equal(far.metrics, near.metrics)
    pd.testing.assert_frame_equal(far.capacity, near.capacity)


# A send before the last mailings (and their changes) was sent: fields, memberships and past
# clicks newer than the send meet the world's clicks in time order, so no pattern is shared.
@pytest.mark.parametrize("send", ["2026-11-03 07:30", "2026-06-02 07:30"])
def test_a_simulated_world_fires_what_its_clicks_fire_for_real(
    con: duckdb.DuckDBPyConnection, variant: linksim.Definitions, send: str
) -> None:
    # World 0 lives at the real time: load its clicks as real clicks of the planned mailing
    # and preview them; every count the simulation kept for world 0 must be what the preview
    # shows. (The bot filter is off in both: simulated clicks are people's.)
    send_at = pd.Timestamp(send).to_pydatetime()
    quiet = variant.model_copy(
        update={"bot_filter": variant.bot_filter.model_copy(update={"enabled": False})}
    )
    simulate(con, quiet, PLANNED, runs=3, seed=11, send_at=send_at, keep_relations=True)
    # click ids in the order the sandbox gives them: simulated delays come from history's
    # quantiles, so two links of one person can tie to the microsecond; the id decides
    world = con.execute(
        "SELECT mailing_id, link_id, person_id, clicked_at FROM sim_clicks WHERE world = 0"
        " ORDER BY clicked_at, person_id, link_id"
    ).df()
    assert len(world) > 50
    expected = {
        "changes": con.execute(
            "SELECT action_id, target_kind, coalesce(target, ''), people FROM sim_out_changes"
            " WHERE world = 0"
        ).fetchall(),
        "follow_ups": con.execute(
            "SELECT owner_id, day, follow_ups FROM sim_out_follow_ups WHERE world = 0"
        ).fetchall(),
        "tickets": con.execute(
            "SELECT category, priority, tickets FROM sim_out_tickets WHERE world = 0"
        ).fetchall(),
    }
    con.execute(
        "UPDATE mail.mailing SET sent_at = ? WHERE mailing_id = ?", [send_at, PLANNED]
    ).fetchall()
    con.execute(
        "UPDATE mail.recipient SET delivered_at = ? WHERE mailing_id = ?", [send_at, PLANNED]
    ).fetchall()
    (first_id,) = con.execute("SELECT max(click_id) + 1 FROM mail.click").fetchall()[0]
    world.insert(0, "click_id", range(first_id, first_id + len(world)))
    report = linksim.load(con, "mail.click", world)
    assert report.loaded == len(world)
    preview = linksim.preview(con, quiet, mailing=PLANNED, since=send_at)
    changes = preview.changes
    got = (
        changes.assign(
            target=changes["target"].where(
                ~changes["target_kind"].isin(["appointment", "ticket"]), ""
            )
        )
        .groupby(["action_id", "target_kind", "target"])["person_id"]
        .nunique()
    )
    assert sorted((a, k, t, int(n)) for (a, k, t), n in got.items()) == sorted(
        (a, k, t, int(n)) for a, k, t, n in expected["changes"]
    )
    appointments = preview.appointments
    tz = con.execute("SELECT associate_id, timezone FROM crm.associate").fetchall()
    zones = dict(tz)
    local_days = appointments.apply(
        lambda a: (
            pd.Timestamp(a["starts_at"])
            .tz_localize("UTC")
            .tz_convert(zones.get(a["owner_id"]) or "UTC")
            .date()
        ),
        axis=1,
    )
    per_day = appointments.assign(day=local_days).groupby(["owner_id", "day"]).size()
    assert sorted((int(o), d, int(n)) for (o, d), n in per_day.items()) == sorted(
        (int(o), d, int(n)) for o, d, n in expected["follow_ups"]
    )
    tickets = preview.tickets.groupby(["category", "priority"]).size()
    assert sorted((c, p, int(n)) for (c, p), n in tickets.items()) == sorted(
        (c, p, int(n)) for c, p, n in expected["tickets"]
    )


def test_by_a_date_field_counts_per_year(
    con: duckdb.DuckDBPyConnection, defs: linksim.Definitions
) -> None:
    by = simulate(con, defs, PLANNED, runs=10, seed=2, by="customer_since").metric("clickers_by")
    values = {k.split("|", 1)[1] for k in by["key"]}
    assert values and all(v == "(none)" or (len(v) == 4 and v.isdigit()) for v in values)


def test_simulate_refuses_what_it_cannot_do(
    con: duckdb.DuckDBPyConnection, defs: linksim.Definitions
) -> None:
    with pytest.raises(UsageError, match="no such mailing"):
        simulate(con, defs, 999, runs=5)
    with pytest.raises(UsageError, match="clicks already"):
        simulate(con, defs, 2026031, runs=5)
    with pytest.raises(UsageError, match="not an extra field"):
        simulate(con, defs, PLANNED, runs=5, by="shoe_size")


def test_cli_simulate_json(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    defs = str(data_path("demo-definitions.yaml"))
    args = ["simulate", defs, "--db", str(demo), "--mailing", str(PLANNED), "--runs", "20"]
    assert main([*args, "--json", "--by", "job_role"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["runs"] == 20 and {m["metric"] for m in out["metrics"]} >= {
        "clickers",
        "clickers_by",
        "changes",
        "follow_ups",
        "tickets",
    }
    names = dict(
        duckdb.connect(str(demo), read_only=True)
        .execute(
            "SELECT l.link_id::VARCHAR, coalesce(l.name, l.url) FROM mail.mailing_link ml"
            " JOIN mail.link l USING (link_id) WHERE ml.mailing_id = ?",
            [PLANNED],
        )
        .fetchall()
    )
    assert out["links"] == names and len(names) == 5
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Clickers per link" in text
    assert all(f"{name} ({link})" in text for link, name in names.items())  # links by name
    with pytest.raises(SystemExit) as stop:
        main([*args[:-2], "--runs", "0"])
    assert stop.value.code == 2


def test_result_renders_and_plots(
    con: duckdb.DuckDBPyConnection, defs: linksim.Definitions
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    result = simulate(con, defs, PLANNED, runs=20, seed=1)
    page = result._repr_html_()
    assert "<table" in page and "Clickers per link" in page
    fan, heat = result.plot_fan(), result.plot_workload()
    assert fan.axes and fan.axes[0].get_xlabel() == "hours after the send"
    assert [ax.get_title() for ax in fan.axes] == [
        result.link_label(k) for k in sorted(result.timeline["link_id"].unique())
    ]
    assert all("(" in ax.get_title() for ax in fan.axes)  # named: "Book a demo (2)"
    assert heat.axes[0].get_ylabel() == "owner (associate id)"
