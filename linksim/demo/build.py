"""Build a demo database: stage generated or Hillstrom data, then load it through validation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from linksim.errors import UsageError
from linksim.store.connect import connect
from linksim.store.load import LoadReport, load_relation
from linksim.store.query import fetch_value, run
from linksim.store.schema import TABLES

__all__ = [
    "DATASETS",
    "DEFAULT_DEMO_DB",
    "DemoSummary",
    "build_demo",
    "ensure_demo",
    "table_counts",
]

DEFAULT_DEMO_DB = "linksim-demo.duckdb"
DATASETS = ("company", "hillstrom")


@dataclass(frozen=True)
class DemoSummary:
    """What a demo build put into the database."""

    path: str
    dataset: str
    counts: dict[str, int]
    loads: tuple[LoadReport, ...]

    def __str__(self) -> str:
        lines = [f"demo database {self.path} ({self.dataset})"]
        width = max(len(name) for name in self.counts)
        lines += [f"  {name:<{width}}  {n:>12,}" for name, n in self.counts.items() if n]
        bad = [r for r in self.loads if r.quarantined or r.duplicate]
        for report in bad:
            lines.append("")
            lines.append(str(report))
        return "\n".join(lines)


def table_counts(
    con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] = ("crm", "mail")
) -> dict[str, int]:
    """Rows per declared table in ``schemas``, in declaration order.

    >>> table_counts(connect(":memory:"))["crm.person"]
    0
    """
    return {
        t.name: int(fetch_value(con, f"SELECT count(*) FROM {t.name}"))
        for t in TABLES
        if t.schema in schemas
    }


def build_demo(
    path: str | os.PathLike[str] = DEFAULT_DEMO_DB,
    *,
    dataset: str = "company",
    clicks: int | None = None,
    seed: int = 7,
    replace: bool = True,
) -> DemoSummary:
    """Create ``path`` afresh and fill it with the demo ``dataset``, loaded through validation.

    An existing file is replaced only when it is itself a demo database (so a typo in ``--db``
    cannot wipe real data).
    """
    if dataset not in DATASETS:
        raise UsageError(f"unknown demo dataset {dataset!r}: expected one of {', '.join(DATASETS)}")
    target = Path(path)
    if target.exists():
        _remove_old_demo(target, replace=replace)
    con = connect(target)
    try:
        run(con, "INSERT OR REPLACE INTO linksim.meta VALUES ('demo', ?)", [dataset])
        staged = _stage(con, dataset, clicks=clicks, seed=seed)
        reports = tuple(
            load_relation(con, table.split("#")[0], relation, source=f"demo:{dataset}:{table}")
            for table, relation in staged.items()
        )
        for schema in ("demo_stage", "hillstrom_stage"):
            run(con, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        counts = table_counts(con)
        run(con, "CHECKPOINT")
    finally:
        con.close()
    return DemoSummary(str(target), dataset, counts, reports)


def ensure_demo(path: str | os.PathLike[str] = DEFAULT_DEMO_DB) -> Path:
    """``path``, built as the company demo when it does not exist yet (for notebooks).

    An existing file is used as it is, so a notebook run twice keeps what the first run left;
    `build_demo` starts afresh.
    """
    target = Path(path)
    if not target.exists():
        build_demo(target)
    return target


def _stage(
    con: duckdb.DuckDBPyConnection, dataset: str, *, clicks: int | None, seed: int
) -> dict[str, str]:
    if dataset == "hillstrom":
        from linksim.demo.hillstrom import stage_hillstrom

        return stage_hillstrom(con)
    from linksim.demo.generate import generate

    return generate(con, seed=seed, clicks=clicks)


def _remove_old_demo(target: Path, *, replace: bool) -> None:
    from linksim.errors import DatabaseError

    try:
        con = connect(target, read_only=True)
        try:
            rows = con.execute("SELECT value FROM linksim.meta WHERE key = 'demo'").fetchall()
        finally:
            con.close()
    except (duckdb.Error, DatabaseError):
        rows = []
    if not rows:
        raise DatabaseError(
            f"{target} exists and is not a linksim demo database; "
            "choose another --db path or remove the file yourself"
        )
    if not replace:
        raise DatabaseError(f"demo database {target} exists; pass --replace to rebuild it")
    target.unlink()
    wal = target.with_name(target.name + ".wal")
    if wal.exists():
        wal.unlink()
