"""The engine's writes (UPDATE, DELETE, INSERT) as queries of a table's new contents.

Parquet files are not updated in place: on Spark a write computes the whole new table, which
`linksim.spark.connection` keeps as the table's view until the transaction commits. Each
statement keeps DuckDB's meaning:

- ``UPDATE t SET c = e [FROM s] WHERE w``: every row of ``t``, with ``c`` replaced by ``e``
  where ``w`` holds (with ``FROM``: where a row of ``s`` joins it; the engine joins at most one);
- ``DELETE FROM t WHERE w``: the rows of ``t`` where ``w`` does not hold;
- ``INSERT [OR REPLACE] INTO t (cols) SELECT …``: the new rows, given to the caller to add
  (replacing the rows with the same key).

>>> import sqlglot
>>> tree = sqlglot.parse_one("DELETE FROM crm.x t WHERE t.k = 1", read="duckdb")
>>> kept_rows(tree).sql("duckdb")
'SELECT * FROM crm.x AS t WHERE NOT COALESCE(t.k = 1, FALSE)'
"""

from __future__ import annotations

from sqlglot import exp

__all__ = ["HIT", "inserted_rows", "kept_rows", "target_name", "updated_rows"]

# marks the rows of an UPDATE's source that joined a row of the target
HIT = "ls__hit"


def target_name(tree: exp.Update | exp.Delete | exp.Insert) -> str:
    """The table a statement writes: ``crm.person_field``."""
    target = tree.this
    table = target.this if isinstance(target, exp.Schema) else target
    assert isinstance(table, exp.Table)
    return f"{table.db}.{table.name}" if table.db else table.name


def _not(condition: exp.Expr) -> exp.Expr:
    # DuckDB writes where the condition is true: NULL keeps a row as false does. A predicate
    # with a subquery is never NULL in the engine's deletes (EXISTS, or IN over ids that are
    # never NULL), and Spark takes it only bare.
    if condition.find(exp.Subquery, exp.Exists, exp.Select):
        return exp.not_(exp.paren(condition.copy()))
    return exp.not_(exp.func("coalesce", condition.copy(), exp.false()))


def _aliased(target: exp.Table) -> exp.Table:
    """The statement's table, aliased by its own name when it has no alias: the query reads it
    under another name (`linksim.spark.connection`), and its columns keep their qualifier."""
    target = target.copy()
    if not target.alias:
        target.set("alias", exp.TableAlias(this=exp.to_identifier(target.name)))
    return target


def kept_rows(tree: exp.Delete) -> exp.Select:
    """The rows a DELETE leaves."""
    select = exp.select("*").from_(_aliased(tree.this))
    where = tree.args.get("where")
    if where is None:
        return select.where(exp.false())
    return select.where(_not(where.this))


def updated_rows(tree: exp.Update, columns: list[str]) -> exp.Select:
    """Every row of the UPDATE's table, ``columns`` in order, with its assignments made."""
    target = tree.this
    alias = target.alias or target.name
    assignments = {eq.this.name: eq.expression for eq in tree.expressions}
    where = tree.args.get("where")
    source = tree.args.get("from") or tree.args.get("from_")
    if source is not None:
        table = source.this
        hit = exp.column(HIT, table.alias_or_name)
        unaliased = table.copy()
        unaliased.set("alias", None)
        marked = exp.select("*", exp.alias_(exp.true(), HIT)).from_(unaliased)
        joined = marked.subquery(table.alias_or_name)
        condition: exp.Expr = hit
        on = where.this.copy() if where is not None else exp.true()
    else:
        joined = None
        condition = exp.func("coalesce", where.this.copy(), exp.false()) if where else exp.true()
    projections = []
    for name in columns:
        column = exp.column(name, alias)
        if name in assignments:
            value = exp.Case(ifs=[exp.If(this=condition.copy(), true=assignments[name].copy())])
            projections.append(exp.alias_(value.else_(column), name))
        else:
            projections.append(column)
    select = exp.select(*projections).from_(_aliased(target))
    if joined is not None:
        select = select.join(joined, on=on, join_type="left")
    return select


def inserted_rows(tree: exp.Insert) -> tuple[list[str] | None, exp.Expr, bool]:
    """An INSERT's column list (None: all, in order), its query, and whether it replaces rows
    with the same key (``INSERT OR REPLACE``)."""
    target = tree.this
    columns = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else None
    replace = str(tree.args.get("alternative") or "").upper() == "REPLACE"
    return columns, tree.expression, replace
