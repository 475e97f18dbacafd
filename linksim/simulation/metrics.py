"""The simulation's outcomes per world, and their distribution over the worlds, in SQL.

Every metric is counted per world and key; a world where nothing happened for a key counts 0
(the grid of keys by worlds is filled), then the mean and the 5th, 25th, 50th, 75th and 95th
percentiles are taken over the worlds.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from linksim.store.query import run

__all__ = ["capacity", "metrics", "timeline"]

# metric, key, world, value: one row per world where the value is not 0 (sim_clicker has one
# row per world, link and person: a count of its rows counts persons)
_PER_WORLD = """
CREATE OR REPLACE TEMP TABLE sim_per_world AS
SELECT 'clickers' AS metric, link_id::VARCHAR AS key, world, count(*)::DOUBLE AS value
FROM sim_clicker GROUP BY ALL
UNION ALL
SELECT 'clickers_any', 'all', world, count(DISTINCT person_id) FROM sim_clicker GROUP BY ALL
UNION ALL
SELECT 'clicks', link_id::VARCHAR, world, count(*) FROM sim_clicks GROUP BY ALL
UNION ALL
SELECT 'changes', action_id || '|' || target_kind || coalesce('|' || target, ''), world,
       sum(people)
FROM sim_out_changes GROUP BY ALL
UNION ALL
SELECT 'follow_ups', owner_id::VARCHAR, world, sum(follow_ups)
FROM sim_out_follow_ups GROUP BY ALL
UNION ALL
SELECT 'follow_ups_by_day', owner_id || '|' || day, world, sum(follow_ups)
FROM sim_out_follow_ups GROUP BY ALL
UNION ALL
SELECT 'tickets', category, world, sum(tickets) FROM sim_out_tickets GROUP BY ALL
UNION ALL
SELECT 'script_calls', action_id, world, sum(calls) FROM sim_out_scripts GROUP BY ALL
UNION ALL
SELECT 'clickers_by', c.link_id || '|' || coalesce(b.value, '(none)'), c.world, count(*)
FROM sim_clicker c LEFT JOIN sim_by b USING (person_id)
WHERE EXISTS (SELECT 1 FROM sim_by)
GROUP BY ALL
"""

_DISTRIBUTION = """
WITH keys AS (SELECT DISTINCT metric, key FROM sim_per_world
              UNION SELECT 'clickers', link_id::VARCHAR FROM sim_target
              UNION SELECT 'clickers_any', 'all'),
grid AS (
    SELECT k.metric, k.key, w.world, coalesce(p.value, 0) AS value
    FROM keys k CROSS JOIN range($worlds) w(world)
    LEFT JOIN sim_per_world p USING (metric, key, world)
)
SELECT metric, key, avg(value) AS mean,
       quantile_cont(value, [0.05, 0.25, 0.5, 0.75, 0.95]) AS q
FROM grid GROUP BY metric, key
ORDER BY metric, key
"""


def metrics(con: duckdb.DuckDBPyConnection, worlds: int) -> pd.DataFrame:
    """metric, key, mean, p05, p25, p50, p75, p95 over the worlds."""
    run(con, _PER_WORLD)
    frame = con.execute(_DISTRIBUTION, {"worlds": worlds}).df()
    for i, name in enumerate(("p05", "p25", "p50", "p75", "p95")):
        frame[name] = frame["q"].map(lambda q, i=i: float(q[i]))
    # keys in natural order: link 3 before link 20261111
    order = frame["key"].map(_natural)
    frame = frame.assign(_order=order).sort_values(["metric", "_order"], kind="stable")
    return frame.drop(columns=["q", "_order"]).reset_index(drop=True)


def _natural(key: str) -> tuple[tuple[int, object], ...]:
    """``"3|x"`` sorts before ``"20261111|a"``: numbers by value, text as text."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in key.split("|"))


_CAPACITY = """
WITH keys AS (
    SELECT owner_id, day, max(appointments - follow_ups) AS booked
    FROM sim_out_follow_ups GROUP BY ALL
),
grid AS (
    SELECT k.owner_id, k.day, w.world, coalesce(f.follow_ups, 0) AS follow_ups,
           k.booked + coalesce(f.follow_ups, 0) AS appointments
    FROM keys k CROSS JOIN range($worlds) w(world)
    LEFT JOIN sim_out_follow_ups f USING (owner_id, day, world)
)
SELECT g.owner_id, any_value(s.name) AS owner, g.day,
       any_value(s.daily_capacity) AS daily_capacity,
       avg(g.follow_ups) AS follow_ups_mean,
       quantile_cont(g.follow_ups, 0.95) AS follow_ups_p95,
       avg(g.appointments) AS appointments_mean,
       avg(CASE WHEN g.appointments > s.daily_capacity THEN 1.0 ELSE 0.0 END)
         AS p_over_capacity
FROM grid g LEFT JOIN crm.associate s ON s.associate_id = g.owner_id
GROUP BY g.owner_id, g.day
ORDER BY g.owner_id, g.day
"""


def capacity(con: duckdb.DuckDBPyConnection, worlds: int) -> pd.DataFrame:
    """Per owner and day with follow-ups in some world: the follow-ups, the day's appointments
    once they are added, and the probability that these exceed the owner's daily capacity."""
    return con.execute(_CAPACITY, {"worlds": worlds}).df()


_TIMELINE = """
WITH firsts AS (
    SELECT world, link_id, person_id, min(clicked_at) AS at FROM sim_clicks GROUP BY ALL
),
steps AS (SELECT unnest($hours::INTEGER[]) AS hours),
-- each clicker in the first step their first click comes before, then counted up the steps
-- (one pass over the clickers, not one per step)
bucketed AS (
    SELECT world, link_id, hours, count(*) AS n
    FROM (
        SELECT f.world, f.link_id,
               (SELECT min(s.hours) FROM steps s
                WHERE f.at < $send_at::TIMESTAMP + to_hours(s.hours)) AS hours
        FROM firsts f
    )
    WHERE hours IS NOT NULL
    GROUP BY ALL
),
per_world AS (
    SELECT w.world, l.link_id, s.hours,
           coalesce(sum(b.n) FILTER (WHERE b.hours <= s.hours), 0) AS clickers
    FROM range($worlds) w(world)
    CROSS JOIN (SELECT DISTINCT link_id FROM sim_target) l
    CROSS JOIN steps s
    LEFT JOIN bucketed b ON b.world = w.world AND b.link_id = l.link_id
    GROUP BY ALL
)
SELECT link_id, hours, quantile_cont(clickers, [0.05, 0.25, 0.5, 0.75, 0.95]) AS q
FROM per_world GROUP BY ALL ORDER BY link_id, hours
"""

HOURS = (1, 2, 4, 8, 12, 24, 48, 72, 96, 120, 144, 168, 240, 336)


def timeline(con: duckdb.DuckDBPyConnection, worlds: int, send_at: object) -> pd.DataFrame:
    """Clickers per link by hours after the send: the percentiles over the worlds (fan charts)."""
    frame = con.execute(
        _TIMELINE, {"worlds": worlds, "send_at": send_at, "hours": list(HOURS)}
    ).df()
    for i, name in enumerate(("p05", "p25", "p50", "p75", "p95")):
        frame[name] = frame["q"].map(lambda q, i=i: float(q[i]))
    return frame.drop(columns="q")
