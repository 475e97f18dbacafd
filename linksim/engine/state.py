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

WINNER = Step(
    "state_win",
    """
    WITH op_def AS MATERIALIZED (
        -- the state ops of the definitions and the fields that scripts set, numbered; each
        -- target (kind, scope, tkey) gets a number, so that the ops group on two integers
        SELECT row_number() OVER () AS op_no,
               dense_rank() OVER (ORDER BY kind, scope, tkey) AS target_no, *
        FROM (
            SELECT action_no, kind, scope, coalesce(field, target_id::VARCHAR) AS tkey,
                   target_id, field, target, op, value, false AS scripted
            FROM ls_def_state_op
            UNION ALL
            SELECT DISTINCT action_no, 'field', 'person', field, NULL, field, field, 'set', NULL,
                   true
            FROM ls_script_op
        )
    ),
    -- one op per fired state action and target (and per field change a script returned),
    -- narrow: the definition's columns are joined to the winners only
    ops AS (
        SELECT f.person_id AS owner_id, d.target_no, d.op_no, f.click_id, f.clicked_at,
               f.person_id, f.mailing_id, f.action_no, f.action_id,
               NULL::VARCHAR AS script_value, NULL::BIGINT AS contact_id
        FROM ls_fired f
        JOIN op_def d ON d.action_no = f.action_no AND NOT d.scripted AND d.scope = 'person'
        UNION ALL
        SELECT p.contact_id, d.target_no, d.op_no, f.click_id, f.clicked_at,
               f.person_id, f.mailing_id, f.action_no, f.action_id, NULL, p.contact_id
        FROM ls_fired f
        JOIN op_def d ON d.action_no = f.action_no AND NOT d.scripted AND d.scope = 'contact'
        JOIN crm.person p ON p.person_id = f.person_id AND p.contact_id IS NOT NULL
        UNION ALL
        SELECT f.person_id, d.target_no, d.op_no, f.click_id, f.clicked_at,
               f.person_id, f.mailing_id, f.action_no, f.action_id, o.value, NULL
        FROM ls_script_op o
        JOIN ls_fired f ON f.click_id = o.click_id AND f.action_no = o.action_no
        JOIN op_def d ON d.scripted AND d.action_no = o.action_no AND d.field = o.field
    ),
    -- the last op per target by (clicked_at, click_id, action_no): a hash aggregate
    win AS (
        SELECT owner_id,
               arg_max(struct_pack(op_no, click_id, clicked_at, person_id, mailing_id,
                                   action_no, action_id, script_value, contact_id),
                       (clicked_at, click_id, action_no)) AS w
        FROM ops
        GROUP BY owner_id, target_no
    )
    SELECT w.click_id, w.clicked_at, w.person_id, w.mailing_id, w.action_no, w.action_id,
           d.kind, d.scope, win.owner_id, d.tkey, d.target_id, d.field, d.target, d.op,
           CASE WHEN d.scripted THEN w.script_value ELSE d.value END AS value, w.contact_id
    FROM win
    JOIN op_def d ON d.op_no = win.w.op_no
    """,
    "the last op per target, by (clicked_at, click_id, action_no): one per fired state "
    "action's target and per field change a script returned",
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

STATE_STEPS = (WINNER, STORED, APPLIED)
