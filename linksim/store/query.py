"""Small helpers to run parameterised SQL on DuckDB 2.0 without leaving a result open.

DuckDB 2.0 streams `execute()` results: a result that is not read to its end owns the connection
and the next statement fails. These helpers always read to the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb

__all__ = ["fetch_one", "fetch_value", "run", "transaction", "unordered_inserts"]


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction around the block: committed at its end, rolled back if it raises.

    >>> con = duckdb.connect()
    >>> with transaction(con):
    ...     run(con, "CREATE TABLE t AS SELECT 1 AS x")
    >>> fetch_value(con, "SELECT x FROM t")
    1
    """
    run(con, "BEGIN")
    try:
        yield
        run(con, "COMMIT")
    except BaseException:
        # a failed COMMIT has already ended the transaction, and a fatal error the connection:
        # the original error is the one to report
        with contextlib.suppress(duckdb.Error):
            run(con, "ROLLBACK")
        raise


@contextlib.contextmanager
def unordered_inserts(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let the INSERTs of the block store their rows in any order (DuckDB's
    ``preserve_insertion_order`` off), then set it back, also when the block fails.

    An INSERT that keeps its input's order leaves a partly filled row group at each boundary
    between the batches its threads wrote, and the next checkpoint rewrites those row groups to
    merge them: at 10M clicks, seconds of recompressing journal and change rows when the
    database closed. No table linksim writes relies on its rows' stored order (every read that
    needs an order says ORDER BY). The setting is the database's, not the connection's: other
    connections to it insert unordered too while the block runs. A transaction in the block
    must end in it (an aborted one refuses the SET). Spark's connections are left as they are.

    >>> con = duckdb.connect()
    >>> with unordered_inserts(con):
    ...     fetch_value(con, "SELECT current_setting('preserve_insertion_order')")
    False
    >>> with unordered_inserts(con), transaction(con):  # doctest: +IGNORE_EXCEPTION_DETAIL
    ...     run(con, "SELECT CAST('x' AS INTEGER)")
    Traceback (most recent call last):
    duckdb.ConversionException: Could not convert string 'x' to INT32
    >>> fetch_value(con, "SELECT current_setting('preserve_insertion_order')")
    True
    """
    if not isinstance(con, duckdb.DuckDBPyConnection):
        yield
        return
    before = bool(fetch_value(con, "SELECT current_setting('preserve_insertion_order')"))
    run(con, "SET preserve_insertion_order = false")
    try:
        yield
    finally:
        # after a fatal error the connection refuses every statement: that error is the one
        with contextlib.suppress(duckdb.Error):
            run(con, f"SET preserve_insertion_order = {'true' if before else 'false'}")


def run(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
) -> None:
    """Run one statement whose result is not needed."""
    con.execute(sql, params).fetchall()


def fetch_one(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
) -> tuple[Any, ...] | None:
    """The first row of a query, or ``None``; the rest of the result is discarded.

    >>> fetch_one(duckdb.connect(), "SELECT ? + 1, 'a'", [41])
    (42, 'a')
    """
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def fetch_value(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
) -> Any:
    """The first column of the first row, or ``None`` when there is no row.

    >>> fetch_value(duckdb.connect(), "SELECT count(*) FROM range(5)")
    5
    """
    row = fetch_one(con, sql, params)
    return None if row is None else row[0]
