"""What a preview or an apply returns: DataFrames of the change set, summaries, HTML and a plot."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from linksim.engine.scripts import ScriptRun

__all__ = ["RunResult"]


@dataclass(frozen=True)
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
        script_runs: one entry per script call.
    """

    run_id: int
    mode: str
    counts: dict[str, int]
    changes: pd.DataFrame
    appointments: pd.DataFrame
    tickets: pd.DataFrame
    responses: pd.DataFrame
    workload: pd.DataFrame = field(default_factory=pd.DataFrame)
    script_runs: tuple[ScriptRun, ...] = field(default=())

    def by_action(self) -> pd.DataFrame:
        """Changes per action and target: how many changes and how many people each touches."""
        if self.changes.empty:
            return pd.DataFrame(columns=["action_id", "target_kind", "target", "changes", "people"])
        grouped = self.changes.groupby(["action_id", "target_kind", "target"], dropna=False)
        out = grouped.agg(changes=("person_id", "size"), people=("person_id", "nunique"))
        out = out.reset_index()
        # created rows have one id per row: summarise them per action, not per id
        created = out["target_kind"].isin(["appointment", "ticket"])
        per_action = (
            self.changes[self.changes["target_kind"].isin(["appointment", "ticket"])]
            .groupby(["action_id", "target_kind"])
            .agg(changes=("person_id", "size"), people=("person_id", "nunique"))
            .reset_index()
            .assign(target="(created or moved)")
        )
        merged = pd.concat([out[~created], per_action], ignore_index=True)
        return merged.sort_values(["action_id", "target_kind", "target"], ignore_index=True)

    def follow_ups_per_owner(self) -> pd.DataFrame:
        """Per owner: the run's follow-ups, the busiest day once applied, and the capacity.

        ``days_over`` counts the days where the owner's appointments would exceed
        ``daily_capacity`` (NULL capacity: unlimited).
        """
        columns = ["owner_id", "owner", "follow_ups", "busiest_day", "daily_capacity", "days_over"]
        if self.workload.empty:
            return pd.DataFrame(columns=columns)
        w = self.workload.assign(
            over=lambda f: f["daily_capacity"].notna() & (f["appointments"] > f["daily_capacity"])
        )
        out = w.groupby(["owner_id", "owner"], dropna=False).agg(
            follow_ups=("follow_ups", "sum"),
            busiest_day=("appointments", "max"),
            daily_capacity=("daily_capacity", "first"),
            days_over=("over", "sum"),
        )
        return out.reset_index()[columns]

    def tickets_per_category(self) -> pd.DataFrame:
        """New or rewritten tickets per category and priority."""
        if self.tickets.empty:
            return pd.DataFrame(columns=["category", "priority", "tickets"])
        return (
            self.tickets.groupby(["category", "priority"], dropna=False)
            .size()
            .rename("tickets")
            .reset_index()
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what `--json` prints)."""
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "clicks": self.counts,
            "changes": len(self.changes),
            "by_action": self.by_action().to_dict(orient="records"),
            "follow_ups_per_owner": json.loads(
                self.follow_ups_per_owner().to_json(orient="records")
            ),
            "tickets_per_category": self.tickets_per_category().to_dict(orient="records"),
            "responses": len(self.responses),
            "scripts": [r.__dict__ for r in self.script_runs],
        }

    def __str__(self) -> str:
        c = self.counts
        lines = [
            f"{self.mode} (run {self.run_id}): {c['seen']:,} clicks seen, {c['eligible']:,} "
            f"eligible, {c['bot']:,} bot, {c['duplicate']:,} duplicate, "
            f"{c['quarantined']:,} quarantined",
            f"{len(self.changes):,} changes, {len(self.responses):,} responses",
        ]
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
        for r in self.script_runs:
            lines.append(
                f"script {r.script} ({r.action_id}): {r.status}, {r.clicks} clicks"
                + (f": {r.error}" if r.error else "")
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        c = self.counts
        head = (
            f"<p><b>{html.escape(self.mode)}</b> (run {self.run_id}): {c['seen']:,} clicks seen, "
            f"{c['eligible']:,} eligible, {c['bot']:,} bot, {c['quarantined']:,} quarantined; "
            f"{len(self.changes):,} changes</p>"
        )
        parts = [head]
        for title, frame in (
            ("Changes by action", self.by_action()),
            ("Follow-ups per owner and day", self.follow_ups_per_owner()),
            ("Tickets per category", self.tickets_per_category()),
        ):
            if not frame.empty:
                parts.append(f"<h4>{html.escape(title)}</h4>{frame.to_html(index=False)}")
        return "\n".join(parts)  # DataFrame.to_html escapes cell values

    def plot(self) -> Figure:
        """Changes per action (left) and follow-ups per owner (right), as a matplotlib figure."""
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        per_action = self.by_action().groupby("action_id")["people"].sum().sort_values()
        left.barh(per_action.index.astype(str), per_action.to_numpy())
        left.set_xlabel("people touched")
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
