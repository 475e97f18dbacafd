"""Backtests of the click model: do its intervals hold the real counts as often as they say?

Each backtest fits the model on some recipients, simulates others whose clicks are known, and
compares, per *cell* — a mailing's link, overall and per value of each covariate — the real
number of clickers with the simulated distribution: the share of cells whose count falls inside
the central 50% and 90% intervals (coverage), and the mean absolute error of the simulated mean
against that of a plain base-rate model (the link's past click rate times the recipients).

- `hillstrom_backtest`: the Hillstrom campaign, customers split into folds by a hash of their id;
  each fold is predicted from the others, in both mailings.
- `demo_backtest`: the demo company, each sent mailing predicted from the mailings sent before it
  (its own links are new then, the footer links are not).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from linksim.definitions import Definitions
from linksim.simulation import inputs, model

__all__ = ["Backtest", "demo_backtest", "hillstrom_backtest"]

FAR_FUTURE = dt.datetime(9999, 12, 31)
Z90 = 1.6449  # the base-rate model's 90% interval: normal approximation of a binomial


@dataclass(frozen=True)
class Backtest:
    """One backtest: per cell, the real count and the simulated and base-rate predictions."""

    name: str
    cells: pd.DataFrame

    @property
    def coverage50(self) -> float:
        c = self.cells
        return float(((c.observed >= c.p25) & (c.observed <= c.p75)).mean())

    @property
    def coverage90(self) -> float:
        c = self.cells
        return float(((c.observed >= c.p05) & (c.observed <= c.p95)).mean())

    @property
    def base_coverage90(self) -> float:
        c = self.cells
        return float(((c.observed >= c.base_p05) & (c.observed <= c.base_p95)).mean())

    @property
    def mae(self) -> float:
        return float((self.cells["mean"] - self.cells.observed).abs().mean())

    @property
    def base_mae(self) -> float:
        return float((self.cells.base_mean - self.cells.observed).abs().mean())

    def summary(self) -> dict[str, object]:
        """One row of the table in docs/SIMULATION.md."""
        return {
            "backtest": self.name,
            "cells": len(self.cells),
            "coverage 50%": round(self.coverage50, 3),
            "coverage 90%": round(self.coverage90, 3),
            "base-rate coverage 90%": round(self.base_coverage90, 3),
            "mean abs. error": round(self.mae, 2),
            "base-rate mean abs. error": round(self.base_mae, 2),
        }


def hillstrom_backtest(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    *,
    folds: int = 5,
    worlds: int = 400,
    seed: int = 1,
) -> Backtest:
    """Predict each fold of the Hillstrom customers from the other folds (a `linksim demo
    --dataset hillstrom` database)."""
    inputs.build_clicked(con, defs)
    mailings = [r[0] for r in con.execute("SELECT mailing_id FROM mail.mailing").fetchall()]
    frames = []
    for fold in range(folds):
        params = {"mailings": mailings, "salt": seed, "folds": folds, "fold": fold}
        inputs.build_hist(con, "fold_out", params)
        inputs.build_target(con, "fold_in", params)
        frames.append(_cells(con, FAR_FUTURE, worlds, seed + fold, f"fold {fold}"))
    return Backtest("Hillstrom, 5 folds of customers", pd.concat(frames, ignore_index=True))


def demo_backtest(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    *,
    skip: int = 6,
    worlds: int = 400,
    seed: int = 1,
) -> Backtest:
    """Predict each sent mailing of the demo company (after the first ``skip``) from the ones
    sent before it."""
    inputs.build_clicked(con, defs)
    sent = con.execute(
        "SELECT mailing_id, sent_at FROM mail.mailing WHERE sent_at IS NOT NULL ORDER BY sent_at"
    ).fetchall()
    frames = []
    for mailing, sent_at in sent[skip:]:
        params = {"cutoff": sent_at, "mailing": mailing}
        inputs.build_hist(con, "sent_before", params)
        inputs.build_target(con, "mailing", {"mailing": mailing})
        frames.append(_cells(con, sent_at, worlds, seed + mailing, f"mailing {mailing}"))
    return Backtest(
        f"demo company, {len(sent) - skip} mailings each from the earlier ones",
        pd.concat(frames, ignore_index=True),
    )


def _cells(
    con: duckdb.DuckDBPyConnection, cutoff: dt.datetime, worlds: int, seed: int, label: str
) -> pd.DataFrame:
    inputs.build_attributes(con, cutoff)
    model.fit(con)
    model.draw_clickers(con, worlds, seed)
    frame = con.execute(_CELLS_SQL, {"worlds": worlds}).df()
    frame.insert(0, "part", label)
    return frame


# Per cell (a target link, overall and per covariate value): the real count of clickers, the
# simulated quantiles over the worlds, and the base-rate model's mean and 90% interval.
_CELLS_SQL = f"""
WITH cell_of AS (
    SELECT t.opp_no, t.mailing_id, t.link_id, 'all' AS attr, 'all' AS value FROM sim_target t
    UNION ALL
    SELECT t.opp_no, t.mailing_id, t.link_id, a.attr, a.value
    FROM sim_target t JOIN sim_attr a USING (person_id)
),
observed AS (
    SELECT c.mailing_id, c.link_id, c.attr, c.value, count(*) AS n,
           count(k.person_id) AS observed
    FROM cell_of c
    JOIN sim_target t USING (opp_no)
    LEFT JOIN sim_clicked k
      ON k.mailing_id = t.mailing_id AND k.link_id = t.link_id AND k.person_id = t.person_id
    GROUP BY ALL
),
per_world AS (
    SELECT s.world, c.mailing_id, c.link_id, c.attr, c.value, count(*) AS clickers
    FROM sim_clicker s JOIN cell_of c USING (opp_no)
    GROUP BY ALL
),
grid AS (  -- every world, also those where nobody in the cell clicked
    SELECT w.world, o.mailing_id, o.link_id, o.attr, o.value, coalesce(p.clickers, 0) AS clickers
    FROM observed o CROSS JOIN range($worlds) w(world)
    LEFT JOIN per_world p USING (world, mailing_id, link_id, attr, value)
),
simulated AS (
    SELECT mailing_id, link_id, attr, value, avg(clickers) AS mean,
           quantile_disc(clickers, [0.05, 0.25, 0.5, 0.75, 0.95]) AS q
    FROM grid GROUP BY ALL
),
base AS (  -- the link's click rate in the history, else that of all its links
    SELECT t.link_id,
           coalesce((SELECT avg(clicked::INTEGER) FROM sim_hist h WHERE h.link_id = t.link_id),
                    (SELECT avg(clicked::INTEGER) FROM sim_hist)) AS rate
    FROM (SELECT DISTINCT link_id FROM sim_target) t
)
SELECT o.mailing_id, o.link_id, o.attr, o.value, o.n, o.observed, s.mean,
       s.q[1] AS p05, s.q[2] AS p25, s.q[3] AS p50, s.q[4] AS p75, s.q[5] AS p95,
       o.n * b.rate AS base_mean,
       o.n * b.rate - {Z90} * sqrt(o.n * b.rate * (1 - b.rate)) AS base_p05,
       o.n * b.rate + {Z90} * sqrt(o.n * b.rate * (1 - b.rate)) AS base_p95
FROM observed o JOIN simulated s USING (mailing_id, link_id, attr, value)
JOIN base b USING (link_id)
ORDER BY o.mailing_id, o.link_id, o.attr, o.value
"""
