"""Definitions → small relations: the actions as rows, so that the engine is joins, not loops.

Every value of the definitions file reaches the database as data (a DataFrame registered on the
connection), never as SQL text. The relations are temporary tables named `ls_def_*`:

====================  ==========================================================================
ls_def_action         action_no, action_id, type, fire, require, entry_no
ls_def_link_action    link_id, mailing_id (NULL = any mailing), action_no
ls_def_state_op       action_no, kind, scope, target_id, field, op (set/add/remove), value
ls_def_tied           kind, scope, tkey (field name or target id; NULL: every field): the targets
                      two actions of one click may write differently
ls_def_follow_up      action_no, kind, task_type, project_id, created_by, owner_kind, owner_id,
                      team, fallback, business_days, at_minutes, next_free_slot, duration_minutes,
                      assignment
ls_def_request        action_no, priority, category, owner_kind, owner_id, team, fallback
ls_def_template       action_no, part_no, literal, placeholder
ls_def_response       action_no, kind, url, form_id
ls_def_prefill        action_no, pos, name
ls_def_script         action_no, script
ls_def_bot_agent      pattern_no, pattern (lower case): user agents that mark a bot
ls_def_bot_range      range_no, cidr, lo, hi (32 hex digits, see linksim.bots.ip_bounds), vendor
ls_def_bot_octet      octet: the first numbers of the IPv4 addresses in those ranges
====================  ==========================================================================
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from linksim.bots import SCANNER_IP_RANGES, SCANNER_USER_AGENTS, first_octets, ip_bounds
from linksim.definitions import (
    BotFilter,
    Definitions,
    FollowUpAction,
    InterestAction,
    ProjectAction,
    RequestAction,
    ResponseAction,
    ScriptAction,
    SelectionAction,
    SetFieldAction,
    TeamOwner,
    split_template,
)
from linksim.errors import UsageError
from linksim.store.query import run

__all__ = ["MAX_ACTIONS", "RELATIONS", "compile_definitions"]

# A limit per file, kept from when action_no took 12 bits of a packed clock; nothing packs it now
MAX_ACTIONS = 4096

RELATIONS: dict[str, dict[str, str]] = {
    "ls_def_action": {
        "action_no": "INTEGER",
        "action_id": "VARCHAR",
        "type": "VARCHAR",
        "fire": "VARCHAR",
        "require": "VARCHAR",
        "entry_no": "INTEGER",
    },
    "ls_def_entry": {"entry_no": "INTEGER", "link_id": "BIGINT", "url": "VARCHAR"},
    "ls_def_entry_mailing": {"entry_no": "INTEGER", "mailing_id": "BIGINT"},
    "ls_def_state_name": {
        "action_no": "INTEGER",
        "kind": "VARCHAR",
        "scope": "VARCHAR",
        "name": "VARCHAR",
        "op": "VARCHAR",
        "value": "VARCHAR",
    },
    "ls_def_follow_up": {
        "action_no": "INTEGER",
        "kind": "VARCHAR",
        "task_type": "VARCHAR",
        "project": "VARCHAR",
        "created_by": "BIGINT",
        "owner_kind": "VARCHAR",
        "owner_id": "BIGINT",
        "team": "VARCHAR",
        "fallback": "BIGINT",
        "business_days": "INTEGER",
        "at_minutes": "INTEGER",
        "next_free_slot": "BOOLEAN",
        "duration_minutes": "INTEGER",
        "assignment": "BOOLEAN",
    },
    "ls_def_request": {
        "action_no": "INTEGER",
        "priority": "VARCHAR",
        "category": "VARCHAR",
        "owner_kind": "VARCHAR",
        "owner_id": "BIGINT",
        "team": "VARCHAR",
        "fallback": "BIGINT",
    },
    "ls_def_template": {
        "action_no": "INTEGER",
        "part_no": "INTEGER",
        "literal": "VARCHAR",
        "placeholder": "VARCHAR",
    },
    "ls_def_response": {
        "action_no": "INTEGER",
        "kind": "VARCHAR",
        "url": "VARCHAR",
        "form_id": "VARCHAR",
    },
    "ls_def_prefill": {"action_no": "INTEGER", "pos": "INTEGER", "name": "VARCHAR"},
    "ls_def_script": {"action_no": "INTEGER", "script": "VARCHAR"},
    "ls_def_bot_agent": {"pattern_no": "INTEGER", "pattern": "VARCHAR"},
    "ls_def_bot_range": {
        "range_no": "INTEGER",
        "cidr": "VARCHAR",
        "lo": "VARCHAR",
        "hi": "VARCHAR",
        "vendor": "VARCHAR",
    },
    "ls_def_bot_octet": {"octet": "INTEGER"},
}

# Relations derived in SQL from the ones above, with the names resolved against the database.
DERIVED = {
    "ls_def_link_action": """
        SELECT l.link_id, m.mailing_id, a.action_no
        FROM ls_def_action a
        JOIN ls_def_entry e USING (entry_no)
        JOIN mail.link l ON l.link_id = e.link_id OR l.url = e.url
        LEFT JOIN ls_def_entry_mailing m USING (entry_no)
    """,
    "ls_def_state_op": """
        SELECT s.action_no, s.kind, s.scope,
               coalesce(i.interest_id, sel.selection_id, p.project_id) AS target_id,
               CASE WHEN s.kind = 'field' THEN s.name END AS field,
               s.name AS target, s.op, s.value
        FROM ls_def_state_name s
        LEFT JOIN crm.interest i ON s.kind = 'interest' AND i.name = s.name
        LEFT JOIN crm.selection sel ON s.kind = 'selection' AND sel.name = s.name
        LEFT JOIN crm.project p ON s.kind = 'project' AND p.name = s.name
    """,
    # The targets that two actions one click can fire (same link, a mailing in common) may
    # write differently: a script may write any field, so two scripts that meet tie every field
    # (tkey NULL). A tie on such a click's clock goes to the later action (SEMANTICS §3).
    "ls_def_tied": """
        WITH meet AS (
            SELECT DISTINCT p.action_no AS a, q.action_no AS b
            FROM ls_def_link_action p
            JOIN ls_def_link_action q
              ON p.link_id = q.link_id AND p.action_no < q.action_no
             AND (p.mailing_id IS NULL OR q.mailing_id IS NULL OR p.mailing_id = q.mailing_id)
        ),
        writes AS (
            SELECT action_no, kind, scope, coalesce(field, target_id::VARCHAR) AS tkey, op,
                   value, false AS script
            FROM ls_def_state_op
            UNION ALL
            SELECT action_no, 'field', 'person', NULL, 'set', NULL, true
            FROM ls_def_action WHERE type = 'script'
        )
        SELECT DISTINCT x.kind, x.scope, coalesce(x.tkey, y.tkey) AS tkey
        FROM meet m
        JOIN writes x ON x.action_no = m.a
        JOIN writes y
          ON y.action_no = m.b AND y.kind = x.kind AND y.scope = x.scope
         AND (y.tkey = x.tkey OR x.script OR y.script)
        WHERE x.script OR y.script OR x.op <> y.op OR x.value IS DISTINCT FROM y.value
    """,
}


def _owner(owner: object, fallback: int | None) -> dict[str, Any]:
    if isinstance(owner, TeamOwner):
        return {"owner_kind": "team", "owner_id": None, "team": owner.team, "fallback": fallback}
    if isinstance(owner, int):
        return {"owner_kind": "associate", "owner_id": owner, "team": None, "fallback": fallback}
    return {"owner_kind": str(owner), "owner_id": None, "team": None, "fallback": fallback}


def _template(rows: list[dict[str, Any]], action_no: int, text: str | None) -> None:
    for part_no, (literal, placeholder) in enumerate(split_template(text or "")):
        rows.append(
            {
                "action_no": action_no,
                "part_no": part_no,
                "literal": literal,
                "placeholder": placeholder,
            }
        )


def _rows(defs: Definitions) -> dict[str, list[dict[str, Any]]]:
    """The definitions as rows, per relation (a loop over actions, never over clicks)."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in RELATIONS}
    action_no = 0
    for entry_no, link in enumerate(defs.links):
        rows["ls_def_entry"].append({"entry_no": entry_no, "link_id": link.link, "url": link.url})
        for mailing_id in link.mailings or ():
            rows["ls_def_entry_mailing"].append({"entry_no": entry_no, "mailing_id": mailing_id})
        for action in link.actions:
            rows["ls_def_action"].append(
                {
                    "action_no": action_no,
                    "action_id": action.id,
                    "type": action.type,
                    "fire": action.fire,
                    "require": action.require,
                    "entry_no": entry_no,
                }
            )
            _action_rows(rows, action_no, action)
            action_no += 1
    _bot_rows(rows, defs.bot_filter)
    return rows


def _bot_rows(rows: dict[str, list[dict[str, Any]]], bots: BotFilter) -> None:
    """The user agents and address ranges that mark a bot: the file's first, then the defaults."""
    if not bots.enabled:
        return
    agents = list(bots.user_agents) + list(SCANNER_USER_AGENTS if bots.default_lists else ())
    rows["ls_def_bot_agent"] = [
        {"pattern_no": no, "pattern": pattern.lower()} for no, pattern in enumerate(agents)
    ]
    ranges = [(cidr, "your definitions") for cidr in bots.ip_ranges]
    ranges += list(SCANNER_IP_RANGES if bots.default_lists else ())
    bounds = [(cidr, vendor, *ip_bounds(cidr)) for cidr, vendor in ranges]
    rows["ls_def_bot_range"] = [
        # 128-bit numbers as 32 hex digits: text compares as the numbers do, in every engine
        {"range_no": no, "cidr": cidr, "lo": f"{lo:032x}", "hi": f"{hi:032x}", "vendor": vendor}
        for no, (cidr, vendor, lo, hi) in enumerate(bounds)
    ]
    octets: set[int] = set()
    for _, _, lo, hi in bounds:
        span = first_octets(lo, hi)
        if span:
            octets.update(range(span[0], span[1] + 1))
    rows["ls_def_bot_octet"] = [{"octet": octet} for octet in sorted(octets)]


def _action_rows(rows: dict[str, list[dict[str, Any]]], no: int, action: Any) -> None:
    if isinstance(action, InterestAction | SelectionAction | ProjectAction):
        scope = action.scope if isinstance(action, InterestAction) else "person"
        for op, names in (("add", action.add), ("remove", action.remove)):
            rows["ls_def_state_name"] += [
                {
                    "action_no": no,
                    "kind": action.type,
                    "scope": scope,
                    "name": name,
                    "op": op,
                    "value": "member" if op == "add" else None,
                }
                for name in names
            ]
    elif isinstance(action, SetFieldAction):
        rows["ls_def_state_name"].append(
            {
                "action_no": no,
                "kind": "field",
                "scope": "person",
                "name": action.field,
                "op": "set",
                "value": action.value_text,
            }
        )
    elif isinstance(action, FollowUpAction):
        at = action.due.time
        rows["ls_def_follow_up"].append(
            {
                "action_no": no,
                "kind": action.kind,
                "task_type": action.task_type,
                "project": action.project,
                "created_by": action.created_by,
                **_owner(action.owner, action.fallback),
                "business_days": action.due.business_days,
                "at_minutes": at.hour * 60 + at.minute,
                "next_free_slot": action.due.next_free_slot,
                "duration_minutes": action.duration_minutes,
                "assignment": action.assignment,
            }
        )
        _template(rows["ls_def_template"], no, action.description)
    elif isinstance(action, RequestAction):
        rows["ls_def_request"].append(
            {
                "action_no": no,
                "priority": action.priority,
                "category": action.category,
                **_owner(action.owner, action.fallback),
            }
        )
        _template(rows["ls_def_template"], no, action.title)
    elif isinstance(action, ResponseAction):
        form = action.form
        rows["ls_def_response"].append(
            {
                "action_no": no,
                "kind": action.kind,
                "url": action.redirect,
                "form_id": form.form_id if form else None,
            }
        )
        if action.feedback_text is not None:
            _template(rows["ls_def_template"], no, action.feedback_text)
        for pos, name in enumerate(form.prefill if form else ()):
            rows["ls_def_prefill"].append({"action_no": no, "pos": pos, "name": name})
    elif isinstance(action, ScriptAction):
        rows["ls_def_script"].append({"action_no": no, "script": action.script})


def compile_definitions(con: duckdb.DuckDBPyConnection, defs: Definitions) -> None:
    """Register the definitions on ``con`` as the temporary relations listed above.

    >>> from linksim import connect, parse_definitions
    >>> con = connect(":memory:")
    >>> defs = parse_definitions({"version": 1, "links": [{"link": 1, "actions": [
    ...     {"id": "hi", "type": "response", "feedback_text": "Hi {first_name}!"}]}]})
    >>> compile_definitions(con, defs)
    >>> con.sql("SELECT literal, placeholder FROM ls_def_template ORDER BY part_no").fetchall()
    [('Hi ', 'first_name'), ('!', None)]
    """
    if len(defs.actions) > MAX_ACTIONS:
        raise UsageError(
            f"the definitions have {len(defs.actions)} actions; at most {MAX_ACTIONS} are "
            "supported in one file: split it into several files"
        )
    rows = _rows(defs)
    for name, columns in RELATIONS.items():
        # object dtype keeps ints as ints and None as NULL (a float column would turn them NaN)
        frame = pd.DataFrame(rows[name], columns=list(columns), dtype=object)
        casts = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in columns.items())
        con.register("ls_def_frame", frame)
        try:
            run(con, f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {casts} FROM ls_def_frame")
        finally:
            con.unregister("ls_def_frame")
    for name, sql in DERIVED.items():
        run(con, f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
