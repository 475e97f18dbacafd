"""What a preview or an apply returns: DataFrames of the change set, summaries, HTML and a plot."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from linksim.engine.scripts import ScriptRun
    from linksim.linting.findings import LintResult

__all__ = ["RunResult"]


# The summaries, once, in SQL: over the DataFrames of a preview, or over the database after an
# apply (where the change set may be too large to hold in memory).
BY_ACTION_SQL = """
SELECT action_id, target_kind,
       CASE WHEN target_kind IN ('appointment', 'ticket') THEN '(created or moved)'
            ELSE target END AS target,
       count(*) AS changes, count(DISTINCT person_id) AS people
FROM changes
GROUP BY ALL
ORDER BY action_id, target_kind, target
"""

BY_CHANGE_SQL = """
SELECT action_id, target_kind,
       CASE WHEN target_kind IN ('appointment', 'ticket') THEN '(created or moved)'
            ELSE target END AS target,
       CASE WHEN target_kind IN ('appointment', 'ticket') THEN 'created or moved'
            WHEN target_kind = 'field' THEN 'set'
            WHEN new_value IS NULL THEN 'removed' ELSE 'added' END AS change,
       count(*) AS changes, count(DISTINCT person_id) AS people
FROM changes
GROUP BY ALL
ORDER BY action_id, target_kind, target, change
"""

BY_KIND_SQL = """
SELECT coalesce(target_kind, 'all') AS target_kind, count(*) AS changes,
       count(DISTINCT person_id) AS people
FROM changes
GROUP BY GROUPING SETS ((target_kind), ())
ORDER BY target_kind
"""

PEOPLE_SQL = """
SELECT action_id, count(DISTINCT person_id) AS people
FROM changes
GROUP BY action_id
ORDER BY people, action_id
"""

FOLLOW_UPS_SQL = """
SELECT owner_id, owner, sum(follow_ups)::BIGINT AS follow_ups, max(appointments) AS busiest_day,
       any_value(daily_capacity) AS daily_capacity,
       count(*) FILTER (WHERE appointments > daily_capacity) AS days_over
FROM workload
GROUP BY owner_id, owner
ORDER BY owner_id, owner
"""

TICKETS_SQL = """
SELECT category, priority, count(*) AS tickets
FROM tickets
GROUP BY ALL
ORDER BY category, priority
"""

Frame = pd.DataFrame | Callable[[], pd.DataFrame]


class RunResult:
    """The change set of one run.

    Attributes:
        run_id: the `linksim.run` row.
        mode: ``"preview"`` or ``"apply"``.
        counts: clicks seen, eligible, bot, duplicate, quarantined (SPEC §4.1).
        changes: one row per effective change (the columns of `linksim.change`).
        appointments: follow-ups created or rewritten, with their owner and start.
        tickets: tickets created or rewritten.
        responses: what each fired response showed.
        workload: per owner and local day the run touches: its follow-ups there, the owner's
            appointments that day once applied, and the owner's daily_capacity.
        bots: the run's clicks counted as a bot's, with the rule that caught each
            (`reason`, in the order of linksim.engine.clicks.BOT_REASONS) and its evidence.
        script_runs: one entry per script call.
        batches: for an apply, how many batches the job has and how many this run committed.
        reversal: for an apply, how many changes it reversed because their clicks are now
            bots' (``reversed``), and how many such rows it left because they were edited
            since (``edited_since``; ``reversal_kept`` lists them).

    A preview holds its DataFrames; an apply reads them from the database when first asked for,
    so a backfill of millions of clicks does not hold its change set in memory.
    """

    def __init__(
        self,
        run_id: int,
        mode: str,
        counts: dict[str, int],
        *,
        frames: Mapping[str, Frame],
        summary: Callable[[str], pd.DataFrame] | None = None,
        script_runs: tuple[ScriptRun, ...] = (),
        sizes: Mapping[str, int] | None = None,
        batches: dict[str, int] | None = None,
        reversal: dict[str, int] | None = None,
    ) -> None:
        self.run_id = run_id
        self.mode = mode
        self.counts = counts
        self.script_runs = script_runs
        self.batches = batches or {}
        self.reversal = reversal or {}
        self._frames: dict[str, Frame] = dict(frames)
        self._sizes: dict[str, int] = dict(sizes or {})
        self._summary = summary or self._summary_of_frames

    @property
    def changes(self) -> pd.DataFrame:
        return self._frame("changes")

    @property
    def appointments(self) -> pd.DataFrame:
        return self._frame("appointments")

    @property
    def tickets(self) -> pd.DataFrame:
        return self._frame("tickets")

    @property
    def responses(self) -> pd.DataFrame:
        return self._frame("responses")

    @property
    def workload(self) -> pd.DataFrame:
        return self._frame("workload")

    @property
    def bots(self) -> pd.DataFrame:
        return self._frame("bots")

    @property
    def reversal_kept(self) -> pd.DataFrame:
        """Rows the reversal left because they were edited since: a person decides on them."""
        return self._frame("reversal_kept")

    def bots_by_rule(self) -> pd.DataFrame:
        """Per bot rule: the clicks and people it caught, and the actions those clicks did not
        trigger (the actions of their links, with the number of clicks).

        For an apply, the batches this run committed: a re-run that skips committed batches
        counts only the rest (`counts` is the whole job's)."""
        frame = self._frame("bot_rules")
        if frame.empty:
            return pd.DataFrame(columns=["reason", "clicks", "people", "actions_not_triggered"])
        return frame

    def _frame(self, name: str) -> pd.DataFrame:
        value = self._frames.get(name)
        if value is None:
            return pd.DataFrame()
        if callable(value):
            value = self._frames[name] = value()
        return value

    def _summary_of_frames(self, sql: str) -> pd.DataFrame:
        con = duckdb.connect()
        try:
            for name in ("changes", "workload", "tickets"):
                con.register(name, self._frame(name))
            return con.execute(sql).df()
        finally:
            con.close()

    def by_action(self) -> pd.DataFrame:
        """Changes per action and target: how many changes and how many people each touches.

        Created rows have one id each, so they are summarised per action, not per id.
        """
        if self._empty("changes"):
            return pd.DataFrame(columns=["action_id", "target_kind", "target", "changes", "people"])
        return self._summary(BY_ACTION_SQL)

    def by_kind(self) -> pd.DataFrame:
        """Changes and distinct people per target kind, and over all kinds (``all``)."""
        if self._empty("changes"):
            return pd.DataFrame({"target_kind": ["all"], "changes": [0], "people": [0]})
        return self._summary(BY_KIND_SQL)

    def by_action_and_change(self) -> pd.DataFrame:
        """As `by_action`, split by what happened: added, removed, set, or created or moved."""
        columns = ["action_id", "target_kind", "target", "change", "changes", "people"]
        if self._empty("changes"):
            return pd.DataFrame(columns=columns)
        return self._summary(BY_CHANGE_SQL)

    def follow_ups_per_owner(self) -> pd.DataFrame:
        """Per owner: the run's follow-ups, the busiest day once applied, and the capacity.

        ``days_over`` counts the days where the owner's appointments would exceed
        ``daily_capacity`` (NULL capacity: unlimited).
        """
        columns = ["owner_id", "owner", "follow_ups", "busiest_day", "daily_capacity", "days_over"]
        if self._empty("workload"):
            return pd.DataFrame(columns=columns)
        return self._summary(FOLLOW_UPS_SQL)

    def tickets_per_category(self) -> pd.DataFrame:
        """New or rewritten tickets per category and priority."""
        if self._empty("tickets"):
            return pd.DataFrame(columns=["category", "priority", "tickets"])
        return self._summary(TICKETS_SQL)

    def size(self, name: str) -> int:
        """The number of rows of one of the frames, without loading it when it is known."""
        if name not in self._sizes:
            self._sizes[name] = len(self._frame(name))
        return self._sizes[name]

    def _empty(self, name: str) -> bool:
        return self.size(name) == 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what `--json` prints)."""
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "clicks": self.counts,
            "changes": self.size("changes"),
            "by_action": self.by_action().to_dict(orient="records"),
            "follow_ups_per_owner": json.loads(
                self.follow_ups_per_owner().to_json(orient="records")
            ),
            "tickets_per_category": self.tickets_per_category().to_dict(orient="records"),
            "bots_by_rule": json.loads(self.bots_by_rule().to_json(orient="records")),
            "responses": self.size("responses"),
            "scripts": [r.__dict__ for r in self.script_runs],
            "batches": self.batches,
            "reversal": self.reversal,
        }

    def __str__(self) -> str:
        c = self.counts
        lines = [
            f"{self.mode} (run {self.run_id}): {c['seen']:,} clicks seen, {c['eligible']:,} "
            f"eligible, {c['bot']:,} bot, {c['duplicate']:,} duplicate, "
            f"{c['quarantined']:,} quarantined",
            f"{self.size('changes'):,} changes, {self.size('responses'):,} responses",
        ]
        if self.batches:
            b = self.batches
            lines.append(
                f"{b['total']:,} batch{'es' if b['total'] != 1 else ''}: "
                f"{b['committed']:,} committed by this run, "
                f"{b['skipped']:,} already committed before"
            )
        if self.reversal.get("reversed") or self.reversal.get("edited_since"):
            rev = self.reversal
            lines.append(
                f"{rev['reversed']:,} changes reversed: no click fires them any more"
                + (
                    f"; {rev['edited_since']:,} such rows kept, edited since"
                    if rev["edited_since"]
                    else ""
                )
            )
        table = self.by_action()
        if not table.empty:
            lines += ["", "changes by action:", _text_table(table)]
        owners = self.follow_ups_per_owner()
        if not owners.empty:
            lines += [
                "",
                "follow-ups per owner (busiest day once applied, days over daily capacity):",
                _text_table(owners),
            ]
        tickets = self.tickets_per_category()
        if not tickets.empty:
            lines += ["", "tickets per category:", _text_table(tickets)]
        rules = self.bots_by_rule()
        if not rules.empty:
            lines += ["", "bot clicks by rule, and the actions they did not trigger:"]
            lines += [  # one line per rule: four at most
                f"  {rule['reason']}: {rule['clicks']:,} clicks of {rule['people']:,} people"
                + (f"; not triggered: {a}" if (a := rule["actions_not_triggered"]) else "")
                for rule in rules.to_dict("records")
            ]
        for r in self.script_runs:
            lines.append(
                f"script {r.script} ({r.action_id}): {r.status}, {r.clicks} clicks"
                + (f": {r.error}" if r.error else "")
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        c = self.counts
        head = (
            f"<p><b>{html.escape(self.mode)}</b> (run {self.run_id}): {c['seen']:,} clicks seen, "
            f"{c['eligible']:,} eligible, {c['bot']:,} bot, {c['quarantined']:,} quarantined; "
            f"{self.size('changes'):,} changes</p>"
        )
        parts = [head]
        for title, frame in (
            ("Changes by action", self.by_action()),
            ("Follow-ups per owner and day", self.follow_ups_per_owner()),
            ("Tickets per category", self.tickets_per_category()),
            ("Bot clicks by rule", self.bots_by_rule()),
        ):
            if not frame.empty:
                parts.append(f"<h4>{html.escape(title)}</h4>{frame.to_html(index=False)}")
        return "\n".join(parts)  # DataFrame.to_html escapes cell values

    def to_html(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        title: str = "linksim preview",
        source: str | None = None,
        lint: LintResult | None = None,
    ) -> str:
        """The report as one self-contained HTML page (:mod:`linksim.report`); written to
        ``path`` when one is given. ``lint``: findings on the same definitions, shown first."""
        from linksim.report import preview_html, write_html

        page = preview_html(self, title=title, source=source, lint=lint)
        if path is not None:
            write_html(page, path)
        return page

    def plot(self) -> Figure:
        """Changes per action (left) and follow-ups per owner (right), as a matplotlib figure."""
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        # distinct people: one person changed in two targets of an action counts once
        per_action = (
            self._summary(PEOPLE_SQL)
            if not self._empty("changes")
            else pd.DataFrame(columns=["action_id", "people"])
        )
        left.barh(per_action["action_id"].astype(str), per_action["people"].to_numpy())
        left.set_xlabel("people touched")
        left.set_ylabel("action")
        left.set_title("Changes per action")
        owners = self.follow_ups_per_owner()
        labels = owners["owner_id"].astype(str)
        right.bar(labels, owners["busiest_day"].astype(float), label="busiest day")
        right.scatter(
            labels,
            owners["daily_capacity"].astype(float),
            color="red",
            marker="_",
            s=300,
            label="daily capacity",
            zorder=3,
        )
        right.set_xlabel("owner (associate id)")
        right.set_ylabel("appointments that day")
        right.set_title("Busiest day per owner vs capacity")
        right.legend()
        fig.tight_layout()
        return fig


def _int(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


def _text_table(frame: pd.DataFrame) -> str:
    return "\n".join("  " + line for line in frame.to_string(index=False).splitlines())
