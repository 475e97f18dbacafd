"""Open a linksim database: one DuckDB file holding the `crm`, `mail` and `linksim` schemas."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import duckdb

from linksim.errors import DatabaseError, UsageError
from linksim.store.migrate import READABLE, migrate, present_columns
from linksim.store.query import fetch_one, run, transaction
from linksim.store.schema import SCHEMA_VERSION, TABLES, ddl

__all__ = ["DEFAULT_DB", "connect", "init_schema"]

DEFAULT_DB = "linksim.duckdb"
CATALOG = "linksim_db"
SCHEMAS = ("crm", "mail", "linksim")


def connect(
    path: str | os.PathLike[str] = DEFAULT_DB,
    *,
    create: bool = True,
    read_only: bool = False,
    memory_limit: str | None = None,
    temp_directory: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open (and, unless ``create=False``, create) a linksim database and return the connection.

    The session time zone is UTC, so every `TIMESTAMP` means UTC (SPEC §2). ``":memory:"`` gives an
    in-memory database.

    >>> con = connect(":memory:")
    >>> con.sql("SELECT count(*) FROM crm.person").fetchall()
    [(0,)]
    """
    name = str(path)
    if name != ":memory:" and not create and not Path(name).exists():
        raise DatabaseError(
            f"database {name!r} does not exist: create it with `linksim init --db {name}` "
            "or `linksim demo --db PATH`"
        )
    try:
        con = _open(name, read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise DatabaseError(
                f"database {name!r} is in use by another process; wait for it to finish "
                "or close it there"
            ) from None
        raise DatabaseError(f"cannot open database {name!r}: {text.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise DatabaseError(
            f"cannot open {name!r} as a DuckDB database: {str(exc).splitlines()[0]}"
        ) from None
    if temp_directory is None and name != ":memory:":
        # DuckDB spills next to a database file it opened itself; the file is attached to an
        # in-memory instance here, whose default would be `.tmp` in the working directory
        temp_directory = os.path.realpath(name) + ".tmp"
    for setting, value, flag in (
        ("memory_limit", memory_limit, "--memory-limit"),
        ("temp_directory", temp_directory, "--temp-dir"),
    ):
        if value:
            try:
                run(con, f"SET {setting} = ?", [value])
            except duckdb.Error as exc:
                con.close()
                raise UsageError(f"{flag} {value!r}: {str(exc).splitlines()[0]}") from None
    # Set after opening: as a connect-time option it fires before the ICU extension is loaded.
    run(con, "SET TimeZone = 'UTC'")
    # DuckDB draws its own bar for long queries, on stdout: it would corrupt `--json` output,
    # and a run has linksim's own bar (on stderr). In Jupyter without ipywidgets DuckDB refuses
    # to touch the setting at all; its bar is off there anyway.
    with contextlib.suppress(duckdb.Error):
        run(con, "SET enable_progress_bar = false")
    if not read_only:
        init_schema(con)
    else:
        _check_version(con, name)
    return con


def _open(name: str, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection whose catalog is always `CATALOG`, whatever the file is called.

    DuckDB names a file's catalog after the file, so `linksim.duckdb` (the default) would make
    `linksim.run` ambiguous between catalog and schema. The file is therefore attached under a
    fixed name to a named in-memory instance, one per file: every `connect` to the same file in
    this process shares it, and DuckDB releases the file once all of them are closed — the same
    life cycle as `duckdb.connect(path)`.
    """
    if name == ":memory:":
        return duckdb.connect(name)
    real = os.path.realpath(name)
    instance = ":memory:linksim-" + hashlib.sha256(real.encode()).hexdigest()[:20]
    con = duckdb.connect(instance)
    literal = "'" + real.replace("'", "''") + "'"  # ATTACH takes no parameters
    mode = " (READ_ONLY)" if read_only else ""
    try:
        run(con, f"ATTACH IF NOT EXISTS {literal} AS {CATALOG}{mode}")
        run(con, f"USE {CATALOG}")
    except BaseException:
        con.close()
        raise
    return con


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the schemas, tables and sequences that are missing; leave existing ones untouched.

    >>> con = duckdb.connect()
    >>> init_schema(con); init_schema(con)
    >>> con.sql("SELECT value FROM linksim.meta WHERE key = 'schema_version'").fetchall()
    [('4',)]
    """
    migrate(con)
    with transaction(con):
        for schema in SCHEMAS:
            run(con, f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for t in TABLES:
            run(con, ddl(t))
        _add_missing_columns(con)
        for seq in ("run_id", "load_id"):
            run(con, f"CREATE SEQUENCE IF NOT EXISTS linksim.{seq}_seq START 1")
        run(
            con,
            "INSERT INTO linksim.meta SELECT 'schema_version', ? "
            "WHERE NOT EXISTS (SELECT 1 FROM linksim.meta WHERE key = 'schema_version')",
            [str(SCHEMA_VERSION)],
        )
    _check_version(con, "database")


def _add_missing_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Columns declared since the file was made: added at the end, empty or with their default
    (SPEC §2 allows it)."""
    present = present_columns(con)
    for t in TABLES:
        for c in t.columns:
            if (t.name, c.name) not in present:
                default = f" DEFAULT {c.default}" if c.default is not None else ""
                run(con, f"ALTER TABLE {t.name} ADD COLUMN {c.name} {c.type}{default}")


def _check_version(con: duckdb.DuckDBPyConnection, name: str) -> None:
    try:
        row = fetch_one(con, "SELECT value FROM linksim.meta WHERE key = 'schema_version'")
    except duckdb.CatalogException:
        raise DatabaseError(
            f"{name!r} is not a linksim database (no linksim.meta table): "
            "create one with `linksim init`"
        ) from None
    if row is None or row[0] not in READABLE:
        found = row[0] if row else "none"
        raise DatabaseError(
            f"{name!r} has linksim schema version {found}, this linksim expects "
            f"{SCHEMA_VERSION}: use a matching linksim version"
        )
