"""The journal of what each apply wrote, and putting rows back: for undo and for bot reversal.

Before a batch writes, `record` stores in `linksim.journal` one entry per row it is about to
write: the row as it was (JSON, NULL when there was none), the click that writes it, and what the
write leaves (the row exists or not, with which source click). A row still holds what an entry
left when its existence and `source_click_id` match: a later run or a manual edit (a load clears
the source click) changes them.

`restore` puts rows back from a relation `ls_restore` (one row per table and key: the image to
restore, and the change to log), in the order of the tables below, and journals that write too,
so it can itself be undone.
"""

from __future__ import annotations

import duckdb

from linksim.engine.write import MEMBERSHIPS
from linksim.store.query import run
from linksim.store.schema import table

__all__ = ["JOURNALED", "key_json", "record", "restore"]

# The tables a run writes rows of (besides its own logs), with their source-click column.
JOURNALED = (
    "crm.person_field",
    "crm.person_interest",
    "crm.contact_interest",
    "crm.selection_member",
    "crm.project_member",
    "linksim.removal",
    "linksim.state_writer",
    "crm.appointment",
    "crm.ticket",
)

JOURNAL_COLUMNS = (
    "run_id, batch_no, table_name, key, before, writer_click, after_exists, after_click, "
    "action_id, target_kind, target, person_id, contact_id, value_before, value_after"
)


def key_json(name: str, values: dict[str, str]) -> str:
    """SQL for the journal key of a row of table ``name``: its key columns as JSON text.

    >>> key_json("crm.person_field", {"person_id": "a.owner_id", "field": "a.field"})
    "json_object('person_id', a.owner_id, 'field', a.field)::VARCHAR"
    """
    pairs = ", ".join(f"'{k}', {values[k]}" for k in table(name).key)
    return f"json_object({pairs})::VARCHAR"


def _typed_keys(name: str, relation: str) -> str:
    """The keys of ``relation`` (table_name, key) for table ``name``, as typed columns."""
    t = table(name)
    columns = ", ".join(
        f"CAST(json_extract_string(key, '$.{k}') AS {t.column(k).type}) AS {k}" for k in t.key
    )
    return f"SELECT {columns} FROM {relation} WHERE table_name = '{name}'"


def _key_match(name: str, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in table(name).key)


def record(con: duckdb.DuckDBPyConnection, run_id: int, batch_no: int) -> None:
    """Journal the rows the computed change set (`ls_state_applied`, `ls_*_out`) will write."""
    head = f"SELECT {int(run_id)}, {int(batch_no)}"
    field_key = key_json("crm.person_field", {"person_id": "a.owner_id", "field": "a.field"})
    parts = [
        f"""
        {head}, 'crm.person_field', {field_key},
               CASE WHEN t.person_id IS NOT NULL THEN to_json(t) END, a.click_id, true, a.click_id,
               a.action_id, 'field', a.target, a.person_id, a.contact_id, a.old_value, a.value
        FROM ls_state_applied a
        LEFT JOIN crm.person_field t ON t.person_id = a.owner_id AND t.field = a.field
        WHERE a.kind = 'field'
        """
    ]
    for name, scope, owner, target, kind in MEMBERSHIPS:
        key = key_json(name, {owner: "a.owner_id", target: "a.target_id"})
        parts.append(
            f"""
            {head}, '{name}', {key},
                   CASE WHEN t.{owner} IS NOT NULL THEN to_json(t) END, a.click_id, a.op = 'add',
                   CASE WHEN a.op = 'add' THEN a.click_id END, a.action_id, a.kind, a.target,
                   a.person_id, a.contact_id, a.old_value, a.value
            FROM ls_state_applied a
            LEFT JOIN {name} t ON t.{owner} = a.owner_id AND t.{target} = a.target_id
            WHERE a.kind = '{kind}' AND a.scope = '{scope}' AND (a.op = 'add' OR a.has_row)
            """
        )
    removal_key = key_json(
        "linksim.removal",
        {
            "target_kind": "a.kind",
            "scope": "a.scope",
            "owner_id": "a.owner_id",
            "target_id": "a.target_id",
        },
    )
    parts.append(  # bookkeeping only: no target_kind, so no change row when it is restored
        f"""
        {head}, 'linksim.removal', {removal_key},
               CASE WHEN r.owner_id IS NOT NULL THEN to_json(r) END, a.click_id, a.op = 'remove',
               CASE WHEN a.op = 'remove' THEN a.click_id END, a.action_id, NULL, NULL, NULL,
               NULL, NULL, NULL
        FROM ls_state_applied a
        LEFT JOIN linksim.removal r
          ON r.target_kind = a.kind AND r.scope = a.scope AND r.owner_id = a.owner_id
         AND r.target_id = a.target_id
        WHERE a.kind <> 'field' AND (a.op = 'remove' OR a.has_removal)
        """
    )
    writer_key = key_json(
        "linksim.state_writer",
        {
            "target_kind": "a.kind",
            "scope": "a.scope",
            "owner_id": "a.owner_id",
            "target_key": "a.tkey",
        },
    )
    parts.append(  # bookkeeping too
        f"""
        {head}, 'linksim.state_writer', {writer_key},
               CASE WHEN x.owner_id IS NOT NULL THEN to_json(x) END, a.click_id, true,
               a.click_id, a.action_id, NULL, NULL, NULL, NULL, NULL, NULL
        FROM ls_state_applied a
        LEFT JOIN linksim.state_writer x
          ON x.target_kind = a.kind AND x.scope = a.scope AND x.owner_id = a.owner_id
         AND x.target_key = a.tkey
        WHERE a.tied
        """
    )
    stamp = "strftime({}, '%Y-%m-%d %H:%M')"
    out_key = key_json("crm.appointment", {"appointment_id": "o.appointment_id"})
    parts.append(
        f"""
        {head}, 'crm.appointment', {out_key},
               CASE WHEN t.appointment_id IS NOT NULL THEN to_json(t) END,
               o.source_click_id, true, o.source_click_id, o.source_action,
               'appointment', o.appointment_id, o.person_id, NULL,
               CASE WHEN t.appointment_id IS NOT NULL THEN {stamp.format("t.starts_at")} END,
               CASE WHEN t.appointment_id IS NOT NULL THEN {stamp.format("o.starts_at")}
                    ELSE o.appointment_id END
        FROM ls_appointment_out o
        LEFT JOIN crm.appointment t USING (appointment_id)
        """
    )
    parts.append(
        f"""
        {head}, 'crm.appointment',
               {key_json("crm.appointment", {"appointment_id": "t.appointment_id"})},
               to_json(t), t.source_click_id, true, t.source_click_id, t.source_action,
               'appointment', t.appointment_id, t.person_id, NULL,
               {stamp.format("r.old_starts_at")}, {stamp.format("r.starts_at")}
        FROM ls_rescheduled r
        JOIN crm.appointment t USING (appointment_id)
        """
    )
    parts.append(
        f"""
        {head}, 'crm.ticket', {key_json("crm.ticket", {"ticket_id": "o.ticket_id"})},
               CASE WHEN t.ticket_id IS NOT NULL THEN to_json(t) END,
               o.source_click_id, true, o.source_click_id, o.source_action,
               'ticket', o.ticket_id, o.person_id, NULL,
               CASE WHEN t.ticket_id IS NOT NULL THEN CAST(t.created_at AS VARCHAR) END,
               CASE WHEN t.ticket_id IS NOT NULL THEN CAST(o.created_at AS VARCHAR)
                    ELSE o.ticket_id END
        FROM ls_ticket_out o
        LEFT JOIN crm.ticket t USING (ticket_id)
        """
    )
    # Computed first, then inserted from one relation: each part inserted on its own leaves a
    # partly filled row group per thread, which the next checkpoint rewrites to merge them (at
    # 10M clicks, 17 row groups of JSON text recompressed: 3-4 s, against 1 s to compute first).
    # Its columns take the journal's names: the parts' own repeat, which Spark's Parquet refuses.
    union = "\nUNION ALL\n".join(parts)
    run(
        con,
        f"CREATE OR REPLACE TEMP TABLE ls_journal AS\n"
        f"SELECT * FROM (\n{union}\n) AS j({JOURNAL_COLUMNS})",
    )
    run(
        con,
        f"INSERT INTO linksim.journal ({JOURNAL_COLUMNS}) SELECT {JOURNAL_COLUMNS} FROM ls_journal",
    )
    run(con, "DROP TABLE ls_journal")


def current_sql(relation: str) -> str:
    """The stored rows of the keys in ``relation`` (table_name, key): table_name, key, src."""
    parts = []
    for name in JOURNALED:
        t = table(name)
        key = key_json(name, {k: f"t.{k}" for k in t.key})
        parts.append(
            f"SELECT '{name}' AS table_name, {key} AS key, t.source_click_id AS src "
            f"FROM {name} t SEMI JOIN ({_typed_keys(name, relation)}) c "
            f"ON {_key_match(name, 't', 'c')}"
        )
    return "\nUNION ALL\n".join(parts)


def restore(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Put back the rows of `ls_restore` and log it: journal entries and `linksim.change` rows.

    `ls_restore` has one row per (table_name, key): `image` (the row to restore as JSON, NULL
    to delete it), and for the change log `click_id`, `action_id`, `target_kind` (NULL for
    bookkeeping rows), `target`, `person_id`, `contact_id`, `old_value`, `new_value`,
    `changed_at` and `cause`.
    """
    run(
        con,
        f"""
        INSERT INTO linksim.change (run_id, click_id, action_id, person_id, target_kind, target,
            old_value, new_value, changed_at, contact_id, cause)
        SELECT {int(run_id)}, click_id, action_id, person_id, target_kind, target, old_value,
               new_value, changed_at, contact_id, cause
        FROM ls_restore
        WHERE target_kind IS NOT NULL AND old_value IS DISTINCT FROM new_value
        """,
    )
    for name in JOURNALED:
        t = table(name)
        keys = _typed_keys(name, "ls_restore")
        match = " AND ".join(
            f"t.{k} = CAST(json_extract_string(r.key, '$.{k}') AS {t.column(k).type})"
            for k in t.key
        )
        run(
            con,
            f"""
            INSERT INTO linksim.journal ({JOURNAL_COLUMNS})
            SELECT {int(run_id)}, -1, '{name}', r.key,
                   CASE WHEN t.{t.key[0]} IS NOT NULL THEN to_json(t) END, NULL,
                   r.image IS NOT NULL,
                   CAST(json_extract_string(r.image, '$.source_click_id') AS BIGINT),
                   r.action_id, r.target_kind, r.target, r.person_id, r.contact_id,
                   r.old_value, r.new_value
            FROM ls_restore r
            LEFT JOIN {name} t ON {match}
            WHERE r.table_name = '{name}'
            """,
        )
        run(
            con,
            f"DELETE FROM {name} t WHERE EXISTS (SELECT 1 FROM ({keys}) c "
            f"WHERE {_key_match(name, 't', 'c')})",
        )
        columns = ", ".join(c.name for c in t.columns)
        values = ", ".join(
            f"CAST(json_extract_string(image, '$.{c.name}') AS {c.type})" for c in t.columns
        )
        run(
            con,
            f"INSERT INTO {name} ({columns}) SELECT {values} FROM ls_restore "
            f"WHERE table_name = '{name}' AND image IS NOT NULL",
        )
