"""A preview or a simulation as one self-contained HTML file, to open in a browser and forward.

The page is rendered by Jinja2 with autoescaping from ``templates/``; every name that comes from
the CRM or the definitions is escaped by the template, never pasted into markup. Figures are
inline PNGs (:mod:`linksim.report.figures`), the styles are in the page, and a
Content-Security-Policy forbids scripts and every outside resource, so the file shows the same
offline, in a mail attachment, and on a phone.

>>> import linksim
>>> from linksim.result import RunResult
>>> empty = RunResult(1, "preview", dict.fromkeys(
...     ("seen", "eligible", "bot", "duplicate", "quarantined"), 0), frames={})
>>> page = preview_html(empty, title="<b>News</b>")
>>> "&lt;b&gt;News&lt;/b&gt;" in page and "<script" not in page
True
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd

from linksim.report.figures import Chart, bar_chart, chart

if TYPE_CHECKING:
    from linksim.linting.findings import LintResult
    from linksim.result import RunResult
    from linksim.simulation.result import SimulationResult

__all__ = ["Chart", "preview_html", "simulation_html", "write_html"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("linksim.report", "templates"),
    autoescape=True,  # every value is escaped unless a template says otherwise (none does)
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _table(frame: pd.DataFrame, columns: dict[str, str] | None = None) -> dict[str, Any]:
    """A DataFrame as header cells and rows of display texts, for the template's table macro."""
    columns = columns or {c: c.replace("_", " ") for c in frame.columns}
    rows = [[_cell(v) for v in r] for r in frame[list(columns)].itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in columns]
    # numbers and days stay on one line: a narrow table scrolls instead of breaking them
    nowrap = [n or c == "day" for n, c in zip(numeric, columns, strict=True)]
    return {"head": list(columns.values()), "rows": rows, "numeric": numeric, "nowrap": nowrap}


def _cell(value: Any) -> str:
    if value is None or (not isinstance(value, str | list | tuple) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.1f}" if not value.is_integer() else f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _summary(result: RunResult) -> list[str]:
    """What will happen, as the sentences of one paragraph."""
    c = result.counts
    # summed in SQL: an apply's change set stays in the database
    kinds = {
        str(r["target_kind"]): (int(r["changes"]), int(r["people"]))
        for r in result.by_kind().to_dict("records")
    }
    people = kinds["all"][1]

    def touched(kind: str, noun: str) -> str:
        n, who = kinds.get(kind, (0, 0))
        return f"{_plural(n, noun + ' change')} for {_plural(who, 'person', 'people')}"

    scripts = [r for r in result.script_runs if r.clicks]
    nothing = people == 0 and result.size("appointments") == 0 and result.size("tickets") == 0
    sentences = [
        f"Of {_plural(c['seen'], 'click')}, {c['eligible']:,} fire actions; "
        f"{c['bot']:,} came from bots, {c['duplicate']:,} were duplicates and "
        f"{c['quarantined']:,} were quarantined.",
        f"{_plural(people, 'person', 'people')} would be touched: "
        f"{_plural(result.size('appointments'), 'follow-up')} created or moved, "
        f"{_plural(result.size('tickets'), 'ticket')} opened, "
        f"{touched('selection', 'selection')}, {touched('interest', 'interest')}, "
        f"{touched('project', 'project')} and {touched('field', 'field')}.",
    ]
    if nothing and c["eligible"]:
        sentences.append(
            "Nothing is left to do: the clicks' actions are already applied (a preview shows "
            "what an apply would still change)."
        )
    called = [r for r in scripts if r.status != "skipped"]
    skipped = [r for r in scripts if r.status == "skipped"]
    if called:
        calls = ", ".join(f"{r.script} ({_plural(r.clicks, 'click')})" for r in called)
        sentences.append(f"Scripts called: {calls}; what they set is counted above.")
    if skipped:
        calls = ", ".join(f"{r.script} ({_plural(r.clicks, 'click')})" for r in skipped)
        sentences.append(
            f"Scripts an apply would call: {calls}; what they set is not in this preview "
            "(preview --run-scripts calls them)."
        )
    if not scripts:
        sentences.append("No script would run.")
    return sentences


def _actions(result: RunResult) -> list[dict[str, Any]]:
    """Per action: its targets and what happens to them as a small table, and a chart of the
    people per target when there is more than one (a single bar would only repeat the table)."""
    table = result.by_action_and_change()
    out = []
    for action_id, rows in table.groupby("action_id", sort=True):
        rows = rows.reset_index(drop=True)
        labels = rows["target"].astype(str) + " (" + rows["change"] + ")"
        columns = {"target_kind": "kind", "target": "target", "change": "change",
                   "changes": "changes", "people": "people"}  # fmt: skip
        figure = None
        if len(rows) > 1:
            figure = bar_chart(
                labels,
                rows["people"],
                title=f"{action_id}: people per target",
                xlabel="people (whose clicks made the change)",
                ylabel="target (change)",
                alt=f"Bar chart of action {action_id}, people per target: "
                + "; ".join(f"{t} {n:,}" for t, n in zip(labels, rows["people"], strict=True)),
            )
        out.append({"id": str(action_id), "table": _table(rows, columns), "chart": figure})
    return out


def _workload(result: RunResult) -> dict[str, Any] | None:
    from linksim import planning

    if result.workload.empty:
        return None
    frame = planning.workload(result)
    owners = result.follow_ups_per_owner()
    owners = owners.assign(
        daily_capacity=owners["daily_capacity"]
        .astype(object)
        .where(owners["daily_capacity"].notna(), "no limit")
    )[["owner", "owner_id", "follow_ups", "busiest_day", "daily_capacity", "days_over"]]
    over = planning.overflow(frame)[["owner", "owner_id", "day", "appointments",
                                     "daily_capacity", "over"]]  # fmt: skip
    fig = planning.plot_workload(frame)
    return {
        "chart": chart(
            fig,
            "Appointments per owner and day, as a share of daily capacity",
            f"Heatmap of {frame['owner_id'].nunique()} owners by day; "
            f"{_plural(len(over), 'day')} where an owner is over capacity, marked with a red "
            "cross. Owners without a daily capacity are coloured against their busiest day.",
        ),
        "owners": _table(
            owners,
            {
                "owner": "owner",
                "owner_id": "associate id",
                "follow_ups": "follow-ups",
                "busiest_day": "appointments on the busiest day",
                "daily_capacity": "daily capacity",
                "days_over": "days over capacity",
            },
        ),
        "overflow": _table(
            over.assign(day=over["day"].astype(str)),
            {
                "owner": "owner",
                "owner_id": "associate id",
                "day": "day",
                "appointments": "appointments",
                "daily_capacity": "daily capacity",
                "over": "over by",
            },
        )
        if not over.empty
        else None,
    }


def _tickets(result: RunResult) -> dict[str, Any] | None:
    table = result.tickets_per_category()
    if table.empty:
        return None
    labels = table["category"].fillna("(none)").astype(str) + " / " + table["priority"]
    return {
        "table": _table(table),
        "chart": bar_chart(
            labels,
            table["tickets"],
            title="Tickets per category and priority",
            xlabel="tickets",
            ylabel="category / priority",
            alt="Bar chart of tickets per category and priority: "
            + "; ".join(f"{t} {n:,}" for t, n in zip(labels, table["tickets"], strict=True)),
        ),
    }


def _lint(lint: LintResult | None) -> list[dict[str, Any]]:
    if lint is None:
        return []
    return [
        {
            "severity": f.severity,
            "code": f.code,
            "message": f.message,
            "fix": f.fix,
            "people": f.people,
        }
        for f in lint.findings
    ]


def preview_html(
    result: RunResult,
    *,
    title: str = "linksim preview",
    lint: LintResult | None = None,
    source: str | None = None,
) -> str:
    """The report of a preview (or an apply) as a self-contained HTML page.

    Args:
        result: what :func:`linksim.preview` returned.
        title: the page's heading, e.g. the definitions file and the mailing.
        lint: findings of the same definitions, shown first when there are any.
        source: a line saying what was previewed on which database.
    """
    rules = result.bots_by_rule()
    return _ENV.get_template("preview.html.j2").render(
        title=title,
        source=source,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        summary=_summary(result),
        lint=_lint(lint),
        actions=_actions(result),
        workload=_workload(result),
        tickets=_tickets(result),
        bots=_table(rules) if not rules.empty else None,
        bot_clicks=result.counts["bot"],
    )


# the parts of each metric's key, shown as columns of their own
_METRIC_KEYS = {
    "clickers": ("link",),
    "clickers_by": ("link", "value"),
    "changes": ("action", "kind", "target"),
    "follow_ups": ("owner (associate id)",),
    "tickets": ("category",),
}


def _metric_table(
    rows: pd.DataFrame, keys: tuple[str, ...], names: dict[str, str] | None = None
) -> dict[str, Any]:
    parts = rows["key"].astype(str).str.split("|", n=len(keys) - 1, expand=True)
    frame = pd.DataFrame({k: parts[i] for i, k in enumerate(keys)})
    if names:  # owner and link ids as "name (id)"
        first = keys[0]
        frame[first] = [f"{names[k]} ({k})" if names.get(k) else k for k in frame[first]]
    # the mean to a tenth; the percentiles as whole counts, as the command line prints them
    frame = frame.assign(
        mean=rows["mean"].round(1),
        p05=rows["p05"].round().astype("int64"),
        p50=rows["p50"].round().astype("int64"),
        p95=rows["p95"].round().astype("int64"),
    )
    return _table(
        frame, {**{k: k for k in keys}, "mean": "mean", "p05": "5%", "p50": "median", "p95": "95%"}
    )


def _simulation_summary(result: SimulationResult, risky: int) -> list[str]:
    """What the worlds say, as the sentences of one paragraph."""

    def interval(metric: str) -> tuple[str, str] | None:
        rows = result.metric(metric)
        if rows.empty:
            return None
        r = rows.iloc[0]
        return f"{r['mean']:,.0f}", f"(90% interval: {r['p05']:,.0f} to {r['p95']:,.0f})"

    sentences = []
    if clickers := interval("clickers_any"):
        sentences.append(f"About {clickers[0]} people would click a link {clickers[1]}.")
    for metric, noun in (("follow_ups", "follow-ups"), ("tickets", "tickets")):
        rows = result.metric(metric)
        if not rows.empty:
            sentences.append(f"About {rows['mean'].sum():,.0f} {noun} in all.")
    sentences.append(
        f"On {_plural(risky, 'day')}, an owner's capacity is exceeded in 5% of the worlds or more "
        "(below)."
        if risky
        else "No owner's capacity is exceeded on any day in 5% of the worlds or more."
    )
    return sentences


def simulation_html(result: SimulationResult, *, title: str | None = None) -> str:
    """The report of a forward simulation: intervals as fan charts, capacity at risk."""
    owners = {str(k): str(v) for k, v in zip(result.capacity["owner_id"],
                                              result.capacity["owner"], strict=True)}  # fmt: skip
    links = {str(k): v for k, v in result.links.items()}
    names = {"follow_ups": owners, "clickers": links, "clickers_by": links}
    metrics = {  # None: no world has any
        name: _metric_table(result.metric(name), keys, names.get(name))
        if not result.metric(name).empty
        else None
        for name, keys in _METRIC_KEYS.items()
    }
    clickers = result.metric("clickers")
    fan = None
    if not result.timeline.empty:
        fan = chart(
            result.plot_fan(),
            f"Clickers over time, mailing {result.mailing}",
            "Fan charts, one per link, of the clickers so far by hours after the send: median "
            "line, 50% and 90% bands over the simulated worlds. Means: "
            + "; ".join(
                f"{result.link_label(k)} {m:,.1f}"
                for k, m in zip(clickers["key"], clickers["mean"], strict=True)
            ),
        )
    risky = result.over_capacity()
    workload = None
    if not result.capacity.empty:
        workload = chart(
            result.plot_workload(),
            "Mean follow-ups per owner and day",
            f"Heatmap of mean follow-ups per owner and day; {_plural(len(risky), 'owner day')} "
            "with a chance of 5% or more of exceeding capacity, labelled in red.",
        )
    columns = {
        "owner": "owner",
        "owner_id": "owner id",
        "day": "day",
        "daily_capacity": "daily capacity",
        "follow_ups_mean": "follow-ups (mean)",
        "p_over_capacity": "chance over capacity",
    }
    risky = risky.assign(
        day=risky["day"].astype(str).str[:10],
        p_over_capacity=(risky["p_over_capacity"] * 100).round().astype(int).astype(str) + "%",
    )
    return _ENV.get_template("simulation.html.j2").render(
        summary=_simulation_summary(result, len(risky)),
        title=title or f"linksim simulation of mailing {result.mailing}",
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        mailing=result.mailing,
        send_at=f"{result.send_at:%Y-%m-%d %H:%M} UTC",
        runs=result.runs,
        metrics=metrics,
        fan=fan,
        workload=workload,
        risky=_table(risky, columns) if not risky.empty else None,
        owner_days=len(result.capacity),
    )


def write_html(page: str, path: str | os.PathLike[str]) -> Path:
    """Write a report page to ``path`` (UTF-8); the path written."""
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out
