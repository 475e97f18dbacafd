"""`linksim demo`: builds a demo database through the validating loader and summarises it."""

from __future__ import annotations

from pathlib import Path

import pytest

from linksim.cli import main
from linksim.demo.build import build_demo
from linksim.store.connect import connect


def test_demo_builds_loads_and_prints_counts(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"demo database {db_path} (company)\n")
    assert "  crm.person                   8,000\n" in out
    con = connect(db_path, read_only=True)
    clicks = con.execute("SELECT count(*) FROM mail.click").fetchall()[0][0]
    loads = con.execute(
        "SELECT sum(rows_seen), sum(rows_loaded + rows_updated + rows_duplicate + rows_quarantined)"
        " FROM linksim.load"
    ).fetchall()[0]
    quarantined = con.execute("SELECT count(*) FROM linksim.quarantine").fetchall()[0][0]
    staging = con.execute(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE '%stage'"
    ).fetchall()[0][0]
    con.close()
    click_line = next(line for line in out.splitlines() if line.startswith("  mail.click "))
    assert click_line.split() == ["mail.click", f"{clicks:,}"]
    assert loads[0] == loads[1]  # every staged row accounted for
    assert quarantined > 0 and "quarantined" in out  # the malformed rows, with their reasons
    assert staging == 0


def test_demo_replaces_an_old_demo_but_never_other_files(tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"
    first = build_demo(path)
    second = build_demo(path)
    assert first.counts == second.counts
    other = tmp_path / "crm.duckdb"
    assert main(["init", "--db", str(other)]) == 0
    assert main(["demo", "--db", str(other)]) == 2  # a real database is never overwritten
    con = connect(other, read_only=True)
    assert con.execute("SELECT count(*) FROM crm.person").fetchall() == [(0,)]
    con.close()


def test_demo_of_the_hillstrom_campaign(db_path: Path) -> None:
    summary = build_demo(db_path, dataset="hillstrom")
    assert summary.counts["crm.person"] == 31_828
    assert summary.counts["mail.mailing"] == 2
    assert summary.counts["mail.click"] > 0
    assert all(r.quarantined == 0 for r in summary.loads)
