"""The change set of a run, as relations: what `apply` writes and `preview` shows."""

from __future__ import annotations

from linksim.engine.pipeline import Step

__all__ = ["CHANGE_STEPS"]

APPOINTMENTS = Step(
    "appointment_out",
    """
    SELECT r.row_id AS appointment_id, r.kind, r.task_type, r.person_id, r.contact_id,
           r.project_id, r.owner_id, r.created_by AS created_by_id, r.description,
           coalesce(s.starts_at, r.due_at) AS starts_at, r.duration_minutes,
           r.action_id AS source_action, r.click_id AS source_click_id,
           r.mailing_id AS source_mailing_id, r.due_at, r.assignment,
           r.is_stored, ap.starts_at AS old_starts_at, r.clicked_at
    FROM ls_follow_up_rows r
    LEFT JOIN ls_schedule s USING (row_id)
    LEFT JOIN crm.appointment ap ON ap.appointment_id = r.row_id
    """,
    "follow-ups to insert or to rewrite from an earlier source click",
)

RESCHEDULED = Step(
    "rescheduled",
    """
    SELECT s.row_id AS appointment_id, s.starts_at, s.old_starts_at
    FROM ls_schedule s
    WHERE s.row_id NOT IN (SELECT appointment_id FROM ls_appointment_out)
      AND s.starts_at IS DISTINCT FROM s.old_starts_at
    """,
    "stored follow-ups that move to another day because earlier ones arrived",
)

TICKETS = Step(
    "ticket_out",
    """
    SELECT row_id AS ticket_id, title, priority, category, owner_id, 'open' AS status,
           person_id, clicked_at AS created_at, action_id AS source_action,
           click_id AS source_click_id, mailing_id AS source_mailing_id, is_stored, clicked_at
    FROM ls_ticket_rows
    """,
    "tickets to insert or to rewrite from an earlier source click",
)

CHANGES = Step(
    "changes",
    """
    SELECT click_id, action_id, person_id, kind AS target_kind, target, old_value,
           value AS new_value, clicked_at AS changed_at, contact_id
    FROM ls_state_applied
    WHERE value IS DISTINCT FROM old_value
    UNION ALL
    SELECT source_click_id, source_action, person_id, 'appointment', appointment_id,
           CASE WHEN is_stored THEN strftime(old_starts_at, '%Y-%m-%d %H:%M') END,
           CASE WHEN is_stored THEN strftime(starts_at, '%Y-%m-%d %H:%M')
                ELSE appointment_id END,
           clicked_at, NULL
    FROM ls_appointment_out  -- each is new, or its source moved to an earlier click
    UNION ALL
    SELECT a.source_click_id, a.source_action, a.person_id, 'appointment', r.appointment_id,
           strftime(r.old_starts_at, '%Y-%m-%d %H:%M'), strftime(r.starts_at, '%Y-%m-%d %H:%M'),
           c.clicked_at, NULL
    FROM ls_rescheduled r
    JOIN crm.appointment a USING (appointment_id)
    LEFT JOIN mail.click c ON c.click_id = a.source_click_id
    UNION ALL
    SELECT t.source_click_id, t.source_action, t.person_id, 'ticket', t.ticket_id,
           CASE WHEN t.is_stored THEN CAST(s.created_at AS VARCHAR) END,
           CASE WHEN t.is_stored THEN CAST(t.created_at AS VARCHAR)
                ELSE t.ticket_id END,
           t.clicked_at, NULL
    FROM ls_ticket_out t
    LEFT JOIN crm.ticket s USING (ticket_id)
    """,
    "every effective change, with old and new value (linksim.change without run_id)",
)

CHANGE_STEPS = (APPOINTMENTS, RESCHEDULED, TICKETS, CHANGES)
