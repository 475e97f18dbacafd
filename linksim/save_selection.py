"""Save a segment of people as a selection, through the change log, so `undo` can take it back.

A saved segment is a run of its own (mode ``segment`` in `linksim.run`): each person who joins
the selection gets a `linksim.change` row (cause ``saved segment``) and a journal entry, written
by the same `linksim.journal.restore` that undo and bot reversal use. People already in the
selection are left as they are and counted.

>>> import linksim
>>> con = linksim.connect(":memory:")
>>> save_selection(con, [1], "Hot leads")
Traceback (most recent call last):
...
linksim.errors.UsageError: save_selection: 1 person id is not in crm.person (e.g. 1)
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from linksim.errors import UsageError
from linksim.journal import key_json, restore
from linksim.store.query import fetch_one, fetch_value, run, transaction

__all__ = ["SavedSelection", "save_selection"]

CAUSE = "saved segment"


@dataclass(frozen=True)
class SavedSelection:
    """What `save_selection` did: the run, the selection, who joined and who already was in."""

    run_id: int
    selection: str
    selection_id: int
    created: bool
    added: int
    already: int

    def __str__(self) -> str:
        new = " (new selection)" if self.created else ""
        return (
            f"segment saved as selection {self.selection!r}{new} (run {self.run_id}): "
            f"{_people(self.added)} added, {_people(self.already)} already members; "
            f"`linksim undo {self.run_id}` takes it back"
        )

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(str(self))}</p>"


def _people(n: int) -> str:
    return f"{n:,} {'person' if n == 1 else 'people'}"


def save_selection(
    con: duckdb.DuckDBPyConnection,
    people: pd.DataFrame | Iterable[int],
    selection: str,
    *,
    create: bool = True,
) -> SavedSelection:
    """Add ``people`` (a frame with ``person_id``, or ids) to the selection named ``selection``.

    The selection is created when missing (unless ``create`` is false). One transaction; the
    result's ``run_id`` is what `linksim.undo` takes to remove the members it added (an empty
    selection it created stays).
    """
    ids = _person_ids(people)
    if ids.empty:
        raise UsageError(
            f"save_selection: no people to save as {selection!r}; the segment is empty"
        )
    con.register("ls_segment_people", ids)
    try:
        with transaction(con):
            _check_people(con)
            selection_id, created = _selection(con, selection, create=create)
            run_id = int(fetch_value(con, "SELECT nextval('linksim.run_id_seq')"))
            options = {"selection": selection, "people": len(ids), "created": created}
            run(
                con,
                "INSERT INTO linksim.run (run_id, mode, started_at, status, options) "
                "VALUES (?, 'segment', now()::TIMESTAMP, 'running', ?)",
                [run_id, json.dumps(options)],
            )
            already = int(
                fetch_value(
                    con,
                    "SELECT count(*) FROM crm.selection_member m SEMI JOIN ls_segment_people p "
                    "USING (person_id) WHERE m.selection_id = ?",
                    [selection_id],
                )
            )
            _stage_members(con, selection_id, selection)
            added = int(fetch_value(con, "SELECT count(*) FROM ls_restore"))
            restore(con, run_id)
            run(
                con,
                "UPDATE linksim.run SET status = 'ok', finished_at = now()::TIMESTAMP "
                "WHERE run_id = ?",
                [run_id],
            )
    finally:
        con.unregister("ls_segment_people")
        run(con, "DROP TABLE IF EXISTS ls_restore")
    return SavedSelection(run_id, selection, selection_id, created, added, already)


def _person_ids(people: pd.DataFrame | Iterable[int]) -> pd.DataFrame:
    if isinstance(people, pd.DataFrame):
        if "person_id" not in people.columns:
            raise UsageError(
                "save_selection: the frame has no person_id column; pass the frame of "
                "`linksim.segments.clickers` (or a part of it) or a list of person ids"
            )
        values: Any = people["person_id"]
    else:
        values = list(people)
    frame = pd.DataFrame({"person_id": pd.Series(values, dtype=object)})
    numbers = pd.to_numeric(frame["person_id"], errors="coerce")
    bad = frame["person_id"][numbers.isna() | (numbers % 1 != 0)]
    if not bad.empty:
        raise UsageError(
            f"save_selection: person ids must be whole numbers; found {bad.iloc[0]!r}"
            + (f" and {len(bad) - 1:,} more" if len(bad) > 1 else "")
        )
    return pd.DataFrame({"person_id": numbers.astype("int64")}).drop_duplicates()


def _check_people(con: duckdb.DuckDBPyConnection) -> None:
    missing = fetch_one(
        con,
        "SELECT count(*), min(person_id) FROM ls_segment_people "
        "ANTI JOIN crm.person USING (person_id)",
    )
    if missing and missing[0]:
        n, example = missing
        raise UsageError(
            f"save_selection: {n:,} person id{' is' if n == 1 else 's are'} not in crm.person "
            f"(e.g. {example})"
        )


def _selection(con: duckdb.DuckDBPyConnection, name: str, *, create: bool) -> tuple[int, bool]:
    if not isinstance(name, str) or not name.strip():
        raise UsageError("save_selection: the selection name must be a non-empty text")
    row = fetch_one(con, "SELECT selection_id FROM crm.selection WHERE name = ?", [name])
    if row is not None:
        return int(row[0]), False
    if not create:
        raise UsageError(
            f"save_selection: no selection named {name!r} in crm.selection; "
            "pass create=True to create it"
        )
    new_id = int(fetch_value(con, "SELECT coalesce(max(selection_id), 0) + 1 FROM crm.selection"))
    run(con, "INSERT INTO crm.selection (selection_id, name) VALUES (?, ?)", [new_id, name])
    return new_id, True


def _stage_members(con: duckdb.DuckDBPyConnection, selection_id: int, name: str) -> None:
    """`ls_restore` (see `linksim.journal.restore`): one new membership per person not yet in."""
    key = key_json(
        "crm.selection_member", {"selection_id": "$selection", "person_id": "p.person_id"}
    )
    run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE ls_restore AS
        SELECT 'crm.selection_member' AS table_name, {key} AS key,
               json_object('selection_id', $selection, 'person_id', p.person_id,
                           'since', now()::TIMESTAMP, 'source_click_id', NULL)::VARCHAR AS image,
               NULL::BIGINT AS click_id, NULL::VARCHAR AS action_id,
               'selection' AS target_kind, $name AS target, p.person_id,
               NULL::BIGINT AS contact_id, NULL::VARCHAR AS old_value, 'member' AS new_value,
               now()::TIMESTAMP AS changed_at, $cause AS cause
        FROM ls_segment_people p
        WHERE NOT EXISTS (SELECT 1 FROM crm.selection_member m
                          WHERE m.selection_id = $selection AND m.person_id = p.person_id)
        """,
        {"selection": selection_id, "name": name, "cause": CAUSE},
    )
