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

- ``UPDATE``, ``DELETE`` and ``INSERT`` on a warehouse table (`linksim.spark.dml`): the table's
  new contents, checkpointed as its view; they reach the files when the transaction commits
  (``BEGIN`` … ``COMMIT``, all changed tables together: `linksim.spark.commit`), or at once
  outside one, as in DuckDB; ``ROLLBACK`` puts the views back;
- ``nextval('linksim.run_id_seq')``: one more than the largest id stored (a warehouse has no
  sequences; `linksim import` continues DuckDB's after the largest ids too).

A step is materialized once, so that later steps read its rows instead of recomputing its
lineage. A classic session checkpoints it in the executors' memory (and drops the optimizer's
size estimate, see `_without_estimate`). A Spark Connect client has no JVM objects to do that
with: there each step is written as Parquet to a scratch folder beside the warehouse
(``DIR/_scratch/<uuid>/``, which the server reads like the warehouse) and read back, which also
gives the optimizer the step's real size; a replaced step's folder is removed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import re
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlglot
from sqlglot import exp

from linksim.errors import UsageError
from linksim.spark import dml
from linksim.spark.commit import commit, committed
from linksim.spark.dialect import to_spark_tree
from linksim.spark.session import view_name
from linksim.store.connect import SCHEMAS
from linksim.store.schema import TABLES, Table, table
from linksim.warehouse import SEQUENCES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkConnection", "is_connect"]

_MACRO = re.compile(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?TEMP\s+MACRO\b", re.IGNORECASE)
# PySpark 4.3 warns that it is not tested with pandas 3; the conversions linksim makes (flat
# tables of numbers, text and timestamps) are checked by tests/test_spark.py
_PANDAS_3 = "PySpark does not yet fully support pandas"
_TRANSACTION = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|CHECKPOINT)\b", re.IGNORECASE)
_WAREHOUSE = {t.name for t in TABLES}


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

    def __init__(self, spark: SparkSession, warehouse: str | os.PathLike[str] | None = None):
        """``warehouse``: the directory its tables' views read, where writes commit (None: the
        warehouse is read only)."""
        self.spark = spark
        self.warehouse = warehouse
        self._dirty: set[str] = set()
        # in a transaction: each changed table's view as it was at BEGIN
        self._before: dict[str, DataFrame] | None = None
        # the frames behind the views this connection made: released when replaced
        self._frames: dict[str, DataFrame] = {}
        self._numbers = itertools.count()
        # Spark Connect: where steps are materialized, and each materialized frame's folder
        self._scratch: Path | None = None
        self._folders: dict[int, Path] = {}
        if is_connect(spark):
            base = Path(warehouse).resolve() / "_scratch" if warehouse is not None else None
            if base is not None:
                base.mkdir(exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix=f"{uuid.uuid4().hex[:8]}-", dir=base))

    def close(self) -> None:
        """Remove the scratch folder of a Spark Connect session's steps."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    # -- the connection calls the engine makes ---------------------------------------------

    def execute(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> SparkResult:
        if _MACRO.match(sql):
            return SparkResult(None)
        if _TRANSACTION.match(sql):
            self._transaction(sql.split()[0].upper())
            return SparkResult(None)
        tree = sqlglot.parse_one(sql, read="duckdb")
        if params:
            tree = _bind(tree, params)
        tree = _row_json(tree.transform(_next_id))
        if isinstance(tree, exp.Update | exp.Delete | exp.Insert):
            name = dml.target_name(tree)
            if name in _WAREHOUSE:
                self._write(name, tree)
                return SparkResult(None)
        tree = _warehouse_views(tree)
        if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "TABLE":
            return self._create(tree)
        if isinstance(tree, exp.Drop):
            table = tree.find(exp.Table)
            if table is not None:
                self._drop(table.name)
            return SparkResult(None)
        if isinstance(tree, exp.Insert):
            return self._insert(tree)
        return SparkResult(self._sql(to_spark_tree(tree)))

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self._view(self._from_pandas(frame), name)

    def unregister(self, name: str) -> None:
        self._drop(name)

    # -- how -----------------------------------------------------------------------------------

    def _create(self, tree: exp.Create) -> SparkResult:
        target = tree.this
        name = target.this.name if isinstance(target, exp.Schema) else target.name
        if tree.expression is not None:
            with self._shared_ctes(tree.expression) as query:  # computed before they go
                self._view(self._sql(to_spark_tree(query)), name)
        else:
            columns = ", ".join(
                f"CAST(NULL AS {c.kind.sql('spark')}) AS {c.name}" for c in target.expressions
            )
            self._view(self._sql(f"SELECT {columns} WHERE false"), name)
        return SparkResult(None)

    def _insert(self, tree: exp.Insert) -> SparkResult:
        target = tree.this
        name = target.this.name if isinstance(target, exp.Schema) else target.name
        if name not in {t.name for t in self.spark.catalog.listTables() if t.isTemporary}:
            raise UsageError(
                f"the Spark engine writes the warehouse's tables itself: cannot INSERT into {name}"
            )
        new = self._sql(to_spark_tree(tree.expression))
        old = self.spark.table(name)
        self._view(old.unionByName(new.toDF(*old.columns)), name)
        return SparkResult(None)

    @contextlib.contextmanager
    def _shared_ctes(self, query: exp.Expr) -> Iterator[exp.Expr]:
        """``query`` with each CTE it reads more than once computed first, as a view.

        Spark inlines a CTE wherever it is read: a step whose CTEs read each other several
        times grows a plan whose size estimate (a product over its joins) took the optimizer
        minutes and the driver's heap (the follow-up schedule's). DuckDB computes such CTEs
        once, as this does.
        """
        with_ = query.args.get("with_")
        if with_ is None:
            yield query
            return
        query = query.copy()
        views: list[str] = []
        try:
            for name in [cte.alias for cte in with_.expressions]:
                with_ = query.args["with_"]
                cte = next(c for c in with_.expressions if c.alias == name)
                body = query.copy()
                body.set("with_", None)
                readers = [c.this for c in with_.expressions if c is not cte] + [body]
                reads = sum(
                    1
                    for reader in readers
                    for t in reader.find_all(exp.Table)
                    if not t.db and t.name == name
                )
                if reads < 2:
                    continue
                # its query, with the CTEs before it that stay inline
                sub = cte.this.copy()
                earlier = [c.copy() for c in with_.expressions[: cte.index]]
                if earlier:
                    own = sub.args.get("with_")
                    sub.set(
                        "with_", exp.With(expressions=earlier + (own.expressions if own else []))
                    )
                view = f"ls__cte_{next(self._numbers)}_{name}"
                self._view(self._sql(to_spark_tree(sub)), view)
                views.append(view)
                cte.pop()

                def rename(node: exp.Expr, name: str = name, view: str = view) -> exp.Expr:
                    if isinstance(node, exp.Table) and not node.db and node.name == name:
                        return exp.alias_(exp.to_table(view), node.alias_or_name, table=True)
                    return node

                query = query.transform(rename, copy=False)
            with_ = query.args["with_"]
            if not with_.expressions:
                query.set("with_", None)
            yield query
        finally:
            for view in views:
                self._drop(view)

    def _transaction(self, word: str) -> None:
        if word == "BEGIN":
            if self._before is not None:
                raise UsageError("linksim.spark: a transaction is already open")
            self._before = {}
        elif word == "COMMIT" and self._before is not None:
            self._commit()
            before, self._before = self._before, None
            for frame in before.values():
                self._release(frame)
        elif word == "ROLLBACK" and self._before is not None:
            before, self._before = self._before, None
            for name, frame in before.items():
                view = view_name(name)
                frame.createOrReplaceTempView(view)
                changed, self._frames[view] = self._frames.get(view), frame
                if changed is not None:
                    self._release(changed)
            self._dirty.clear()

    def _write(self, name: str, tree: exp.Update | exp.Delete | exp.Insert) -> None:
        """A write to warehouse table ``name``: its new contents become its view."""
        if self.warehouse is None:
            raise UsageError(f"this Spark connection reads the warehouse only: cannot write {name}")
        old = self._frames.get(view_name(name))
        if old is None:  # as read from the warehouse's files
            old = self.spark.table(view_name(name))
        if isinstance(tree, exp.Insert):
            new = self._with_inserted(name, old, tree)
        elif isinstance(tree, exp.Delete):
            new = self._query(dml.kept_rows(tree))
        else:
            new = self._query(dml.updated_rows(tree, old.columns))
        if self._before is not None:
            self._before.setdefault(name, old)
        self._view(new.select(*old.columns), view_name(name))
        self._dirty.add(name)
        if self._before is None:  # outside a transaction, a write commits at once
            self._commit()

    def _with_inserted(self, name: str, old: DataFrame, tree: exp.Insert) -> DataFrame:
        columns, query, replace = dml.inserted_rows(tree)
        rows = self._query(query)
        rows = rows.toDF(*(columns or old.columns[: len(rows.columns)]))
        declared = table(name)
        values = []
        for field in old.schema.fields:  # every column, as the table has it
            column = declared.column(field.name)
            if field.name in rows.columns:
                value: exp.Expr = exp.column(field.name)
            elif column.default is not None:
                value = sqlglot.parse_one(column.default, read="duckdb")
            else:
                value = exp.null()
            values.append(f"CAST({value.sql('spark')} AS {field.dataType.simpleString()})")
        # (SQL text, not pyspark.sql.functions: those import IPython when it is installed)
        rows = rows.selectExpr(*(f"{v} AS {f}" for v, f in zip(values, old.columns, strict=True)))
        if replace:
            old = old.join(rows.select(*declared.key), on=list(declared.key), how="left_anti")
        return old.unionByName(rows)

    def _sql(self, text: str) -> DataFrame:
        try:
            return self.spark.sql(text)
        except Exception as exc:  # which statement failed, for whoever reads the traceback
            exc.add_note(f"linksim: the Spark SQL was: {text}")
            raise

    def _query(self, tree: exp.Expr) -> DataFrame:
        return self._sql(to_spark_tree(_warehouse_views(tree)))

    def _commit(self) -> None:
        if not self._dirty:
            return
        assert self.warehouse is not None
        try:
            commit(self.warehouse, {n: self.spark.table(view_name(n)) for n in self._dirty})
        except BaseException:
            # past its commit point the batch is committed (the next commit or run finishes
            # the swap): a rollback must not put the views back
            if committed(self.warehouse) and self._before is not None:
                self._before = {}
                self._dirty.clear()
            raise
        self._dirty.clear()

    def _view(self, frame: DataFrame, name: str) -> None:
        # computed once, here: a later step reads it without recomputing its lineage
        if self._scratch is None:
            checkpoint = _without_estimate(frame.localCheckpoint(eager=True))
        else:
            folder = self._scratch / f"{name}-{next(self._numbers)}"
            frame.write.parquet(folder.as_uri())
            # its schema given: inferring it would read the files again, in a job of its own
            checkpoint = self.spark.read.schema(frame.schema).parquet(folder.as_uri())
            self._folders[id(checkpoint)] = folder
        checkpoint.createOrReplaceTempView(name)
        old, self._frames[name] = self._frames.get(name), checkpoint
        if old is not None:
            self._release(old)

    def _drop(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)
        old = self._frames.pop(name, None)
        if old is not None:
            self._release(old)

    def _release(self, frame: DataFrame) -> None:
        """Free a replaced view's checkpointed rows now (Spark would when the JVM collects its
        garbage: a long apply fills the driver's heap first), unless a rollback may need it."""
        if self._before is not None and any(f is frame for f in self._before.values()):
            return
        if any(f is frame for f in self._frames.values()):
            return
        if self._scratch is not None:
            folder = self._folders.pop(id(frame), None)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            return
        plan = frame._jdf.queryExecution().logical()
        if plan.getClass().getSimpleName() == "LogicalRDD":
            plan.rdd().unpersist(False)

    def _from_pandas(self, frame: pd.DataFrame) -> DataFrame:
        import pyarrow as pa

        table = pa.Table.from_pandas(frame, preserve_index=False)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _PANDAS_3, FutureWarning)
            if table.num_rows == 0:  # Spark Connect infers no schema from no rows
                from pyspark.sql.pandas.types import from_arrow_schema

                return self.spark.createDataFrame([], schema=from_arrow_schema(table.schema))
            return self.spark.createDataFrame(table)


def is_connect(spark: SparkSession) -> bool:
    """Whether ``spark`` is a Spark Connect client (it has no JVM on this side)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _without_estimate(checkpoint: DataFrame) -> DataFrame:
    """The checkpointed rows, without the size the optimizer estimated for the query.

    A checkpoint keeps that estimate, and a join estimates the product of its inputs' sizes:
    step after step the estimates compound (a number of 2^steps digits), until the optimizer
    spends minutes and the driver's heap multiplying them (an apply's third batch). Rows
    without an estimate count as Spark's default size, every time.
    """
    from pyspark.sql import DataFrame

    rows = checkpoint._jdf.queryExecution().logical().rdd()
    session = checkpoint.sparkSession
    # (internalCreateDataFrame is Spark's own way to a DataFrame of an RDD of its rows)
    plain = session._jsparkSession.internalCreateDataFrame(rows, checkpoint._jdf.schema(), False)
    return DataFrame(plain, session)


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


def _next_id(node: exp.Expr) -> exp.Expr:
    """``nextval('linksim.run_id_seq')`` → one more than the largest ``run_id`` stored."""
    if isinstance(node, exp.Anonymous) and node.name.lower() == "nextval":
        sequence = node.expressions[0].name.removeprefix("linksim.").removesuffix("_seq")
        table_name, column = SEQUENCES[sequence].rsplit(".", 1)
        return exp.paren(
            exp.select(exp.func("coalesce", exp.func("max", exp.column(column)), 0) + 1).from_(
                table_name
            )
        )
    return node


def _row_json(tree: exp.Expr) -> exp.Expr:
    """``to_json(t)`` of a warehouse table's row ``t`` (the journal's images) → the same JSON
    text as DuckDB's: every column in order, NULLs too, timestamps as DuckDB prints them."""
    for select in list(tree.find_all(exp.Select)):
        tables = {}
        first = select.args.get("from_") or select.args.get("from")
        sources = [first, *select.args.get("joins", [])]
        for source in sources:
            t = source.this if source is not None else None
            if isinstance(t, exp.Table):
                name = f"{t.db}.{t.name}" if t.db else t.name.replace("__", ".", 1)
                if name in _WAREHOUSE:
                    tables[t.alias_or_name] = name
        for call in list(select.find_all(exp.Anonymous)):
            args = call.expressions
            if (
                call.name.lower() == "to_json"
                and len(args) == 1
                and isinstance(args[0], exp.Column)
                and not args[0].table
                and args[0].name in tables
            ):
                call.replace(_json_of_row(args[0].name, table(tables[args[0].name])))
    return tree


def _json_of_row(alias: str, declared: Table) -> exp.Expr:
    pairs: list[exp.Expr] = []
    for column in declared.columns:
        value: exp.Expr = exp.column(column.name, alias)
        if column.type == "TIMESTAMP":  # DuckDB: seconds, then the fraction without its zeros
            value = exp.Anonymous(
                this="regexp_replace",
                expressions=[
                    exp.Anonymous(
                        this="date_format",
                        expressions=[value, exp.Literal.string("yyyy-MM-dd HH:mm:ss.SSSSSS")],
                    ),
                    exp.Literal.string("[.]?0+$"),
                    exp.Literal.string(""),
                ],
            )
        pairs += [exp.Literal.string(column.name), value]
    options = exp.Anonymous(
        this="map",
        expressions=[exp.Literal.string("ignoreNullFields"), exp.Literal.string("false")],
    )
    return exp.Anonymous(
        this="to_json",
        expressions=[exp.Anonymous(this="named_struct", expressions=pairs), options],
    )


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
