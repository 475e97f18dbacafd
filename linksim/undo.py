"""`linksim undo RUN_ID`: revert the rows an apply wrote that nothing changed since (SPEC §5).

Every row the run wrote goes back to what it was before the run (its journal, see
`linksim.journal`), unless it no longer holds what the run left: a later run or a manual edit
changed it. Those are kept and listed with who changed them. The undo is a run of its own (mode
`undo`, with its `linksim.change` rows and journal, so it can be undone in turn); the undone run
is marked `undone`, its responses are deleted, and its batches are forgotten, so applying the
same job again redoes them.

>>> import linksim
>>> con = linksim.connect(":memory:")
>>> undo(con, 1)
Traceback (most recent call last):
...
linksim.errors.UsageError: run 1 does not exist: `SELECT * FROM linksim.run` lists the runs
"""

from __future__ import annotations

import html
import json
from typing import Any

import duckdb
import pandas as pd

from linksim.errors import UsageError
from linksim.journal import current_sql, restore
from linksim.store.query import fetch_one, fetch_value, run, transaction

__all__ = ["UndoResult", "undo"]

# Per (table, key) the run wrote: the image before its first write, what its last write left,
# and whether the stored row still holds that: it exists or not as left, with the same source
# click, and no later run wrote it (one that re-ran the same click leaves the same source click:
# a later action of a click that fired in another batch). Undo runs, and runs since undone, put
# back what was there: they do not count.
PLAN = """
CREATE OR REPLACE TEMP TABLE ls_undo_plan AS
WITH mine AS (SELECT * FROM linksim.journal WHERE run_id = $run),
span AS (
    SELECT table_name, key,
           -- in a struct: arg_min skips a NULL value, and NULL here means "no row"
           arg_min(struct_pack(before, value_before), batch_no) AS first,
           arg_max(struct_pack(writer_click, after_exists, after_click, action_id, target_kind,
                               target, person_id, contact_id, value_after), batch_no) AS last
    FROM mine
    GROUP BY table_name, key
),
cur AS ({current})
SELECT s.table_name, s.key, s.first.before AS image, s.first.value_before, s.last.writer_click,
       s.last.after_exists, s.last.after_click, s.last.action_id, s.last.target_kind,
       s.last.target, s.last.person_id, s.last.contact_id, s.last.value_after,
       CASE WHEN s.last.after_exists
            THEN c.key IS NOT NULL AND c.src IS NOT DISTINCT FROM s.last.after_click
            ELSE c.key IS NULL END AND l.later_run IS NULL AS holds,
       l.later_run
FROM span s
LEFT JOIN cur c USING (table_name, key)
LEFT JOIN (
    SELECT j.table_name, j.key, max(j.run_id) AS later_run
    FROM linksim.journal j
    JOIN linksim.run r ON r.run_id = j.run_id AND r.mode <> 'undo' AND r.status <> 'undone'
    WHERE j.run_id > $run
    GROUP BY j.table_name, j.key
) l USING (table_name, key)
"""

RESTORE = """
CREATE OR REPLACE TEMP TABLE ls_restore AS
SELECT table_name, key, image, writer_click AS click_id, action_id, target_kind, target,
       person_id, contact_id, value_after AS old_value, value_before AS new_value,
       now()::TIMESTAMP AS changed_at, 'undo of run ' || $run AS cause
FROM ls_undo_plan
WHERE holds
"""

KEPT = """
SELECT target_kind, target, person_id, key,
       CASE WHEN later_run IS NOT NULL THEN 'changed since by run ' || later_run
            ELSE 'changed since by hand or by a load' END AS reason
FROM ls_undo_plan
WHERE NOT holds AND target_kind IS NOT NULL
ORDER BY target_kind, target, person_id, key
"""


class UndoResult:
    """What an undo did: the rows it restored per kind, and the rows it kept, with why."""

    def __init__(
        self, run_id: int, undone_run: int, restored: pd.DataFrame, kept: pd.DataFrame
    ) -> None:
        self.run_id = run_id
        self.undone_run = undone_run
        self.restored = restored
        self.kept = kept

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what `linksim undo --json` prints)."""
        return {
            "run_id": self.run_id,
            "undone_run": self.undone_run,
            "restored": self.restored.to_dict(orient="records"),
            "kept": json.loads(self.kept.to_json(orient="records")),
        }

    def __str__(self) -> str:
        total = int(self.restored["rows"].sum()) if not self.restored.empty else 0
        lines = [
            f"undo of run {self.undone_run} (run {self.run_id}): {total:,} rows restored, "
            f"{len(self.kept):,} kept because they changed since"
        ]
        if not self.restored.empty:
            lines += ["  " + line for line in self.restored.to_string(index=False).splitlines()]
        if not self.kept.empty:
            lines += ["", "kept (changed since the run):"]
            shown = self.kept.head(20).to_string(index=False).splitlines()
            lines += ["  " + line for line in shown]
            if len(self.kept) > 20:
                lines.append(f"  … and {len(self.kept) - 20:,} more (--json lists them all)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        total = int(self.restored["rows"].sum()) if not self.restored.empty else 0
        head = (
            f"<p><b>undo</b> of run {self.undone_run} (run {self.run_id}): {total:,} rows "
            f"restored, {len(self.kept):,} kept because they changed since</p>"
        )
        parts = [head, "<h4>Restored</h4>", self.restored.to_html(index=False)]
        if not self.kept.empty:
            parts += [f"<h4>{html.escape('Kept')}</h4>", self.kept.to_html(index=False)]
        return "\n".join(parts)


def _check(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    row = fetch_one(con, "SELECT mode, status FROM linksim.run WHERE run_id = ?", [run_id])
    if row is None:
        raise UsageError(f"run {run_id} does not exist: `SELECT * FROM linksim.run` lists the runs")
    mode, status = row
    if mode == "preview":
        raise UsageError(f"run {run_id} is a preview: it wrote nothing to undo")
    if status == "undone":
        raise UsageError(f"run {run_id} is already undone")
    if status == "running":
        raise UsageError(f"run {run_id} is still running: wait for it, or let it fail first")


def undo(con: duckdb.DuckDBPyConnection, run_id: int) -> UndoResult:
    """Revert what run ``run_id`` wrote, where nothing changed it since; one transaction."""
    _check(con, run_id)
    params = {"run": run_id}
    keys = "(SELECT DISTINCT table_name, key FROM linksim.journal WHERE run_id = $run)"
    with transaction(con):
        undo_id = int(fetch_value(con, "SELECT nextval('linksim.run_id_seq')"))
        run(
            con,
            "INSERT INTO linksim.run (run_id, mode, started_at, status, options) "
            "VALUES (?, 'undo', now()::TIMESTAMP, 'running', ?)",
            [undo_id, json.dumps({"undo": run_id})],
        )
        run(con, PLAN.format(current=current_sql(keys)), params)
        run(con, RESTORE, params)
        restored = con.execute(
            "SELECT coalesce(target_kind, CASE table_name WHEN 'linksim.removal' "
            "THEN 'removal record' ELSE 'state writer record' END) AS kind, count(*) AS rows "
            "FROM ls_restore GROUP BY ALL ORDER BY kind"
        ).df()
        kept = con.execute(KEPT).df()
        restore(con, undo_id)
        run(con, "DELETE FROM linksim.response WHERE run_id = $run", params)
        run(con, "DELETE FROM linksim.batch WHERE run_id = $run", params)
        run(con, "UPDATE linksim.run SET status = 'undone' WHERE run_id = $run", params)
        run(
            con,
            "UPDATE linksim.run SET status = 'ok', finished_at = now()::TIMESTAMP WHERE run_id = ?",
            [undo_id],
        )
    return UndoResult(undo_id, run_id, restored, kept)
