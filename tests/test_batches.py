"""Batch planning: windows in time order that cover every click of the scope exactly once."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import duckdb
import pandas as pd
import pytest

import linksim
from linksim.batches import BatchSpec, parse_batch, plan_batches

FAR_PAST, FAR_FUTURE = dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("1d", BatchSpec(span=dt.timedelta(days=1))),
        ("12h", BatchSpec(span=dt.timedelta(hours=12))),
        ("30min", BatchSpec(span=dt.timedelta(minutes=30))),
        ("2w", BatchSpec(span=dt.timedelta(weeks=2))),
        ("100000", BatchSpec(clicks=100_000)),
        ("1_000", BatchSpec(clicks=1_000)),
    ],
)
def test_parse_batch(text: str, spec: BatchSpec) -> None:
    assert parse_batch(text) == spec


@pytest.mark.parametrize("text", ["0", "0d", "1 day", "-5", "fast", "1.5d"])
def test_a_bad_batch_is_a_usage_error(text: str) -> None:
    with pytest.raises(linksim.UsageError, match="expected a time span like 1d"):
        parse_batch(text)


@pytest.fixture
def clicks(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    # 10 clicks over three days, two of them at the same instant
    times = [dt.datetime(2026, 3, 1, h) for h in (1, 2, 3, 3, 23)]
    times += [dt.datetime(2026, 3, 2, h) for h in (0, 12)]
    times += [dt.datetime(2026, 3, 4, h) for h in (5, 6, 7)]
    frame = pd.DataFrame(
        {
            "click_id": range(1, 11),
            "mailing_id": 1,
            "link_id": 1,
            "person_id": 1,
            "clicked_at": times,
        }
    )
    con.register("frame", frame)
    con.execute(
        "INSERT INTO mail.click (click_id, mailing_id, link_id, person_id, clicked_at) "
        "SELECT * FROM frame"
    ).fetchall()
    return con


def test_day_batches_cover_the_clicks_in_order(clicks: duckdb.DuckDBPyConnection) -> None:
    batches = plan_batches(
        clicks, parse_batch("1d"), since=FAR_PAST, until=FAR_FUTURE, mailing=None
    )
    assert [(b.since.day, b.clicks) for b in batches] == [(1, 5), (2, 2), (4, 3)]
    assert all(a.until == b.since for a, b in itertools.pairwise(batches))
    assert batches[-1].until == FAR_FUTURE


def test_count_batches_never_split_a_timestamp(clicks: duckdb.DuckDBPyConnection) -> None:
    batches = plan_batches(clicks, parse_batch("3"), since=FAR_PAST, until=FAR_FUTURE, mailing=None)
    # clicks 3 and 4 share 03:00: the batch starting at click 4 starts at 03:00 and takes both
    assert [b.clicks for b in batches] == [2, 4, 3, 1]
    assert sum(b.clicks for b in batches) == 10


def test_batches_respect_the_scope(clicks: duckdb.DuckDBPyConnection) -> None:
    since, until = dt.datetime(2026, 3, 1, 3), dt.datetime(2026, 3, 4, 6)
    batches = plan_batches(clicks, parse_batch("1d"), since=since, until=until, mailing=None)
    assert sum(b.clicks for b in batches) == 6
    assert batches[0].since == since and batches[-1].until == until
    assert plan_batches(clicks, parse_batch("1d"), since=since, until=until, mailing=2) == []


def _reference_plan(
    times: list[dt.datetime], spec: BatchSpec, since: dt.datetime, until: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime, int]]:
    """The plan by definition, in plain Python: sort every click, then cut."""
    ordered = sorted((t, i) for i, t in enumerate(times, start=1) if since <= t < until)
    if spec.clicks:
        starts = sorted({t for k, (t, _) in enumerate(ordered) if k % spec.clicks == 0})
    else:
        assert spec.span is not None
        starts = sorted({since + (t - since) // spec.span * spec.span for t, _ in ordered})
    stops = [*starts[1:], until]
    return [(a, b, sum(a <= t < b for t, _ in ordered)) for a, b in zip(starts, stops, strict=True)]


@pytest.mark.parametrize("seed", range(12))
def test_plans_match_their_definition_on_random_clicks(
    con: duckdb.DuckDBPyConnection, seed: int
) -> None:
    # Clicks crowd a few minutes, with ties and boundaries inside minutes: the planner maps
    # clicks to windows by minute, and must still cut at the exact click.
    rng = random.Random(seed)
    base = dt.datetime(2026, 3, 1, 12)
    times = [
        base
        + dt.timedelta(seconds=rng.choice([0, 1, 59, 60, 61, 119, 3600, 86_399]))
        + dt.timedelta(microseconds=rng.choice([0, 0, 1, 500_000]))
        for _ in range(rng.randint(1, 60))
    ]
    con.register("frame", pd.DataFrame({"t": times}))
    con.execute(
        "INSERT INTO mail.click (click_id, mailing_id, link_id, person_id, clicked_at) "
        "SELECT row_number() OVER (), 1, 1, 1, t FROM frame"
    ).fetchall()
    since = base + dt.timedelta(seconds=rng.choice([0, 1, 30]))
    until = base + dt.timedelta(days=rng.choice([1, 2]))
    for spec in (
        BatchSpec(clicks=rng.randint(1, 7)),
        BatchSpec(span=dt.timedelta(seconds=rng.choice([1, 30, 60, 90, 3600]))),
    ):
        planned = plan_batches(con, spec, since=since, until=until, mailing=None)
        assert [(b.since, b.until, b.clicks) for b in planned] == _reference_plan(
            times, spec, since, until
        ), spec
