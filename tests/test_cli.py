"""The `linksim` command: exact output lines and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from linksim.cli import main


def test_init_creates_and_reports(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--db", str(db_path)]) == 0
    assert capsys.readouterr().out == f"initialised {db_path}\n"
    assert main(["init", "--db", str(db_path)]) == 0  # again: nothing changes, still fine
    assert db_path.exists()


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("linksim: error: argument command: invalid choice: 'frobnicate'")
    assert err.count("\n") == 1


def test_bad_number_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--clicks", "many"])
    assert exit_info.value.code == 2
    assert "expected a whole number, found 'many'" in capsys.readouterr().err


def test_load_into_missing_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text("interest_id,name\n1,News\n")
    code = main(["load", "crm.interest", str(csv), "--db", str(tmp_path / "none.duckdb")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("linksim: error: database ") and "linksim init" in err
    assert err.count("\n") == 1


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    """The installed entry point: a user's mistake gives exit 2 and no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "linksim", "load", "crm.person", "x.csv", "--db", "nope.duckdb"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("linksim: error:")


def test_schema_prints_the_definitions_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from linksim.definitions import definitions_schema

    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == definitions_schema()
    assert printed["properties"]["version"]


def test_load_prints_accounting_and_exits_1_on_quarantine(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["init", "--db", str(db_path)])
    csv = tmp_path / "interests.csv"
    csv.write_text("interest_id,name\n1,Product news\n2,\n1,Product news\n")
    assert main(["load", "crm.interest", str(csv), "--db", str(db_path)]) == 1
    out = capsys.readouterr().out
    assert "3 rows seen" in out
    assert "name is missing" in out
    assert main(["load", "crm.interest", str(csv), "--db", str(db_path), "--json"]) == 1
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["seen"] == 3
    assert report["seen"] == (
        report["loaded"] + report["updated"] + report["duplicate"] + report["quarantined"]
    )


def test_load_of_an_empty_file_is_one_line_exit_2(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["init", "--db", str(db_path)])
    capsys.readouterr()
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["load", "mail.click", str(empty), "--db", str(db_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("linksim: error: ") and "empty" in err
    assert err.count("\n") == 1
