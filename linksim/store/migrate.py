"""Bring a database written by an older linksim up to the current schema version.

Opening a file for writing migrates it in one transaction; a read-only open accepts every version
in `READABLE`, because the differences between them are constraints, not columns.

Version 1 enforced the keys of the tables that grow with the clicks as PRIMARY KEYs. Version 2
keeps them declared only (see `linksim.store.schema`). Version 3 adds the run mode `segment` (a
segment saved as a selection) to the CHECK of `linksim.run.mode`. DuckDB cannot drop or change a
constraint, so each such table is rebuilt as declared now, rows unchanged. Version 4 adds the table
`linksim.state_writer`, which `init_schema` creates like any missing table; a read-only open of an
older file lacks it, and what reads it (`linksim export`) takes it as empty.

A column's storage (`Column.compression`) is no part of the version: a file whose table was made
without it has the table rebuilt the same way, once, by the first linksim that declares it.
"""

from __future__ import annotations

import re

import duckdb

from linksim.store.query import fetch_value, run, transaction
from linksim.store.schema import SCHEMA_VERSION, TABLES, ddl

__all__ = ["READABLE", "migrate", "present_columns"]

READABLE = ("1", "2", "3", str(SCHEMA_VERSION))


def _enforced_keys(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT DISTINCT schema_name || '.' || table_name FROM duckdb_constraints() "
        "WHERE constraint_type = 'PRIMARY KEY' AND database_name = current_database()"
    ).fetchall()
    return {name for (name,) in rows}


def present_columns(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """The (schema.table, column) pairs the database file has."""
    rows = con.execute(
        "SELECT schema_name || '.' || table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = current_database()"
    ).fetchall()
    return {(table, column) for table, column in rows}


def _outdated_storage(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables with a column whose declared compression the file's table does not use.

    Read from the table's SQL as DuckDB prints it (``"key" VARCHAR USING COMPRESSION ZSTD``),
    for a type without commas or parentheses: tests/test_schema.py checks that a new file has
    nothing outdated, so a type printed otherwise fails there, not by a rebuild at every open.
    """
    made = dict(
        con.execute(
            "SELECT schema_name || '.' || table_name, sql FROM duckdb_tables() "
            "WHERE database_name = current_database()"
        ).fetchall()
    )
    return [
        t.name
        for t in TABLES
        if t.name in made
        and any(
            not re.search(
                rf'(^|[(,\s])"?{re.escape(c.name)}"? [^,()]+? USING COMPRESSION'
                rf" {re.escape(c.compression)}\b",
                made[t.name],
                re.IGNORECASE,
            )
            for c in t.columns
            if c.compression
        )
    ]


def _rebuild(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Rebuild table ``name`` as the schema declares it now, with its rows (a column declared
    since the file was made gets its default)."""
    t = next(t for t in TABLES if t.name == name)
    old = t.name + "__old"
    present = present_columns(con)
    columns = ", ".join(c for c in t.column_names if (t.name, c) in present)
    run(con, f"ALTER TABLE {t.name} RENAME TO {old.split('.')[1]}")
    run(con, ddl(t))
    run(con, f"INSERT INTO {t.name} ({columns}) SELECT {columns} FROM {old}")
    run(con, f"DROP TABLE {old}")


def migrate(con: duckdb.DuckDBPyConnection) -> bool:
    """Migrate the database on ``con`` to `SCHEMA_VERSION`; True when there was anything to do.

    >>> con = duckdb.connect()
    >>> from linksim.store.connect import init_schema
    >>> init_schema(con); migrate(con)
    False
    """
    has_meta = fetch_value(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'linksim' AND table_name = 'meta'",
    )
    found = has_meta and fetch_value(
        con, "SELECT value FROM linksim.meta WHERE key = 'schema_version'"
    )
    # a file of an unknown version is left as it is, to be refused
    outdated = _outdated_storage(con) if found in READABLE else []
    if found not in ("1", "2", "3") and not outdated:
        return False
    with transaction(con):
        if found in ("1", "2"):
            enforced = _enforced_keys(con)
            for t in TABLES:
                if t.key and not t.enforce_key and t.name in enforced:
                    _rebuild(con, t.name)
            _rebuild(con, "linksim.run")
        if found in ("1", "2", "3"):
            run(
                con,
                "UPDATE linksim.meta SET value = ? WHERE key = 'schema_version'",
                [str(SCHEMA_VERSION)],
            )
        for name in _outdated_storage(con):
            _rebuild(con, name)
    return True
