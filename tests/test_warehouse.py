"""Export to and import from a warehouse directory of Parquet folders (the Spark layout)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import duckdb
import pytest

import linksim
from linksim.cli import main
from linksim.demo.build import build_demo
from linksim.errors import InputError
from linksim.store.schema import TABLES
from linksim.warehouse import (
    export_warehouse,
    import_warehouse,
    table_folder,
    upgrade_warehouse,
    warehouse_duckdb,
)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with its definitions applied: every table has rows, the logs too."""
    path = tmp_path_factory.mktemp("warehouse") / "demo.duckdb"
    build_demo(path)
    con = linksim.connect(path)
    linksim.apply(con, linksim.load_definitions(linksim.data_path("demo-definitions.yaml")))
    con.close()
    return path


def _differences(a: Path, b: Path) -> dict[str, int]:
    con = duckdb.connect()
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)").fetchall()
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)").fetchall()
    out = {}
    for t in TABLES:
        (n,) = con.execute(
            f"SELECT (SELECT count(*) FROM (FROM a.{t.name} EXCEPT ALL FROM b.{t.name}))"
            f" + (SELECT count(*) FROM (FROM b.{t.name} EXCEPT ALL FROM a.{t.name}))"
        ).fetchall()[0]
        if n:
            out[t.name] = n
    con.close()
    return out


def test_a_round_trip_keeps_every_row_and_the_sequences(applied: Path, tmp_path: Path) -> None:
    assert main(["export", "--db", str(applied), "--warehouse", str(tmp_path / "w")]) == 0
    assert (table_folder(tmp_path / "w", "crm.person") / "part-00000.parquet").exists()
    copy = tmp_path / "copy.duckdb"
    assert main(["import", "--warehouse", str(tmp_path / "w"), "--db", str(copy)]) == 0
    assert _differences(applied, copy) == {}
    con = linksim.connect(copy)
    (last_run,) = con.execute("SELECT max(run_id) FROM linksim.run").fetchall()[0]
    assert linksim.preview(con, linksim.parse_definitions({"version": 1, "links": []})).run_id == (
        last_run + 1
    )
    con.close()


def test_import_replaces_what_the_database_held(applied: Path, tmp_path: Path) -> None:
    con = linksim.connect(applied, read_only=True)
    export_warehouse(con, tmp_path / "w")
    con.close()
    empty = linksim.connect(":memory:")
    export_warehouse(empty, tmp_path / "empty")
    target = linksim.connect(tmp_path / "t.duckdb")
    assert import_warehouse(target, tmp_path / "w")["mail.click"] > 0
    counts = import_warehouse(target, tmp_path / "empty")
    assert counts["mail.click"] == 0
    assert target.execute("SELECT count(*) FROM crm.person").fetchall() == [(0,)]


def test_a_folder_without_files_is_an_empty_table(tmp_path: Path) -> None:
    con = linksim.connect(":memory:")
    export_warehouse(con, tmp_path)
    (table_folder(tmp_path, "mail.open") / "part-00000.parquet").unlink()
    assert import_warehouse(con, tmp_path)["mail.open"] == 0


def _broken(tmp_path: Path, table: str, select: str) -> Path:
    con = linksim.connect(":memory:")
    export_warehouse(con, tmp_path)
    target = table_folder(tmp_path, table) / "part-00000.parquet"
    con.execute(f"COPY ({select}) TO '{target}' (FORMAT parquet)").fetchall()
    return tmp_path


@pytest.mark.parametrize(
    ("table", "select", "message"),
    [
        ("crm.interest", "SELECT 1 AS interest_id", r"crm\.interest in the warehouse: missing "
         r"column\(s\) name; expected exactly interest_id, name"),
        ("crm.interest", "SELECT 1 AS interest_id, 'x' AS name, 2 AS colour",
         r"unknown column\(s\) colour"),
        ("crm.interest", "SELECT -1 AS interest_id, 'x' AS name",
         r"crm\.interest in the warehouse \(.*crm/interest\): .*CHECK"),
    ],
)  # fmt: skip
def test_bad_tables_are_one_clear_error(
    tmp_path: Path, table: str, select: str, message: str
) -> None:
    folder = _broken(tmp_path, table, select)
    con = linksim.connect(":memory:")
    con.execute("INSERT INTO crm.interest VALUES (5, 'kept')").fetchall()
    with pytest.raises(InputError, match=message):
        import_warehouse(con, folder)
    # one transaction: nothing was replaced
    assert con.execute("SELECT * FROM crm.interest").fetchall() == [(5, "kept")]


def test_a_directory_that_is_not_a_warehouse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "x.duckdb")
    assert main(["import", "--warehouse", str(tmp_path / "nope"), "--db", db]) == 2
    assert "no such warehouse directory" in capsys.readouterr().err
    assert not Path(db).exists()  # a refused import into a new file leaves no file
    (tmp_path / "w").mkdir()
    assert main(["import", "--warehouse", str(tmp_path / "w"), "--db", db]) == 2
    assert "_linksim.json: missing" in capsys.readouterr().err
    con = linksim.connect(":memory:")
    export_warehouse(con, tmp_path / "w")
    (tmp_path / "w" / "_linksim.json").write_text(json.dumps({"schema_version": 99}))
    assert main(["import", "--warehouse", str(tmp_path / "w"), "--db", db]) == 2
    assert "schema version 99" in capsys.readouterr().err


def test_a_version_3_warehouse_is_read_and_upgraded(applied: Path, tmp_path: Path) -> None:
    # version 3 had no linksim.state_writer: it reads as empty until an upgrade adds its folder
    folder = tmp_path / "w"
    con = linksim.connect(applied, read_only=True)
    export_warehouse(con, folder)
    shutil.rmtree(table_folder(folder, "linksim.state_writer"))
    (folder / "_linksim.json").write_text(json.dumps({"schema_version": 3}))
    reader = warehouse_duckdb(folder)
    assert reader.execute("SELECT count(*) FROM linksim.state_writer").fetchall() == [(0,)]
    reader.close()
    assert import_warehouse(linksim.connect(":memory:"), folder)["linksim.state_writer"] == 0
    upgrade_warehouse(folder)
    assert json.loads((folder / "_linksim.json").read_text()) == {"schema_version": 4}
    assert list(table_folder(folder, "linksim.state_writer").glob("*.parquet"))
    imported = linksim.connect(tmp_path / "back.duckdb")
    import_warehouse(imported, folder)
    imported.close()
    writers = con.execute("SELECT count(*) FROM linksim.state_writer").fetchall()[0][0]
    con.close()
    # only the writers the removed folder held are missing
    assert _differences(applied, tmp_path / "back.duckdb") == {"linksim.state_writer": writers}


def test_the_spark_engine_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    defs = str(linksim.data_path("demo-definitions.yaml"))
    assert main(["preview", defs, "--engine", "spark"]) == 2
    assert "add --warehouse DIR" in capsys.readouterr().err
    spark = ["apply", defs, "--engine", "spark", "--warehouse", str(tmp_path)]
    assert main([*spark, "--memory-limit", "4GB"]) == 2
    assert "--memory-limit is DuckDB's" in capsys.readouterr().err
    assert main([*spark, "--db", "x.duckdb"]) == 2
    assert "not --db" in capsys.readouterr().err
    assert main([*spark, "--batch", "2x"]) == 2
    assert "--batch '2x': expected a time span" in capsys.readouterr().err
    assert main(["apply", defs, "--warehouse", str(tmp_path)]) == 2
    assert "add --engine spark" in capsys.readouterr().err


def test_without_pyspark_the_spark_engine_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    con = linksim.connect(":memory:")
    export_warehouse(con, tmp_path / "w")
    defs = str(linksim.data_path("demo-definitions.yaml"))
    assert main(["preview", defs, "--engine", "spark", "--warehouse", str(tmp_path / "w")]) == 2
    assert "pip install 'linksim[spark]'" in capsys.readouterr().err


def test_spark_refuses_what_is_not_a_warehouse_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    defs = str(linksim.data_path("demo-definitions.yaml"))
    for command in ("preview", "apply"):
        assert main([command, defs, "--engine", "spark", "--warehouse", str(tmp_path / "no")]) == 2
        assert "no such warehouse directory" in capsys.readouterr().err
