"""Import a SuperOffice export: its tables into linksim's (SPEC §2), its link actions as a file.

``linksim import superoffice DIR --db PATH --definitions-out links.yaml`` reads the CSV files of a
folder named after SuperOffice's tables (see :mod:`linksim.superoffice.sources`), maps them with
SQL over whole tables (:mod:`linksim.superoffice.tables`), and loads each linksim table through the
same validated loader as ``linksim load``, so that a bad row is quarantined with its reason. The
link settings of `s_link` become a definitions file (:mod:`linksim.superoffice.links`) that
``linksim lint``, ``preview`` and ``apply`` read as they are.

Every exported row is accounted for: routed to a linksim table (and then loaded, a duplicate, or
quarantined), read as a list of names, or skipped with its reason. Importing again is a no-op.

>>> import pathlib, tempfile, linksim
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "PersInt.csv").write_text("PersInt_id,name,rank\\n1,Product news,1\\n")
>>> report = import_superoffice(linksim.connect(":memory:"), folder)
>>> report.sources["persint"].routed
{'crm.interest': 1}
>>> report.ignored["persint"]
['rank']
"""

from __future__ import annotations

import html
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from linksim.errors import UsageError
from linksim.store.load import load_relation
from linksim.store.query import fetch_value, run
from linksim.store.report import LoadReport
from linksim.superoffice.links import LinkNote, link_definitions
from linksim.superoffice.sources import SOURCES, read_sources
from linksim.superoffice.tables import DERIVED, LOAD_ORDER, PREPARE, TARGETS, route_sql

__all__ = ["SourceAccount", "SuperOfficeImport", "import_superoffice"]


@dataclass(frozen=True)
class SourceAccount:
    """What became of the rows of one exported table: rows = Σ routed + lookup + Σ skipped."""

    name: str
    rows: int
    routed: dict[str, int] = field(default_factory=dict)
    lookup: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def accounted(self) -> int:
        return sum(self.routed.values()) + self.lookup + sum(self.skipped.values())


@dataclass(frozen=True)
class SuperOfficeImport:
    """The outcome of :func:`import_superoffice`.

    Attributes:
        sources: per SuperOffice table found, what became of its rows.
        loads: per linksim table filled, the loader's accounting.
        ignored: per SuperOffice table, the columns it had that linksim does not read.
        missing: the SuperOffice tables the folder did not have.
        other_files: CSV files that are no SuperOffice table linksim reads.
        links: the ``links`` of the definitions made from `s_link`.
        notes: what the definitions could not say as SuperOffice did, per link.
        definitions_out: where the definitions were written, if anywhere.
    """

    folder: str
    sources: dict[str, SourceAccount]
    loads: dict[str, LoadReport]
    ignored: dict[str, list[str]]
    missing: list[str]
    other_files: list[str]
    links: list[dict[str, Any]]
    notes: list[LinkNote]
    definitions_out: str | None = None

    @property
    def quarantined(self) -> int:
        return sum(r.quarantined for r in self.loads.values())

    @property
    def definitions(self) -> dict[str, Any]:
        """The definitions file's content (version 1, the default bot filter)."""
        return {"version": 1, "links": self.links}

    def to_dict(self) -> dict[str, Any]:
        """A plain dict, for ``--json``."""
        return {
            "folder": self.folder,
            "sources": {
                name: {
                    "rows": a.rows,
                    "routed": a.routed,
                    "lookup": a.lookup,
                    "skipped": a.skipped,
                }
                for name, a in self.sources.items()
            },
            "loads": {name: r.to_dict() for name, r in self.loads.items()},
            "ignored_columns": self.ignored,
            "missing_tables": self.missing,
            "other_files": self.other_files,
            "definitions": {
                "links": len(self.links),
                "actions": sum(len(link["actions"]) for link in self.links),
                "written_to": self.definitions_out,
            },
            "notes": [
                {"link_id": n.link_id, "kind": n.kind, "message": n.message} for n in self.notes
            ],
        }

    def __str__(self) -> str:
        lines = [f"SuperOffice export {self.folder}", "", "mapped (exported rows -> linksim):"]
        width = max((len(n) for n in self.sources), default=8)
        for name, a in self.sources.items():
            where = ", ".join(f"{n:,} to {t}" for t, n in a.routed.items())
            if a.lookup:
                where = ", ".join(x for x in (where, f"{a.lookup:,} read as a lookup list") if x)
            rows = "row" if a.rows == 1 else "rows"
            lines.append(f"  {name:<{width}} {a.rows:>10,} {rows}: {where or 'nothing'}")
            lines.extend(f"  {'':<{width}} {n:>10,} skipped: {why}" for why, n in a.skipped.items())
        lines += ["", "loaded (linksim table: loaded / updated / duplicate / quarantined):"]
        for name, r in self.loads.items():
            lines.append(
                f"  {name:<21} {r.loaded:>9,} {r.updated:>9,} {r.duplicate:>9,} {r.quarantined:>9,}"
            )
            lines.extend(f"  {'':<21}   quarantined {n:,}: {why}" for why, n in r.reasons.items())
        actions = sum(len(link["actions"]) for link in self.links)
        lines += [
            "",
            f"definitions: {len(self.links):,} links, {actions:,} actions"
            + (f", written to {self.definitions_out}" if self.definitions_out else ""),
        ]
        lines.extend(f"  {n.kind}: {n}" for n in self.notes)
        if self.missing:
            lines += ["", "not in the export (nothing read): " + ", ".join(self.missing)]
        if any(self.ignored.values()):
            lines += ["", "columns ignored (linksim does not use them):"]
            lines.extend(
                f"  {name}: {', '.join(cols)}" for name, cols in self.ignored.items() if cols
            )
        if self.other_files:
            lines += [
                "",
                "files ignored (not a SuperOffice table linksim reads): "
                + ", ".join(self.other_files),
            ]
        if self.quarantined:
            lines += [
                "",
                "quarantined rows: SELECT * FROM linksim.quarantine WHERE load_id IN ("
                + ", ".join(str(r.load_id) for r in self.loads.values() if r.quarantined)
                + ")",
            ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{e(name)}</td><td>{a.rows:,}</td><td>"
            + e(", ".join(f"{n:,} to {t}" for t, n in a.routed.items()))
            + "</td><td>"
            + e("; ".join(f"{n:,} {why}" for why, n in a.skipped.items()))
            + "</td></tr>"
            for name, a in self.sources.items()
        )
        notes = "".join(f"<li>{e(n.kind)}: {e(str(n))}</li>" for n in self.notes)
        return (
            f"<p>SuperOffice export <code>{e(self.folder)}</code></p><table><thead><tr>"
            "<th>table</th><th>rows</th><th>imported to</th><th>skipped</th></tr></thead>"
            f"<tbody>{rows}</tbody></table><p>{len(self.links):,} links with actions</p>"
            f"<ul>{notes}</ul>"
        )


def import_superoffice(
    con: duckdb.DuckDBPyConnection,
    folder: str | os.PathLike[str],
    *,
    definitions_out: str | os.PathLike[str] | None = None,
    timezone: str = "UTC",
) -> SuperOfficeImport:
    """Import the SuperOffice CSV export in ``folder`` into the database on ``con``.

    Args:
        con: a linksim connection, no transaction open.
        folder: a folder of CSV files named after SuperOffice's tables (any case).
        definitions_out: write the link actions there as a YAML definitions file.
        timezone: the SuperOffice server's time zone, in which its ``DateTime`` columns are.

    Raises:
        InputError: the folder holds no export, or a file cannot be read or lacks a required
            column; nothing was written.
        UsageError: an unknown time zone, or an output file that is not ``.yaml``/``.yml``.
    """
    out = Path(definitions_out) if definitions_out is not None else None
    if out is not None and out.suffix.lower() not in (".yaml", ".yml"):
        raise UsageError(f"--definitions-out {out}: expected a .yaml or .yml file name")
    if not fetch_value(con, "SELECT count(*) FROM pg_timezone_names() WHERE name = ?", [timezone]):
        raise UsageError(
            f"unknown time zone {timezone!r}: expected an IANA name such as 'Europe/Oslo' or 'UTC'"
        )
    path = Path(folder)
    rows, ignored, other = read_sources(con, path)
    for sql in PREPARE:
        run(con, sql)
    for s in SOURCES:
        run(con, route_sql(s.name))
    sources = {name: _account(con, name, n) for name, n in rows.items()}
    links, notes = link_definitions(con)
    loads = {}
    for target in LOAD_ORDER:
        sql = TARGETS.get(target) or DERIVED[target][0]
        run(
            con,
            f"CREATE OR REPLACE TEMP TABLE so_out AS {sql}",
            {"tz": timezone} if "$tz" in sql else None,
        )
        if fetch_value(con, "SELECT count(*) FROM so_out"):
            loads[target] = load_relation(con, target, "so_out", source=f"superoffice:{path}")
    run(con, "DROP TABLE so_out")
    report = SuperOfficeImport(
        folder=str(path),
        sources=sources,
        loads=loads,
        ignored={name: cols for name, cols in ignored.items() if cols},
        missing=[s.name for s in SOURCES if s.name not in rows],
        other_files=other,
        links=links,
        notes=notes,
        definitions_out=str(out) if out is not None else None,
    )
    if out is not None:
        _write_definitions(out, report)
    return report


def _account(con: duckdb.DuckDBPyConnection, name: str, rows: int) -> SourceAccount:
    counts = con.execute(
        f"SELECT _to, _reason, count(*) FROM so_route_{name} GROUP BY ALL ORDER BY 3 DESC, 1, 2"
    ).fetchall()
    routed: Counter[str] = Counter()
    skipped: dict[str, int] = {}
    lookup = 0
    for to, reason, n in counts:
        if reason is not None:
            skipped[reason] = n
        elif to == "lookup":
            lookup = n
        else:
            routed[to] += n
    return SourceAccount(name, rows, dict(routed), lookup, skipped)


def _write_definitions(out: Path, report: SuperOfficeImport) -> None:
    head = [
        f"# linksim definitions from the SuperOffice link settings (s_link) in {report.folder}.",
        "# Check them with `linksim lint` before `linksim apply`.",
    ]
    head += [f"# {n.kind}: {n}" for n in report.notes]
    body = yaml.safe_dump(report.definitions, sort_keys=False, allow_unicode=True, width=100)
    out.write_text("\n".join(head) + "\n" + body, encoding="utf-8")
