"""Steps for fields and memberships: ops → the winning op per target → what beats the stored clock.

Last writer wins by event time (SPEC §4.4, docs/SEMANTICS.md §3). An op's clock is
(clicked_at, click_id, action_no); a stored value's clock is (set_at or since, source_click_id),
where a NULL source click is a manual edit and wins a tie with any click; removals keep their
clock in `linksim.removal`.
"""

from __future__ import annotations

from linksim.engine.pipeline import Step

__all__ = ["MANUAL_CLICK", "STATE_STEPS"]

MANUAL_CLICK = 9223372036854775807  # stands in for a NULL source click: a manual edit wins ties

OPS = Step(
    "state_op",
    """
    SELECT f.click_id, f.clicked_at, f.person_id, f.mailing_id, f.action_no, f.action_id,
           s.kind, s.scope,
           CASE WHEN s.scope = 'contact' THEN p.contact_id ELSE f.person_id END AS owner_id,
           coalesce(s.field, s.target_id::VARCHAR) AS tkey, s.target_id, s.field, s.target,
           s.op, s.value,
           CASE WHEN s.scope = 'contact' THEN p.contact_id END AS contact_id
    FROM ls_fired f
    JOIN ls_def_state_op s ON s.action_no = f.action_no
    LEFT JOIN crm.person p ON p.person_id = f.person_id
    WHERE s.scope = 'person' OR p.contact_id IS NOT NULL
    UNION ALL
    SELECT f.click_id, f.clicked_at, f.person_id, f.mailing_id, f.action_no, f.action_id,
           'field', 'person', f.person_id, o.field, NULL, o.field, o.field, 'set', o.value, NULL
    FROM ls_script_op o
    JOIN ls_fired f ON f.click_id = o.click_id AND f.action_no = o.action_no
    """,
    "one op per fired state action and target (and per field change a script returned)",
)

WINNER = Step(
    "state_win",
    """
    SELECT *
    FROM ls_state_op
    QUALIFY row_number() OVER (
        PARTITION BY kind, scope, owner_id, tkey
        ORDER BY clicked_at DESC, click_id DESC, action_no DESC) = 1
    """,
    "the last op per target, by (clicked_at, click_id, action_no)",
)

STORED = Step(
    "state_stored",
    f"""
    WITH stored AS (
        SELECT 'field' AS kind, 'person' AS scope, person_id AS owner_id, field AS tkey,
               value, set_at AS stored_at, source_click_id AS src
        FROM crm.person_field
        UNION ALL
        SELECT 'interest', 'person', person_id, interest_id::VARCHAR, 'member', since,
               source_click_id
        FROM crm.person_interest
        UNION ALL
        SELECT 'interest', 'contact', contact_id, interest_id::VARCHAR, 'member', since,
               source_click_id
        FROM crm.contact_interest
        UNION ALL
        SELECT 'selection', 'person', person_id, selection_id::VARCHAR, 'member', since,
               source_click_id
        FROM crm.selection_member
        UNION ALL
        SELECT 'project', 'person', person_id, project_id::VARCHAR, 'member', since,
               source_click_id
        FROM crm.project_member
        UNION ALL
        SELECT target_kind, scope, owner_id, target_id::VARCHAR, NULL, removed_at,
               source_click_id
        FROM linksim.removal
    )
    SELECT s.*
    FROM stored s
    SEMI JOIN ls_state_win w USING (kind, scope, owner_id, tkey)
    QUALIFY row_number() OVER (
        PARTITION BY kind, scope, owner_id, tkey
        ORDER BY stored_at DESC, coalesce(src, {MANUAL_CLICK}) DESC) = 1
    """,
    "the stored value and clock of each target a winning op touches",
)

APPLIED = Step(
    "state_applied",
    f"""
    SELECT w.*, s.value AS old_value, s.stored_at AS old_at, s.src AS old_src
    FROM ls_state_win w
    LEFT JOIN ls_state_stored s USING (kind, scope, owner_id, tkey)
    WHERE s.owner_id IS NULL
       OR w.clicked_at > s.stored_at
       OR (w.clicked_at = s.stored_at AND w.click_id > coalesce(s.src, {MANUAL_CLICK}))
       OR (w.clicked_at = s.stored_at AND w.click_id = s.src AND w.value IS DISTINCT FROM s.value)
    """,
    "winning ops that beat the stored clock: the writes of this run",
)

STATE_STEPS = (OPS, WINNER, STORED, APPLIED)
