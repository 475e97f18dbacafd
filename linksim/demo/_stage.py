"""Staging tables: typed like the declared targets, in a schema of their own."""

from __future__ import annotations

import re

import duckdb

from linksim.store.query import run
from linksim.store.schema import table

__all__ = ["WORK", "create_schema", "create_stage", "drop_work_tables", "stage_name"]

WORK = "CREATE OR REPLACE TEMP TABLE"
"""How helper tables are created: temporary, named ``<schema>__<name>``, outside the file."""

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def _check(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def stage_name(schema: str, target: str) -> str:
    """The staging table for a target table: ``demo_stage.crm_person`` for ``crm.person``.

    >>> stage_name("demo_stage", "mail.click")
    'demo_stage.mail_click'
    """
    return f"{_check(schema)}.{_check(target.replace('.', '_'))}"


def create_schema(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """(Re)create an empty staging schema: a second run replaces the first one's tables."""
    drop_work_tables(con, schema)
    run(con, f"DROP SCHEMA IF EXISTS {_check(schema)} CASCADE")
    run(con, f"CREATE SCHEMA {schema}")


def create_stage(con: duckdb.DuckDBPyConnection, schema: str, target: str) -> str:
    """Create the empty staging table for ``target``: its declared columns and types, no
    constraints (the loader checks them), and return its qualified name."""
    name = stage_name(schema, target)
    columns = ", ".join(f"{_check(c.name)} {c.type}" for c in table(target).columns)
    run(con, f"CREATE TABLE {name} ({columns})")
    return name


def drop_work_tables(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Drop the generator's helper tables: temporary tables named ``<schema>__<name>``, kept out
    of the database file so that a file-backed build writes only what it stages."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, ?)",
        [f"{_check(schema)}__"],
    ).fetchall()
    for (name,) in rows:
        run(con, f"DROP TABLE temp.main.{_check(name)}")
