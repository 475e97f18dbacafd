"""Write a computed change set into the `crm` and `linksim` tables (apply only).

Every statement reads the relations of the pipeline; nothing here decides anything. The caller
runs these inside one transaction.
"""

from __future__ import annotations

import duckdb

from linksim.store.query import run

__all__ = ["write_changes"]

# (table, scope, owner column, target column, kind) of each membership table.
MEMBERSHIPS = (
    ("crm.person_interest", "person", "person_id", "interest_id", "interest"),
    ("crm.contact_interest", "contact", "contact_id", "interest_id", "interest"),
    ("crm.selection_member", "person", "person_id", "selection_id", "selection"),
    ("crm.project_member", "person", "person_id", "project_id", "project"),
)

APPOINTMENT_COLUMNS = (
    "appointment_id, kind, task_type, person_id, contact_id, project_id, owner_id, "
    "created_by_id, description, starts_at, duration_minutes, source_action, source_click_id, "
    "source_mailing_id, due_at, assignment"
)
TICKET_COLUMNS = (
    "ticket_id, title, priority, category, owner_id, status, person_id, created_at, "
    "source_action, source_click_id, source_mailing_id"
)


def _state(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    # The pipeline knows which target rows exist (`has_row`, `has_removal`). A row it writes
    # is deleted where it exists, then inserted: the rows are whole (the key, the value and its
    # clock), and DuckDB rewrites every row group an UPDATE touches at the commit, which cost
    # twice a delete and an append (a delete only marks rows). No upsert (ON CONFLICT) either:
    # these tables enforce no key.
    run(
        con,
        """
        DELETE FROM crm.person_field t
        WHERE EXISTS (SELECT 1 FROM ls_state_applied a
                      WHERE a.kind = 'field' AND a.has_row
                        AND a.owner_id = t.person_id AND a.field = t.field)
        """,
    )
    run(
        con,
        """
        INSERT INTO crm.person_field (person_id, field, value, set_at, source_click_id)
        SELECT owner_id, field, value, clicked_at, click_id
        FROM ls_state_applied WHERE kind = 'field'
        """,
    )
    for table, scope, owner, target, kind in MEMBERSHIPS:
        applied = f"FROM ls_state_applied a WHERE a.kind = '{kind}' AND a.scope = '{scope}'"
        run(  # a removed member, and one added again (a new since and source click)
            con,
            f"""
            DELETE FROM {table} t
            WHERE EXISTS (SELECT 1 {applied} AND a.has_row
                          AND a.owner_id = t.{owner} AND a.target_id = t.{target})
            """,
        )
        run(
            con,
            f"""
            INSERT INTO {table} ({owner}, {target}, since, source_click_id)
            SELECT owner_id, target_id, clicked_at, click_id
            {applied} AND a.op = 'add'
            """,
        )
    run(  # a removal undone by an add, and one removed again (a new clock)
        con,
        """
        DELETE FROM linksim.removal r
        WHERE EXISTS (SELECT 1 FROM ls_state_applied a
                      WHERE a.has_removal
                        AND a.kind = r.target_kind AND a.scope = r.scope
                        AND a.owner_id = r.owner_id AND a.target_id = r.target_id)
        """,
    )
    run(
        con,
        """
        INSERT INTO linksim.removal
            (target_kind, scope, owner_id, target_id, removed_at, source_click_id, run_id)
        SELECT kind, scope, owner_id, target_id, clicked_at, click_id, ?
        FROM ls_state_applied WHERE op = 'remove'
        """,
        [run_id],
    )


def _writers(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    # which action wrote each tied target: a later batch's tie on its click reads it
    run(
        con,
        """
        DELETE FROM linksim.state_writer x
        WHERE EXISTS (SELECT 1 FROM ls_state_applied a
                      WHERE a.tied AND a.kind = x.target_kind AND a.scope = x.scope
                        AND a.owner_id = x.owner_id AND a.tkey = x.target_key)
        """,
    )
    run(
        con,
        """
        INSERT INTO linksim.state_writer
            (target_kind, scope, owner_id, target_key, action_id, source_click_id, run_id)
        SELECT kind, scope, owner_id, tkey, action_id, click_id, ?
        FROM ls_state_applied WHERE tied
        """,
        [run_id],
    )


def _created(con: duckdb.DuckDBPyConnection) -> None:
    # A stored row (is_stored) gets its new source in place; new rows are appended: cheaper
    # than INSERT OR REPLACE, which deletes and re-inserts through the primary key's index.
    for table, out, key, columns in (
        ("crm.appointment", "ls_appointment_out", "appointment_id", APPOINTMENT_COLUMNS),
        ("crm.ticket", "ls_ticket_out", "ticket_id", TICKET_COLUMNS),
    ):
        values = [c.strip() for c in columns.split(",") if c.strip() != key]
        run(
            con,
            f"UPDATE {table} t SET {', '.join(f'{c} = o.{c}' for c in values)} "
            f"FROM {out} o WHERE o.is_stored AND t.{key} = o.{key}",
        )
        run(
            con,
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {out} WHERE NOT is_stored",
        )
        if table == "crm.appointment":
            run(
                con,
                "UPDATE crm.appointment a SET starts_at = r.starts_at "
                "FROM ls_rescheduled r WHERE a.appointment_id = r.appointment_id",
            )


def _records(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    run(
        con,
        "INSERT INTO linksim.response (click_id, action_id, kind, url, text, form_id, prefill, "
        "run_id) SELECT click_id, action_id, kind, url, text, form_id, prefill, ? "
        "FROM ls_responses",
        [run_id],
    )
    run(
        con,
        "INSERT INTO linksim.change (run_id, click_id, action_id, person_id, target_kind, "
        "target, old_value, new_value, changed_at, contact_id) "
        "SELECT ?, click_id, action_id, person_id, target_kind, target, old_value, new_value, "
        "changed_at, contact_id FROM ls_changes",
        [run_id],
    )


def write_changes(con: duckdb.DuckDBPyConnection, run_id: int, *, tied: bool = True) -> None:
    """Write the change set computed on ``con`` into the database.

    ``tied=False``: the definitions tie no target (`ls_def_tied` is empty), so the statements
    that keep `linksim.state_writer` are left out (on Spark each rewrites the table)."""
    _state(con, run_id)
    if tied:
        _writers(con, run_id)
    _created(con)
    _records(con, run_id)
