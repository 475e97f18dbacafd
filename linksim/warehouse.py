"""A warehouse directory: the SPEC §2 tables as Parquet, one folder per table, for Spark.

``DIR/crm/person/``, ``DIR/mail/click/``, ``DIR/linksim/run/``… each hold the Parquet files of
one table (Spark reads a folder as a table and writes one back the same way), and
``DIR/_linksim.json`` the schema version.
`export_warehouse` writes every declared table of a database there; `import_warehouse` replaces
a database's tables with a warehouse's, in one transaction, with every column checked.

>>> import tempfile, linksim
>>> folder = tempfile.mkdtemp()
>>> export_warehouse(linksim.connect(":memory:"), folder)["crm.person"]
0
>>> import_warehouse(linksim.connect(":memory:"), folder)["mail.click"]
0
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb

from linksim.errors import InputError, UsageError
from linksim.store.migrate import present_columns
from linksim.store.query import fetch_value, run, transaction
from linksim.store.schema import SCHEMA_VERSION, TABLES, Table

__all__ = [
    "SEQUENCES",
    "check_manifest",
    "export_warehouse",
    "import_warehouse",
    "table_folder",
    "upgrade_warehouse",
    "warehouse_duckdb",
]

MANIFEST = "_linksim.json"
# the schema versions of the warehouses this linksim reads (3 lacks linksim.state_writer)
WAREHOUSE_READABLE = (3, SCHEMA_VERSION)
# linksim's sequences and the column whose largest value each must stay above
SEQUENCES = {"run_id": "linksim.run.run_id", "load_id": "linksim.load.load_id"}


def table_folder(directory: str | os.PathLike[str], name: str) -> Path:
    """The folder of table ``name`` in a warehouse.

    >>> table_folder("/w", "crm.person").as_posix()
    '/w/crm/person'
    """
    schema, table = name.split(".")
    return Path(directory) / schema / table


def export_warehouse(
    con: duckdb.DuckDBPyConnection, directory: str | os.PathLike[str]
) -> dict[str, int]:
    """Write every declared table of the database to ``directory``; rows per table.

    A table's folder is emptied of Parquet files first, so an export replaces an older one.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    with _writing(root):
        return _export(con, root)


def _export(con: duckdb.DuckDBPyConnection, root: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    # a file of an older version opened read only lacks the tables added since: exported empty
    present = {table for table, _ in present_columns(con)}
    for t in TABLES:
        folder = table_folder(root, t.name)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
        rows = t.name if t.name in present else _empty(t)
        _write_parquet(con, rows, folder)
        counts[t.name] = int(fetch_value(con, f"SELECT count(*) FROM {rows}"))
    # the sequences need no entry: an import continues them after the largest ids it loads
    manifest = {"schema_version": SCHEMA_VERSION}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return counts


def import_warehouse(
    con: duckdb.DuckDBPyConnection, directory: str | os.PathLike[str]
) -> dict[str, int]:
    """Replace every declared table of the database by the warehouse's; rows per table."""
    root = Path(directory)
    version = check_manifest(root)
    with _writing(root):
        return _import(con, root, version)


def _import(con: duckdb.DuckDBPyConnection, root: Path, version: int) -> dict[str, int]:
    sources = {t.name: _source(root, t, version) for t in TABLES}
    counts: dict[str, int] = {}
    with transaction(con):
        for t in reversed(TABLES):  # children before parents: no key refers to a deleted row
            run(con, f"DELETE FROM {t.name}")
        for t in TABLES:
            source = sources[t.name]
            if source is None:
                counts[t.name] = 0
                continue
            _check_columns(con, t, source)
            columns = ", ".join(t.column_names)
            values = ", ".join(f"CAST({c.name} AS {c.type})" for c in t.columns)
            try:
                run(con, f"INSERT INTO {t.name} ({columns}) SELECT {values} FROM {source}")
            except (duckdb.ConstraintException, duckdb.ConversionException) as exc:
                message = str(exc).splitlines()[0]
                raise InputError(
                    f"{t.name} in the warehouse ({table_folder(root, t.name)}): {message}"
                ) from None
            counts[t.name] = int(fetch_value(con, f"SELECT count(*) FROM {t.name}"))
        for seq, column in SEQUENCES.items():
            table, name = column.rsplit(".", 1)
            start = int(fetch_value(con, f"SELECT coalesce(max({name}), 0) + 1 FROM {table}"))
            run(con, f"DROP SEQUENCE IF EXISTS linksim.{seq}_seq")
            run(con, f"CREATE SEQUENCE linksim.{seq}_seq START {start}")
    return counts


@contextlib.contextmanager
def _writing(root: Path) -> Iterator[None]:
    """The warehouse to ourselves, with a commit a crash interrupted finished or discarded
    (linksim.spark.commit: a run on Spark writes tables by folders)."""
    from linksim.spark.commit import recover, writer_lock

    with writer_lock(root):
        recover(root)
        yield


def check_manifest(root: Path) -> int:
    """Refuse a directory that is not a linksim warehouse of a schema version this linksim
    reads; return its version (an older one lacks the tables added since: they read empty)."""
    path = root / MANIFEST
    if not root.is_dir():
        raise UsageError(f"{root}: no such warehouse directory; `linksim export` writes one")
    if not path.exists():
        raise InputError(
            f"{path}: missing; a warehouse written by `linksim export` (or by linksim on Spark) "
            "has it. Without it the folders may not be linksim's tables"
        )
    try:
        version = json.loads(path.read_text())["schema_version"]
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{path}: expected JSON with a schema_version; export again") from None
    if version not in WAREHOUSE_READABLE:
        raise InputError(
            f"{path}: schema version {version}, this linksim reads "
            f"{', '.join(map(str, WAREHOUSE_READABLE))}: import it with the linksim that wrote "
            "it, or export it again"
        )
    return int(version)


def upgrade_warehouse(root: Path) -> None:
    """Bring a warehouse of an older schema version to this one, in place: the tables added
    since get their folder, empty. Call it under `writer_lock`, before Spark reads the folders.
    """
    version = check_manifest(root)
    if version == SCHEMA_VERSION:
        return
    con = duckdb.connect()
    try:
        for t in TABLES:
            if _missing_table(root, t, version):
                # written beside, then renamed: a crash leaves no folder without its file
                folder = table_folder(root, t.name)
                staged = folder.with_name(f".{folder.name}.new")
                shutil.rmtree(staged, ignore_errors=True)
                staged.mkdir(parents=True)
                _write_parquet(con, _empty(t), staged)
                staged.rename(folder)
    finally:
        con.close()
    (root / MANIFEST).write_text(json.dumps({"schema_version": SCHEMA_VERSION}, indent=2) + "\n")


def _missing_table(root: Path, t: Table, version: int) -> bool:
    """Whether table ``t`` has no folder because the warehouse predates it (it reads empty)."""
    return t.added_in > version and not table_folder(root, t.name).is_dir()


def _source(root: Path, t: Table, version: int) -> str | None:
    """SQL reading the table's Parquet files, or None when its folder holds none (empty), or
    when the warehouse predates the table."""
    folder = table_folder(root, t.name)
    if _missing_table(root, t, version):
        return None
    if not folder.is_dir():
        raise InputError(
            f"{folder}: missing; every table of the schema has a folder in the warehouse "
            f"(an empty table, an empty folder)"
        )
    if not any(folder.glob("*.parquet")):
        return None
    pattern = str(folder / "*.parquet").replace("'", "''")
    return f"read_parquet('{pattern}', union_by_name = true)"


def _write_parquet(con: duckdb.DuckDBPyConnection, rows: str, folder: Path) -> None:
    """Write the rows of relation ``rows`` (SQL) as the one Parquet file of ``folder``."""
    target = str(folder / "part-00000.parquet").replace("'", "''")  # COPY takes no params
    run(con, f"COPY (SELECT * FROM {rows}) TO '{target}' (FORMAT parquet)")


def _empty(t: Table) -> str:
    """SQL for table ``t`` without rows: its columns, typed."""
    columns = ", ".join(f"CAST(NULL AS {c.type}) AS {c.name}" for c in t.columns)
    return f"(SELECT {columns} WHERE false)"


def _check_columns(con: duckdb.DuckDBPyConnection, t: Table, source: str) -> None:
    found = {name for (name, *_) in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    missing = [c.name for c in t.columns if c.name not in found]
    extra = sorted(found - set(t.column_names))
    if missing or extra:
        raise InputError(
            f"{t.name} in the warehouse: "
            + "; ".join(
                part
                for part in (
                    f"missing column(s) {', '.join(missing)}" if missing else "",
                    f"unknown column(s) {', '.join(extra)}" if extra else "",
                )
                if part
            )
            + f"; expected exactly {', '.join(t.column_names)}"
        )


def warehouse_duckdb(directory: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose tables are views of the warehouse's files (read only)."""
    root = Path(directory)
    version = check_manifest(root)
    con = duckdb.connect()
    run(con, "SET TimeZone = 'UTC'")
    for schema in ("crm", "mail", "linksim"):
        run(con, f"CREATE SCHEMA {schema}")
    for t in TABLES:
        source = _source(root, t, version)
        if source is None:
            source = _empty(t)
        run(con, f"CREATE VIEW {t.name} AS SELECT * FROM {source}")
    return con
