"""Small helpers to run parameterised SQL on DuckDB 2.0 without leaving a result open.

DuckDB 2.0 streams `execute()` results: a result that is not read to its end owns the connection
and the next statement fails. These helpers always read to the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb

__all__ = ["fetch_one", "fetch_value", "run", "transaction"]


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
