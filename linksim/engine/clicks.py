"""Steps from clicks to fired actions: classify, keep the eligible, fire by policy (SPEC §4.1-3).

Decisions that depend on other clicks (earliest click, `link_hits`) look at every earlier eligible
click in the database, in the run's scope or not; only then is the result cut to the scope. That is
what makes any split into batches end in the same state. Later clicks never change a decision
(only the burst rule looks one second ahead), so they are not read.
"""

from __future__ import annotations

from linksim.engine.pipeline import Step

__all__ = ["CLICK_STEPS"]

CLASSIFIED = Step(
    "classified",
    """
    WITH p AS (
        SELECT *,
               -- every click is in scope: then keeping the clicks of the people who clicked in
               -- scope would keep them all, and the semi-join below is skipped
               mailing_id IS NULL
                 AND since <= (SELECT min(clicked_at) FROM mail.click)
                 AND until > (SELECT max(clicked_at) FROM mail.click) AS everything
        FROM ls_run_param
    ),
    -- Only the clicks of people who clicked in scope can matter: firing and link_hits are per
    -- person. This keeps a small batch of a long history cheap.
    -- Of those, no click later than the scope decides anything in it (earliest click and
    -- link_hits look back), except the burst rule, which looks one second ahead: so a batch
    -- early in a long history reads only the clicks up to its end.
    clicks AS (
        SELECT c.click_id, c.mailing_id, c.link_id, c.person_id, c.clicked_at
        FROM mail.click c, p
        WHERE (p.everything OR c.person_id IN (
            SELECT s.person_id FROM mail.click s, p
            WHERE NOT p.everything AND s.clicked_at >= p.since AND s.clicked_at < p.until
              AND (p.mailing_id IS NULL OR s.mailing_id = p.mailing_id)))
          AND (p.everything OR c.clicked_at < p.until + INTERVAL 1 SECOND)
    ),
    -- Only a click before its mailing's last delivery (and the margin) can be too soon: the
    -- others skip the join with the recipients, the largest table. No bot filter, no join.
    last_delivery AS (
        SELECT r.mailing_id,
               max(r.delivered_at) + to_seconds(any_value(p.min_seconds_after_delivery))
                 AS until
        FROM mail.recipient r, p
        WHERE p.bot_enabled
        GROUP BY r.mailing_id
    ),
    timed AS (
        SELECT c.*,
               coalesce(c.clicked_at < r.delivered_at + to_seconds(p.min_seconds_after_delivery),
                        false) AS too_soon
        FROM clicks c
        JOIN last_delivery d ON d.mailing_id = c.mailing_id AND c.clicked_at < d.until
        CROSS JOIN p
        LEFT JOIN mail.recipient r ON r.mailing_id = c.mailing_id AND r.person_id = c.person_id
        UNION ALL
        SELECT c.*, false
        FROM clicks c
        LEFT JOIN last_delivery d ON d.mailing_id = c.mailing_id
        WHERE NOT coalesce(c.clicked_at < d.until, false)
    ),
    judged AS MATERIALIZED (
        SELECT c.click_id, c.mailing_id, c.link_id, c.person_id, c.clicked_at,
               c.clicked_at >= p.since AND c.clicked_at < p.until
                 AND (p.mailing_id IS NULL OR c.mailing_id = p.mailing_id) AS in_scope,
               CASE
                 WHEN pe.person_id IS NULL THEN 'unknown person'
                 WHEN m.mailing_id IS NULL THEN 'unknown mailing'
                 WHEN l.link_id IS NULL THEN 'unknown link'
               END AS quarantine_reason,
               p.bot_enabled, c.too_soon
        FROM timed c
        CROSS JOIN p
        LEFT JOIN crm.person pe ON pe.person_id = c.person_id
        LEFT JOIN mail.mailing m ON m.mailing_id = c.mailing_id
        LEFT JOIN mail.link l ON l.link_id = c.link_id
    ),
    -- A burst needs more than max_links_per_second clicks of one (person, mailing), and only
    -- matters for a click that is not too soon already (too_soon is the first verdict): this
    -- cheap aggregate leaves few clicks to the self-join.
    multi AS (
        SELECT person_id, mailing_id
        FROM judged
        WHERE bot_enabled
        GROUP BY person_id, mailing_id
        HAVING count(*) > (SELECT max_links_per_second FROM p) AND bool_or(NOT too_soon)
    ),
    burst AS (
        SELECT a.click_id
        FROM (SELECT * FROM judged WHERE NOT too_soon) a
        SEMI JOIN multi USING (person_id, mailing_id)
        JOIN (SELECT * FROM judged SEMI JOIN multi USING (person_id, mailing_id)) b
          ON b.person_id = a.person_id AND b.mailing_id = a.mailing_id
         AND b.clicked_at > a.clicked_at - INTERVAL 1 SECOND
         AND b.clicked_at < a.clicked_at + INTERVAL 1 SECOND
        GROUP BY a.click_id
        HAVING count(DISTINCT b.link_id) > (SELECT max_links_per_second FROM p)
    )
    SELECT click_id, mailing_id, link_id, person_id, clicked_at, in_scope, quarantine_reason,
           CASE
             WHEN NOT bot_enabled THEN NULL
             WHEN too_soon THEN 'too_soon'
             WHEN click_id IN (SELECT click_id FROM burst) THEN 'burst'
           END AS bot_reason
    FROM judged
    """,
    "every click of the people who clicked in scope, with scope, bot and quarantine verdicts",
)

ELIGIBLE = Step(
    "eligible",
    """
    SELECT click_id, mailing_id, link_id, person_id, clicked_at, in_scope
    FROM ls_classified
    SEMI JOIN ls_def_link_action USING (link_id)
    WHERE bot_reason IS NULL AND quarantine_reason IS NULL
    """,
    "eligible clicks on links that have actions: all that firing and link_hits look at",
)

# (clicked_at, click_id) as one HUGEINT, ordered like the pair: "earliest" is its minimum.
CLICK_CLOCK = "epoch_us({t})::HUGEINT * 18446744073709551616::HUGEINT + {c}"

FIRED = Step(
    "fired",
    f"""
    WITH matched AS NOT MATERIALIZED (
        SELECT e.*, a.action_no, a.action_id, a.type, a.fire
        FROM ls_eligible e
        JOIN ls_def_link_action la
          ON la.link_id = e.link_id AND (la.mailing_id IS NULL OR la.mailing_id = e.mailing_id)
        JOIN ls_def_action a ON a.action_no = la.action_no
    ),
    -- once_per_mailing / once: the earliest matching eligible click per (action, person,
    -- mailing) / (action, person), in scope or not; a hash aggregate, not a sort
    firsts AS (
        SELECT f.first.click_id, f.first.mailing_id, f.first.link_id, f.first.person_id,
               f.first.clicked_at, f.first.in_scope, a.action_no, a.action_id, a.type, a.fire
        FROM (
            SELECT action_no,
                   arg_min(struct_pack(click_id, mailing_id, link_id, person_id, clicked_at,
                                       in_scope),
                           {CLICK_CLOCK.format(t="clicked_at", c="click_id")}) AS first
            FROM matched
            WHERE fire IN ('once_per_mailing', 'once')
            GROUP BY action_no, person_id,
                     CASE WHEN fire = 'once_per_mailing' THEN mailing_id END
        ) f
        JOIN ls_def_action a ON a.action_no = f.action_no
    ),
    fired AS (
        SELECT * FROM matched WHERE fire = 'every_click' AND in_scope
        UNION ALL
        SELECT * FROM firsts WHERE in_scope
    ),
    -- link_hits is read only by templates with {{link_hits}} and by scripts: count it on the
    -- links of those actions only, over all their eligible clicks
    needs AS (
        SELECT action_no FROM ls_def_template WHERE placeholder = 'link_hits'
        UNION SELECT action_no FROM ls_def_script
    ),
    hits AS (
        SELECT click_id,
               row_number() OVER (PARTITION BY person_id, link_id ORDER BY clicked_at, click_id)
                 AS link_hits
        FROM ls_eligible
        WHERE link_id IN (SELECT link_id FROM ls_def_link_action SEMI JOIN needs USING (action_no))
    )
    SELECT f.click_id, f.mailing_id, f.link_id, f.person_id, f.clicked_at, f.in_scope,
           CASE WHEN f.action_no IN (SELECT action_no FROM needs) THEN h.link_hits END
             AS link_hits,
           f.action_no, f.action_id, f.type, f.fire
    FROM fired f
    LEFT JOIN hits h USING (click_id)
    """,
    "the (click, action) pairs that fire, by firing policy, cut to the run's scope",
)

CLICK_STEPS = (CLASSIFIED, ELIGIBLE, FIRED)
