"""The SuperOffice tables an import reads: which CSV files, which of their columns; reading them.

A SuperOffice export is a folder of CSV files named after the database tables (``person.csv``,
``s_link_customer.csv``, …; the case of the name does not matter). Each file is read as text into a
temporary table ``so_<name>`` with lower-case column names and a ``_row`` column (the data row's
position in the file, header not counted), so that every later step is SQL over whole tables and
every row can be accounted for.

The columns are those of SuperOffice's database reference (docs/en/database/tables/ in the public
SuperOfficeDocs/superoffice-docs repository). A file must have its `required` columns; the
`optional` ones are used when present; any other column is ignored and named in the report.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from linksim.errors import InputError
from linksim.store.query import fetch_value, run
from linksim.store.readers import MAX_LINE

__all__ = ["SOURCES", "Source", "read_sources", "staged"]


@dataclass(frozen=True)
class Source:
    """One SuperOffice table: its file name (without ``.csv``) and the columns linksim reads."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    lookup: bool = False  # a list the import reads names from; its rows fill no linksim table

    @property
    def used(self) -> tuple[str, ...]:
        return self.required + self.optional


SOURCES: tuple[Source, ...] = (
    Source(
        "associate", ("associate_id", "name"), ("person_id", "group_idx", "ejuserid", "deleted")
    ),
    Source("usergroup", ("usergroup_id", "name"), lookup=True),
    Source("contact", ("contact_id", "name"), ("associate_id", "category_idx", "business_idx",
                                                 "country_id")),
    Source("category", ("category_id", "name"), lookup=True),
    Source("business", ("business_id", "name"), lookup=True),
    Source("country", ("country_id", "name"), lookup=True),
    Source("person", ("person_id",), ("contact_id", "firstname", "lastname", "associate_id")),
    Source("email", ("person_id", "email_address"), ("rank", "email_id"), lookup=True),
    Source("persint", ("persint_id", "name"), ("deleted",)),
    Source("contint", ("contint_id", "name"), ("deleted",)),
    Source("personinterest", ("person_id", "pinterest_idx"), ("startdate", "registered")),
    Source("contactinterest", ("contact_id", "cinterest_idx"), ("startdate", "registered")),
    Source("selection", ("selection_id", "name"), ("registered",)),
    Source("selectionmember", ("selection_id", "person_id"), ("contact_id",)),
    Source("project", ("project_id", "name"), ("registered",)),
    Source("projectmember", ("project_id", "person_id"), ("registered",)),
    Source("task", ("task_id", "name"), ("record_type",), lookup=True),
    Source("ej_category", ("id", "name"), ("fullname",), lookup=True),
    Source("ticket_priority", ("id", "name"), lookup=True),
    Source("ejscript", ("id",), ("description", "include_id"), lookup=True),
    Source("s_shipment", ("id",), ("description", "start_date", "status")),
    Source(
        "s_shipment_addr",
        ("id", "shipment_id", "customer_id"),
        ("sending_time", "status", "workflow_step_id"),
    ),
    Source(
        "s_link",
        ("id", "url", "action_flags"),
        (
            "description", "extra_field", "value", "script_id",
            "ticket_title", "ticket_category", "ticket_priority", "ticket_owned_by",
            "add_to_selection", "remove_from_selection", "template_text",
            "add_contact_interest", "remove_contact_interest", "add_person_interest",
            "remove_person_interest", "add_contact_selection", "remove_contact_selection",
            "add_project", "remove_project", "task_text", "task_idx", "task_flags",
            "task_associate_id", "task_creating_associate_id", "task_project", "task_start",
            "task_duration", "redirect_kind", "form_id",
        ),
    ),
    Source(
        "s_link_customer",
        ("id", "customer_id", "link_id", "shipment_id", "pressed", "link_type"),
        ("http_user_agent",),
    ),
)  # fmt: skip


def staged(name: str) -> str:
    """The temporary table holding source ``name``."""
    return f"so_{name}"


def _find(folder: Path) -> dict[str, Path]:
    """The CSV files of the folder by lower-case table name; two for one table are an error."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".csv":
            continue
        name = path.stem.lower()
        if name in found:
            raise InputError(
                f"{found[name].name} and {path.name} are both the {name} table (names are read "
                "in any case): keep one of them",
                source=str(folder),
            )
        found[name] = path
    return found


def read_sources(
    con: duckdb.DuckDBPyConnection, folder: Path
) -> tuple[dict[str, int], dict[str, list[str]], list[str]]:
    """Read every SuperOffice CSV of ``folder`` into ``so_<name>``; every source gets its table.

    A source without a file gets an empty table with its columns, so that the mapping SQL never
    depends on what was exported.

    Returns:
        rows per source found, ignored columns per source, and the files that are not
        SuperOffice tables linksim reads.

    Raises:
        InputError: the folder is missing or holds none of the tables; a file lacks a required
            column, or cannot be read as CSV. Nothing is read into the database then.
    """
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder: expected a folder of SuperOffice CSV exports")
    files = _find(folder)
    known = {s.name for s in SOURCES}
    if not known & files.keys():
        raise InputError(
            f"{folder} holds no SuperOffice export: expected CSV files named after the tables, "
            "e.g. person.csv, s_shipment.csv, s_link.csv, s_link_customer.csv"
        )
    headers = {s.name: _header(files[s.name]) for s in SOURCES if s.name in files}
    for s in SOURCES:  # every file is checked before anything is read
        if s.name in headers:
            missing = [c for c in s.required if c not in headers[s.name][0]]
            if missing:
                raise InputError(
                    f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}: the "
                    f"export of SuperOffice's {s.name} table needs {', '.join(s.required)} "
                    "(named as in SuperOffice's database reference, any case)",
                    source=str(files[s.name]),
                )
    rows, ignored = {}, {}
    for s in SOURCES:
        if s.name in headers:
            header, delimiter = headers[s.name]
            rows[s.name] = _read(con, s, files[s.name], header, delimiter)
            ignored[s.name] = [c for c in header if c not in s.used]
        else:
            columns = ", ".join(f"CAST(NULL AS VARCHAR) AS {c}" for c in s.used)
            run(
                con,
                f"CREATE OR REPLACE TEMP TABLE {staged(s.name)} AS "
                f"SELECT CAST(NULL AS BIGINT) AS _row, {columns} LIMIT 0",
            )
    other = sorted(p.name for name, p in files.items() if name not in known)
    return rows, ignored, other


def _header(path: Path) -> tuple[list[str], str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            first = f.readline()
    except UnicodeDecodeError:
        raise InputError(
            "the file is not UTF-8 text; export it as UTF-8", source=str(path)
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", source=str(path)) from None
    first = first.rstrip("\r\n")
    if not first.strip():
        raise InputError("the file is empty: expected a header line", source=str(path))
    delimiter = next((d for d in (",", ";", "\t") if d in first), ",")
    header = [c.strip().lower() for c in next(csv.reader([first], delimiter=delimiter))]
    return header, delimiter


def _read(
    con: duckdb.DuckDBPyConnection, s: Source, path: Path, header: list[str], delimiter: str
) -> int:
    # Every column as text: the mapping decides what each one means, and the loader casts and
    # checks the result, so a bad value is quarantined with its reason instead of failing the read.
    present = [c for c in s.used if c in header]
    picked = [f"c{header.index(c)} AS {c}" for c in present]
    picked += [f"CAST(NULL AS VARCHAR) AS {c}" for c in s.used if c not in header]
    try:
        run(
            con,
            f"CREATE OR REPLACE TEMP TABLE {staged(s.name)} AS "
            f"SELECT row_number() OVER () AS _row, {', '.join(picked)} "
            "FROM read_csv(?, delim = ?, quote = '\"', escape = '\"', header = true, "
            "auto_detect = false, columns = ?, strict_mode = true, null_padding = false, "
            "max_line_size = ?)",
            [str(path), delimiter, {f"c{i}": "VARCHAR" for i in range(len(header))}, MAX_LINE],
        )
    except duckdb.Error as exc:
        text = str(exc)
        line = re.search(r"CSV Error on Line: (\d+)", text)
        where = f"line {line.group(1)}: " if line else ""
        lines = [x for x in text.splitlines()[1:] if x.strip() and not x.startswith("Original")]
        detail = (lines or text.splitlines())[0].removeprefix("Invalid Input Error: ")[:200]
        if "invalid state" in text:  # DuckDB gives no line here
            detail = "lines end in both CRLF and LF, or a quote is out of place"
        raise InputError(
            f"{where}cannot be read as CSV ({detail}); quote values that contain "
            f"{delimiter!r}, and double a quote inside one",
            source=str(path),
        ) from None
    return int(fetch_value(con, f"SELECT count(*) FROM {staged(s.name)}"))
