"""The response step: what each fired `response` action shows (docs/SEMANTICS.md §5)."""

from __future__ import annotations

from linksim.engine.pipeline import Step

__all__ = ["RESPOND_STEPS"]

PERSON_VALUE = """CASE name
    WHEN 'person_id' THEN p.person_id::VARCHAR
    WHEN 'contact_id' THEN p.contact_id::VARCHAR
    WHEN 'owner_id' THEN p.owner_id::VARCHAR
    WHEN 'first_name' THEN p.first_name
    WHEN 'last_name' THEN p.last_name
    WHEN 'email' THEN p.email
    ELSE x.fields[name] END"""

RESPONSES = Step(
    "responses",
    f"""
    WITH form AS (
        SELECT action_no, list(name ORDER BY pos) AS names
        FROM ls_def_prefill
        GROUP BY action_no
    ),
    -- the person's extra fields that some form lists, of the persons shown a form
    extra AS (
        SELECT fv.person_id, map_from_entries(list((fv.field, fv.value))) AS fields
        FROM crm.person_field fv
        SEMI JOIN ls_def_prefill pf ON pf.name = fv.field
        SEMI JOIN (SELECT person_id FROM ls_fired SEMI JOIN form USING (action_no)) f
          USING (person_id)
        GROUP BY fv.person_id
    ),
    -- a form's names are few and in order: a per-row list expression, not a join and an
    -- ordered aggregate
    prefill AS (
        SELECT f.click_id, f.action_no,
               ('{{' || array_to_string(list_transform(form.names, lambda name:
                   to_json(name)::VARCHAR || ':'
                   || coalesce(to_json({PERSON_VALUE})::VARCHAR, 'null')), ',')
                || '}}')::JSON AS prefill
        FROM ls_fired f
        JOIN form USING (action_no)
        LEFT JOIN crm.person p ON p.person_id = f.person_id
        LEFT JOIN extra x ON x.person_id = f.person_id
    )
    SELECT f.click_id, f.action_id, r.kind, r.url,
           CASE WHEN r.kind = 'feedback' THEN t.text END AS text,
           r.form_id,
           CASE WHEN r.kind = 'form' THEN coalesce(x.prefill, '{{}}'::JSON) END AS prefill,
           f.person_id, f.clicked_at
    FROM ls_fired f
    JOIN ls_def_response r ON r.action_no = f.action_no
    LEFT JOIN ls_rendered t ON t.click_id = f.click_id AND t.action_no = f.action_no
    LEFT JOIN prefill x ON x.click_id = f.click_id AND x.action_no = f.action_no
    -- what a click showed is history: a response, once recorded, is never rewritten
    ANTI JOIN linksim.response done ON done.click_id = f.click_id AND done.action_id = f.action_id
    """,
    "one new response per fired response action: redirect, feedback text or prefilled form",
)

RESPOND_STEPS = (RESPONSES,)
