"""Steps from clicks to fired actions: classify, keep the eligible, fire by policy (SPEC §4.1-3).

Decisions that depend on other clicks (earliest click, `link_hits`) look at every eligible click
in the database, in the run's scope or not; only then is the result cut to the scope. That is what
makes any split into batches end in the same state.
"""

from __future__ import annotations

from linksim.engine.pipeline import Step

__all__ = ["CLICK_STEPS"]

CLASSIFIED = Step(
    "classified",
    """
    WITH p AS (SELECT * FROM ls_run_param),
    -- Only the clicks of people who clicked in scope can matter: firing and link_hits are per
    -- person. This keeps a small batch of a long history cheap.
    clicks AS (
        SELECT c.* FROM mail.click c
        WHERE c.person_id IN (
            SELECT s.person_id FROM mail.click s, p
            WHERE s.clicked_at >= p.since AND s.clicked_at < p.until
              AND (p.mailing_id IS NULL OR s.mailing_id = p.mailing_id))
    ),
    burst AS (
        SELECT a.click_id
        FROM clicks a
        JOIN clicks b
          ON b.person_id = a.person_id AND b.mailing_id = a.mailing_id
         AND b.clicked_at > a.clicked_at - INTERVAL 1 SECOND
         AND b.clicked_at < a.clicked_at + INTERVAL 1 SECOND
        GROUP BY a.click_id
        HAVING count(DISTINCT b.link_id) > (SELECT max_links_per_second FROM p)
    )
    SELECT c.click_id, c.mailing_id, c.link_id, c.person_id, c.clicked_at,
           c.clicked_at >= p.since AND c.clicked_at < p.until
             AND (p.mailing_id IS NULL OR c.mailing_id = p.mailing_id) AS in_scope,
           CASE
             WHEN pe.person_id IS NULL THEN 'unknown person'
             WHEN m.mailing_id IS NULL THEN 'unknown mailing'
             WHEN l.link_id IS NULL THEN 'unknown link'
           END AS quarantine_reason,
           CASE
             WHEN NOT p.bot_enabled THEN NULL
             WHEN r.delivered_at IS NOT NULL
              AND c.clicked_at < r.delivered_at + to_seconds(p.min_seconds_after_delivery)
               THEN 'too_soon'
             WHEN c.click_id IN (SELECT click_id FROM burst) THEN 'burst'
           END AS bot_reason
    FROM clicks c
    CROSS JOIN p
    LEFT JOIN mail.recipient r ON r.mailing_id = c.mailing_id AND r.person_id = c.person_id
    LEFT JOIN crm.person pe ON pe.person_id = c.person_id
    LEFT JOIN mail.mailing m ON m.mailing_id = c.mailing_id
    LEFT JOIN mail.link l ON l.link_id = c.link_id
    """,
    "every click of the people who clicked in scope, with scope, bot and quarantine verdicts",
)

ELIGIBLE = Step(
    "eligible",
    """
    SELECT click_id, mailing_id, link_id, person_id, clicked_at, in_scope,
           row_number() OVER (PARTITION BY person_id, link_id ORDER BY clicked_at, click_id)
             AS link_hits
    FROM ls_classified
    WHERE bot_reason IS NULL AND quarantine_reason IS NULL
    """,
    "eligible clicks, with link_hits counted over all of them",
)

FIRED = Step(
    "fired",
    """
    SELECT * EXCLUDE (first_in_mailing, first_ever)
    FROM (
        SELECT e.*, a.action_no, a.action_id, a.type, a.fire,
               row_number() OVER (PARTITION BY a.action_no, e.person_id, e.mailing_id
                                  ORDER BY e.clicked_at, e.click_id) = 1 AS first_in_mailing,
               row_number() OVER (PARTITION BY a.action_no, e.person_id
                                  ORDER BY e.clicked_at, e.click_id) = 1 AS first_ever
        FROM ls_eligible e
        JOIN ls_def_link_action la
          ON la.link_id = e.link_id AND (la.mailing_id IS NULL OR la.mailing_id = e.mailing_id)
        JOIN ls_def_action a ON a.action_no = la.action_no
    )
    WHERE in_scope
      AND (fire = 'every_click'
           OR (fire = 'once_per_mailing' AND first_in_mailing)
           OR (fire = 'once' AND first_ever))
    """,
    "the (click, action) pairs that fire, by firing policy, cut to the run's scope",
)

CLICK_STEPS = (CLASSIFIED, ELIGIBLE, FIRED)
