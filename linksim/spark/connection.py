"""A Spark session behind the few calls the engine makes on a DuckDB connection.

The engine's orchestration (`linksim.runs`, `linksim.engine.pipeline`, `compile_definitions`,
`run_scripts`) talks to a connection: ``execute(sql, params)`` with results read by
``fetchall()``/``df()``, and ``register(name, frame)``. `SparkConnection` answers those calls
on Spark, so that the same steps, in the same order, run there:

- ``CREATE OR REPLACE TEMP TABLE x AS SELECT …``: the query, transpiled (`to_spark`), computed
  and checkpointed as the temporary view ``x``; ``CREATE … TEMP TABLE x (columns)`` an empty one;
- ``INSERT INTO x SELECT …`` into such a relation: the union, checkpointed again;
- ``DROP TABLE IF EXISTS x``: the view is dropped; ``CREATE … MACRO``: nothing (the macros are
  expanded where they are called);
- any other query: transpiled and run; parameters (``$name``, ``?``) become literals in the
  syntax tree, never text pasted into SQL.

Writes to the warehouse's tables are not statements here: `linksim.spark.engine` does them.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlglot
from sqlglot import exp

from linksim.errors import UsageError
from linksim.spark.dialect import to_spark_tree
from linksim.spark.session import view_name
from linksim.store.connect import SCHEMAS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkConnection"]

_MACRO = re.compile(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?TEMP\s+MACRO\b", re.IGNORECASE)
# PySpark 4.3 warns that it is not tested with pandas 3; the conversions linksim makes (flat
# tables of numbers, text and timestamps) are checked by tests/test_spark.py
_PANDAS_3 = "PySpark does not yet fully support pandas"
_TRANSACTION = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|CHECKPOINT)\b", re.IGNORECASE)


class SparkResult:
    """The rows of one statement, read like a DuckDB result."""

    def __init__(self, frame: DataFrame | None) -> None:
        self._frame = frame

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._frame is None:
            return []
        return [tuple(row) for row in self._frame.collect()]

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    def df(self) -> pd.DataFrame:
        if self._frame is None:
            return pd.DataFrame()
        # through Arrow: PySpark's own toPandas trips over pandas 3's deprecations
        return self._frame.toArrow().to_pandas()


class SparkConnection:
    """Run the engine's DuckDB statements on a Spark session (see the module's docstring)."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    # -- the connection calls the engine makes ---------------------------------------------

    def execute(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> SparkResult:
        if _MACRO.match(sql) or _TRANSACTION.match(sql):
            return SparkResult(None)
        tree = _warehouse_views(sqlglot.parse_one(sql, read="duckdb"))
        if params:
            tree = _bind(tree, params)
        if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "TABLE":
            return self._create(tree)
        if isinstance(tree, exp.Drop):
            table = tree.find(exp.Table)
            if table is not None:
                self.spark.catalog.dropTempView(table.name)
            return SparkResult(None)
        if isinstance(tree, exp.Insert):
            return self._insert(tree)
        return SparkResult(self.spark.sql(to_spark_tree(tree)))

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self._view(self._from_pandas(frame), name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    # -- how -----------------------------------------------------------------------------------

    def _create(self, tree: exp.Create) -> SparkResult:
        target = tree.this
        name = target.this.name if isinstance(target, exp.Schema) else target.name
        if tree.expression is not None:
            frame = self.spark.sql(to_spark_tree(tree.expression))
        else:
            columns = ", ".join(
                f"CAST(NULL AS {c.kind.sql('spark')}) AS {c.name}" for c in target.expressions
            )
            frame = self.spark.sql(f"SELECT {columns} WHERE false")
        self._view(frame, name)
        return SparkResult(None)

    def _insert(self, tree: exp.Insert) -> SparkResult:
        target = tree.this
        name = target.this.name if isinstance(target, exp.Schema) else target.name
        if name not in {t.name for t in self.spark.catalog.listTables() if t.isTemporary}:
            raise UsageError(
                f"the Spark engine writes the warehouse's tables itself: cannot INSERT into {name}"
            )
        new = self.spark.sql(to_spark_tree(tree.expression))
        old = self.spark.table(name)
        self._view(old.unionByName(new.toDF(*old.columns)), name)
        return SparkResult(None)

    def _view(self, frame: DataFrame, name: str) -> None:
        # computed once, here: a later step reads it without recomputing its lineage
        frame.localCheckpoint(eager=True).createOrReplaceTempView(name)

    def _from_pandas(self, frame: pd.DataFrame) -> DataFrame:
        import pyarrow as pa

        table = pa.Table.from_pandas(frame, preserve_index=False)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _PANDAS_3, FutureWarning)
            return self.spark.createDataFrame(table)


def _warehouse_views(tree: exp.Expr) -> exp.Expr:
    """``crm.person`` and the like → the temporary views `register_warehouse` made."""

    def rename(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and node.db in SCHEMAS:
            view = exp.to_table(view_name(f"{node.db}.{node.name}"))
            if node.alias:
                return exp.alias_(view, node.alias, table=True)
            return view
        return node

    return tree.transform(rename)


def _bind(tree: exp.Expr, params: Sequence[Any] | Mapping[str, Any]) -> exp.Expr:
    """Replace the placeholders of ``tree`` by literals of ``params``."""
    positional = iter(params) if not isinstance(params, Mapping) else None

    def literal(value: Any) -> exp.Expr:
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:  # as DuckDB takes it: the UTC time
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP_NTZ")
        if isinstance(value, dt.date):
            return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
        return exp.convert(value)

    def bind(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder):
            if positional is not None and node.name in ("", "?"):
                return literal(next(positional))
            if isinstance(params, Mapping):
                return literal(params[node.name])
        if isinstance(node, exp.Parameter) and isinstance(params, Mapping):
            return literal(params[node.name])
        return node

    return tree.transform(bind)
