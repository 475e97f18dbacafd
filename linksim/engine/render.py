"""Template rendering, set-based: template parts joined to the values of each fired click.

The parts come from `split_template` at compile time, so no value is ever parsed as a template and
no SQL is built from user text. Merge values in a response's feedback text are HTML-escaped.
"""

from __future__ import annotations

from linksim.engine.pipeline import Step

__all__ = ["RENDER_STEPS", "html_escape"]


def html_escape(expr: str) -> str:
    """SQL that escapes ``expr`` for HTML like Python's ``html.escape(quote=True)``.

    >>> import duckdb
    >>> duckdb.sql("SELECT " + html_escape("'<b>Tom & Jerry</b>'")).fetchall()
    [('&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;',)]
    """
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        expr = f"replace({expr}, '{raw}', '{escaped}')"
    return f"replace({expr}, '''', '&#x27;')"


MERGED = """coalesce(CASE x.placeholder
               WHEN 'mailing_name' THEN v.mailing_name
               WHEN 'link_name' THEN v.link_name
               WHEN 'link_url' THEN v.link_url
               WHEN 'clicked_at' THEN v.clicked_at
               WHEN 'person_name' THEN v.person_name
               WHEN 'first_name' THEN v.first_name
               WHEN 'contact_name' THEN v.contact_name
               WHEN 'link_hits' THEN v.link_hits
           END, '')"""

RENDERED = Step(
    "rendered",
    f"""
    WITH template AS (
        SELECT action_no, list(struct_pack(literal, placeholder) ORDER BY part_no) AS parts
        FROM ls_def_template
        GROUP BY action_no
    ),
    v AS (
        SELECT f.click_id, f.action_no, f.type, t.parts,
               m.name AS mailing_name, l.name AS link_name, l.url AS link_url,
               strftime(f.clicked_at, '%Y-%m-%d %H:%M') AS clicked_at,
               concat_ws(' ', nullif(p.first_name, ''), nullif(p.last_name, '')) AS person_name,
               p.first_name, c.name AS contact_name, f.link_hits::VARCHAR AS link_hits
        FROM ls_fired f
        JOIN template t ON t.action_no = f.action_no
        LEFT JOIN mail.mailing m ON m.mailing_id = f.mailing_id
        LEFT JOIN mail.link l ON l.link_id = f.link_id
        LEFT JOIN crm.person p ON p.person_id = f.person_id
        LEFT JOIN crm.contact c ON c.contact_id = p.contact_id
    )
    -- the parts of a template are few and in order: a per-row list expression, not a join
    -- and an ordered aggregate
    SELECT click_id, action_no,
           array_to_string(list_transform(parts, lambda x: x.literal || CASE
               WHEN v.type = 'response' THEN {html_escape(MERGED)} ELSE {MERGED} END), '')
             AS text
    FROM v
    """,
    "each fired template, rendered with the click's values",
)

RENDER_STEPS = (RENDERED,)
