"""Validated, set-based loading of the input tables (SPEC §2, §5 `linksim load`), with quarantine.

A load is one transaction of a few SQL statements over the whole input, whatever its size:

1. **check** — every value is cast to its declared type and every row gets the reason of the first
   rule it breaks, or none (:mod:`linksim.store.validate`);
2. **repeats** — keys that occur more than once among the good rows, and whether their copies agree;
3. **classify** — each row is *loaded* (new key), *updated* (a stored CRM or mailing row whose
   content changed), *duplicate* (same content as a stored row or as an earlier copy in this input)
   or *quarantined* (a reason, a repeated key with different content, a changed event row, or a
   value of a unique column that another key holds);
4. **write** — inserts, updates, one `linksim.quarantine` row per quarantined row and one
   `linksim.load` row with the counts.

Whole-input problems (a file that cannot be read, wrong columns) raise
:class:`~linksim.errors.InputError` and write nothing; so does any failure on the way.

Columns the input does not have are left as they are on update, and take their default (or NULL) on
insert. An empty or blank text is NULL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd

from linksim.errors import UsageError
from linksim.store import readers
from linksim.store.query import fetch_value, run
from linksim.store.readers import Staged, temp_name
from linksim.store.report import OUTCOMES, LoadReport
from linksim.store.schema import Table
from linksim.store.validate import (
    FUTURE,
    cast_sql,
    checks,
    ident,
    input_sql,
    literal,
    qualified,
)

__all__ = ["FUTURE_SLACK", "LoadReport", "load", "load_relation"]

FUTURE_SLACK = timedelta(minutes=5)
"""How far past the current time a timestamp may lie before it counts as "in the future"."""

# Event tables are facts: a changed copy of a stored row is quarantined, never applied (SPEC §4.1).


def load(
    con: duckdb.DuckDBPyConnection,
    table: str,
    data: str | os.PathLike[str] | pd.DataFrame,
    *,
    source: str | None = None,
) -> LoadReport:
    """Load a file (CSV, Parquet, JSON lines) or a DataFrame into an input table of SPEC §2.

    Columns are matched by name (ignoring case and outer spaces). ``row_number`` in
    `linksim.quarantine` is the 1-based position of the row in the input: for CSV the data row,
    the header not counted; for JSON lines the object, blank lines not counted.

    Args:
        con: a linksim connection (:func:`linksim.store.connect.connect`), no transaction open.
        table: ``schema.table``, e.g. ``"mail.click"``.
        data: a path, or a pandas DataFrame.
        source: the name to record as the source; the path or ``"<DataFrame>"`` by default.

    Raises:
        InputError: the input cannot be loaded as a whole; nothing was written.

    >>> from linksim.store.connect import connect
    >>> con = connect(":memory:")
    >>> frame = pd.DataFrame({"interest_id": [1, 2, 2, 3], "name": ["News", "Fair", "Fair", ""]})
    >>> print(load(con, "crm.interest", frame))
    crm.interest from <DataFrame>: 4 rows seen (load_id 1)
      2  loaded
      0  updated
      1  duplicate
      1  quarantined
      1    name is missing
    quarantined rows: SELECT * FROM linksim.quarantine WHERE load_id = 1
    """
    t = readers.input_table(table)
    if isinstance(data, pd.DataFrame):
        name = source or "<DataFrame>"
        with readers.registered(con, data) as view, _transaction(con):
            return _load(con, t, readers.from_frame(con, view, data, t, name), name)
    if not isinstance(data, str | os.PathLike):
        raise UsageError(f"data must be a file path or a DataFrame, not {type(data).__name__}")
    name = source or os.fspath(data)
    with _transaction(con):
        return _load(con, t, readers.from_file(con, os.fspath(data), t, name), name)


def load_relation(
    con: duckdb.DuckDBPyConnection, table: str, relation: str, *, source: str
) -> LoadReport:
    """Load a table or view the connection can see into an input table, set-based.

    The relation's columns are named like the target's, of any type that can be cast: text is
    parsed, typed columns are cast directly (a no-op when the type is already right), so a large
    typed staging table loads without a round trip through text. ``row_number`` in
    `linksim.quarantine` is the position in the relation's scan order.

    >>> from linksim.store.connect import connect
    >>> con = connect(":memory:")
    >>> _ = con.execute("CREATE TEMP TABLE staged AS SELECT range AS mailing_id, "
    ...                 "'Mailing ' || range AS name, NULL AS sent_at FROM range(1000)").fetchall()
    >>> load_relation(con, "mail.mailing", "staged", source="generator").loaded
    1000
    """
    t = readers.input_table(table)
    with _transaction(con):
        return _load(con, t, readers.from_relation(con, relation, t, source), source)


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    try:
        run(con, "BEGIN")
    except duckdb.TransactionException:
        raise UsageError(
            "a transaction is open on this connection, and a load needs its own: DuckDB has now "
            "aborted that transaction; roll it back, and commit before loading next time"
        ) from None
    zone = fetch_value(con, "SELECT current_setting('TimeZone')")
    try:
        if zone != "UTC":  # text without an offset means UTC (SPEC §2)
            run(con, "SET TimeZone = 'UTC'")
        yield
        run(con, "COMMIT")
    except BaseException:
        run(con, "ROLLBACK")
        raise
    finally:
        if zone != "UTC":
            run(con, f"SET TimeZone = {literal(str(zone))}")


def _load(con: duckdb.DuckDBPyConnection, t: Table, staged: Staged, source: str) -> LoadReport:
    load_id = int(fetch_value(con, "SELECT nextval('linksim.load_id_seq')"))
    now = datetime.now(UTC).replace(tzinfo=None)
    checked, repeats, out = temp_name("checked"), temp_name("repeats"), temp_name("out")
    _check(con, t, staged, checked, now + FUTURE_SLACK)
    _find_repeats(con, t, staged, checked, repeats)
    _classify(con, t, staged, checked, repeats, out)
    run(con, f"DROP TABLE {ident(checked)}")
    run(con, f"DROP TABLE {ident(repeats)}")
    if staged.owned:
        run(con, f"DROP TABLE {staged.relation}")
    report = _report(con, t, source, load_id, out)
    _write(con, t, staged, out)
    _quarantine(con, t, staged, out, report, now)
    _record(con, report, now)
    run(con, f"DROP TABLE {ident(out)}")
    return report


def _supplied(staged: Staged) -> list[str]:
    return [declared for _, declared, _, _ in staged.columns]


def _keeps_raw(t: Table, duck_type: str, declared: str) -> bool:
    # The typed value stands for the raw one where the input already had the declared type.
    return duck_type.upper() != t.column(declared).type


def _check(
    con: duckdb.DuckDBPyConnection, t: Table, staged: Staged, checked: str, future: datetime
) -> None:
    """Step 1: cast every value and give every row the reason of the first rule it breaks."""
    types = {declared: duck_type for _, declared, _, duck_type in staged.columns}
    inputs = [f"{input_sql(ty, f'#{p}')} AS {ident('_in_' + d)}" for p, d, _, ty in staged.columns]
    if staged.raw:
        inputs.append(f"{ident(staged.raw)} AS _raw")
    typed = [
        f"{cast_sql(c, types[c.name])} AS {ident(c.name)}"
        if c.name in types
        else f"CAST({c.default or 'NULL'} AS {c.type}) AS {ident(c.name)}"
        for c in t.columns
    ]
    kept = [ident(c.name) for c in t.columns] + [
        f"s.{ident('_in_' + d)}" for _, d, _, ty in staged.columns if _keeps_raw(t, ty, d)
    ]
    if staged.raw:
        kept.append("s._raw")
    rules = checks(t, types)
    reason = "CASE " + " ".join(f"WHEN {r.condition} THEN {literal(r.reason)}" for r in rules)
    reason += " END" if rules else "NULL END"
    run(
        con,
        f"CREATE TEMP TABLE {ident(checked)} AS "
        f"SELECT s._row, {', '.join(kept)}, {reason} AS _reason FROM ("
        f"  SELECT *, {', '.join(typed)} FROM ("
        f"    SELECT row_number() OVER () AS _row, {', '.join(inputs)} FROM {staged.relation}"
        f"  )"
        f") AS s",
        [future] if FUTURE in reason else None,
    )


def _key_match(t: Table, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{ident(k)} = {right}.{ident(k)}" for k in t.key)


def _key_text(t: Table) -> str:
    return t.key[0] if len(t.key) == 1 else f"({', '.join(t.key)})"


def _find_repeats(
    con: duckdb.DuckDBPyConnection, t: Table, staged: Staged, checked: str, repeats: str
) -> None:
    """Step 2: keys that more than one good row has, the first such row, and how many versions."""
    keys = ", ".join(ident(k) for k in t.key)
    content = [ident(c) for c in _supplied(staged) if c not in t.key]
    variants = f"count(DISTINCT row({', '.join(f'c.{c}' for c in content)}))" if content else "1"
    run(
        con,
        f"CREATE TEMP TABLE {ident(repeats)} AS "
        f"WITH k AS (SELECT {keys}, min(_row) AS _first FROM {ident(checked)} "
        f"  WHERE _reason IS NULL GROUP BY ALL HAVING count(*) > 1) "
        f"SELECT {', '.join(f'k.{ident(x)}' for x in t.key)}, any_value(k._first) AS _first, "
        f"  {variants} AS _variants "
        f"FROM k JOIN {ident(checked)} c ON {_key_match(t, 'c', 'k')} "
        f"WHERE c._reason IS NULL GROUP BY ALL",
    )


def _classify(
    con: duckdb.DuckDBPyConnection,
    t: Table,
    staged: Staged,
    checked: str,
    repeats: str,
    out: str,
) -> None:
    """Step 3: the outcome of every row, against the other rows and against the stored ones."""
    target, key0 = qualified(t.name), ident(t.key[0])
    content = [ident(c) for c in _supplied(staged) if c not in t.key]
    same = " AND ".join(f"t.{c} IS NOT DISTINCT FROM c.{c}" for c in content) or "true"
    key = _key_text(t)
    reasons = [
        ("c._reason IS NOT NULL", "c._reason"),
        (
            "d._variants > 1",
            literal(f"{key} appears more than once in this input with different content"),
        ),
        ("d._first IS NOT NULL AND c._row <> d._first", "NULL"),
        (f"t.{key0} IS NOT NULL AND ({same})", "NULL"),
    ]
    if t.immutable:
        reasons.append(
            (f"t.{key0} IS NOT NULL", literal(f"{key} is already stored with different content"))
        )
    for unique in t.unique:
        u = ident(unique)
        noun = t.name.split(".")[1]
        others = " OR ".join(f"o.{ident(k)} <> c.{ident(k)}" for k in t.key)
        reasons.append(
            (
                f"c.{u} IN (SELECT {u} FROM {ident(checked)} o WHERE o._reason IS NULL "
                f"GROUP BY {u} HAVING count(DISTINCT ({', '.join(ident(k) for k in t.key)})) > 1)",
                literal(f"{unique} is given to more than one {noun} in this input"),
            )
        )
        reasons.append(
            (
                f"EXISTS (SELECT 1 FROM {target} o WHERE o.{u} = c.{u} AND ({others}))",
                literal(f"{unique} is already used by another {noun}"),
            )
        )
    why = "CASE " + " ".join(f"WHEN {cond} THEN {value}" for cond, value in reasons) + " END"
    run(
        con,
        f"CREATE TEMP TABLE {ident(out)} AS "
        "SELECT * EXCLUDE (_repeat, _stored, _same, _reason), "
        "  CASE WHEN _why IS NOT NULL THEN 'quarantined' WHEN _repeat THEN 'duplicate' "
        "       WHEN NOT _stored THEN 'loaded' WHEN _same THEN 'duplicate' ELSE 'updated' END "
        "  AS _outcome FROM ("
        f"  SELECT c.*, {why} AS _why, "
        "    coalesce(d._first IS NOT NULL AND c._row <> d._first, false) AS _repeat, "
        f"    t.{key0} IS NOT NULL AS _stored, coalesce({same}, false) AS _same "
        f"  FROM {ident(checked)} c "
        f"  LEFT JOIN {ident(repeats)} d ON {_key_match(t, 'd', 'c')} "
        f"  LEFT JOIN {target} t ON {_key_match(t, 't', 'c')}"
        ")",
    )


def _report(
    con: duckdb.DuckDBPyConnection, t: Table, source: str, load_id: int, out: str
) -> LoadReport:
    rows = con.execute(
        f"SELECT _outcome, _why, count(*) FROM {ident(out)} GROUP BY ALL ORDER BY 3 DESC, 2"
    ).fetchall()
    counts = dict.fromkeys(OUTCOMES, 0)
    reasons: dict[str, int] = {}
    for outcome, why, n in rows:
        counts[outcome] += n
        if outcome == "quarantined":
            reasons[why] = n
    return LoadReport(t.name, source, load_id, sum(counts.values()), reasons=reasons, **counts)


def _write(con: duckdb.DuckDBPyConnection, t: Table, staged: Staged, out: str) -> None:
    """Step 4: insert the new rows, update the changed stored ones."""
    target = qualified(t.name)
    columns = [ident(c) for c in _supplied(staged)]
    run(
        con,
        f"INSERT INTO {target} ({', '.join(columns)}) "
        f"SELECT {', '.join(columns)} FROM {ident(out)} WHERE _outcome = 'loaded'",
    )
    content = [c for c in columns if c.strip('"') not in t.key]
    assignments = [f"{c} = o.{c}" for c in content]
    # A loaded row is a manual edit: linksim's bookkeeping columns it lacks no longer apply.
    supplied = set(_supplied(staged))
    assignments += [
        f"{ident(c.name)} = NULL" for c in t.columns if c.by_linksim and c.name not in supplied
    ]
    if content and not t.immutable:
        run(
            con,
            f"UPDATE {target} AS t SET {', '.join(assignments)} "
            f"FROM {ident(out)} AS o WHERE o._outcome = 'updated' AND {_key_match(t, 't', 'o')}",
        )


def _quarantine(
    con: duckdb.DuckDBPyConnection,
    t: Table,
    staged: Staged,
    out: str,
    report: LoadReport,
    now: datetime,
) -> None:
    if not report.quarantined:
        return
    params: list[object] = [report.load_id, report.source, t.name, now]
    if staged.raw:
        raw = "_raw"
    else:
        pairs = []
        for _, declared, given, duck_type in staged.columns:
            params.append(given)
            value = "_in_" + declared if _keeps_raw(t, duck_type, declared) else declared
            pairs.append(f"${len(params)}, {ident(value)}")
        raw = f"json_object({', '.join(pairs)})"
    run(
        con,
        "INSERT INTO linksim.quarantine "
        "(load_id, source, table_name, row_number, raw, reason, loaded_at) "
        f"SELECT $1, $2, $3, _row, {raw}, _why, $4 "
        f"FROM {ident(out)} WHERE _outcome = 'quarantined' ORDER BY _row",
        params,
    )


def _record(con: duckdb.DuckDBPyConnection, report: LoadReport, now: datetime) -> None:
    if report.seen != sum(getattr(report, o) for o in OUTCOMES):  # pragma: no cover - a bug
        raise AssertionError(f"load accounting does not add up: {report.to_dict()}")
    run(
        con,
        "INSERT INTO linksim.load (load_id, table_name, source, loaded_at, rows_seen, "
        "rows_loaded, rows_updated, rows_duplicate, rows_quarantined) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            report.load_id,
            report.table,
            report.source,
            now,
            report.seen,
            report.loaded,
            report.updated,
            report.duplicate,
            report.quarantined,
        ],
    )
