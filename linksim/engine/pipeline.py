"""The engine as a pipeline of named relational steps, each one SQL statement over earlier ones.

A step is pure: it reads the database and the relations of earlier steps and creates one temporary
relation, `ls_<name>`. Nothing is written to `crm` or `linksim` here; `engine/write.py` does that.
`explain()` prints the whole pipeline as SQL: that is how a step is read, tested and profiled.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import duckdb

from linksim.store.query import run

__all__ = ["Step", "explain", "materialize"]


@dataclass(frozen=True)
class Step:
    """One relational step: `CREATE TEMP TABLE ls_<name> AS <sql>`."""

    name: str
    sql: str
    doc: str = ""

    @property
    def relation(self) -> str:
        return f"ls_{self.name}"

    def statement(self) -> str:
        return f"CREATE OR REPLACE TEMP TABLE {self.relation} AS\n{self.sql.strip()}"


def materialize(
    con: duckdb.DuckDBPyConnection,
    steps: Iterable[Step],
    *,
    keep: Collection[str] = (),
    later: Iterable[Step] = (),
) -> None:
    """Run the steps in order on ``con``.

    A relation is dropped as soon as no later step (of ``steps`` or of ``later``) reads it,
    unless its name is in ``keep``: at scale the pipeline's relations would otherwise pile up
    in memory, or spill to disk under a memory limit.
    """
    steps = list(steps)
    later_sql = [s.sql for s in later]
    live: list[Step] = []
    for i, step in enumerate(steps):
        run(con, step.statement())
        live.append(step)
        upcoming = [s.sql for s in steps[i + 1 :]] + later_sql
        for done in list(live):
            if done.relation not in keep and not any(reads(sql, done.relation) for sql in upcoming):
                run(con, f"DROP TABLE IF EXISTS {done.relation}")
                live.remove(done)


def reads(sql: str, relation: str) -> bool:
    """Whether ``sql`` names ``relation``.

    >>> reads("SELECT * FROM ls_fired f", "ls_fired"), reads("FROM ls_fired_x", "ls_fired")
    (True, False)
    """
    return re.search(rf"\b{re.escape(relation)}\b", sql) is not None


def explain(steps: Iterable[Step]) -> str:
    """The steps as one SQL script, each headed by its doc line.

    >>> print(explain([Step("one", "SELECT 1 AS x", "a constant")]))
    -- one: a constant
    CREATE OR REPLACE TEMP TABLE ls_one AS
    SELECT 1 AS x;
    """
    return "\n\n".join(f"-- {s.name}: {s.doc}\n{s.statement()};" for s in steps)
