"""The click model: how likely each recipient is to click each link, learned from history in SQL.

A recipient ``r`` clicks link ``l`` of a mailing at least once with probability

    p = min(MAX_P, rate(l) * theta(cell of r) * own(r))

- ``rate(l)``: the link's click rate for a person of average propensity. Past mailings give one
  rate per (link, mailing); a link seen before is drawn around the mean of its past rates, with
  their spread between mailings (estimated by the method of moments, less the counting noise)
  and the uncertainty of that mean; a new link is drawn from the spread of the rates that links
  seen in one mailing only had. For held-out recipients of a mailing already in the history, the
  mailing's own rate is used, with its counting uncertainty.
- ``theta``: a multiplicative effect per value of each person and contact attribute
  (``inputs.py``), fitted by backfitting a Poisson model with the (link, mailing) rates and
  shrunk toward no effect by ``SHRINK`` pseudo-clicks. The ``NOISE_ATTRS`` attributes whose
  uncertainty moves the total most (and any asked for) are drawn per world from their standard
  errors; the others stay at their estimates.
- ``own``: the person's own history against what the attributes predict, shrunk empirical-Bayes
  style (a gamma prior whose strength comes from the spread between persons): ``(k + a) / (m +
  a)`` for ``k`` links clicked where ``m`` were expected.

Each simulated world draws the link rates and those attribute effects afresh, then every
recipient's clicks: the intervals hold the uncertainty of the rates, not only coin-flip noise.

Relations read (temporary tables on the connection): ``sim_hist`` (mailing_id, link_id,
person_id, clicked) — one row per delivered recipient and link of a past mailing; ``sim_target``
(opp_no, mailing_id, link_id, person_id) — the planned opportunities, ``opp_no`` dense from 0;
``sim_attr`` (person_id, attr, value) for every person of both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from linksim._rng import Rng
from linksim.store.query import fetch_one, run

__all__ = ["MAX_P", "SHRINK", "FittedModel", "draw_clickers", "fit"]

MAX_P = 0.95  # nobody clicks a link for sure
SHRINK = 20.0  # pseudo-clicks pulling an attribute effect toward none
NOISE_ATTRS = 3  # attributes whose effects each world draws anew (see _NOISE_ATTRS)
PASSES = 5  # backfitting passes: the effects move by well under 1% after four on the demo
HALF = 0.5  # pseudo-count keeping the log of a rate with no click finite

# streams of `Rng` for the simulation's draws
LINK_STREAM, EFFECT_STREAM, CLICK_STREAM = 11, 12, 13


@dataclass(frozen=True)
class FittedModel:
    """What the fit found, for reports; the fitted relations stay on the connection."""

    opportunities: int
    clicked: int
    attributes: tuple[str, ...]
    dispersion: float  # 1 / a: the spread of persons' own propensity beyond their attributes
    new_link_log_rate: float
    new_link_sd: float


def fit(con: duckdb.DuckDBPyConnection, keep: Sequence[str] = ()) -> FittedModel:
    """Fit the model on ``sim_hist`` and ``sim_attr``; prepare the draws for ``sim_target``.

    ``keep``: attributes whose effects are drawn per world in any case (e.g. the one results
    are broken down by), besides the `NOISE_ATTRS` that matter most.
    """
    run(con, _PERSONS)
    run(con, _EFFECTS_INIT)
    attrs = [  # the covariates (a dozen): backfitting updates one at a time, each in SQL
        row[0] for row in con.execute("SELECT DISTINCT attr FROM sim_attr ORDER BY attr").fetchall()
    ]
    for _ in range(PASSES):
        run(con, _LINK_MAILING_RATES)
        run(con, _EXPECTED)
        for attr in attrs:
            run(con, _UPDATE_EFFECT[0], {"attr": attr, "shrink": SHRINK})
            for statement in _UPDATE_EFFECT[1:]:
                run(con, statement, {"attr": attr})
    run(con, _LINK_MAILING_RATES)
    run(con, _EXPECTED)
    run(con, _DISPERSION)
    run(con, _TARGET_LINKS)
    run(con, _NOISE_ATTRS, {"most": NOISE_ATTRS, "keep": list(keep)})
    run(con, _TARGET_PERSONS)
    row = fetch_one(
        con,
        "SELECT (SELECT count(*) FROM sim_hist), (SELECT count(*) FROM sim_hist WHERE clicked),"
        " (SELECT phi FROM sim_dispersion), (SELECT mu FROM sim_new_link),"
        " (SELECT sd FROM sim_new_link)",
    )
    assert row is not None
    return FittedModel(
        int(row[0]), int(row[1] or 0), tuple(attrs), float(row[2]), float(row[3]), float(row[4])
    )


def draw_clickers(con: duckdb.DuckDBPyConnection, worlds: int, seed: int) -> None:
    """``sim_clicker`` (world, opp_no, mailing_id, link_id, person_id): who clicks in each world.

    Worlds are numbered from 0; each draws the link rates and attribute effects, then every
    opportunity of ``sim_target`` once.
    """
    rng = Rng(seed)
    n = fetch_one(con, "SELECT count(*) FROM sim_target")
    assert n is not None
    # Per world, link and cell: the link's rate times the drawn noise of the cell's effects
    # (their estimates are in each person's factor already).
    run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE sim_world_rate AS
        WITH links AS (
            SELECT w.world, l.link_id, l.mailing_id,
                   exp(l.mu + l.sd * {rng.normal("w.world * 100003 + l.link_no", LINK_STREAM)})
                     AS rate
            FROM range($worlds) w(world), sim_target_link l
        ),
        cells AS (
            SELECT w.world, c.cell_no,
                   exp(coalesce(sum(e.se * {
            rng.normal("w.world * 1000003 + e.effect_no", EFFECT_STREAM)
        }), 0)) AS noise
            FROM range($worlds) w(world)
            CROSS JOIN (SELECT DISTINCT cell_no FROM sim_target_person) c
            LEFT JOIN sim_cell_value v USING (cell_no)
            LEFT JOIN sim_effect e ON e.attr = v.attr AND e.value = v.value
            GROUP BY w.world, c.cell_no
        )
        SELECT l.link_id, l.mailing_id, c.cell_no, l.world, l.rate * c.noise AS rate
        FROM links l JOIN cells c USING (world)
        """,
        {"worlds": worlds},
    )
    # One hash join: each opportunity meets its (link, cell)'s rate in every world.
    run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE sim_clicker AS
        SELECT r.world, t.opp_no, t.mailing_id, t.link_id, t.person_id
        FROM sim_target_opp t
        JOIN sim_world_rate r USING (link_id, mailing_id, cell_no)
        WHERE {rng.u(f"r.world * {int(n[0])} + t.opp_no", CLICK_STREAM)}
              < least({MAX_P}, r.rate * t.factor)
        """,
    )


# Persons of the history: clicks and opportunities; everyone starts with no effect.
_PERSONS = """
CREATE OR REPLACE TEMP TABLE sim_person AS
SELECT person_id, count(*) FILTER (WHERE clicked) AS k, 0.0::DOUBLE AS log_theta
FROM sim_hist GROUP BY person_id
"""

_EFFECTS_INIT = """
CREATE OR REPLACE TEMP TABLE sim_effect AS
SELECT row_number() OVER (ORDER BY attr, value) - 1 AS effect_no, attr, value,
       0.0::DOUBLE AS beta, 0.0::DOUBLE AS se
FROM (SELECT DISTINCT attr, value FROM sim_attr)
"""

# Per (link, mailing): the rate for a person of average propensity, given the current effects.
_LINK_MAILING_RATES = """
CREATE OR REPLACE TEMP TABLE sim_link_mailing AS
SELECT h.link_id, h.mailing_id, count(*) AS n, count(*) FILTER (WHERE h.clicked) AS k,
       sum(exp(p.log_theta)) AS exposure,
       (count(*) FILTER (WHERE h.clicked) + 0.5) / (sum(exp(p.log_theta)) + 1.0) AS rate
FROM sim_hist h JOIN sim_person p USING (person_id)
GROUP BY h.link_id, h.mailing_id
"""

# What the (link, mailing) rates expect of each person at no effect: once per pass.
_EXPECTED = """
CREATE OR REPLACE TEMP TABLE sim_expected AS
SELECT h.person_id, sum(r.rate) AS e
FROM sim_hist h JOIN sim_link_mailing r USING (link_id, mailing_id)
GROUP BY h.person_id
"""

# One backfitting step: the effect of each value of $attr, from the clicks of its persons and
# what the rest of the model expects of them; shrunk toward none; then the persons' log_theta.
_UPDATE_EFFECT = (
    """
    CREATE OR REPLACE TEMP TABLE sim_step AS
    WITH per_value AS (
        SELECT a.value, sum(p.k) AS k,
               sum(x.e * exp(p.log_theta - coalesce(e.beta, 0))) AS m
        FROM sim_person p
        JOIN sim_expected x USING (person_id)
        JOIN sim_attr a ON a.person_id = p.person_id AND a.attr = $attr
        LEFT JOIN sim_effect e ON e.attr = a.attr AND e.value = a.value
        GROUP BY a.value
    )
    SELECT value, ln((k + $shrink) / (m + $shrink)) AS beta, sqrt(1.0 / (k + $shrink)) AS se
    FROM per_value
    """,
    """
    UPDATE sim_person p
    SET log_theta = p.log_theta - coalesce(old.beta, 0) + coalesce(new.beta, 0)
    FROM sim_attr a
    LEFT JOIN sim_effect old ON old.attr = a.attr AND old.value = a.value
    LEFT JOIN sim_step new ON new.value = a.value
    WHERE a.person_id = p.person_id AND a.attr = $attr
    """,
    """
    UPDATE sim_effect e SET beta = s.beta, se = s.se
    FROM sim_step s WHERE e.attr = $attr AND e.value = s.value
    """,
)

# How much persons differ beyond their attributes: phi = 1 / a of a gamma prior, by moments.
_DISPERSION = """
CREATE OR REPLACE TEMP TABLE sim_dispersion AS
SELECT greatest(0.0, coalesce(sum((p.k - x.e * exp(p.log_theta)) ^ 2 - p.k)
                              / nullif(sum((x.e * exp(p.log_theta)) ^ 2), 0), 0.0)) AS phi
FROM sim_person p JOIN sim_expected x USING (person_id)
"""

# The rate each target link is drawn from, on the log scale: mean and standard deviation.
_TARGET_LINKS = """
CREATE OR REPLACE TEMP TABLE sim_new_link AS
WITH one_off AS (
    SELECT ln(rate) AS r, 1.0 / (k + 0.5) AS noise FROM sim_link_mailing
    WHERE link_id IN (SELECT link_id FROM sim_link_mailing GROUP BY link_id HAVING count(*) = 1)
),
pool AS (SELECT * FROM one_off UNION ALL
         SELECT ln(rate), 1.0 / (k + 0.5) FROM sim_link_mailing
         WHERE NOT EXISTS (SELECT 1 FROM one_off))
SELECT coalesce(avg(r), ln(0.01)) AS mu,
       sqrt(coalesce(greatest(var_samp(r) - avg(noise), 0.0), 0.0) + coalesce(avg(noise), 1.0))
         AS sd
FROM pool;

CREATE OR REPLACE TEMP TABLE sim_target_link AS
WITH links AS (
    SELECT link_id, count(*) AS j, avg(ln(rate)) AS mean, var_samp(ln(rate)) AS spread,
           avg(1.0 / (k + 0.5)) AS noise
    FROM sim_link_mailing GROUP BY link_id
),
pooled AS (  -- the spread between mailings of links seen in three or more
    SELECT coalesce(avg(greatest(spread - noise, 0.0)), (SELECT sd ^ 2 FROM sim_new_link))
             AS tau2
    FROM links WHERE j >= 3
),
wanted AS (SELECT DISTINCT link_id, mailing_id FROM sim_target)
SELECT row_number() OVER (ORDER BY w.link_id, w.mailing_id) AS link_no, w.link_id, w.mailing_id,
       CASE WHEN same.rate IS NOT NULL THEN ln(same.rate)
            WHEN l.link_id IS NOT NULL THEN l.mean
            ELSE (SELECT mu FROM sim_new_link) END AS mu,
       CASE WHEN same.rate IS NOT NULL THEN sqrt(1.0 / (same.k + 0.5))
            WHEN l.link_id IS NOT NULL THEN sqrt(
                (CASE WHEN l.j >= 3 THEN greatest(l.spread - l.noise, 0.0)
                      ELSE (SELECT tau2 FROM pooled) END) * (1 + 1.0 / l.j)
                + l.noise / l.j)
            ELSE (SELECT sd FROM sim_new_link) END AS sd
FROM wanted w
LEFT JOIN sim_link_mailing same ON same.link_id = w.link_id AND same.mailing_id = w.mailing_id
LEFT JOIN links l ON l.link_id = w.link_id
"""

# The attributes whose effects are drawn per world: those whose uncertainty moves the total most
# (the variance of the log of the expected clicks it adds: sum over values of (share * se)^2),
# and the ones asked for. The others stay at their estimates: drawing every attribute would make
# nearly every person a cell of their own.
_NOISE_ATTRS = """
CREATE OR REPLACE TEMP TABLE sim_noise_attr AS
WITH weight AS (
    SELECT attr, value, n / sum(n) OVER (PARTITION BY attr) AS share
    FROM (SELECT a.attr, a.value, count(*) AS n FROM sim_attr a
          WHERE a.person_id IN (SELECT person_id FROM sim_target) GROUP BY ALL)
),
score AS (
    SELECT w.attr, sum((w.share * e.se) ^ 2) AS variance
    FROM weight w JOIN sim_effect e USING (attr, value)
    GROUP BY w.attr
)
SELECT attr FROM score
WHERE attr IN (SELECT unnest($keep::VARCHAR[]))
   OR attr IN (SELECT attr FROM score ORDER BY variance DESC, attr LIMIT $most)
"""

# Target persons: their factor (every attribute's estimated effect, and their own shrunk
# propensity) and their cell (the values of the noise attributes); and the target
# opportunities with both.
_TARGET_PERSONS = """
CREATE OR REPLACE TEMP TABLE sim_target_person AS
WITH persons AS (SELECT DISTINCT person_id FROM sim_target),
effects AS (
    SELECT p.person_id, sum(coalesce(e.beta, 0)) AS log_theta,
           list(struct_pack(attr := a.attr, value := a.value) ORDER BY a.attr)
             FILTER (WHERE a.attr IN (SELECT attr FROM sim_noise_attr)) AS cell
    FROM persons p
    LEFT JOIN sim_attr a USING (person_id)
    LEFT JOIN sim_effect e ON e.attr = a.attr AND e.value = a.value
    GROUP BY p.person_id
),
own AS (
    SELECT p.person_id, p.k, x.e * exp(p.log_theta) AS mu
    FROM sim_person p JOIN sim_expected x USING (person_id)
    WHERE p.person_id IN (SELECT person_id FROM persons)
)
SELECT f.person_id, dense_rank() OVER (ORDER BY f.cell) - 1 AS cell_no, f.cell,
       exp(f.log_theta) * CASE WHEN o.person_id IS NULL OR d.phi = 0 THEN 1.0
                               ELSE (o.k + 1.0 / d.phi) / (o.mu + 1.0 / d.phi) END AS factor
FROM effects f LEFT JOIN own o USING (person_id), sim_dispersion d;

CREATE OR REPLACE TEMP TABLE sim_cell_value AS
SELECT DISTINCT cell_no, v.attr, v.value
FROM (SELECT DISTINCT cell_no, unnest(cell) AS v FROM sim_target_person)
WHERE v.attr IS NOT NULL;

CREATE OR REPLACE TEMP TABLE sim_target_opp AS
SELECT t.opp_no, t.mailing_id, t.link_id, t.person_id, p.cell_no, p.factor
FROM sim_target t JOIN sim_target_person p USING (person_id)
"""
