"""lint: every finding kind, a clean file, and the historical counts of a hand-checked world."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

import linksim
from linksim._resources import data_path
from linksim.cli import main
from linksim.demo.build import build_demo
from linksim.linting import CODES, Finding, LintResult, lint

T0 = dt.datetime(2026, 3, 2, 9, 0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lint") / "demo.duckdb"
    build_demo(path, clicks=5_000)
    return path


@pytest.fixture
def demo_con(demo: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = linksim.connect(demo, create=False)
    yield con
    con.close()


# --- the conflicts file: one finding of every kind ------------------------------------------------


def by_code(result: LintResult) -> dict[str, list[Finding]]:
    found: dict[str, list[Finding]] = {}
    for f in result.findings:
        found.setdefault(f.code, []).append(f)
    return found


def test_the_conflicts_file_has_a_finding_of_every_kind(
    demo_con: duckdb.DuckDBPyConnection,
) -> None:
    result = lint(demo_con, data_path("conflicts-definitions.yaml"))
    found = by_code(result)
    assert set(found) == set(CODES)
    # where each one is, as the file's comments say
    expected: dict[str, tuple[tuple[Any, ...], tuple[str, ...]]] = {
        "invalid": ((5,), ("survey-cta",)),
        "duplicate-id": ((5,), ("survey-sync",)),
        "bad-template": ((4,), ("support-thanks",)),
        "redirect-refused": ((5,), ("survey-go",)),
        "unknown-name": ((3,), ("pricing-typo",)),
        "type-mismatch": ((3,), ("pricing-score",)),
        "link-not-in-mailing": ((4,), ()),
        "unregistered-script": ((5,), ("survey-sync",)),
        "add-and-remove": ((2, 3), ("demo-hot", "pricing-cool")),
        "two-values": ((2, 3), ("demo-stage", "pricing-stage")),
        "two-follow-ups": ((2, 3), ("demo-call", "pricing-ticket")),
        "every-click-creates": ((4,), ("support-every-click",)),
    }
    for code, (links, actions) in expected.items():
        assert [(f.links, f.actions) for f in found[code]] == [(links, actions)], code
        assert found[code][0].severity == CODES[code][0]
    # the shared links: Book a demo has no `mailings` (the survey's actions all have errors,
    # and an action with an error is left out of the conflict search)
    assert [f.links for f in found["shared-link"]] == [(2,)]
    # the mailing that does not use the link, and only its clickers (none)
    (unused,) = found["link-not-in-mailing"]
    assert (unused.mailings, unused.people) == ((2026032,), 0)
    assert "did you mean 'Hot leads'?" in found["unknown-name"][0].message
    assert found["add-and-remove"][0].mailings == (2025111, 2026011, 2026031)
    assert [f.severity for f in result.findings] == sorted(
        (f.severity for f in result.findings), key=["error", "warning", "info"].index
    )
    assert not result.ok
    assert all(f.fix for f in result.findings)


def test_a_clean_file_has_no_findings(demo: Path, tmp_path: Path) -> None:
    path = tmp_path / "clean.yaml"
    path.write_text(
        "version: 1\n"
        "links:\n"
        "  - link: 20260311\n"
        "    actions:\n"
        "      - {id: ai-news, type: interest, add: [AI assistant]}\n"
        "      - {id: ai-thanks, type: response, redirect: 'https://example.com/ai'}\n"
        "  - link: 3\n"
        "    mailings: [2026031]\n"
        "    actions:\n"
        "      - {id: pricing, type: selection, add: [Hot leads]}\n"
    )
    con = linksim.connect(demo, create=False)
    try:
        result = lint(con, path)
        clicks = con.execute("SELECT count(*) FROM mail.click").fetchone()
    finally:
        con.close()
    assert result.findings == [] and result.ok
    assert clicks is not None and result.clicks == clicks[0]
    assert "no findings" in str(result)
    assert main(["lint", str(path), "--db", str(demo)]) == 0


# --- exit codes, JSON and HTML --------------------------------------------------------------------


def test_cli_exit_codes_and_json(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conflicts = str(data_path("conflicts-definitions.yaml"))
    assert main(["lint", conflicts, "--db", str(demo), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"file", "ok", "counts", "clicks", "findings"}
    assert out["ok"] is False and out["counts"]["error"] == 8
    assert set(out["findings"][0]) == {
        "code",
        "severity",
        "message",
        "fix",
        "links",
        "actions",
        "mailings",
        "field",
        "people",
        "order_dependent",
        "outcomes",
    }
    # warnings and info only: exit 0
    assert main(["lint", str(data_path("demo-definitions.yaml")), "--db", str(demo)]) == 0
    text = capsys.readouterr().out
    assert "WARNING [add-and-remove]" in text and "fix:" in text
    # a file that cannot be read at all is bad input
    assert main(["lint", "missing.yaml", "--db", str(demo)]) == 2
    assert "file not found" in capsys.readouterr().err


def test_findings_render_escaped_in_jupyter(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO mail.link VALUES (1, 'https://example.com', 'x')")
    evil = "<script>alert(1)</script>"
    result = lint(
        con,
        {
            "version": 1,
            "links": [{"link": 1, "actions": [{"id": "a", "type": "selection", "add": [evil]}]}],
        },
    )
    page = result._repr_html_()
    assert "<table" in page and "<th>" in page
    assert evil not in page and "&lt;script&gt;" in page
    assert result.to_frame().loc[0, "code"] == "unknown-name"


# --- historical counts, checked by hand -----------------------------------------------------------


def _load(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    report = linksim.load(con, table, pd.DataFrame(rows))
    assert report.quarantined == 0, report


def _click(click_id: int, person: int, link: int, mailing: int, after: dt.timedelta) -> dict:
    return {
        "click_id": click_id,
        "mailing_id": mailing,
        "link_id": link,
        "person_id": person,
        "clicked_at": T0 + after,
    }


H, S = dt.timedelta(hours=1), dt.timedelta(seconds=1)

# Mailing 7 has links 1 and 2, mailing 8 has links 1 and 3.
CLICKS = [
    _click(10, 1, 1, 7, 1 * H),  # p1: adds only
    _click(20, 2, 1, 7, 1 * H),  # p2: adds, then removes: ends removed
    _click(21, 2, 2, 7, 2 * H),
    _click(30, 3, 2, 7, 1 * H),  # p3: removes, then adds: ends added
    _click(31, 3, 1, 7, 2 * H),
    _click(40, 4, 2, 7, 1 * H),  # p4: removes only
    _click(50, 5, 1, 8, 1 * H),  # p5: adds in mailing 8, where link 2 is not: no conflict
    _click(51, 5, 2, 7, 2 * H),
    _click(60, 6, 1, 7, 2 * S),  # p6: a scanner 2 s after delivery (a bot), then removes
    _click(61, 6, 2, 7, 1 * H),
    _click(70, 7, 2, 7, 3 * H),  # p7: both at one instant: the higher click id is last
    _click(71, 7, 1, 7, 3 * H),
    _click(80, 8, 3, 8, 1 * H),  # p8: only the link with a broken action
]

DEFS: dict[str, Any] = {
    "version": 1,
    "links": [
        {
            "link": 1,
            "actions": [
                {"id": "hot-add", "type": "selection", "add": ["Hot"]},
                {"id": "stage-a", "type": "set_field", "field": "stage", "value": "a"},
                {"id": "call", "type": "follow_up", "owner": 1},
            ],
        },
        {
            "link": 2,
            "actions": [
                {"id": "hot-remove", "type": "selection", "remove": ["Hot"]},
                {"id": "stage-b", "type": "set_field", "field": "stage", "value": "b"},
                {"id": "ticket", "type": "request", "title": "Call {person_name}"},
            ],
        },
        {"link": 3, "actions": [{"id": "typo", "type": "interest", "add": ["Nwes"]}]},
    ],
}


@pytest.fixture
def world(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    _load(con, "crm.associate", [{"associate_id": 1, "name": "Ann"}])
    _load(con, "crm.person", [{"person_id": p, "first_name": f"P{p}"} for p in range(1, 9)])
    _load(con, "crm.extra_field", [{"name": "stage", "type": "text", "options": None}])
    _load(con, "crm.selection", [{"selection_id": 1, "name": "Hot"}])
    _load(con, "crm.interest", [{"interest_id": 1, "name": "News"}])
    _load(con, "mail.mailing", [{"mailing_id": m, "name": f"M{m}", "sent_at": T0} for m in (7, 8)])
    _load(
        con,
        "mail.link",
        [{"link_id": k, "url": f"https://example.com/{k}", "name": f"L{k}"} for k in (1, 2, 3)],
    )
    _load(
        con,
        "mail.mailing_link",
        [{"mailing_id": m, "link_id": k} for m, k in ((7, 1), (7, 2), (8, 1), (8, 3))],
    )
    _load(
        con,
        "mail.recipient",
        [
            {"mailing_id": m, "person_id": p, "delivered_at": T0}
            for m in (7, 8)
            for p in range(1, 9)
        ],
    )
    _load(con, "mail.click", CLICKS)
    return con


def test_history_counts_match_the_hand_count(world: duckdb.DuckDBPyConnection) -> None:
    found = by_code(lint(world, DEFS))
    (add_remove,) = found["add-and-remove"]
    # touched in mailing 7: p1-p7 (p5 through link 2 only, p6 through its human click only);
    # both: p2, p3, p7; last: p3 and p7 added (p7's link 1 click has the higher id), p2 removed
    assert add_remove.mailings == (7,)
    assert (add_remove.people, add_remove.order_dependent) == (7, 3)
    assert add_remove.outcomes == (("hot-add", 2), ("hot-remove", 1))
    (two_values,) = found["two-values"]
    assert (two_values.people, two_values.order_dependent) == (7, 3)
    assert two_values.outcomes == (("stage-a", 2), ("stage-b", 1))
    (two,) = found["two-follow-ups"]
    assert (two.actions, two.people, two.order_dependent) == (("call", "ticket"), 7, 3)
    # link 1 is in mailings 7 and 8: everyone whose human click on it fired: p1, p2, p3, p5, p7
    (shared,) = found["shared-link"]
    assert (shared.links, shared.mailings, shared.people) == ((1,), (7, 8), 5)
    assert shared.order_dependent is None
    # the broken action never runs; the people whose clicks would have fired it: p8
    (typo,) = found["unknown-name"]
    assert (typo.actions, typo.people) == (("typo",), 1)
    assert "every-click-creates" not in found


def test_the_outcome_counts_are_what_apply_leaves(world: duckdb.DuckDBPyConnection) -> None:
    (finding,) = by_code(lint(world, DEFS))["add-and-remove"]
    fixed = {**DEFS, "links": DEFS["links"][:2]}
    linksim.apply(world, linksim.parse_definitions(fixed))
    in_hot = {
        row[0]
        for row in world.execute(
            "SELECT person_id FROM crm.selection_member WHERE selection_id = 1"
        ).fetchall()
    }
    both = {2, 3, 7}
    assert len(in_hot & both) == dict(finding.outcomes)["hot-add"]
    assert len(both - in_hot) == dict(finding.outcomes)["hot-remove"]


def test_every_click_creation_counts_repeat_clickers(world: duckdb.DuckDBPyConnection) -> None:
    defs = {
        "version": 1,
        "links": [
            {
                "link": 2,
                "actions": [
                    {"id": "ticket", "type": "request", "title": "t", "fire": "every_click"}
                ],
            }
        ],
    }
    _load(world, "mail.click", [_click(41, 4, 2, 7, 5 * H)])
    (finding,) = lint(world, defs).findings
    # p2, p3, p4, p5, p6, p7 clicked link 2 in mailing 7; only p4 twice
    assert (finding.code, finding.people, finding.order_dependent) == ("every-click-creates", 6, 1)


@pytest.mark.parametrize(
    "links",
    [
        [],
        [{"link": 3, "actions": [{"id": "typo", "type": "interest", "add": ["Nwes"]}]}],
        [{"link": 999, "actions": [{"id": "x", "type": "selection", "add": ["Hot"]}]}],
    ],
    ids=["no-links", "every-action-invalid", "unknown-link"],
)
def test_history_is_counted_when_nothing_valid_is_left(
    world: duckdb.DuckDBPyConnection, links: list[dict[str, Any]]
) -> None:
    result = lint(world, {"version": 1, "links": links})
    assert result.clicks == len(CLICKS)
    assert all(f.severity == "error" for f in result.findings)
    assert result.ok == (not links)


def test_without_clicks_nothing_is_counted(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO mail.link VALUES (1, 'https://example.com', 'x')")
    con.execute("INSERT INTO crm.selection VALUES (1, 'Hot')")
    result = lint(
        con,
        {
            "version": 1,
            "links": [
                {
                    "link": 1,
                    "actions": [
                        {"id": "a", "type": "selection", "add": ["Hot"]},
                        {"id": "b", "type": "selection", "remove": ["Hot"]},
                    ],
                }
            ],
        },
    )
    (finding,) = result.findings
    assert finding.people is None and result.clicks is None
    assert "history" not in str(result)
