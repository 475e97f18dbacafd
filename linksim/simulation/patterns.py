"""Patterns of clicks: what goes through the engine once for every world that drew it.

Most of what a click does depends only on which links the person clicked, in which order:
fields and memberships (the last writer wins), tickets and script calls fired once per mailing
or once ever. Those actions (``split``) go through the engine once per distinct pattern, a
person's sequence of links in a world, in the person's k-th pattern world (``runs + k``). The
others go through per world: a follow-up's day and owner's capacity depend on when and on the
other clickers, a contact-wide interest on the contact's other persons, a confirmation on the
wait, an every-click ticket or script on every click.

In a sequence, a link keeps only its first and last click: the first fires `once` actions, the
last wins every target its every-click actions write, and no click in between can win one.

Only the order of the clicks, not their times, reaches the pattern (its clicks are a second
apart). So sharing needs every stored clock and past click that could meet them to be older
than the send: ``LATE`` finds one that is not (a send time in the past), and then every world
goes through as drawn.

>>> from linksim import parse_definitions
>>> defs = parse_definitions({"version": 1, "links": [{"link": 1, "actions": [
...     {"id": "hot", "type": "selection", "add": ["Hot leads"]},
...     {"id": "ticket", "type": "request", "title": "Call", "priority": "high",
...      "category": "Sales", "owner": "unassigned", "fire": "every_click"}]}]})
>>> [[a.id for entry in half.links for a in entry.actions] for half in split(defs)]
[['ticket'], ['hot']]
"""

from __future__ import annotations

from linksim.definitions import Action, Definitions
from linksim.definitions.state import InterestAction, ProjectAction, SelectionAction, SetFieldAction
from linksim.engine.write import MEMBERSHIPS

__all__ = ["ALL_CLICKS", "COLLECT", "LATE", "OUTPUT", "TOTALS", "engine_clicks", "split"]

STATE_ACTIONS = (InterestAction, SelectionAction, ProjectAction, SetFieldAction)


def per_world(action: Action) -> bool:
    """Whether what ``action`` does in a world can depend on the clicks' times or on other
    persons, so that it must go through the engine per world."""
    return (
        action.type == "follow_up"
        or action.require == "confirmed"
        or (action.type in ("script", "request") and action.fire == "every_click")
        or getattr(action, "scope", "person") == "contact"
    )


def split(defs: Definitions) -> tuple[Definitions, Definitions]:
    """``defs`` as two: the actions that go through per world, and the others, per pattern.

    Firing is decided per action, so each half fires what it would among all of them; state
    actions decide their targets together (the last writer wins), so they stay together.
    """
    actions = [a for entry in defs.links for a in entry.actions]
    world = {a.id for a in actions if per_world(a)}
    if any(isinstance(a, STATE_ACTIONS) and a.id in world for a in actions):
        world |= {a.id for a in actions if isinstance(a, STATE_ACTIONS)}
    return _only(defs, world), _only(defs, {a.id for a in actions} - world)


def _only(defs: Definitions, ids: set[str]) -> Definitions:
    entries = (
        entry.model_copy(update={"actions": tuple(a for a in entry.actions if a.id in ids)})
        for entry in defs.links
    )
    return defs.model_copy(update={"links": tuple(e for e in entries if e.actions)})


# Whether a recipient has a stored clock, on a target the definitions write, or a past click
# that decides for them, at or after the send: then a pattern, whose clicks come right after
# the send, could meet it in another order than the world's clicks do. (Contact-wide targets go
# per world anyway.)
_LATE_MEMBERS = "".join(
    f"""
    OR EXISTS (
        SELECT 1 FROM {table} m SEMI JOIN recipient r ON r.person_id = m.{owner}
        WHERE m.since >= $send_at
          AND m.{target} IN (SELECT target_id FROM targets WHERE kind = '{kind}'))"""
    for table, scope, owner, target, kind in MEMBERSHIPS
    if scope == "person"
)
LATE = f"""
WITH recipient AS (SELECT DISTINCT person_id FROM sim_target),
targets AS (SELECT DISTINCT kind, target_id, field FROM ls_def_state_op WHERE scope = 'person')
SELECT EXISTS (
        SELECT 1 FROM crm.person_field f SEMI JOIN recipient USING (person_id)
        WHERE f.set_at >= $send_at
          AND f.field IN (SELECT field FROM targets WHERE kind = 'field'))
    {_LATE_MEMBERS}
    OR EXISTS (
        SELECT 1 FROM linksim.removal r
        WHERE r.scope = 'person' AND r.removed_at >= $send_at
          AND r.owner_id IN (SELECT person_id FROM recipient))
    OR EXISTS (
        SELECT 1 FROM sim_history_click h SEMI JOIN recipient USING (person_id)
        WHERE h.clicked_at >= $send_at)
"""

_LINK_KIND = """
CREATE OR REPLACE TEMP TABLE sim_link_kind AS
SELECT la.link_id, row_number() OVER (ORDER BY la.link_id) AS link_no,
       bool_or(list_contains($world_actions, a.action_id)) AS per_world,
       bool_or(NOT list_contains($world_actions, a.action_id)) AS per_pattern
FROM ls_def_link_action la JOIN ls_def_action a USING (action_no)
GROUP BY la.link_id
"""
_PATTERNS = (
    # each person's clicks in each world on the links of pattern actions, as a sequence of
    # links (by their link_no), each link's first and last click only
    """
    CREATE OR REPLACE TEMP TABLE sim_pattern_of AS
    WITH sequence AS (
        SELECT s.world, s.person_id,
               -- (time, link) as one number, sorted per group: cheaper than an ordered
               -- aggregate or a list of pairs. Times count from the send (simulated clicks
               -- come after it), in microseconds: a BIGINT holds 292,000 years of them, over
               -- the number of links
               list_transform(
                   list_sort(list((epoch_us(s.clicked_at) - epoch_us($send_at::TIMESTAMP))
                                  * n.links + k.link_no)),
                   lambda x: x % n.links) AS links
        FROM sim_clicks s
        JOIN sim_link_kind k USING (link_id)
        CROSS JOIN (SELECT count(*) + 1 AS links FROM sim_link_kind) n
        WHERE k.per_pattern
        GROUP BY s.world, s.person_id, n.links
    )
    SELECT world, person_id,
           list_filter(links, lambda x, i: list_position(links, x) = i
                                           OR len(links) + 1
                                              - list_position(list_reverse(links), x) = i)
             AS links
    FROM sequence
    """,
    """
    CREATE OR REPLACE TEMP TABLE sim_pattern AS
    SELECT person_id, links,
           $runs + row_number() OVER (PARTITION BY person_id ORDER BY links) - 1
             AS pattern_world
    FROM (SELECT DISTINCT person_id, links FROM sim_pattern_of)
    """,
    """
    CREATE OR REPLACE TEMP TABLE sim_pattern_world AS
    SELECT o.world, o.person_id, p.pattern_world
    FROM sim_pattern_of o JOIN sim_pattern p USING (person_id, links)
    """,
    "DROP TABLE sim_pattern_of",
)
_PATTERN_CLICKS = """
    SELECT p.pattern_world, $mailing AS mailing_id, k.link_id, p.person_id,
           $send_at::TIMESTAMP + to_seconds(i) AS clicked_at
    FROM sim_pattern p, range(1, len(p.links) + 1) r(i)
    JOIN sim_link_kind k ON k.link_no = p.links[i]
"""


def engine_clicks(confirming: bool) -> tuple[str, ...]:
    """Statements making ``sim_engine_clicks`` (world, mailing_id, link_id, person_id,
    clicked_at) and ``sim_pattern_world`` (world, person_id, pattern_world).

    Per world, the clicks on links with per-world actions (with ``confirming``, all the clicks
    of the persons who click one: any later click of the mailing confirms); then the patterns'
    clicks. A click on a link without actions fires nothing and is read by nothing (simulated
    clicks are people's: no bot rule looks at them), so, often most of a mailing's, it stays
    out of the engine; sim_clicks still counts it as a click and a clicker.
    """
    per_world = "SELECT link_id FROM sim_link_kind WHERE per_world"
    if confirming:
        world_clicks = f"""
            SELECT s.world, s.mailing_id, s.link_id, s.person_id, s.clicked_at
            FROM sim_clicks s
            SEMI JOIN (SELECT world, person_id FROM sim_clicks
                       WHERE link_id IN ({per_world})) q USING (world, person_id)"""
    else:
        world_clicks = f"""
            SELECT world, mailing_id, link_id, person_id, clicked_at FROM sim_clicks
            WHERE link_id IN ({per_world})"""
    return (
        _LINK_KIND,
        *_PATTERNS,
        "CREATE OR REPLACE TEMP TABLE sim_engine_clicks AS"
        f" {world_clicks} UNION ALL {_PATTERN_CLICKS}",
    )


# Without patterns: every world's clicks as drawn.
ALL_CLICKS = (
    "CREATE OR REPLACE TEMP TABLE sim_pattern_world (world BIGINT, person_id BIGINT,"
    " pattern_world BIGINT)",
    "CREATE OR REPLACE TEMP TABLE sim_engine_clicks AS"
    " SELECT world, mailing_id, link_id, person_id, clicked_at FROM sim_clicks",
)

# What each pattern did: changes (action, kind, target), script calls (action), tickets
# (category, priority), n of them.
OUTPUT = """
CREATE OR REPLACE TEMP TABLE sim_pattern_out (pattern_world BIGINT, person_id BIGINT,
    output VARCHAR, action_id VARCHAR, target_kind VARCHAR, target VARCHAR, category VARCHAR,
    priority VARCHAR, n BIGINT)
"""

# After a pass, what its patterns did (person_id is the virtual id: $world * world + id).
COLLECT = (
    """
    INSERT INTO sim_pattern_out BY NAME
    SELECT person_id // $world AS pattern_world, person_id % $world AS person_id,
           'change' AS output, action_id, target_kind,
           CASE WHEN target_kind IN ('appointment', 'ticket') THEN NULL ELSE target END
             AS target,
           count(*) AS n
    FROM ls_changes
    WHERE person_id // $world >= $runs
    GROUP BY ALL
    """,
    """
    INSERT INTO sim_pattern_out BY NAME
    SELECT person_id // $world AS pattern_world, person_id % $world AS person_id,
           'script' AS output, action_id, count(*) AS n
    FROM ls_fired
    WHERE in_scope AND type = 'script' AND person_id // $world >= $runs
    GROUP BY ALL
    """,
    """
    INSERT INTO sim_pattern_out BY NAME
    SELECT person_id // $world AS pattern_world, person_id % $world AS person_id,
           'ticket' AS output, category, priority, count(*) AS n
    FROM ls_ticket_out
    WHERE person_id // $world >= $runs
    GROUP BY ALL
    """,
)

# The patterns' outcomes counted in the worlds that drew them. Many patterns do the same (one
# click on one link, a person already a member ...): each distinct outcome is counted per world
# once, then spread into its rows, and added to what the worlds' own passes counted.
TOTALS = (
    # each distinct row of output, numbered; each pattern's outcome as its rows' numbers
    """
    CREATE OR REPLACE TEMP TABLE sim_outcome_row AS
    SELECT row_number() OVER () AS row_no, *
    FROM (SELECT DISTINCT output, action_id, target_kind, target, category, priority, n
          FROM sim_pattern_out)
    """,
    """
    CREATE OR REPLACE TEMP TABLE sim_outcome_of AS
    SELECT o.pattern_world, o.person_id, list_sort(list(r.row_no)) AS outcome
    FROM sim_pattern_out o
    JOIN sim_outcome_row r
      ON r.output = o.output AND r.n = o.n
     AND r.action_id IS NOT DISTINCT FROM o.action_id
     AND r.target_kind IS NOT DISTINCT FROM o.target_kind
     AND r.target IS NOT DISTINCT FROM o.target
     AND r.category IS NOT DISTINCT FROM o.category
     AND r.priority IS NOT DISTINCT FROM o.priority
    GROUP BY ALL
    """,
    """
    CREATE OR REPLACE TEMP TABLE sim_outcome AS
    SELECT row_number() OVER () AS outcome_no, outcome
    FROM (SELECT DISTINCT outcome FROM sim_outcome_of)
    """,
    """
    CREATE OR REPLACE TEMP TABLE sim_outcome_count AS
    WITH numbered AS (
        SELECT o.pattern_world, o.person_id, n.outcome_no
        FROM sim_outcome_of o JOIN sim_outcome n USING (outcome)
    )
    SELECT w.world, n.outcome_no, count(*) AS people
    FROM sim_pattern_world w JOIN numbered n USING (pattern_world, person_id)
    GROUP BY ALL
    """,
    """
    CREATE OR REPLACE TEMP TABLE sim_outcome_rows AS
    SELECT c.world, c.people, r.* EXCLUDE (row_no)
    FROM sim_outcome_count c
    JOIN (SELECT outcome_no, unnest(outcome) AS row_no FROM sim_outcome) o USING (outcome_no)
    JOIN sim_outcome_row r USING (row_no)
    """,
    """
    CREATE OR REPLACE TEMP TABLE sim_out_changes AS
    SELECT world, action_id, target_kind, target, sum(changes)::BIGINT AS changes,
           sum(people)::BIGINT AS people
    FROM (SELECT * FROM sim_out_changes
          UNION ALL BY NAME
          SELECT world, action_id, target_kind, target, n * people AS changes, people
          FROM sim_outcome_rows WHERE output = 'change')
    GROUP BY ALL
    """,
    """
    CREATE OR REPLACE TEMP TABLE sim_out_scripts AS
    SELECT world, action_id, sum(calls)::BIGINT AS calls
    FROM (SELECT * FROM sim_out_scripts
          UNION ALL BY NAME
          SELECT world, action_id, n * people AS calls
          FROM sim_outcome_rows WHERE output = 'script')
    GROUP BY ALL
    """,
    """
    CREATE OR REPLACE TEMP TABLE sim_out_tickets AS
    SELECT world, category, priority, sum(tickets)::BIGINT AS tickets
    FROM (SELECT * FROM sim_out_tickets
          UNION ALL BY NAME
          SELECT world, category, priority, n * people AS tickets
          FROM sim_outcome_rows WHERE output = 'ticket')
    GROUP BY ALL
    """,
)
