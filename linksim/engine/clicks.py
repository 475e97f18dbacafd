"""Steps from clicks to fired actions: classify, keep the eligible, fire by policy (SPEC §4.1-3).

Decisions that depend on other clicks (earliest click, `link_hits`) look at every earlier eligible
click in the database, in the run's scope or not; only then is the result cut to the scope. That is
what makes any split into batches end in the same state. Later clicks never change a decision
(only the burst rule looks one second ahead), so they are not read.
"""

from __future__ import annotations

from linksim.engine.pipeline import Step

__all__ = ["BOT_REASONS", "CLICK_STEPS", "IPV4_OCTET", "IP_MACROS"]

BOT_REASONS = ("user_agent", "ip_range", "too_soon", "burst")
"""The bot rules, in the order a click's `bot_reason` names the first that caught it."""

# A click's address as a 128-bit number, IPv4 mapped into IPv6 (::ffff:a.b.c.d), so that one
# range join against `ls_def_bot_range` (bounds from linksim.bots.ip_bounds) serves both
# families. Written as 32 hex digits: text compares as the numbers do, and every engine has text
# (Spark has no 128-bit integer). Anything that is not an address gives NULL. Pure SQL: no
# extension to download.


def _let(name: str, value: str, body: str) -> str:
    """DuckDB SQL: ``body`` with ``name`` bound to ``value``, by a lambda.

    A macro pastes its argument wherever its body names it, so macros that call each other
    several times grow an expression of thousands of nodes: binding `ls_ip_number` so took
    0.1-0.3 s in every run, more than the rest of a small apply. A lambda's parameter is a
    name instead (as in linksim.spark.dialect).

    >>> _let("x", "1 + 1", "x * x")
    'list_transform([1 + 1], lambda x: x * x)[1]'
    """
    return f"list_transform([{value}], lambda {name}: {body})[1]"


# one number of a dotted IPv4 address, 0-255 without leading zeros (the Spark body too)
IPV4_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = (
    f"CASE WHEN regexp_full_match({{s}}, '({IPV4_OCTET}[.]){{{{3}}}}{IPV4_OCTET}')"
    " THEN list_reduce(list_transform(string_split({s}, '.'), lambda x: x::UHUGEINT),"
    " lambda a, b: a * 256 + b) END"
)
# the groups between colons ('' has none)
_GROUPS = "CASE WHEN {s} = '' THEN [] ELSE string_split({s}, ':') END"
# s: the address in lower case. A dotted IPv4 tail (::ffff:192.0.2.1) becomes its two hex
# groups; '::' stands for as many zero groups as make eight; then eight groups of 1-4 digits
_IPV6 = _let(
    "h",
    "CASE WHEN s LIKE '%.%' THEN regexp_replace(s, '[^:]*$', '') || "
    + _let(
        "v4",
        _IPV4.format(s="regexp_extract(s, '[^:]*$')"),
        "printf('%x:%x', v4 // 65536, v4 % 65536)",
    )
    + " ELSE s END",
    _let(
        "halves",
        "string_split(h, '::')",
        _let(
            "g",
            "CASE len(halves) WHEN 1 THEN "
            + _GROUPS.format(s="h")
            + " WHEN 2 THEN "
            + _let(
                "l",
                _GROUPS.format(s="halves[1]"),
                _let(
                    "r",
                    _GROUPS.format(s="halves[2]"),
                    "CASE WHEN len(l) + len(r) < 8 THEN list_concat(l, "
                    "list_transform(range(8 - len(l) - len(r)), lambda x: '0'), r) END",
                ),
            )
            + " END",
            "CASE WHEN len(g) = 8 AND list_bool_and(list_transform(g, "
            "lambda x: regexp_full_match(x, '[0-9a-f]{1,4}'))) "
            "THEN array_to_string(list_transform(g, lambda x: lpad(x, 4, '0')), '') END",
        ),
    ),
)
IP_MACROS = (
    f"""
    CREATE OR REPLACE TEMP MACRO ls_ip_number(ip) AS CASE
      WHEN trim(ip) LIKE '%:%' THEN {_let("s", "lower(trim(ip))", _IPV6)}
      ELSE '00000000000000000000ffff' || printf('%08x', {_IPV4.format(s="trim(ip)")})
    END
    """,
)

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
        SELECT c.click_id, c.mailing_id, c.link_id, c.person_id, c.clicked_at, c.user_agent,
               c.ip
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
    -- The bot rules in their order (BOT_REASONS): a click caught by one is not tried on the
    -- later ones, which cost more. User agents and addresses are matched once per distinct
    -- value; the first pattern or range in the list wins (the file's own before the defaults),
    -- by its number.
    agents AS (
        SELECT u.user_agent, min(a.pattern_no) AS pattern_no
        FROM (SELECT DISTINCT user_agent FROM clicks WHERE user_agent IS NOT NULL) u
        JOIN ls_def_bot_agent a ON contains(lower(u.user_agent), a.pattern)
        GROUP BY u.user_agent
    ),
    -- not materialized: copying every click's address costs more than joining twice
    by_agent AS NOT MATERIALIZED (
        SELECT c.click_id, c.mailing_id, c.link_id, c.person_id, c.clicked_at, c.ip,
               ag.pattern_no
        FROM clicks c
        LEFT JOIN agents ag ON ag.user_agent = c.user_agent
    ),
    addresses AS (
        SELECT i.ip, min(r.range_no) AS range_no
        FROM (SELECT ip, ls_ip_number(ip) AS n
              FROM (SELECT DISTINCT ip FROM by_agent WHERE ip IS NOT NULL AND pattern_no IS NULL) d
              -- a sieve before the parse: an IPv4 address whose first number starts no range
              -- is in none (most addresses are in none)
              WHERE contains(d.ip, ':')
                 OR TRY_CAST(split_part(trim(d.ip), '.', 1) AS INTEGER)
                      IN (SELECT octet FROM ls_def_bot_octet)) i
        JOIN ls_def_bot_range r ON i.n BETWEEN r.lo AND r.hi
        GROUP BY i.ip
    ),
    by_address AS (
        SELECT c.click_id, c.mailing_id, c.link_id, c.person_id, c.clicked_at, c.pattern_no,
               ad.range_no, c.pattern_no IS NULL AND ad.range_no IS NULL AS unjudged
        FROM by_agent c
        LEFT JOIN addresses ad ON ad.ip = c.ip AND c.pattern_no IS NULL
    ),
    -- a click no rule caught yet, before its mailing's last delivery, against its delivery
    timed AS (
        SELECT c.*,
               coalesce(c.clicked_at < r.delivered_at + to_seconds(p.min_seconds_after_delivery),
                        false) AS too_soon,
               CASE WHEN c.clicked_at < r.delivered_at
                                        + to_seconds(p.min_seconds_after_delivery)
                    THEN epoch(c.clicked_at - r.delivered_at) END AS after_delivery
        FROM by_address c
        JOIN last_delivery d ON d.mailing_id = c.mailing_id AND c.clicked_at < d.until
        CROSS JOIN p
        LEFT JOIN mail.recipient r ON r.mailing_id = c.mailing_id AND r.person_id = c.person_id
        WHERE c.unjudged
        UNION ALL
        SELECT c.*, false, NULL
        FROM by_address c
        LEFT JOIN last_delivery d ON d.mailing_id = c.mailing_id
        WHERE NOT (c.unjudged AND coalesce(c.clicked_at < d.until, false))
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
               p.bot_enabled, c.unjudged AND NOT c.too_soon AS unjudged, c.too_soon,
               c.after_delivery, c.pattern_no, c.range_no
        FROM timed c
        CROSS JOIN p
        LEFT JOIN crm.person pe ON pe.person_id = c.person_id
        LEFT JOIN mail.mailing m ON m.mailing_id = c.mailing_id
        LEFT JOIN mail.link l ON l.link_id = c.link_id
    ),
    -- A burst needs more than max_links_per_second clicks of one (person, mailing), and only
    -- matters for a click no earlier rule caught: this cheap aggregate leaves few clicks to
    -- the self-join.
    multi AS (
        SELECT person_id, mailing_id
        FROM judged
        WHERE bot_enabled
        GROUP BY person_id, mailing_id
        HAVING count(*) > (SELECT max_links_per_second FROM p) AND bool_or(unjudged)
    ),
    burst AS (
        SELECT a.click_id, count(DISTINCT b.link_id) AS links
        FROM (SELECT * FROM judged WHERE unjudged) a
        SEMI JOIN multi USING (person_id, mailing_id)
        JOIN (SELECT * FROM judged SEMI JOIN multi USING (person_id, mailing_id)) b
          ON b.person_id = a.person_id AND b.mailing_id = a.mailing_id
         AND b.clicked_at > a.clicked_at - INTERVAL 1 SECOND
         AND b.clicked_at < a.clicked_at + INTERVAL 1 SECOND
        GROUP BY a.click_id
        HAVING count(DISTINCT b.link_id) > (SELECT max_links_per_second FROM p)
    )
    SELECT j.click_id, j.mailing_id, j.link_id, j.person_id, j.clicked_at, j.in_scope,
           j.quarantine_reason,
           CASE
             WHEN NOT j.bot_enabled THEN NULL
             WHEN j.pattern_no IS NOT NULL THEN 'user_agent'
             WHEN j.range_no IS NOT NULL THEN 'ip_range'
             WHEN j.too_soon THEN 'too_soon'
             WHEN b.click_id IS NOT NULL THEN 'burst'
           END AS bot_reason,
           CASE
             WHEN NOT j.bot_enabled THEN NULL
             WHEN j.pattern_no IS NOT NULL THEN 'user agent contains "' || ba.pattern || '"'
             WHEN j.range_no IS NOT NULL THEN 'address in ' || br.cidr || ' (' || br.vendor || ')'
             WHEN j.too_soon THEN round(j.after_delivery, 1) || ' s after delivery'
             WHEN b.click_id IS NOT NULL THEN b.links || ' links within a second'
           END AS bot_detail
    FROM judged j
    LEFT JOIN burst b USING (click_id)
    -- the rules' text only here: the steps above carry their numbers
    LEFT JOIN ls_def_bot_agent ba ON ba.pattern_no = j.pattern_no
    LEFT JOIN ls_def_bot_range br ON br.range_no = j.range_no
    """,
    "every click of the people who clicked in scope, with scope, bot and quarantine verdicts "
    "(the first bot rule that caught it, in the order of BOT_REASONS, and the evidence)",
)

ELIGIBLE = Step(
    "eligible",
    """
    WITH e AS (
        SELECT click_id, mailing_id, link_id, person_id, clicked_at, in_scope
        FROM ls_classified
        SEMI JOIN ls_def_link_action USING (link_id)
        WHERE bot_reason IS NULL AND quarantine_reason IS NULL
    ),
    -- require: confirmed. A click is confirmed by the person's next eligible click in the same
    -- mailing (on any link) at least confirm_after_seconds later. It only looks back from the
    -- confirming click, so a batch decides it without later clicks. Only the clicks on links
    -- of such actions need it, and only their (person, mailing) can confirm one.
    waiting AS (
        SELECT click_id, mailing_id, link_id, person_id, clicked_at
        FROM e
        WHERE link_id IN (SELECT la.link_id FROM ls_def_link_action la
                          JOIN ls_def_action a ON a.action_no = la.action_no
                          WHERE a.require = 'confirmed')
    ),
    later AS (
        SELECT c.person_id, c.mailing_id, c.clicked_at,
               c.clicked_at - to_seconds(p.confirm_after_seconds) AS reach
        FROM ls_classified c
        SEMI JOIN (SELECT DISTINCT person_id, mailing_id FROM waiting) w
          USING (person_id, mailing_id)
        CROSS JOIN ls_run_param p
        WHERE c.bot_reason IS NULL AND c.quarantine_reason IS NULL
    ),
    -- The first confirming click of each click: in one time line per person and mailing, a
    -- click at its time and each possible confirmation at its reach (after the clicks of the
    -- same instant); the earliest confirmation at or after the click is the minimum ahead.
    -- (An "as of" join in effect, written with a window, which every engine has.)
    marks AS (
        SELECT person_id, mailing_id, clicked_at AS t, 0 AS side, click_id,
               NULL::TIMESTAMP AS confirms_at
        FROM waiting
        UNION ALL
        SELECT person_id, mailing_id, reach, 1, NULL, clicked_at
        FROM later
    ),
    confirmation AS (
        SELECT click_id, confirmed_at
        FROM (
            SELECT click_id, side,
                   min(confirms_at) OVER (PARTITION BY person_id, mailing_id ORDER BY t, side
                                          ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
                     AS confirmed_at
            FROM marks
        )
        WHERE side = 0
    )
    SELECT e.*, d.confirmed_at,
           coalesce(d.confirmed_at >= p.since AND d.confirmed_at < p.until
                      AND (p.mailing_id IS NULL OR e.mailing_id = p.mailing_id), false)
             AS confirmed_in_scope,
           coalesce(d.confirmed_at < p.until, false) AS confirmed_by_until
    FROM e
    LEFT JOIN confirmation d USING (click_id)
    CROSS JOIN ls_run_param p
    """,
    "eligible clicks on links that have actions (all that firing and link_hits look at), with "
    "when each was confirmed",
)

# (clicked_at, click_id) as one HUGEINT, ordered like the pair: "earliest" is its minimum.
CLICK_CLOCK = "epoch_us({t})::HUGEINT * 18446744073709551616::HUGEINT + {c}"

FIRED = Step(
    "fired",
    f"""
    -- an action that requires confirmation fires for confirmed clicks only, in the batch
    -- where the confirmation arrives (in_scope then means: confirmed in scope)
    WITH matched AS NOT MATERIALIZED (
        SELECT e.click_id, e.mailing_id, e.link_id, e.person_id, e.clicked_at,
               CASE
                 -- uncut (for the reversal): every pair that fires by the end of the scope
                 WHEN p.uncut AND a.require = 'confirmed' THEN e.confirmed_by_until
                 WHEN p.uncut THEN e.clicked_at < p.until
                 WHEN a.require = 'confirmed' THEN e.confirmed_in_scope
                 ELSE e.in_scope
               END AS in_scope,
               a.action_no, a.action_id, a.type, a.fire
        FROM ls_eligible e
        CROSS JOIN ls_run_param p
        JOIN ls_def_link_action la
          ON la.link_id = e.link_id AND (la.mailing_id IS NULL OR la.mailing_id = e.mailing_id)
        JOIN ls_def_action a ON a.action_no = la.action_no
        WHERE a.require = 'eligible' OR e.confirmed_at IS NOT NULL
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
    -- only the pairs that read link_hits are joined to it: millions of pairs, few of them
    SELECT f.click_id, f.mailing_id, f.link_id, f.person_id, f.clicked_at, f.in_scope,
           NULL::BIGINT AS link_hits, f.action_no, f.action_id, f.type, f.fire
    FROM fired f
    WHERE f.action_no NOT IN (SELECT action_no FROM needs)
    UNION ALL
    SELECT f.click_id, f.mailing_id, f.link_id, f.person_id, f.clicked_at, f.in_scope,
           h.link_hits, f.action_no, f.action_id, f.type, f.fire
    FROM fired f
    LEFT JOIN hits h USING (click_id)
    WHERE f.action_no IN (SELECT action_no FROM needs)
    """,
    "the (click, action) pairs that fire, by firing policy, cut to the run's scope",
)

CLICK_STEPS = (CLASSIFIED, ELIGIBLE, FIRED)
