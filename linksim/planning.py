"""Plan follow-ups: workload per owner and day against capacity, overflow, what-if owner rules.

The frames come from a preview (`RunResult.workload`: per owner and local day, the run's
follow-ups and the owner's appointments that day once applied). `compare_owner_rules` previews
one follow-up action under several owner rules — contact owner, a balanced team, the next free
slot — and lays the outcomes side by side; the plots are matplotlib figures.

>>> frame = pd.DataFrame({"owner_id": [4, 4], "owner": ["Sara", "Sara"],
...     "day": pd.to_datetime(["2026-03-02", "2026-03-03"]).date, "follow_ups": [2, 5],
...     "appointments": [4, 9], "daily_capacity": pd.array([6, 6], dtype="Int64")})
>>> overflow(workload(frame))[["day", "appointments", "over"]].to_dict("records")
[{'day': datetime.date(2026, 3, 3), 'appointments': 9, 'over': 3}]
"""

from __future__ import annotations

import copy
import datetime as dt
import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import duckdb
import numpy as np
import pandas as pd

from linksim.definitions import Definitions, parse_definitions
from linksim.errors import UsageError
from linksim.result import RunResult
from linksim.runs import preview

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "OwnerRuleComparison",
    "compare_owner_rules",
    "overflow",
    "owner_rules",
    "plot_calendar",
    "plot_workload",
    "workload",
]

WORKLOAD_COLUMNS = ["owner_id", "owner", "day", "follow_ups", "appointments", "daily_capacity"]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
LABELS = {"follow_ups": "follow-ups", "appointments": "appointments", "over": "over capacity"}


def workload(result: RunResult | pd.DataFrame) -> pd.DataFrame:
    """Per owner and day: the run's ``follow_ups``, all ``appointments`` once applied, the
    ``daily_capacity`` (NA: unlimited), ``over`` (appointments beyond capacity) and ``load``
    (appointments / capacity)."""
    frame = result.workload if isinstance(result, RunResult) else result
    if frame.empty:
        frame = pd.DataFrame(columns=WORKLOAD_COLUMNS)
    capacity = pd.to_numeric(frame["daily_capacity"], errors="coerce").astype("Float64")
    appointments = frame["appointments"].astype("Int64")
    over = (appointments - capacity).clip(lower=0).fillna(0).astype("int64")
    return frame.assign(
        day=pd.to_datetime(frame["day"]).dt.date,
        over=over,
        load=(appointments / capacity).astype("float64").round(2),
    )


def overflow(frame: pd.DataFrame) -> pd.DataFrame:
    """The owner-days over capacity (from `workload`), the worst first."""
    return frame[frame["over"] > 0].sort_values(
        ["over", "day", "owner_id"], ascending=[False, True, True]
    )


def owner_rules(
    defs: Definitions, action_id: str, *, team: str, fallback: int | None = None
) -> dict[str, dict[str, Any]]:
    """The three usual owner rules for follow-up ``action_id``, as overrides of the action.

    - ``contact owner``: the contact's owner (else ``fallback``), due as defined, no moving;
    - ``balanced team``: the least loaded member of ``team`` that day;
    - ``next free slot``: the contact's owner, moved to their next day under capacity.

    ``fallback`` defaults to the action's own.
    """
    action = _action(defs.model_dump(mode="json"), action_id)
    backup = fallback if fallback is not None else action.get("fallback")
    if backup is None:
        raise UsageError(
            f"owner_rules: {action_id} has no fallback owner; pass fallback=ASSOCIATE_ID for "
            "the people whose contact has no owner"
        )
    return {
        "contact owner": {
            "owner": "contact_owner",
            "fallback": backup,
            "due": {"next_free_slot": False},
        },
        "balanced team": {"owner": {"team": team}, "fallback": None},
        "next free slot": {
            "owner": "contact_owner",
            "fallback": backup,
            "due": {"next_free_slot": True},
        },
    }


class OwnerRuleComparison:
    """One follow-up action previewed under several owner rules.

    Attributes:
        action_id: the action compared.
        results: per rule, its preview (`RunResult`).
        workload: `workload` of every preview, with a ``rule`` column.
    """

    def __init__(self, action_id: str, results: dict[str, RunResult]) -> None:
        self.action_id = action_id
        self.results = results
        frames = [workload(r).assign(rule=name) for name, r in results.items()]
        self.workload = pd.concat(frames, ignore_index=True)

    def follow_ups(self) -> pd.DataFrame:
        """The compared action's follow-ups under each rule: ``rule``, ``owner_id``, ``owner``,
        ``starts_at`` and ``days_to_due`` (calendar days from the click to the start)."""
        frames = [
            _action_follow_ups(result, self.action_id).assign(rule=name)
            for name, result in self.results.items()
        ]
        names = self.workload.drop_duplicates("owner_id").set_index("owner_id")["owner"]
        out = pd.concat(frames, ignore_index=True)
        return out.assign(owner=out["owner_id"].map(names))

    def summary(self) -> pd.DataFrame:
        """Per rule: the action's follow-ups, the owners they went to and the mean calendar
        days from click to start; and for the whole run, the owner-days over capacity, the
        appointments beyond capacity and the most appointments an owner has on one day."""
        own = (
            self.follow_ups()
            .groupby("rule", sort=False)
            .agg(
                follow_ups=("owner_id", "size"),
                owners=("owner_id", "nunique"),
                mean_days_to_due=("days_to_due", "mean"),
            )
        )
        run = self.workload.groupby("rule", sort=False).agg(
            days_over=("over", lambda s: int((s > 0).sum())),
            over_capacity=("over", "sum"),
            max_per_day=("appointments", "max"),
        )
        table = own.join(run, how="outer").reindex(list(self.results))
        table["follow_ups"] = table["follow_ups"].fillna(0).astype(int)
        table["mean_days_to_due"] = table["mean_days_to_due"].round(1)
        return table.rename_axis("rule").reset_index()

    def by_owner(self) -> pd.DataFrame:
        """The action's follow-ups per owner (rows) under each rule (columns)."""
        table = self.follow_ups().pivot_table(
            index=["owner_id", "owner"],
            columns="rule",
            values="starts_at",
            aggfunc="size",
            fill_value=0,
        )
        return table.reindex(columns=list(self.results), fill_value=0).sort_index()

    def __str__(self) -> str:
        return f"owner rules for {self.action_id}:\n" + self.summary().to_string(index=False)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        title = html.escape(f"Owner rules for {self.action_id}")
        return (
            f"<h4>{title}</h4>{self.summary().to_html(index=False)}"
            f"<h4>Follow-ups per owner</h4>{self.by_owner().to_html()}"
        )

    def plot(self) -> Figure:
        """Follow-ups per owner under each rule (left); owner-days over capacity (right)."""
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(
            1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 1]}
        )
        table = self.by_owner()
        labels = [f"{name} ({owner})" for owner, name in table.index]
        width = 0.8 / max(len(table.columns), 1)
        x = np.arange(len(table))
        for i, rule in enumerate(table.columns):
            left.bar(x + i * width, table[rule].to_numpy(), width, label=rule)
        left.set_xticks(x + width * (len(table.columns) - 1) / 2, labels, rotation=60, ha="right")
        left.set_xlabel("owner (associate id)")
        left.set_ylabel("follow-ups")
        left.set_title(f"Follow-ups per owner: {self.action_id}")
        left.legend(title="owner rule")
        summary = self.summary()
        right.bar(summary["rule"], summary["days_over"], color="tab:red")
        right.set_xlabel("owner rule")
        right.set_ylabel("owner-days over capacity")
        right.set_title("Days over capacity")
        right.tick_params(axis="x", rotation=30)
        fig.tight_layout()
        return fig


def compare_owner_rules(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    action_id: str,
    rules: Mapping[str, Mapping[str, Any]],
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    mailing: int | None = None,
) -> OwnerRuleComparison:
    """Preview ``defs`` once per rule, with follow-up ``action_id`` changed by the rule's
    overrides (e.g. from `owner_rules`; ``due`` is merged key by key). Writes nothing to `crm`."""
    if not rules:
        raise UsageError("compare_owner_rules: give at least one rule, e.g. owner_rules(...)")
    base = defs.model_dump(mode="json")
    _action(base, action_id)
    results = {}
    for name, overrides in rules.items():  # a handful of rules, each a set-based preview
        variant = copy.deepcopy(base)
        action = _action(variant, action_id)
        for key, value in overrides.items():
            if key == "due" and isinstance(value, Mapping):
                action["due"] = {**(action.get("due") or {}), **value}
            else:
                action[key] = value
        results[name] = preview(
            con, parse_definitions(variant), since=since, until=until, mailing=mailing
        )
    return OwnerRuleComparison(action_id, results)


def plot_calendar(
    frame: pd.DataFrame,
    *,
    value: str = "follow_ups",
    owner: int | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A calendar heatmap of ``value`` per day (weeks across, weekdays down), summed over the
    owners (or for one ``owner``); days where an owner is over capacity are marked with a cross."""
    import matplotlib.pyplot as plt

    data = frame if owner is None else frame[frame["owner_id"] == owner]
    if data.empty:
        who = f" for owner {owner}" if owner is not None else ""
        raise UsageError(f"plot_calendar: no workload to plot{who}")
    days = pd.DatetimeIndex(pd.to_datetime(data["day"]))
    per_day = data.assign(day=days).groupby("day").agg(total=(value, "sum"), over=("over", "max"))
    start = per_day.index.min() - pd.Timedelta(days=per_day.index.min().weekday())
    index = pd.DatetimeIndex(per_day.index)
    week = (index - start).days // 7
    weekday = index.day_of_week
    grid = np.full((7, int(week.max()) + 1), np.nan)
    grid[weekday, week] = per_day["total"].to_numpy()
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6.0, grid.shape[1] * 0.22 + 2), 3.2))
    else:
        fig = cast("Figure", ax.figure)
    image = ax.imshow(grid, aspect="auto", cmap="YlOrRd", interpolation="nearest")
    over = per_day["over"].to_numpy() > 0
    ax.scatter(week[over], weekday[over], marker="x", color="black", s=18, label="over capacity")
    ax.set_yticks(range(7), WEEKDAYS)
    ticks = range(0, grid.shape[1], max(1, grid.shape[1] // 12))
    ax.set_xticks(ticks, [(start + pd.Timedelta(weeks=t)).strftime("%d %b %y") for t in ticks])
    ax.set_xlabel("week starting")
    ax.set_ylabel("weekday")
    who = f"owner {owner}" if owner is not None else "all owners"
    label = LABELS.get(value, value.replace("_", " "))
    ax.set_title(f"{label.capitalize()} per day, {who}")
    fig.colorbar(image, ax=ax, label=label)
    if over.any():
        ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def plot_workload(frame: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Owners (rows) by days (columns): appointments as a share of daily capacity; cells over
    capacity marked with a cross. Owners without a capacity (unlimited) are shown against their
    busiest day; shares above 1.5 have the colour of 1.5."""
    import matplotlib.pyplot as plt

    if frame.empty:
        raise UsageError("plot_workload: no workload to plot")
    data = frame.assign(day=pd.to_datetime(frame["day"]))
    busiest = data.groupby("owner_id")["appointments"].transform("max")
    capacity = pd.to_numeric(data["daily_capacity"], errors="coerce").astype("float64")
    data = data.assign(share=data["appointments"] / capacity.fillna(busiest))
    # every day of the span, so that the x axis is time (days without follow-ups stay blank)
    span = pd.date_range(data["day"].min(), data["day"].max(), freq="D")
    grid = data.pivot_table(index="owner_id", columns="day", values="share", aggfunc="max")
    grid = grid.reindex(columns=span)
    over = data.pivot_table(index="owner_id", columns="day", values="over", aggfunc="max")
    over = over.reindex(columns=span).fillna(0)
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 0.3 * len(grid) + 2))
    else:
        fig = cast("Figure", ax.figure)
    image = ax.imshow(
        grid.to_numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1.5, interpolation="nearest"
    )
    rows, cols = np.nonzero(over.to_numpy() > 0)
    ax.scatter(cols, rows, marker="x", color="red", s=14, label="over capacity")
    names = data.drop_duplicates("owner_id").set_index("owner_id")["owner"]
    ax.set_yticks(range(len(grid)), [f"{names.get(i, '')} ({i})" for i in grid.index])
    ticks = range(0, grid.shape[1], max(1, grid.shape[1] // 12))
    ax.set_xticks(ticks, [span[t].strftime("%d %b %y") for t in ticks], rotation=45)
    ax.set_xlabel("day (owner's local date)")
    ax.set_ylabel("owner (associate id)")
    ax.set_title("Appointments per owner and day, as a share of daily capacity")
    fig.colorbar(image, ax=ax, label="appointments / daily capacity", extend="max")
    if len(rows):
        ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def _action(dump: dict[str, Any], action_id: str) -> dict[str, Any]:
    """The follow-up action ``action_id`` in a definitions dump (the dict itself, to edit)."""
    found = [a for link in dump["links"] for a in link["actions"] if a["id"] == action_id]
    if not found:
        raise UsageError(f"no action {action_id!r} in the definitions")
    if found[0]["type"] != "follow_up":
        raise UsageError(
            f"action {action_id!r} is a {found[0]['type']}, not a follow_up: owner rules "
            "apply to follow-ups"
        )
    return found[0]


def _action_follow_ups(result: RunResult, action_id: str) -> pd.DataFrame:
    """The follow-ups ``action_id`` creates in a run: owner, start, days from its click."""
    columns = ["owner_id", "starts_at", "days_to_due"]
    appointments = result.appointments
    if appointments.empty:
        return pd.DataFrame(columns=columns)
    mine = appointments[appointments["source_action"] == action_id]
    days = (mine["starts_at"] - mine["clicked_at"]).dt.total_seconds() / 86400
    return mine.assign(days_to_due=days)[columns]
