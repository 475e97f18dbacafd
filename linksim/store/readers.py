"""Readers: a file, a DataFrame or a relation becomes a :class:`Staged` input for the loader.

Each reader checks the input as a whole — it exists, it parses, its columns are the declared ones —
and raises :class:`~linksim.errors.InputError` otherwise. Columns are then addressed by position
(``#3``), so a column name from the input never reaches SQL; file paths are parameters, and the
only name a caller gives (the relation of :func:`from_relation`) is quoted.

CSV is read with fixed options (comma, or the `;`/tab the header uses; `"` quotes, doubled inside a
quoted value) and every value as text: a value is parsed once, by the loader's rules, so that a bad
one quarantines its row instead of failing the file.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from linksim.errors import InputError
from linksim.store.query import fetch_value, run
from linksim.store.schema import INPUT_TABLES, TABLES, Table, table
from linksim.store.validate import accepts, ident

__all__ = [
    "MAX_LINE",
    "SUFFIXES",
    "Staged",
    "from_file",
    "from_frame",
    "from_relation",
    "input_table",
    "match_columns",
    "registered",
    "temp_name",
]

MAX_LINE = 2_000_000
"""The longest CSV line (in bytes) the reader accepts."""

SUFFIXES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
}


@dataclass(frozen=True)
class Staged:
    """An input ready for the loader.

    Attributes:
        relation: the quoted name of the relation to read (a temporary table, a registered
            DataFrame, or the caller's table or view).
        columns: one ``(position, declared name, name as given, DuckDB type)`` per input column.
        raw: the name of a column holding each row exactly as read (JSON lines), or None.
        owned: whether ``relation`` is a temporary table of this load, to drop when done.
    """

    relation: str
    columns: tuple[tuple[int, str, str, str], ...]
    raw: str | None = None
    owned: bool = False


def temp_name(purpose: str) -> str:
    """A fresh name for a temporary table of this load.

    >>> temp_name("checked").startswith("_linksim_checked_")
    True
    """
    return f"_linksim_{purpose}_{uuid.uuid4().hex[:12]}"


def input_table(name: str) -> Table:
    """The declared input table called ``name``, or an :class:`InputError` suggesting one.

    >>> input_table("mail.click").key
    ('click_id',)
    >>> input_table("mail.clicks")
    Traceback (most recent call last):
    ...
    linksim.errors.InputError: unknown table 'mail.clicks' (did you mean 'mail.click'?); ...
    """
    if name in INPUT_TABLES:
        return table(name)
    if name in {t.name for t in TABLES}:
        raise InputError(
            f"{name} is written by linksim and cannot be loaded; "
            f"loadable tables: {', '.join(INPUT_TABLES)}"
        )
    by_tail = [t for t in INPUT_TABLES if t.split(".")[1] == str(name).split(".")[-1].lower()]
    close = by_tail or difflib.get_close_matches(str(name).lower(), INPUT_TABLES, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InputError(f"unknown table {name!r}{hint}; loadable tables: {', '.join(INPUT_TABLES)}")


def match_columns(t: Table, names: Sequence[object], *, source: str | None) -> list[str]:
    """The declared column for each input column name, matched ignoring case and outer spaces.

    Raises :class:`InputError` naming every unknown, repeated or missing required column.

    >>> match_columns(table("crm.interest"), [" Interest_ID", "name"], source=None)
    ['interest_id', 'name']
    """
    declared = t.column_names
    out: list[str] = []
    problems: list[str] = []
    for position, given in enumerate(names, 1):
        if not isinstance(given, str) or not given.strip():
            problems.append(f"column {position} has no name")
            out.append("")
            continue
        key = given.strip().lower()
        if key in declared:
            if key in out:
                problems.append(f"column {key!r} appears twice")
            out.append(key)
            continue
        close = difflib.get_close_matches(key, declared, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"unknown column {given!r}{hint}")
        out.append("")
    required = [c.name for c in t.columns if not c.nullable and c.default is None]
    missing = [c for c in required if c not in out]
    if missing:
        problems.append(f"missing required column{'s' * (len(missing) > 1)} {', '.join(missing)}")
    if problems:
        optional = [c for c in declared if c not in required]
        raise InputError(
            f"{'; '.join(problems)}. {t.name} needs columns {', '.join(required)}"
            + (f" and may have {', '.join(optional)}" if optional else ""),
            source=source,
            table=t.name,
        )
    return out


def _describe(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()
) -> list[tuple[str, str]]:
    rows = con.execute(f"DESCRIBE {sql}", list(params)).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def _stage(
    t: Table,
    relation: str,
    names: Sequence[object],
    types: Sequence[str],
    source: str,
    *,
    owned: bool = False,
) -> Staged:
    declared = match_columns(t, names, source=source)
    columns = []
    for position, (given, duck_type, name) in enumerate(
        zip(names, types, declared, strict=True), 1
    ):
        if not accepts(t.column(name), duck_type):
            raise InputError(
                f"column {given!r} holds {duck_type} values, which cannot be read as "
                f"{t.column(name).type}; convert the column, or give it as text",
                source=source,
                table=t.name,
            )
        columns.append((position, name, str(given).strip(), duck_type))
    return Staged(relation, tuple(columns), owned=owned)


def from_relation(con: duckdb.DuckDBPyConnection, relation: str, t: Table, source: str) -> Staged:
    """Stage a table or view the connection can see (``name`` or ``schema.name``)."""
    quoted = ".".join('"' + part.replace('"', '""') + '"' for part in relation.split("."))
    try:
        described = _describe(con, f"SELECT * FROM {quoted}")
    except duckdb.CatalogException:
        raise InputError(f"no table or view named {relation!r}", source=source) from None
    names, types = zip(*described, strict=True) if described else ((), ())
    return _stage(t, quoted, names, types, source)


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> Iterator[str]:
    """Make a DataFrame visible to SQL under a fresh name (outside any transaction: DuckDB
    refuses to unregister it in a transaction that an error aborted)."""
    name = temp_name("frame")
    con.register(name, frame)
    try:
        yield name
    finally:
        with suppress(duckdb.TransactionException):  # the caller's transaction was aborted
            con.unregister(name)


def from_frame(
    con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, t: Table, source: str
) -> Staged:
    """Stage a DataFrame registered as ``name``; its own column labels are matched."""
    types = [ty for _, ty in _describe(con, f"SELECT * FROM {ident(name)}")]
    return _stage(t, ident(name), list(frame.columns), types, source)


def from_file(con: duckdb.DuckDBPyConnection, data: str | Path, t: Table, source: str) -> Staged:
    """Read a CSV, Parquet or JSON lines file into a temporary table and stage it."""
    path = Path(data)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            f"unknown file type {path.suffix or '(no extension)'!r}: expected "
            ".csv, .parquet (.pq) or JSON lines (.jsonl, .ndjson, .json)",
            source=source,
            table=t.name,
        )
    if not path.is_file():
        problem = f"{path} is a folder, not a file" if path.is_dir() else f"file not found: {path}"
        raise InputError(problem, source=source, table=t.name)
    reader = {"csv": _read_csv, "parquet": _read_parquet, "json": _read_json}[kind]
    return reader(con, path, t, source, temp_name("input"))


# --- CSV ---------------------------------------------------------------------------------------


def _csv_header(path: Path, source: str, t: Table) -> tuple[list[str], str]:
    try:
        with path.open("rb") as f:
            first = f.readline(MAX_LINE + 1)
    except OSError as exc:
        raise InputError(
            f"cannot read the file: {exc.strerror}", source=source, table=t.name
        ) from None
    first = first.removeprefix(b"\xef\xbb\xbf")
    if not first.strip():
        raise InputError(
            "the file is empty: expected a header line naming the columns "
            f"({', '.join(t.column_names)}) and one line per row",
            source=source,
            table=t.name,
        )
    try:
        text = first.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise _not_utf8(1, source, t) from None
    delimiter = next((d for d in (",", ";", "\t") if d in text), ",")
    return next(csv.reader([text], delimiter=delimiter)), delimiter


def _not_utf8(line: int, source: str, t: Table) -> InputError:
    return InputError(
        f"line {line}: the file is not UTF-8 text; save it as UTF-8 "
        "(in Excel: 'CSV UTF-8'), then load it again",
        source=source,
        table=t.name,
    )


def _csv_error(exc: duckdb.Error, delimiter: str, source: str, t: Table) -> InputError:
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    at = int(line.group(1)) if line else 0
    where = f"line {at}: " if line else ""
    fields = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if fields:
        message = (
            f"expected {fields.group(1)} fields like the header, found {fields.group(2)}; "
            f"quote values that contain {delimiter!r} and check for a missing or extra field"
        )
    elif "unicode" in text.lower() or "utf-8" in text.lower():
        return _not_utf8(at, source, t)
    elif "Maximum line size" in text:
        message = (
            f"the line is longer than {MAX_LINE:,} bytes, the most the reader allows; "
            "look for a quote that is never closed, or shorten the value"
        )
    elif "unterminated quote" in text:
        message = 'a quoted value is never closed; close it, and double a quote inside one ("")'
    else:  # DuckDB's own words: the first line that is neither the position nor the row itself
        lines = [s for s in text.splitlines()[1:] if s.strip() and not s.startswith("Original")]
        message = (lines or text.splitlines())[0].removeprefix("Invalid Input Error: ")[:200]
    return InputError(f"{where}{message}", source=source, table=t.name)


def _read_csv(
    con: duckdb.DuckDBPyConnection, path: Path, t: Table, source: str, name: str
) -> Staged:
    header, delimiter = _csv_header(path, source, t)
    declared = match_columns(t, header, source=source)
    try:
        run(
            con,
            f"CREATE TEMP TABLE {ident(name)} AS SELECT * FROM read_csv($1, delim = $2, "
            "quote = '\"', escape = '\"', header = true, auto_detect = false, columns = $3, "
            "strict_mode = true, null_padding = false, max_line_size = $4)",
            [str(path), delimiter, {c: "VARCHAR" for c in declared}, MAX_LINE],
        )
    except duckdb.Error as exc:
        raise _csv_error(exc, delimiter, source, t) from None
    if not fetch_value(con, f"SELECT count(*) FROM {ident(name)}"):
        raise InputError("the file has a header but no rows", source=source, table=t.name)
    columns = tuple(
        (i, d, g.strip(), "VARCHAR")
        for i, (d, g) in enumerate(zip(declared, header, strict=True), 1)
    )
    return Staged(ident(name), columns, owned=True)


# --- Parquet -----------------------------------------------------------------------------------


def _read_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, t: Table, source: str, name: str
) -> Staged:
    try:
        described = _describe(con, "SELECT * FROM read_parquet(?)", [str(path)])
        run(con, f"CREATE TEMP TABLE {ident(name)} AS SELECT * FROM read_parquet(?)", [str(path)])
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0].split(": ", 1)[-1]
        raise InputError(
            f"cannot read the file as Parquet ({first})", source=source, table=t.name
        ) from None
    if not fetch_value(con, f"SELECT count(*) FROM {ident(name)}"):
        raise InputError("the file has no rows", source=source, table=t.name)
    names, types = zip(*described, strict=True)
    return _stage(t, ident(name), names, types, source, owned=True)


# --- JSON lines --------------------------------------------------------------------------------


def _first_bad_json_line(path: Path) -> tuple[int, str] | None:
    # Runs only after DuckDB refused the file, to name the line: DuckDB reports a record count.
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                return number, "utf-8"
            except ValueError as exc:
                return number, f"is not valid JSON ({exc.args[0].split(':')[0].lower()})"
    return None


def _read_json(
    con: duckdb.DuckDBPyConnection, path: Path, t: Table, source: str, name: str
) -> Staged:
    objects = temp_name("objects")
    try:
        run(
            con,
            f"CREATE TEMP TABLE {ident(objects)} AS SELECT row_number() OVER () AS n, json "
            "FROM read_json_objects(?, format = 'newline_delimited')",
            [str(path)],
        )
    except duckdb.Error as exc:
        bad = _first_bad_json_line(path)
        if bad and bad[1] == "utf-8":
            raise _not_utf8(bad[0], source, t) from None
        if bad:
            raise InputError(
                f"line {bad[0]} {bad[1]}: expected one JSON object per line (JSON lines)",
                source=source,
                table=t.name,
            ) from None
        first = str(exc).splitlines()[0].split(": ", 1)[-1]
        raise InputError(
            f"cannot read the file as JSON lines ({first})", source=source, table=t.name
        ) from None
    count = fetch_value(con, f"SELECT count(*) FROM {ident(objects)}")
    if not count:
        raise InputError(
            "the file is empty: expected one JSON object per line", source=source, table=t.name
        )
    not_object = fetch_value(
        con, f"SELECT min(n) FROM {ident(objects)} WHERE json_type(json) <> 'OBJECT'"
    )
    if not_object is not None:
        example = ", ".join(f'"{c}": …' for c in t.column_names[:2])
        raise InputError(
            f"record {not_object} is not a JSON object: expected one object per line, "
            f"like {{{example}}}",
            source=source,
            table=t.name,
        )
    keys = [
        str(row[0])
        for row in con.execute(
            f"SELECT k FROM (SELECT unnest(json_keys(json)) AS k, n FROM {ident(objects)}) "
            "GROUP BY k ORDER BY min(n), k"
        ).fetchall()
    ]
    declared = match_columns(t, keys, source=source)
    select = ", ".join(f"json ->> ${i} AS {ident(d)}" for i, d in enumerate(declared, 1))
    paths = ['$."' + k.replace("\\", "\\\\").replace('"', '\\"') + '"' for k in keys]
    run(
        con,
        f"CREATE TEMP TABLE {ident(name)} AS SELECT {select}, json AS _raw "
        f"FROM {ident(objects)} ORDER BY n",
        paths,
    )
    run(con, f"DROP TABLE {ident(objects)}")
    columns = tuple(
        (i, d, k, "VARCHAR") for i, (d, k) in enumerate(zip(declared, keys, strict=True), 1)
    )
    return Staged(ident(name), columns, raw="_raw", owned=True)
