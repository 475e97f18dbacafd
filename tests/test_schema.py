"""The declared tables of SPEC §2 and their creation."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from linksim.errors import DatabaseError
from linksim.store.connect import connect
from linksim.store.migrate import migrate
from linksim.store.schema import INPUT_TABLES, SCHEMA_VERSION, TABLES, ddl, table
from linksim.warehouse import export_warehouse

SPEC_COLUMNS = {
    "crm.associate": "associate_id name team daily_capacity timezone",
    "crm.contact": "contact_id name category business country owner_id",
    "crm.person": "person_id contact_id first_name last_name email owner_id",
    "crm.extra_field": "name type options",
    "crm.person_field": "person_id field value set_at",
    "crm.interest": "interest_id name",
    "crm.selection": "selection_id name",
    "crm.project": "project_id name",
    "crm.person_interest": "person_id interest_id since",
    "crm.contact_interest": "contact_id interest_id since",
    "crm.selection_member": "selection_id person_id since",
    "crm.project_member": "project_id person_id since",
    "crm.appointment": "appointment_id kind task_type person_id contact_id project_id owner_id "
    "created_by_id description starts_at duration_minutes source_action source_click_id "
    "source_mailing_id",
    "crm.ticket": "ticket_id title priority category owner_id status person_id created_at "
    "source_action source_click_id source_mailing_id",
    "mail.mailing": "mailing_id name sent_at",
    "mail.link": "link_id url name",
    "mail.mailing_link": "mailing_id link_id",
    "mail.recipient": "mailing_id person_id delivered_at",
    "mail.click": "click_id mailing_id link_id person_id clicked_at user_agent ip",
    "mail.open": "open_id mailing_id person_id opened_at user_agent",
    "linksim.run": "run_id mode started_at finished_at status definitions_sha256 clicks_seen "
    "clicks_eligible clicks_bot clicks_duplicate clicks_quarantined",
    "linksim.change": "run_id click_id action_id person_id target_kind target old_value new_value "
    "changed_at",
    "linksim.response": "click_id action_id kind url text form_id prefill",
    "linksim.script_run": "run_id action_id script clicks status error seconds",
    "linksim.quarantine": "raw source reason loaded_at",
}


def _columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    schema, tbl = name.split(".")
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, tbl],
    ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("name", sorted(SPEC_COLUMNS))
def test_every_spec_column_exists(con: duckdb.DuckDBPyConnection, name: str) -> None:
    present = _columns(con, name)
    missing = [c for c in SPEC_COLUMNS[name].split() if c not in present]
    assert not missing, f"{name} lacks {missing}"


def test_spec_columns_come_first_in_spec_order(con: duckdb.DuckDBPyConnection) -> None:
    for name, spec in SPEC_COLUMNS.items():
        if name.startswith("linksim."):
            continue  # linksim tables may carry extra columns between the named ones
        assert _columns(con, name)[: len(spec.split())] == spec.split(), name


def test_init_twice_changes_nothing(db_path: Path) -> None:
    con = connect(db_path)
    con.execute("INSERT INTO crm.interest VALUES (1, 'Product news')").fetchall()
    con.close()
    con = connect(db_path)
    assert con.execute("SELECT * FROM crm.interest").fetchall() == [(1, "Product news")]
    assert con.execute("SELECT count(*) FROM linksim.meta").fetchall() == [(1,)]
    con.close()


def _make_version_1(path: Path) -> None:
    """A database as linksim 1 left it: click-scaled tables with enforced primary keys."""
    con = connect(path)
    con.execute("INSERT INTO crm.extra_field VALUES ('tier', 'text', NULL)").fetchall()
    con.execute(
        "INSERT INTO crm.person_field VALUES (7, 'tier', 'gold', TIMESTAMP '2026-01-02', 3)"
    ).fetchall()
    con.execute("DROP TABLE crm.person_field").fetchall()
    con.execute(
        "CREATE TABLE crm.person_field (person_id BIGINT NOT NULL, field VARCHAR NOT NULL, "
        "value VARCHAR, set_at TIMESTAMP NOT NULL, source_click_id BIGINT, "
        "PRIMARY KEY (person_id, field))"
    ).fetchall()
    con.execute(
        "INSERT INTO crm.person_field VALUES (7, 'tier', 'gold', TIMESTAMP '2026-01-02', 3)"
    ).fetchall()
    con.execute("UPDATE linksim.meta SET value = '1' WHERE key = 'schema_version'").fetchall()
    con.close()


def _primary_keys(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_constraints() "
        "WHERE constraint_type = 'PRIMARY KEY' AND database_name = current_database()"
    ).fetchall()
    return {name for (name,) in rows}


def test_click_scaled_tables_have_no_enforced_key(con: duckdb.DuckDBPyConnection) -> None:
    keys = _primary_keys(con)
    assert "crm.person" in keys and "linksim.run" in keys
    assert not keys & {"crm.person_field", "crm.selection_member", "crm.appointment", "mail.click"}


def test_a_version_1_file_is_migrated_on_open_with_its_rows(db_path: Path) -> None:
    _make_version_1(db_path)
    con = connect(db_path, read_only=True)  # read-only: readable as it is
    assert "crm.person_field" in _primary_keys(con)
    con.close()
    con = connect(db_path)
    assert "crm.person_field" not in _primary_keys(con)
    assert con.execute("SELECT * FROM crm.person_field").fetchall() == [
        (7, "tier", "gold", datetime(2026, 1, 2), 3)
    ]
    assert con.execute(
        "SELECT value FROM linksim.meta WHERE key = 'schema_version'"
    ).fetchall() == [(str(SCHEMA_VERSION),)]
    with pytest.raises(duckdb.Error, match="CHECK"):  # the rebuilt table keeps its checks
        con.execute("INSERT INTO crm.person_field VALUES (-1, 'tier', NULL, now(), NULL)")
    con.close()


def _insert_appointment(con: duckdb.DuckDBPyConnection) -> None:
    """Appointment 'a' of owner 1, naming only the columns every schema version has."""
    con.execute(
        "INSERT INTO crm.appointment (appointment_id, kind, task_type, owner_id, starts_at,"
        " duration_minutes) VALUES ('a', 'task', 'Call', 1, TIMESTAMP '2026-01-02 09:00', 15)"
    ).fetchall()


def test_a_file_made_before_a_column_was_declared_gets_it(db_path: Path) -> None:
    # crm.appointment.assignment came after version 1: a version 1 file whose appointments
    # lack it (and have an enforced key, so the migration rebuilds the table) gets it, at its
    # default, with the rows it had
    _make_version_1(db_path)
    con = duckdb.connect(str(db_path))
    before = ddl(table("crm.appointment")).replace(",\n  assignment BOOLEAN DEFAULT false", "")
    assert "assignment" not in before
    con.execute("DROP TABLE crm.appointment").fetchall()
    con.execute(before.replace("\n)", ",\n  PRIMARY KEY (appointment_id)\n)")).fetchall()
    _insert_appointment(con)
    con.close()
    con = connect(db_path)
    assert "crm.appointment" not in _primary_keys(con)
    assert con.execute(
        "SELECT appointment_id, owner_id, assignment FROM crm.appointment"
    ).fetchall() == [("a", 1, False)]
    con.close()


def test_a_column_declared_since_is_added_with_its_default(db_path: Path) -> None:
    con = connect(db_path)
    con.execute("ALTER TABLE crm.appointment DROP COLUMN assignment").fetchall()
    con.close()
    con = connect(db_path)
    _insert_appointment(con)
    assert con.execute("SELECT assignment FROM crm.appointment").fetchall() == [(False,)]
    con.close()


def test_a_version_2_file_learns_the_segment_run_mode(db_path: Path) -> None:
    con = connect(db_path)
    con.execute("DROP TABLE linksim.run").fetchall()
    old = ddl(table("linksim.run")).replace(", 'segment'", "")
    con.execute(old).fetchall()
    con.execute(
        "INSERT INTO linksim.run (run_id, mode, started_at, status) "
        "VALUES (1, 'apply', TIMESTAMP '2026-01-02', 'ok')"
    ).fetchall()
    with pytest.raises(duckdb.Error, match="CHECK"):
        con.execute(
            "INSERT INTO linksim.run (run_id, mode, started_at, status) "
            "VALUES (2, 'segment', now(), 'ok')"
        )
    con.execute("UPDATE linksim.meta SET value = '2' WHERE key = 'schema_version'").fetchall()
    con.close()
    con = connect(db_path)
    con.execute(
        "INSERT INTO linksim.run (run_id, mode, started_at, status) "
        "VALUES (2, 'segment', now(), 'ok')"
    ).fetchall()
    assert con.execute("SELECT run_id, mode FROM linksim.run ORDER BY 1").fetchall() == [
        (1, "apply"),
        (2, "segment"),
    ]
    con.close()


def _make_version_3(path: Path) -> None:
    """A file as linksim wrote it at schema version 3: no `linksim.state_writer` yet."""
    con = connect(path)
    con.execute("DROP TABLE linksim.state_writer").fetchall()
    con.execute("UPDATE linksim.meta SET value = '3' WHERE key = 'schema_version'").fetchall()
    con.close()


def test_a_version_3_file_gets_the_writers_table_on_open(db_path: Path, tmp_path: Path) -> None:
    _make_version_3(db_path)
    con = connect(db_path, read_only=True)  # readable as it is, and exportable
    counts = export_warehouse(con, tmp_path / "w")
    assert counts["linksim.state_writer"] == 0
    con.close()
    con = connect(db_path)
    assert con.execute("SELECT count(*) FROM linksim.state_writer").fetchall() == [(0,)]
    version = "SELECT value FROM linksim.meta WHERE key = 'schema_version'"
    assert con.execute(version).fetchall() == [(str(SCHEMA_VERSION),)]
    con.close()


def _key_compression(con: duckdb.DuckDBPyConnection) -> set[str]:
    con.execute("CHECKPOINT").fetchall()
    rows = con.execute(
        "SELECT DISTINCT compression FROM pragma_storage_info('linksim.journal') "
        "WHERE column_name = 'key' AND segment_type = 'VARCHAR'"
    ).fetchall()
    return {c for (c,) in rows}


def test_a_journal_made_before_its_compression_was_declared_is_rebuilt_once(
    db_path: Path,
) -> None:
    con = connect(db_path)
    con.execute("DROP TABLE linksim.journal").fetchall()
    con.execute(ddl(table("linksim.journal")).replace(" USING COMPRESSION zstd", "")).fetchall()
    con.execute(
        "INSERT INTO linksim.journal (run_id, batch_no, table_name, key, after_exists) "
        "SELECT 1, 0, 'crm.person_field', json_object('person_id', i, 'field', 'tier'), true "
        "FROM range(5000) r(i)"
    ).fetchall()
    assert _key_compression(con) != {"ZSTD"}
    con.close()
    con = connect(db_path)  # opened for writing: rebuilt, rows unchanged
    assert _key_compression(con) == {"ZSTD"}
    assert con.execute(
        "SELECT count(*), count(DISTINCT key), min(key) FROM linksim.journal"
    ).fetchall() == [(5000, 5000, '{"person_id":0,"field":"tier"}')]
    con.close()
    con = connect(db_path)
    assert migrate(con) is False  # nothing left to do
    con.close()


def _journal_sql(path: Path) -> str:
    con = duckdb.connect(str(path))
    sql = con.execute(
        "SELECT sql FROM duckdb_tables() WHERE schema_name = 'linksim' AND table_name = 'journal'"
    ).fetchone()
    con.close()
    assert sql is not None
    return str(sql[0])


def test_a_newer_version_is_refused_untouched(db_path: Path) -> None:
    con = connect(db_path)
    # a journal without the storage this linksim declares: it would rebuild it, were the
    # version one it knows
    con.execute("DROP TABLE linksim.journal").fetchall()
    con.execute(ddl(table("linksim.journal")).replace(" USING COMPRESSION zstd", "")).fetchall()
    con.execute("UPDATE linksim.meta SET value = '99' WHERE key = 'schema_version'").fetchall()
    con.close()
    with pytest.raises(DatabaseError, match="schema version 99"):
        connect(db_path)
    assert "COMPRESSION" not in _journal_sql(db_path)


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("INSERT INTO crm.interest VALUES (1, 'A'), (1, 'B')", "PRIMARY KEY"),
        ("INSERT INTO crm.interest VALUES (1, 'A'), (2, 'A')", "unique"),
        ("INSERT INTO crm.extra_field VALUES ('f', 'colour', NULL)", "CHECK"),
        ("INSERT INTO crm.associate VALUES (1, 'Ann', NULL, -1, 'UTC')", "CHECK"),
        ("INSERT INTO crm.person VALUES (-5, NULL, 'A', 'B', NULL, NULL)", "CHECK"),
        ("INSERT INTO mail.mailing VALUES (1, NULL, NULL)", "NOT NULL"),
        (
            "INSERT INTO crm.ticket (ticket_id, title, priority, created_at) "
            "VALUES ('t', 'x', 'urgent', now())",
            "CHECK",
        ),
    ],
)
def test_keys_and_checks_are_enforced(
    con: duckdb.DuckDBPyConnection, sql: str, fragment: str
) -> None:
    with pytest.raises(duckdb.Error, match=f"(?i){fragment}"):
        con.execute(sql).fetchall()


def test_associate_timezone_defaults_to_utc(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO crm.associate (associate_id, name) VALUES (1, 'Ann')").fetchall()
    assert con.execute("SELECT timezone FROM crm.associate").fetchall() == [("UTC",)]


def test_session_time_zone_is_utc(con: duckdb.DuckDBPyConnection) -> None:
    got = con.execute("SELECT '2026-03-01 10:00:00+02:00'::TIMESTAMPTZ::TIMESTAMP").fetchall()
    assert str(got[0][0]) == "2026-03-01 08:00:00"


def test_input_tables_exclude_what_linksim_writes() -> None:
    assert "mail.click" in INPUT_TABLES and "crm.person" in INPUT_TABLES
    assert "crm.ticket" not in INPUT_TABLES
    assert not [t for t in INPUT_TABLES if t.startswith("linksim.")]


def test_every_reference_points_at_a_declared_key() -> None:
    for t in TABLES:
        for c in t.columns:
            if c.references:
                target, column = c.references.rsplit(".", 1)
                assert column in table(target).key or column in table(target).unique, c


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match=r"does not exist.*linksim init"):
        connect(tmp_path / "nope.duckdb", create=False)


def test_a_foreign_duckdb_file_is_refused_read_only(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(DatabaseError, match="not a linksim database"):
        connect(path, read_only=True)


def test_a_file_that_is_not_duckdb_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "text.duckdb"
    path.write_text("hello, I am not a database\n")
    with pytest.raises(DatabaseError, match="cannot open"):
        connect(path)


@pytest.mark.parametrize("stem", ["linksim", "crm", "mail"])
def test_a_file_named_like_a_schema_still_works(tmp_path: Path, stem: str) -> None:
    """DuckDB names a catalog after its file; `linksim.duckdb` must not shadow schema linksim."""
    path = tmp_path / f"{stem}.duckdb"
    con = connect(path)
    con.execute("INSERT INTO crm.interest VALUES (1, 'News')").fetchall()
    assert con.execute("SELECT count(*) FROM linksim.meta").fetchall() == [(1,)]
    assert con.execute("SELECT count(*) FROM mail.click").fetchall() == [(0,)]
    con.close()


def test_connections_to_one_file_share_it_and_release_it(db_path: Path) -> None:
    first = connect(db_path)
    second = connect(db_path)
    first.execute("INSERT INTO crm.interest VALUES (1, 'News')").fetchall()
    first.close()
    assert second.execute("SELECT name FROM crm.interest").fetchall() == [("News",)]
    second.close()
    # Once every connection is closed, another process may open the file.
    probe = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"
    done = subprocess.run([sys.executable, "-c", probe, str(db_path)], check=False)
    assert done.returncode == 0


def test_a_locked_file_is_a_clear_error(db_path: Path) -> None:
    connect(db_path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
            " print('ready', flush=True); time.sleep(30)",
            str(db_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        with pytest.raises(DatabaseError, match="in use by another process"):
            connect(db_path)
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
