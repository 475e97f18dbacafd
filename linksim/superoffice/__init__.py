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
from linksim.store.query import fetch_value, run, transaction
from linksim.store.report import LoadReport
from linksim.superoffice.links import LinkNote, link_definitions
from linksim.superoffice.sources import SOURCES, read_sources, staged
from linksim.superoffice.tables import (
    DATE_COLUMNS,
    DELETED,
    DERIVED,
    LOAD_ORDER,
    PREPARE,
    TARGETS,
    parsed_timestamp,
    route_sql,
)

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
        remarks: what in the tables needs a look (unreadable dates, retired associates).
        kept: per membership table, the exported rows not loaded because linksim changed that
            membership after the row's time (last writer wins, SPEC §4.4).
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
    remarks: list[str] = field(default_factory=list)
    kept: dict[str, int] = field(default_factory=dict)

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
            "remarks": self.remarks,
            "kept_by_linksim": self.kept,
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
        lines.extend(
            f"  {name:<21}   not loaded {n:,}: linksim changed the membership later"
            for name, n in self.kept.items()
        )
        if self.remarks:
            lines += ["", "to look at:"] + [f"  {r}" for r in self.remarks]
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
    if out is not None and out.exists():  # it may hold the user's edits
        raise UsageError(f"--definitions-out {out} exists: give a new file name, or delete it")
    if not fetch_value(con, "SELECT count(*) FROM pg_timezone_names() WHERE name = ?", [timezone]):
        raise UsageError(
            f"unknown time zone {timezone!r}: expected an IANA name such as 'Europe/Oslo' or 'UTC'"
        )
    earlier = fetch_value(con, "SELECT value FROM linksim.meta WHERE key = ?", [_ZONE_KEY])
    if earlier is not None and earlier != timezone:
        raise UsageError(
            f"this database holds a SuperOffice import read in time zone {earlier}, and "
            f"--timezone is {timezone}: the same rows would have other times; import with "
            f"--timezone {earlier}, or into a new database"
        )
    path = Path(folder)
    rows, ignored, other = read_sources(con, path)
    for sql in PREPARE:
        run(con, sql)
    for s in SOURCES:
        run(con, route_sql(s.name))
    sources = {name: _account(con, name, n) for name, n in rows.items()}
    links, notes = link_definitions(con)
    remarks = _remarks(con)
    loads, kept = {}, {}
    for target in LOAD_ORDER:
        sql = TARGETS.get(target) or DERIVED[target][0]
        run(
            con,
            f"CREATE OR REPLACE TEMP TABLE so_out AS {sql}",
            {"tz": timezone} if "$tz" in sql else None,
        )
        if target in _MEMBERSHIPS:
            kept[target] = _drop_overtaken(con, target)
        if fetch_value(con, "SELECT count(*) FROM so_out"):
            loads[target] = load_relation(con, target, "so_out", source=f"superoffice:{path}")
    run(con, "DROP TABLE so_out")
    with transaction(con):
        run(con, "DELETE FROM linksim.meta WHERE key = ?", [_ZONE_KEY])
        run(con, "INSERT INTO linksim.meta VALUES (?, ?)", [_ZONE_KEY, timezone])
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
        remarks=remarks,
        kept={t: n for t, n in kept.items() if n},
    )
    if out is not None:
        _write_definitions(out, report)
    return report


_ZONE_KEY = "superoffice_timezone"

# membership table -> (owner column, target column, kind, scope) as in linksim.removal
_MEMBERSHIPS = {
    "crm.person_interest": ("person_id", "interest_id", "interest", "person"),
    "crm.contact_interest": ("contact_id", "interest_id", "interest", "contact"),
    "crm.selection_member": ("person_id", "selection_id", "selection", "person"),
    "crm.project_member": ("person_id", "project_id", "project", "person"),
}


def _drop_overtaken(con: duckdb.DuckDBPyConnection, target: str) -> int:
    """Remove from ``so_out`` the memberships linksim changed after the exported row's time: a
    click added it later, or removed it later (last writer wins, SPEC §4.4). An export taken
    before an apply, imported again after it, then cannot undo what the apply did."""
    owner, member, kind, scope = _MEMBERSHIPS[target]
    since = "TRY_CAST(o.since AS TIMESTAMP)"
    key = (
        f"t.{owner} = TRY_CAST(o.{owner} AS BIGINT) AND t.{member} = TRY_CAST(o.{member} AS BIGINT)"
    )
    removal = (
        f"r.target_kind = '{kind}' AND r.scope = '{scope}' "
        f"AND r.owner_id = TRY_CAST(o.{owner} AS BIGINT) "
        f"AND r.target_id = TRY_CAST(o.{member} AS BIGINT)"
    )
    condition = (
        f"EXISTS (SELECT 1 FROM {target} t WHERE {key} AND t.source_click_id IS NOT NULL "
        f"AND t.since >= {since}) "
        f"OR EXISTS (SELECT 1 FROM linksim.removal r WHERE {removal} AND r.removed_at >= {since})"
    )
    n = int(fetch_value(con, f"SELECT count(*) FROM so_out o WHERE {condition}"))
    if n:
        run(con, f"DELETE FROM so_out o WHERE {condition}")
    return n


def _remarks(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What in the exported tables a person should look at, one line each."""
    out = []
    for source, columns in DATE_COLUMNS.items():
        for column in columns:
            bad = f"nullif(trim({column}), '') IS NOT NULL AND {parsed_timestamp(column)} IS NULL"
            n, example = con.execute(
                f"SELECT count(*), min({column}) FROM {staged(source)} WHERE {bad}"
            ).fetchone() or (0, None)
            if n:
                out.append(
                    f"{source}.{column}: {n:,} value{'s' if n > 1 else ''} that are no date and "
                    f"time linksim reads (e.g. {example!r}); expected 2024-03-05 10:00:00 or "
                    "05.03.2024 10:00"
                )
    retired = fetch_value(
        con,
        f"SELECT count(*) FROM {staged('associate')} WHERE {DELETED}",
    )
    if retired:
        out.append(
            f"associate: {retired:,} retired (deleted = 1), imported because contacts, persons or "
            "appointments may name them; a follow-up for the contact's owner may go to them"
        )
    return out


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


class _Dumper(yaml.SafeDumper):
    """Safe YAML, with text of several lines as a literal block (as it reads in SuperOffice)."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _write_definitions(out: Path, report: SuperOfficeImport) -> None:
    head = [
        f"# linksim definitions from the SuperOffice link settings (s_link) in {report.folder}.",
        "# Check them with `linksim lint` before `linksim apply`.",
    ]
    head += [f"# {n.kind}: {n}" for n in report.notes]
    body = yaml.dump(
        report.definitions, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    out.write_text("\n".join(head) + "\n" + body, encoding="utf-8")
