"""Steps for fields and memberships: ops → the winning op per target → what beats the stored clock.

Last writer wins by event time (SPEC §4.4, docs/SEMANTICS.md §3). An op's clock is
(clicked_at, click_id, action_no); a stored value's clock is (set_at or since, source_click_id),
where a NULL source click is a manual edit and wins a tie with any click; removals keep their
clock in `linksim.removal`. A tie with the same click is decided by the action that wrote the
target when two actions of one click may write it differently (`linksim.state_writer`).
"""

from __future__ import annotations

from linksim.engine.pipeline import Step

__all__ = ["MANUAL_CLICK", "STATE_STEPS"]

MANUAL_CLICK = 9223372036854775807  # stands in for a NULL source click: a manual edit wins ties

DEFS = Step(
    "state_def",
    """
    -- numbered in a fixed order, so that every engine numbers the ops alike
    SELECT row_number() OVER (ORDER BY action_no, kind, scope, tkey, op, value, scripted)
             AS op_no,
           dense_rank() OVER (ORDER BY kind, scope, tkey) AS target_no, *
    FROM (
        SELECT o.*, t.kind IS NOT NULL OR every.kind IS NOT NULL AS tied
        FROM (
            SELECT action_no, kind, scope, coalesce(field, target_id::VARCHAR) AS tkey,
                   target_id, field, target, op, value, false AS scripted
            FROM ls_def_state_op
            UNION ALL
            SELECT DISTINCT action_no, 'field', 'person', field, NULL, field, field, 'set', NULL,
                   true
            FROM ls_script_op
        ) o
        LEFT JOIN ls_def_tied t ON t.kind = o.kind AND t.scope = o.scope AND t.tkey = o.tkey
        LEFT JOIN ls_def_tied every
          ON every.kind = o.kind AND every.scope = o.scope AND every.tkey IS NULL
    )
    """,
    "the state ops of the definitions and the fields scripts set, numbered, with a number per "
    "target (kind, scope, tkey) and whether two actions of one click may write it differently "
    "(tied): the steps below group and join on integers, not names",
)

WINNER = Step(
    "state_win",
    """
    -- one op per fired state action and target (and per field change a script returned),
    -- narrow, numbers only: ls_state_applied joins the definition's names. Most ops are a
    -- person's own; `rest` are those that carry more (the clicking person of a contact's op, a
    -- script's value), few.
    WITH rest AS (
        SELECT p.contact_id AS owner_id, d.target_no, d.op_no, f.click_id, f.clicked_at,
               f.action_no, f.person_id, NULL::VARCHAR AS script_value,
               p.contact_id
        FROM ls_fired f
        JOIN ls_state_def d
          ON d.action_no = f.action_no AND NOT d.scripted AND d.scope = 'contact'
        JOIN crm.person p ON p.person_id = f.person_id AND p.contact_id IS NOT NULL
        UNION ALL
        SELECT f.person_id, d.target_no, d.op_no, f.click_id, f.clicked_at, f.action_no,
               f.person_id, o.value, NULL
        FROM ls_script_op o
        JOIN ls_fired f ON f.click_id = o.click_id AND f.action_no = o.action_no
        JOIN ls_state_def d ON d.scripted AND d.action_no = o.action_no AND d.field = o.field
    ),
    ops AS (
        SELECT f.person_id AS owner_id, d.target_no, d.op_no, f.click_id, f.clicked_at,
               f.action_no
        FROM ls_fired f
        JOIN ls_state_def d
          ON d.action_no = f.action_no AND NOT d.scripted AND d.scope = 'person'
        UNION ALL
        SELECT owner_id, target_no, op_no, click_id, clicked_at, action_no FROM rest
    ),
    -- the last op per target by (clicked_at, click_id, action_no), then op_no: the max of a
    -- key that is the op itself, which costs half an arg_max carrying the op beside its key
    win AS (
        SELECT owner_id, target_no,
               max(struct_pack(clicked_at := clicked_at, click_id := click_id,
                               action_no := action_no, op_no := op_no)) AS w
        FROM ops
        GROUP BY owner_id, target_no
    )
    SELECT win.owner_id, win.target_no, w.op_no, w.click_id, w.clicked_at,
           coalesce(r.person_id, win.owner_id) AS person_id, w.action_no, r.script_value,
           r.contact_id
    FROM win
    LEFT JOIN rest r
      ON r.owner_id = win.owner_id AND r.target_no = win.target_no AND r.op_no = w.op_no
     AND r.click_id = w.click_id
    """,
    "the last op per target, by (clicked_at, click_id, action_no, op_no)",
)

STORED = Step(
    "state_stored",
    f"""
    WITH targets AS (SELECT DISTINCT kind, scope, tkey, target_id, target_no FROM ls_state_def),
    -- the stored rows of the targets the definitions name: fields by name, memberships and
    -- removals by id (integers, not their text)
    stored AS (
        SELECT f.person_id AS owner_id, t.target_no, f.value, f.set_at AS stored_at,
               f.source_click_id AS src, false AS removal
        FROM crm.person_field f
        JOIN targets t ON t.kind = 'field' AND t.tkey = f.field
        UNION ALL
        SELECT m.person_id, t.target_no, 'member', m.since, m.source_click_id, false
        FROM crm.person_interest m
        JOIN targets t
          ON t.kind = 'interest' AND t.scope = 'person' AND t.target_id = m.interest_id
        UNION ALL
        SELECT m.contact_id, t.target_no, 'member', m.since, m.source_click_id, false
        FROM crm.contact_interest m
        JOIN targets t
          ON t.kind = 'interest' AND t.scope = 'contact' AND t.target_id = m.interest_id
        UNION ALL
        SELECT m.person_id, t.target_no, 'member', m.since, m.source_click_id, false
        FROM crm.selection_member m
        JOIN targets t ON t.kind = 'selection' AND t.target_id = m.selection_id
        UNION ALL
        SELECT m.person_id, t.target_no, 'member', m.since, m.source_click_id, false
        FROM crm.project_member m
        JOIN targets t ON t.kind = 'project' AND t.target_id = m.project_id
        UNION ALL
        SELECT r.owner_id, t.target_no, NULL, r.removed_at, r.source_click_id, true
        FROM linksim.removal r
        JOIN targets t
          ON t.kind = r.target_kind AND t.scope = r.scope AND t.target_id = r.target_id
    )
    -- the latest stored clock per target, and which rows exist (the write deletes those before
    -- it appends the new rows, instead of upserting)
    SELECT s.owner_id, s.target_no,
           arg_max(struct_pack(value := s.value, stored_at := s.stored_at, src := s.src),
                   (s.stored_at, coalesce(s.src, {MANUAL_CLICK}))) AS latest,
           bool_or(NOT s.removal) AS has_row, bool_or(s.removal) AS has_removal
    FROM stored s
    SEMI JOIN ls_state_win w USING (owner_id, target_no)
    GROUP BY s.owner_id, s.target_no
    """,
    "the stored value and clock of each target a winning op touches, and which rows exist",
)

APPLIED = Step(
    "state_applied",
    f"""
    WITH writes AS (
        SELECT w.click_id, w.clicked_at, w.person_id, w.action_no, a.action_id,
               d.kind, d.scope, w.owner_id, w.target_no, d.tkey, d.target_id, d.field,
               d.target, d.op, CASE WHEN d.scripted THEN w.script_value ELSE d.value END AS value,
               w.contact_id, d.tied
        FROM ls_state_win w
        JOIN ls_state_def d ON d.op_no = w.op_no
        JOIN ls_def_action a ON a.action_no = w.action_no
    ),
    -- the action that wrote a tied target, by its place in these definitions (none when it
    -- is gone from them)
    writers AS (
        SELECT x.target_kind, x.scope, x.owner_id, x.target_key, x.source_click_id, a.action_no
        FROM linksim.state_writer x
        JOIN ls_def_action a ON a.action_id = x.action_id
    )
    SELECT w.*, s.latest.value AS old_value, s.latest.stored_at AS old_at,
           s.latest.src AS old_src,
           coalesce(s.has_row, false) AS has_row, coalesce(s.has_removal, false) AS has_removal
    FROM writes w
    LEFT JOIN ls_state_stored s USING (owner_id, target_no)
    LEFT JOIN writers r
      ON w.tied AND r.target_kind = w.kind AND r.scope = w.scope AND r.owner_id = w.owner_id
     AND r.target_key = w.tkey AND r.source_click_id = s.latest.src
    WHERE s.owner_id IS NULL
       OR w.clicked_at > s.latest.stored_at
       OR (w.clicked_at = s.latest.stored_at
           AND w.click_id > coalesce(s.latest.src, {MANUAL_CLICK}))
       -- a tie: the same click, run again. On a tied target the later action wins, and an
       -- unknown writer (none recorded, or gone from the definitions) loses; elsewhere, or by
       -- the same action, a different value is a changed definition, applied.
       OR (w.clicked_at = s.latest.stored_at AND w.click_id = s.latest.src
           AND CASE WHEN w.tied AND r.action_no IS NULL THEN true
                    WHEN w.tied AND w.action_no <> r.action_no THEN w.action_no > r.action_no
                    ELSE w.value IS DISTINCT FROM s.latest.value END)
    """,
    "winning ops that beat the stored clock, with their definitions: the writes of this run",
)


STATE_STEPS = (DEFS, WINNER, STORED, APPLIED)
