"""What `simulate` returns: distributions over the worlds, as tables, JSON, HTML and figures."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from linksim.simulation.model import FittedModel

__all__ = ["SimulationResult"]

_SHOWN = {
    "clickers": "Clickers per link",
    "clickers_by": "Clickers per link and value",
    "changes": "People changed, per action and target",
    "follow_ups": "Follow-ups per owner",
    "tickets": "Tickets per category",
    "script_calls": "Script calls per action",
}


class SimulationResult:
    """The simulated outcomes of a planned mailing.

    Attributes:
        mailing: the mailing simulated; ``send_at`` when it is sent (UTC).
        runs: the number of simulated worlds.
        metrics: one row per (metric, key): mean and the 5th to 95th percentiles over the worlds.
            Metrics: ``clickers`` (key: link id), ``clickers_any``, ``clicks``, ``clickers_by``
            (``"<link_id>|<value>"``), ``changes`` (``"<action>|<kind>|<target>"``: people
            changed), ``follow_ups`` (owner id), ``follow_ups_by_day`` (``"<owner>|<day>"``),
            ``tickets`` (category), ``script_calls`` (action id).
        capacity: per owner and local day: follow-ups, appointments once they are added, the
            daily capacity and the probability of exceeding it.
        timeline: clickers per link by hours after the send, percentiles (for fan charts).
        model: what the click model learned.
        links: the mailing's links' names (``mail.link.name``, else the URL) by id.
    """

    def __init__(
        self,
        *,
        mailing: int,
        send_at: dt.datetime,
        runs: int,
        metrics: pd.DataFrame,
        capacity: pd.DataFrame,
        timeline: pd.DataFrame,
        model: FittedModel,
        by: str | None,
        links: dict[int, str] | None = None,
    ) -> None:
        self.mailing = mailing
        self.send_at = send_at
        self.runs = runs
        self.metrics = metrics
        self.capacity = capacity
        self.timeline = timeline
        self.model = model
        self.by = by
        self.links = links or {}

    def link_label(self, link_id: object) -> str:
        """``"Book a demo (2)"``: a link by name and id, or its id alone when it has no name."""
        name = self.links.get(int(str(link_id))) if str(link_id).isdigit() else None
        return f"{name} ({link_id})" if name else str(link_id)

    def metric(self, name: str) -> pd.DataFrame:
        """The rows of one metric, e.g. ``result.metric("clickers")``."""
        return self.metrics[self.metrics["metric"] == name].reset_index(drop=True)

    def over_capacity(self, threshold: float = 0.05) -> pd.DataFrame:
        """Owner days whose capacity is exceeded with at least this probability."""
        c = self.capacity
        return c[c["p_over_capacity"] >= threshold].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """SPEC §5's JSON: ``{"runs", "metrics": [{metric, key, mean, p05, p50, p95}]}``, and
        more keys: the mailing, the send time, the links' names, the capacity table and the
        model's summary."""
        rows = [
            {k: _plain(v) for k, v in r.items()}
            for r in self.metrics[
                ["metric", "key", "mean", "p05", "p25", "p50", "p75", "p95"]
            ].to_dict("records")
        ]
        capacity = [
            {k: _plain(v) for k, v in r.items()}
            for r in self.capacity[
                [
                    "owner_id",
                    "owner",
                    "day",
                    "daily_capacity",
                    "follow_ups_mean",
                    "follow_ups_p95",
                    "appointments_mean",
                    "p_over_capacity",
                ]
            ].to_dict("records")
        ]
        m = self.model
        return {
            "runs": self.runs,
            "mailing": self.mailing,
            "by": self.by,
            "send_at": self.send_at.isoformat(),
            "links": {str(k): v for k, v in sorted(self.links.items())},
            "metrics": rows,
            "capacity": capacity,
            "model": {
                "history_opportunities": m.opportunities,
                "history_clicked": m.clicked,
                "attributes": list(m.attributes),
                "dispersion": round(m.dispersion, 4),
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def __str__(self) -> str:
        lines = [
            f"simulate mailing {self.mailing}, sent {self.send_at:%Y-%m-%d %H:%M} UTC: "
            f"{self.runs:,} worlds; mean [90% interval]"
        ]
        owners = dict(zip(self.capacity["owner_id"], self.capacity["owner"], strict=True))
        for metric, title in _SHOWN.items():
            rows = self.metric(metric)
            if rows.empty:
                continue
            lines.append(f"\n{title}:")
            for r in rows.itertuples():
                key = str(r.key)
                if metric == "follow_ups" and owners.get(int(key)):
                    key = f"{owners[int(key)]} ({key})"
                elif metric in ("clickers", "clickers_by"):
                    link, _, value = key.partition("|")
                    key = self.link_label(link) + (f" | {value}" if value else "")
                lines.append(f"  {key:<48} {r.mean:9.1f}  [{r.p05:,.0f} to {r.p95:,.0f}]")
        risky = self.over_capacity()
        days = len(self.capacity)
        if risky.empty:
            lines.append(
                f"\nCapacity: no owner day of the {days} with follow-ups goes over its daily "
                "capacity in 5% of the worlds or more"
            )
        else:
            lines.append("\nOwner days over capacity with probability ≥ 5%:")
            for r in risky.itertuples():
                lines.append(
                    f"  {r.owner} ({r.owner_id}) {str(r.day)[:10]}: "
                    f"{r.appointments_mean:.1f} appointments for a capacity of "
                    f"{r.daily_capacity:.0f}, over it in {r.p_over_capacity:.0%} of the worlds"
                )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>simulate</b> mailing {self.mailing}, sent {self.send_at:%Y-%m-%d %H:%M} "
            f"UTC: {self.runs:,} worlds</p>"
        )
        parts = [head]
        for metric, title in _SHOWN.items():
            rows = self.metric(metric)
            if not rows.empty:
                table = rows[["key", "mean", "p05", "p50", "p95"]].to_html(index=False)
                parts.append(f"<h4>{html.escape(title)}</h4>{table}")
        risky = self.over_capacity()
        parts.append("<h4>Owner days at risk of exceeding capacity (5% or more)</h4>")
        parts.append(
            risky.to_html(index=False)
            if not risky.empty
            else f"<p>none of the {len(self.capacity)} owner days with follow-ups</p>"
        )
        return "\n".join(parts)  # DataFrame.to_html escapes cell values

    def to_html(
        self, path: str | os.PathLike[str] | None = None, *, title: str | None = None
    ) -> str:
        """The report as one self-contained HTML page (:mod:`linksim.report`): fan charts, the
        workload heatmap, the chance of exceeding capacity; written to ``path`` when given."""
        from linksim.report import simulation_html, write_html

        page = simulation_html(self, title=title)
        if path is not None:
            write_html(page, path)
        return page

    def plot_fan(self) -> Figure:
        """Fan charts: clickers per link by hours after the send (50% and 90% bands, median)."""
        import matplotlib.pyplot as plt

        links = sorted(self.timeline["link_id"].unique())
        fig, axes = plt.subplots(
            1, len(links), figsize=(3.2 * len(links), 3.2), squeeze=False, sharex=True
        )
        for ax, link in zip(axes[0], links, strict=True):
            t = self.timeline[self.timeline["link_id"] == link]
            ax.fill_between(t["hours"], t["p05"], t["p95"], alpha=0.25, label="90%")
            ax.fill_between(t["hours"], t["p25"], t["p75"], alpha=0.45, label="50%")
            ax.plot(t["hours"], t["p50"], color="black", linewidth=1, label="median")
            ax.set_xscale("log")
            ax.set_title(self.link_label(link), fontsize="medium")
            ax.set_xlabel("hours after the send")
            ax.set_ylabel("clickers so far")
        axes[0][0].legend(loc="upper left", fontsize="small")
        fig.suptitle(f"Clickers over time, mailing {self.mailing} ({self.runs:,} worlds)")
        fig.tight_layout()
        return fig

    def plot_workload(self) -> Figure:
        """Heatmap: mean follow-ups per owner and day; owner days likely over capacity marked."""
        import matplotlib.pyplot as plt

        c = self.capacity
        fig, ax = plt.subplots(figsize=(9, 0.35 * max(4, c["owner_id"].nunique()) + 1.5))
        if c.empty:
            ax.set_title("No follow-ups in any world")
            return fig
        table = c.pivot_table(
            index="owner_id", columns="day", values="follow_ups_mean", fill_value=0
        )
        risk = c.pivot_table(
            index="owner_id", columns="day", values="p_over_capacity", fill_value=0
        )
        image = ax.imshow(table.to_numpy(), aspect="auto", cmap="viridis")
        ax.set_yticks(range(len(table.index)), [str(i) for i in table.index])
        ax.set_xticks(range(len(table.columns)), [str(d)[5:10] for d in table.columns], rotation=60)
        values = risk.to_numpy()
        for i, j in zip(*(values >= 0.05).nonzero(), strict=True):
            ax.text(j, i, f"{values[i, j]:.0%}", ha="center", va="center", color="red", fontsize=7)
        ax.set_xlabel("day (owner's time zone)")
        ax.set_ylabel("owner (associate id)")
        marked = bool((values >= 0.05).any())
        ax.set_title(
            "Mean follow-ups per owner and day"
            + ("; in red, a chance of 5% or more of exceeding capacity" if marked else "")
        )
        fig.colorbar(image, ax=ax, label="follow-ups")
        fig.tight_layout()
        return fig


def _plain(value: Any) -> Any:
    """A JSON-ready Python value: NaN and NA become None, numpy numbers Python ones, dates text."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    if hasattr(value, "item"):
        value = value.item()
    return round(value, 4) if isinstance(value, float) else value
