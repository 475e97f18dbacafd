"""A sequential reference replay of docs/SEMANTICS.md, written for clarity, not speed.

The set-based engine must end in exactly the state this replay predicts. The replay reads the
initial state of a linksim database into plain dicts, then goes one click at a time in
`(clicked_at, click_id)` order and one action at a time in file order, and returns the expected
final contents of the tables a run writes, as sorted lists of tuples (`Expected`). `snapshot`
reads the same tables from a database in the same shape, so a test compares
``snapshot(con) == replay(con, defs)`` after an engine run.

Nothing here imports the engine. The section numbers (§) refer to docs/SEMANTICS.md.

Choices made where SEMANTICS.md leaves room (see the report of the tests):

- `{team: X}`: a member's load on a day counts the rows stored *before* the run plus the rows
  assigned so far in the run; an assigned appointment counts on its UTC due day (the day it was
  assigned for). Rows of the run with other owners do not count.
- `next_free_slot` is recomputed for every owner who gets a new appointment (or one whose source
  moved) in the run; "linksim created with next_free_slot" = `source_action` names a follow-up of
  the current definitions with `next_free_slot: true`.
- A form's `prefill` shows the person's values as stored before the run, and a response already
  recorded is kept as it is (§5).
- `{clicked_at}` renders as `YYYY-MM-DD HH:MM` without a zone suffix; feedback merge values are
  escaped with `html.escape` (`'` becomes `&#x27;`).
- A script's `return_url` is the redirect of the first `response` action with a redirect in the
  same link entry.
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import ipaddress
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from linksim.bots import SCANNER_IP_RANGES, SCANNER_USER_AGENTS
from linksim.definitions import (
    PERSON_COLUMNS,
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
    value_problem,
)

__all__ = ["Expected", "Row", "replay", "snapshot", "store"]

Row = tuple[Any, ...]
UTC = dt.UTC
NEVER = dt.datetime.min  # the time of "nothing stored"
NO_CLICK = -1  # the click of "nothing stored" (ids are >= 0)
MANUAL = float("inf")  # the click of a manual edit: it wins a tie against any click
PRESENT, ABSENT = "member", None  # membership values, as `linksim.change` shows them


# --- the result -----------------------------------------------------------------------------------

# The columns compared, per table, in the order of the tuples.
COLUMNS: dict[str, tuple[str, ...]] = {
    "person_field": ("person_id", "field", "value", "set_at", "source_click_id"),
    "person_interest": ("person_id", "interest_id", "since", "source_click_id"),
    "contact_interest": ("contact_id", "interest_id", "since", "source_click_id"),
    "selection_member": ("selection_id", "person_id", "since", "source_click_id"),
    "project_member": ("project_id", "person_id", "since", "source_click_id"),
    "appointment": (
        "appointment_id",
        "kind",
        "task_type",
        "person_id",
        "contact_id",
        "project_id",
        "owner_id",
        "created_by_id",
        "description",
        "starts_at",
        "duration_minutes",
        "source_action",
        "source_click_id",
        "source_mailing_id",
        "due_at",
        "assignment",
    ),
    "ticket": (
        "ticket_id",
        "title",
        "priority",
        "category",
        "owner_id",
        "status",
        "person_id",
        "created_at",
        "source_action",
        "source_click_id",
        "source_mailing_id",
    ),
    "response": ("click_id", "action_id", "kind", "url", "text", "form_id", "prefill"),
    "removal": ("target_kind", "scope", "owner_id", "target_id", "removed_at", "source_click_id"),
    "state_writer": (
        "target_kind",
        "scope",
        "owner_id",
        "target_key",
        "action_id",
        "source_click_id",
    ),
}
TABLE_OF = {
    "person_field": "crm.person_field",
    "person_interest": "crm.person_interest",
    "contact_interest": "crm.contact_interest",
    "selection_member": "crm.selection_member",
    "project_member": "crm.project_member",
    "appointment": "crm.appointment",
    "ticket": "crm.ticket",
    "response": "linksim.response",
    "removal": "linksim.removal",
    "state_writer": "linksim.state_writer",
}
CHANGE_COLUMNS = (
    "click_id",
    "action_id",
    "person_id",
    "contact_id",
    "target_kind",
    "target",
    "old_value",
    "new_value",
    "changed_at",
)


def sort_key(row: Row) -> tuple[tuple[bool, Any], ...]:
    """Sort rows that may hold NULLs (NULL first)."""
    return tuple((value is not None, value) for value in row)


def rows(values: Iterable[Row]) -> list[Row]:
    return sorted(values, key=sort_key)


@dataclass
class Expected:
    """The contents of the tables a run writes, each a sorted list of tuples (see `COLUMNS`).

    `changes` (the `linksim.change` rows of the run, see `CHANGE_COLUMNS`) and `counts` (clicks
    seen, eligible, bot and quarantined in scope) are filled by `replay` only; `snapshot` leaves
    them empty.
    """

    person_field: list[Row] = field(default_factory=list)
    person_interest: list[Row] = field(default_factory=list)
    contact_interest: list[Row] = field(default_factory=list)
    selection_member: list[Row] = field(default_factory=list)
    project_member: list[Row] = field(default_factory=list)
    appointment: list[Row] = field(default_factory=list)
    ticket: list[Row] = field(default_factory=list)
    response: list[Row] = field(default_factory=list)
    removal: list[Row] = field(default_factory=list)
    state_writer: list[Row] = field(default_factory=list)
    changes: list[Row] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def tables(self) -> dict[str, list[Row]]:
        """The table contents, without `changes` and `counts`."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in COLUMNS}

    def diff(self, other: Expected) -> str:
        """A readable account of the tables where ``self`` and ``other`` differ ('' if none)."""
        out = []
        for name, mine in self.tables().items():
            theirs = getattr(other, name)
            if mine != theirs:
                only_mine = [r for r in mine if r not in theirs]
                only_theirs = [r for r in theirs if r not in mine]
                out.append(f"{name}:\n  only left:  {only_mine}\n  only right: {only_theirs}")
        return "\n".join(out)


def canonical_json(value: Any) -> str | None:
    """JSON text in one canonical form (keys sorted), so stored and expected JSON compare equal."""
    if value is None:
        return None
    return json.dumps(json.loads(value) if isinstance(value, str) else value, sort_keys=True)


def snapshot(con: duckdb.DuckDBPyConnection) -> Expected:
    """The tables of `Expected` as stored in a database."""
    result = Expected()
    for name, columns in COLUMNS.items():
        stored = con.execute(f"SELECT {', '.join(columns)} FROM {TABLE_OF[name]}").fetchall()
        if name == "response":
            stored = [(*r[:-1], canonical_json(r[-1])) for r in stored]
        setattr(result, name, rows(stored))
    return result


def store(con: duckdb.DuckDBPyConnection, expected: Expected) -> None:
    """Replace the tables of `Expected` in a database by ``expected`` (to chain oracle runs)."""
    for name, columns in COLUMNS.items():
        table = TABLE_OF[name]
        con.execute(f"DELETE FROM {table}").fetchall()
        marks = ", ".join("?" for _ in columns)
        for row in getattr(expected, name):
            con.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(row)
            ).fetchall()


# --- the initial state ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Click:
    click_id: int
    mailing_id: int
    link_id: int
    person_id: int
    clicked_at: dt.datetime
    user_agent: str | None = None
    ip: str | None = None

    @property
    def order(self) -> tuple[dt.datetime, int]:
        return (self.clicked_at, self.click_id)


@dataclass
class World:
    """The database as plain Python: what a run reads, and the tables it writes."""

    associates: dict[int, dict[str, Any]]
    contacts: dict[int, dict[str, Any]]
    persons: dict[int, dict[str, Any]]
    extra_fields: dict[str, tuple[str, list[str] | None]]  # name -> (type, options)
    ids: dict[str, dict[str, int]]  # "interest"/"selection"/"project" -> name -> id
    mailings: dict[int, dict[str, Any]]
    links: dict[int, dict[str, Any]]
    delivered: dict[tuple[int, int], dt.datetime | None]  # (mailing, person) -> delivered_at
    clicks: list[Click]
    # (person, field) -> [value, set_at, source_click_id]
    person_field: dict[tuple[int, str], list[Any]]
    # (kind, scope, owner, thing) -> [since, source_click_id]; kind interest/selection/project,
    # scope person/contact, owner a person or contact id, thing an interest/selection/project id
    members: dict[tuple[str, str, int, int], list[Any]]
    removals: dict[tuple[str, str, int, int], list[Any]]  # same key -> [removed_at, source]
    # (kind, scope, owner, target key) -> [action_id, source_click_id] of tied targets (§3)
    writers: dict[tuple[str, str, int, str], list[Any]]
    appointments: dict[str, dict[str, Any]]
    tickets: dict[str, dict[str, Any]]
    responses: dict[tuple[int, str], Row]


def _dicts(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def read_world(con: duckdb.DuckDBPyConnection) -> World:
    """Read everything a run looks at into plain Python."""
    members: dict[tuple[str, str, int, int], list[Any]] = {}
    for kind, scope, sql in (
        (
            "interest",
            "person",
            "SELECT person_id, interest_id, since, source_click_id FROM crm.person_interest",
        ),
        (
            "interest",
            "contact",
            "SELECT contact_id, interest_id, since, source_click_id FROM crm.contact_interest",
        ),
        (
            "selection",
            "person",
            "SELECT person_id, selection_id, since, source_click_id FROM crm.selection_member",
        ),
        (
            "project",
            "person",
            "SELECT person_id, project_id, since, source_click_id FROM crm.project_member",
        ),
    ):
        for owner, thing, since, source in con.execute(sql).fetchall():
            members[(kind, scope, owner, thing)] = [since, source]
    removals = {
        (kind, scope, owner, thing): [removed_at, source]
        for kind, scope, owner, thing, removed_at, source in con.execute(
            "SELECT target_kind, scope, owner_id, target_id, removed_at, source_click_id "
            "FROM linksim.removal"
        ).fetchall()
    }
    writers = {
        (kind, scope, owner, key): [action_id, source]
        for kind, scope, owner, key, action_id, source in con.execute(
            f"SELECT {', '.join(COLUMNS['state_writer'])} FROM linksim.state_writer"
        ).fetchall()
    }
    return World(
        associates={a["associate_id"]: a for a in _dicts(con, "SELECT * FROM crm.associate")},
        contacts={c["contact_id"]: c for c in _dicts(con, "SELECT * FROM crm.contact")},
        persons={p["person_id"]: p for p in _dicts(con, "SELECT * FROM crm.person")},
        extra_fields={
            name: (kind, options)
            for name, kind, options in con.execute(
                "SELECT name, type, options FROM crm.extra_field"
            ).fetchall()
        },
        ids={
            kind: dict(con.execute(f"SELECT name, {kind}_id FROM crm.{kind}").fetchall())
            for kind in ("interest", "selection", "project")
        },
        mailings={m["mailing_id"]: m for m in _dicts(con, "SELECT * FROM mail.mailing")},
        links={link["link_id"]: link for link in _dicts(con, "SELECT * FROM mail.link")},
        delivered={
            (m, p): d
            for m, p, d in con.execute(
                "SELECT mailing_id, person_id, delivered_at FROM mail.recipient"
            ).fetchall()
        },
        clicks=[
            Click(*r)
            for r in con.execute(
                "SELECT click_id, mailing_id, link_id, person_id, clicked_at, user_agent, ip "
                "FROM mail.click"
            ).fetchall()
        ],
        person_field={
            (p, f): [v, t, c]
            for p, f, v, t, c in con.execute(
                "SELECT person_id, field, value, set_at, source_click_id FROM crm.person_field"
            ).fetchall()
        },
        members=members,
        removals=removals,
        writers=writers,
        appointments={a["appointment_id"]: a for a in _dicts(con, "SELECT * FROM crm.appointment")},
        tickets={t["ticket_id"]: t for t in _dicts(con, "SELECT * FROM crm.ticket")},
        responses={
            (r[0], r[1]): (*r[:-1], canonical_json(r[-1]))
            for r in con.execute(
                f"SELECT {', '.join(COLUMNS['response'])} FROM linksim.response"
            ).fetchall()
        },
    )


# --- §1 scope and eligibility ---------------------------------------------------------------------


def in_scope(
    click: Click, since: dt.datetime | None, until: dt.datetime | None, mailing: int | None
) -> bool:
    """`since <= clicked_at < until`, and of the mailing if one is given."""
    return (
        (since is None or click.clicked_at >= since)
        and (until is None or click.clicked_at < until)
        and (mailing is None or click.mailing_id == mailing)
    )


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def bot_reason(click: Click, world: World, defs: Definitions) -> str | None:
    """The first bot rule of §1 that catches the click: a scanner's user agent, a scanner's
    address, too soon after delivery, or a burst of distinct links; None for a person's click."""
    rules = defs.bot_filter
    if not rules.enabled:
        return None
    agents = [*rules.user_agents, *(SCANNER_USER_AGENTS if rules.default_lists else ())]
    if click.user_agent is not None and any(a.lower() in click.user_agent.lower() for a in agents):
        return "user_agent"
    ranges = [*rules.ip_ranges, *(r for r, _ in SCANNER_IP_RANGES if rules.default_lists)]
    address = _address(click.ip)
    if address is not None and any(address in ipaddress.ip_network(r) for r in ranges):
        return "ip_range"
    delivered_at = world.delivered.get((click.mailing_id, click.person_id))
    if delivered_at is not None and click.clicked_at < delivered_at + dt.timedelta(
        seconds=rules.min_seconds_after_delivery
    ):
        return "too_soon"
    nearby_links = {
        other.link_id
        for other in world.clicks
        if other.person_id == click.person_id
        and other.mailing_id == click.mailing_id
        and abs(other.clicked_at - click.clicked_at) < dt.timedelta(seconds=1)
    }
    return "burst" if len(nearby_links) > rules.max_links_per_second else None


def is_bot(click: Click, world: World, defs: Definitions) -> bool:
    return bot_reason(click, world, defs) is not None


def _known(click: Click, world: World) -> bool:
    """Not quarantined: its person, mailing and link exist."""
    return (
        click.person_id in world.persons
        and click.mailing_id in world.mailings
        and click.link_id in world.links
    )


def eligible_clicks(world: World, defs: Definitions) -> list[Click]:
    """Every eligible click in the database (in scope or not), in `(clicked_at, click_id)` order."""
    known = [c for c in world.clicks if _known(c, world)]
    return sorted((c for c in known if not is_bot(c, world, defs)), key=lambda c: c.order)


def confirmed_at(click: Click, eligible: list[Click], defs: Definitions) -> dt.datetime | None:
    """When the person confirmed the click: their first eligible click in the same mailing (any
    link) at least `confirm_after_seconds` later; None if they did not (yet)."""
    wait = dt.timedelta(seconds=defs.bot_filter.confirm_after_seconds)
    later = [
        other.clicked_at
        for other in eligible
        if other.person_id == click.person_id
        and other.mailing_id == click.mailing_id
        and other.clicked_at >= click.clicked_at + wait
    ]
    return min(later, default=None)


# --- §2 which actions a click fires ---------------------------------------------------------------


@dataclass(frozen=True)
class Fired:
    """One fired (click, action) pair."""

    click: Click
    action: Any
    action_no: int
    entry_no: int
    link_hits: int
    at: dt.datetime  # when it fires: the click's time, or its confirmation's (require: confirmed)


def click_actions(click: Click, world: World, defs: Definitions) -> list[tuple[int, int, Any]]:
    """(action_no, entry_no, action) of every action the click's link entries list, in file
    order."""
    found = []
    action_no = 0
    for entry_no, entry in enumerate(defs.links):
        matches = (
            click.link_id == entry.link
            if entry.link is not None
            else world.links[click.link_id]["url"] == entry.url
        ) and (entry.mailings is None or click.mailing_id in entry.mailings)
        for action in entry.actions:
            if matches:
                found.append((action_no, entry_no, action))
            action_no += 1
    return found


def fired_pairs(world: World, defs: Definitions) -> list[Fired]:
    """Every fired (click, action) over all eligible clicks, in order: clicks by `(clicked_at,
    click_id)`, then actions in file order."""
    fired = []
    already: set[tuple[Any, ...]] = set()
    hits: dict[tuple[int, int], int] = defaultdict(int)
    eligible = eligible_clicks(world, defs)
    # every eligible click confirms, on any link, links without actions included
    confirmations = {c.click_id: confirmed_at(c, eligible, defs) for c in eligible}
    for click in eligible:
        hits[(click.person_id, click.link_id)] += 1
        for action_no, entry_no, action in click_actions(click, world, defs):
            at = click.clicked_at
            if action.require == "confirmed":
                confirmed = confirmations[click.click_id]
                if confirmed is None:
                    continue  # not (yet) confirmed: it neither fires nor blocks a later click
                at = confirmed
            if action.fire == "once_per_mailing":
                key: tuple[Any, ...] = (action.id, click.person_id, click.mailing_id)
            elif action.fire == "once":
                key = (action.id, click.person_id)
            else:
                key = (action.id, click.click_id)
            if key in already:
                continue  # a later click of the same (action, person[, mailing])
            already.add(key)
            link_hits = hits[(click.person_id, click.link_id)]
            fired.append(Fired(click, action, action_no, entry_no, link_hits, at))
    return fired


def created_id(f: Fired) -> str:
    """The deterministic id of a follow-up or ticket (§4)."""
    c = f.click
    if f.action.fire == "once_per_mailing":
        return f"{f.action.id}/p{c.person_id}/m{c.mailing_id}"
    if f.action.fire == "once":
        return f"{f.action.id}/p{c.person_id}"
    return f"{f.action.id}/c{c.click_id}"


# --- §6 templates ---------------------------------------------------------------------------------


def merge_values(f: Fired, world: World) -> dict[str, str | None]:
    click = f.click
    person = world.persons[click.person_id]
    contact = world.contacts.get(person["contact_id"]) if person["contact_id"] is not None else None
    link = world.links[click.link_id]
    names = [n for n in (person["first_name"], person["last_name"]) if n is not None]
    return {
        "mailing_name": world.mailings[click.mailing_id]["name"],
        "link_name": link["name"],
        "link_url": link["url"],
        "clicked_at": click.clicked_at.strftime("%Y-%m-%d %H:%M"),
        "person_name": " ".join(names),
        "first_name": person["first_name"],
        "contact_name": contact["name"] if contact else None,
        "link_hits": str(f.link_hits),
    }


def render(template: str | None, f: Fired, world: World, *, as_html: bool = False) -> str | None:
    if template is None:
        return None
    values = merge_values(f, world)
    out = []
    for literal, name in split_template(template):
        out.append(literal)
        if name is not None:
            value = values[name] or ""
            out.append(html.escape(value, quote=True) if as_html else value)
    return "".join(out)


# --- §7 scripts -----------------------------------------------------------------------------------


def return_url(f: Fired, defs: Definitions) -> str | None:
    for action in defs.links[f.entry_no].actions:
        if isinstance(action, ResponseAction) and action.redirect is not None:
            return str(action.redirect)
    return None


def run_script(
    action: ScriptAction,
    fired: list[Fired],
    world: World,
    defs: Definitions,
    scripts: Mapping[str, Callable[[pd.DataFrame], Any]],
) -> dict[tuple[int, str], str | None] | None:
    """Call the script with its fired clicks; its field changes by (click_id, field), or ``None``
    when it fails (raises, or returns rows for other clicks, unknown fields, values that do not
    fit)."""
    frame = pd.DataFrame(
        {
            "cust_id": [f.click.person_id for f in fired],
            "link_id": [f.click.link_id for f in fired],
            "shipment_id": [f.click.mailing_id for f in fired],
            "link_url": [world.links[f.click.link_id]["url"] for f in fired],
            "link_hits": [f.link_hits for f in fired],
            "return_url": [return_url(f, defs) for f in fired],
            "click_id": [f.click.click_id for f in fired],
            "clicked_at": [f.click.clicked_at for f in fired],
        }
    )
    try:
        result = scripts[action.script](frame)
    except Exception:
        return None
    if result is None:
        return {}
    clicks = {f.click.click_id for f in fired}
    changes: dict[tuple[int, str], str | None] = {}
    for click_id, name, value in result[["click_id", "field", "value"]].itertuples(index=False):
        text = None if pd.isna(value) else str(value)
        if int(click_id) not in clicks or name not in world.extra_fields:
            return None
        kind, options = world.extra_fields[name]
        if value_problem(name, kind, options, text) is not None:
            return None
        changes[(int(click_id), name)] = text
    return changes


# --- §3 state -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One state op: set a target to a value, at the clock of its click and action."""

    target: tuple[Any, ...]  # ("field", person, name) or (kind, scope, owner, thing)
    value: str | None
    fired: Fired

    @property
    def clock(self) -> tuple[dt.datetime, int]:
        return self.fired.click.order


def state_ops(
    f: Fired, world: World, script_changes: dict[str, dict[tuple[int, str], str | None] | None]
) -> list[Op]:
    """The ops of one fired action, one per target."""
    action, person_id = f.action, f.click.person_id
    if isinstance(action, SetFieldAction):
        return [Op(("field", person_id, action.field), action.value_text, f)]
    if isinstance(action, ScriptAction):
        changes = script_changes.get(action.id) or {}
        return [
            Op(("field", person_id, name), value, f)
            for (click_id, name), value in changes.items()
            if click_id == f.click.click_id
        ]
    if isinstance(action, InterestAction | SelectionAction | ProjectAction):
        scope, owner = "person", person_id
        if isinstance(action, InterestAction) and action.scope == "contact":
            scope, owner = "contact", world.persons[person_id]["contact_id"]
            if owner is None:
                return []  # a contact-scope interest of a person without a contact does nothing
        ids = world.ids[action.type]
        return [Op((action.type, scope, owner, ids[n]), PRESENT, f) for n in action.add] + [
            Op((action.type, scope, owner, ids[n]), ABSENT, f) for n in action.remove
        ]
    return []


def stored(world: World, target: tuple[Any, ...]) -> tuple[Any, tuple[dt.datetime, float]]:
    """The target's stored (value, clock) (§3)."""
    if target[0] == "field":
        row = world.person_field.get(target[1:])
        if row is None:
            return None, (NEVER, NO_CLICK)
        value, set_at, source = row
        return value, (set_at, MANUAL if source is None else source)
    if target in world.members:
        since, source = world.members[target]
        return PRESENT, (since, MANUAL if source is None else source)
    if target in world.removals:
        removed_at, source = world.removals[target]
        return ABSENT, (removed_at, MANUAL if source is None else source)
    return ABSENT, (NEVER, NO_CLICK)


def write(world: World, op: Op) -> None:
    """Apply an op: the value and the clock."""
    at, source = op.clock
    if op.target[0] == "field":
        world.person_field[op.target[1:]] = [op.value, at, source]
    elif op.value == PRESENT:
        world.members[op.target] = [at, source]
        world.removals.pop(op.target, None)
    else:
        world.members.pop(op.target, None)
        world.removals[op.target] = [at, source]


def writer_key(target: tuple[Any, ...]) -> tuple[str, str, int, str]:
    """A target as `linksim.state_writer` names it: (kind, scope, owner, field name or id)."""
    if target[0] == "field":
        return ("field", "person", target[1], target[2])
    kind, scope, owner, thing = target
    return (kind, scope, owner, str(thing))


def _writes(action: Any, world: World) -> dict[tuple[str, str, str | None], tuple[str, Any]]:
    """What an action may write: (kind, scope, field name or id) -> (op, value); a script may
    write any field: ("field", "person", None) -> ("script", None)."""
    if isinstance(action, SetFieldAction):
        return {("field", "person", action.field): ("set", action.value_text)}
    if isinstance(action, ScriptAction):
        return {("field", "person", None): ("script", None)}
    if isinstance(action, InterestAction | SelectionAction | ProjectAction):
        scope = action.scope if isinstance(action, InterestAction) else "person"
        ids = world.ids[action.type]
        found = {(action.type, scope, str(ids[n])): ("add", "member") for n in action.add}
        found.update({(action.type, scope, str(ids[n])): ("remove", None) for n in action.remove})
        return found
    return {}


def tied_targets(world: World, defs: Definitions) -> set[tuple[str, str, str | None]]:
    """The targets two actions of one click (a link of both entries, a mailing in common) may
    write differently (§3); ("field", "person", None) when two scripts meet: every field."""
    places = []  # (links, mailings or None, action) in file order
    for entry in defs.links:
        links = (
            {entry.link} & world.links.keys()
            if entry.link is not None
            else {i for i, link in world.links.items() if link["url"] == entry.url}
        )
        mailings = set(entry.mailings) if entry.mailings is not None else None
        places += [(links, mailings, action) for action in entry.actions]
    tied = set()
    for i, (links_a, mailings_a, a) in enumerate(places):
        for links_b, mailings_b, b in places[i + 1 :]:
            if not links_a & links_b:
                continue
            if mailings_a is not None and mailings_b is not None and not mailings_a & mailings_b:
                continue
            writes_b = _writes(b, world)
            for target, write_a in _writes(a, world).items():
                for other, write_b in writes_b.items():
                    if target[:2] != other[:2]:
                        continue
                    script = "script" in (write_a[0], write_b[0])
                    if (target[2] == other[2] or script) and (script or write_a != write_b):
                        tied.add((*target[:2], target[2] if target[2] is not None else other[2]))
    return tied


def is_tied(key: tuple[str, str, int, str], tied: set[tuple[str, str, str | None]]) -> bool:
    kind, scope, _, thing = key
    return (kind, scope, thing) in tied or (kind, scope, None) in tied


def replay_state(ops: list[Op], world: World, defs: Definitions) -> list[Row]:
    """Apply the ops in clock order; the `linksim.change` rows of the targets whose value
    changed."""
    tied = tied_targets(world, defs)
    numbers = {action.id: no for no, (_, action) in enumerate(defs.actions)}
    before: dict[tuple[Any, ...], Any] = {}
    winner: dict[tuple[Any, ...], Op] = {}
    for op in ops:  # already in clock order: (clicked_at, click_id, action_no)
        value, clock = stored(world, op.target)
        before.setdefault(op.target, value)
        winner[op.target] = op
        key = writer_key(op.target)
        # a tie (the same click again) on a tied target: the action that wrote it, if known
        writer = world.writers.get(key)
        rank = numbers.get(writer[0]) if writer and writer[1] == clock[1] else None
        if op.clock > clock:
            applies = True
        elif op.clock != clock:
            applies = False
        elif is_tied(key, tied) and rank is None:
            applies = True  # an unknown writer loses: the op becomes the writer
        elif is_tied(key, tied) and op.fired.action_no != rank:
            applies = op.fired.action_no > rank
        else:
            applies = op.value != value
        if applies:
            write(world, op)
            if is_tied(key, tied):
                world.writers[key] = [op.fired.action.id, op.fired.click.click_id]
    changes = []
    for target, op in winner.items():
        after, _ = stored(world, target)
        if after == before[target]:
            continue
        click = op.fired.click
        kind = target[0]
        name = target[2] if kind == "field" else _name_of(world, kind, target[3])
        contact = target[2] if kind != "field" and target[1] == "contact" else None
        changes.append(
            (
                click.click_id,
                op.fired.action.id,
                click.person_id,
                contact,
                kind,
                name,
                before[target],
                after,
                click.clicked_at,
            )
        )
    return changes


def _name_of(world: World, kind: str, thing: int) -> str:
    return next(name for name, i in world.ids[kind].items() if i == thing)


# --- §4 created rows ------------------------------------------------------------------------------


def working_day_on_or_after(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def due_day(d0: dt.date, business_days: int) -> dt.date:
    """`business_days: 0`: d0 if a working day, else the next; n > 0: the n-th working day after."""
    if business_days == 0:
        return working_day_on_or_after(d0)
    day = d0
    for _ in range(business_days):
        day = working_day_on_or_after(day + dt.timedelta(days=1))
    return day


def local_time(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """`day` at `at` in `zone`, as naive UTC."""
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def local_date(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    return moment.replace(tzinfo=UTC).astimezone(zone).date()


def zone_of(world: World, associate_id: int) -> ZoneInfo:
    return ZoneInfo(world.associates[associate_id]["timezone"] or "UTC")


def due_at(action: FollowUpAction, clicked_at: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    day = due_day(local_date(clicked_at, zone), action.due.business_days)
    return local_time(day, action.due.time, zone)


def owner_of(action: FollowUpAction | RequestAction, f: Fired, world: World) -> int | None:
    """The owner, for every form but `{team: …}` (assigned later, over all rows of the run)."""
    owner = action.owner
    if isinstance(owner, int):
        return owner
    if owner == "contact_owner":
        contact_id = world.persons[f.click.person_id]["contact_id"]
        contact = world.contacts.get(contact_id) if contact_id is not None else None
        if contact is not None and contact["owner_id"] is not None:
            return contact["owner_id"]
        return action.fallback
    return None  # unassigned


def team_day(f: Fired) -> dt.date:
    """The day a team row is balanced on: the UTC due day, or the UTC date of the click."""
    if isinstance(f.action, FollowUpAction):
        return due_day(f.click.clicked_at.date(), f.action.due.business_days)
    return f.click.clicked_at.date()


def stored_load(world: World, kind: str) -> dict[tuple[int, dt.date], int]:
    """Rows per (owner, UTC day) stored before the run: appointments by `starts_at`, tickets by
    `created_at`."""
    load: dict[tuple[int, dt.date], int] = defaultdict(int)
    for row in (world.appointments if kind == "appointment" else world.tickets).values():
        moment = row["starts_at"] if kind == "appointment" else row["created_at"]
        if row["owner_id"] is not None and moment is not None:
            load[(row["owner_id"], moment.date())] += 1
    return load


def assign_teams(
    new: list[tuple[Fired, dict[str, Any]]], world: World, load: dict[tuple[int, dt.date], int]
) -> None:
    """Water-fill the new rows of one kind whose owner is `{team: X}` (§4 Owner), starting from
    ``load``, the rows per (owner, day) stored before the run."""
    team_rows = [(f, row) for f, row in new if isinstance(f.action.owner, TeamOwner)]
    team_rows.sort(key=lambda fr: (team_day(fr[0]), fr[0].click.order, fr[0].action_no))
    for f, row in team_rows:
        day = team_day(f)
        members = sorted(
            a for a, assoc in world.associates.items() if assoc["team"] == f.action.owner.team
        )
        chosen = min(members, key=lambda a: (load[(a, day)], a))
        load[(chosen, day)] += 1
        row["owner_id"] = chosen


def create_rows(fired: list[Fired], world: World, defs: Definitions) -> list[Row]:
    """Follow-ups and tickets of the fired pairs in scope (§4); their change rows."""
    changes: list[Row] = []
    new_appointments: list[tuple[Fired, dict[str, Any]]] = []
    new_tickets: list[tuple[Fired, dict[str, Any]]] = []
    moved: set[str] = set()  # appointments whose source moved to an earlier click
    starts_before = {i: a["starts_at"] for i, a in world.appointments.items()}
    loads = {kind: stored_load(world, kind) for kind in ("appointment", "ticket")}
    touched: set[int] = set()  # owners whose appointments arrive or move
    click_of = {c.click_id: c for c in world.clicks}
    for f in fired:
        action, click = f.action, f.click
        if not isinstance(action, FollowUpAction | RequestAction):
            continue
        row_id = created_id(f)
        table = world.appointments if isinstance(action, FollowUpAction) else world.tickets
        if row_id in table:
            row = table[row_id]
            source = click_of.get(row["source_click_id"])
            if source is None or click.order >= source.order:
                continue  # re-running: nothing happens
            # An earlier click loaded later becomes the source; the owner never moves. The
            # texts are rendered again from it, so the row is what one pass would have made.
            row["source_click_id"], row["source_mailing_id"] = click.click_id, click.mailing_id
            if isinstance(action, FollowUpAction):
                row["description"] = render(action.description, f, world)
                row["due_at"] = due_at(action, click.clicked_at, zone_of(world, row["owner_id"]))
                row["starts_at"] = row["due_at"]
                moved.add(row_id)
                touched.add(row["owner_id"])
            else:
                row["title"] = render(action.title, f, world)
                old, row["created_at"] = row["created_at"], click.clicked_at
                changes.append(moved_change(row, "ticket", old, row["created_at"], click_of))
            continue
        person = world.persons[click.person_id]
        common = {
            "person_id": click.person_id,
            "owner_id": owner_of(action, f, world),
            "source_action": action.id,
            "source_click_id": click.click_id,
            "source_mailing_id": click.mailing_id,
        }
        if isinstance(action, FollowUpAction):
            row = {
                "appointment_id": row_id,
                "kind": action.kind,
                "task_type": action.task_type,
                "contact_id": person["contact_id"],
                "project_id": world.ids["project"][action.project] if action.project else None,
                "created_by_id": action.created_by,
                "description": render(action.description, f, world),
                "duration_minutes": action.duration_minutes,
                "assignment": action.assignment,
                **common,
            }
            new_appointments.append((f, row))
        else:
            row = {
                "ticket_id": row_id,
                "title": render(action.title, f, world),
                "priority": action.priority,
                "category": action.category,
                "status": "open",
                "created_at": click.clicked_at,
                **common,
            }
            new_tickets.append((f, row))
        kind = "appointment" if isinstance(action, FollowUpAction) else "ticket"
        changes.append(
            (
                click.click_id,
                action.id,
                click.person_id,
                None,
                kind,
                row_id,
                None,
                row_id,
                click.clicked_at,
            )
        )
    assign_teams(new_appointments, world, loads["appointment"])
    assign_teams(new_tickets, world, loads["ticket"])
    for f, row in new_appointments:
        row["due_at"] = due_at(f.action, f.click.clicked_at, zone_of(world, row["owner_id"]))
        row["starts_at"] = row["due_at"]
        world.appointments[row["appointment_id"]] = row
        touched.add(row["owner_id"])
    for _, row in new_tickets:
        world.tickets[row["ticket_id"]] = row
    for owner in sorted(touched):
        place_free_slots(owner, world, defs)
    # Appointments stored before the run whose source moved or whose start moved.
    for row_id, old in starts_before.items():
        row = world.appointments[row_id]
        if row_id in moved or row["starts_at"] != old:
            changes.append(moved_change(row, "appointment", old, row["starts_at"], click_of))
    return changes


def timestamp_text(moment: dt.datetime | None) -> str | None:
    """A timestamp as DuckDB casts it to text (`2026-03-05 10:00:00`, `… 10:00:00.4`)."""
    if moment is None:
        return None
    text = moment.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0")
    return text.rstrip(".")


def moved_change(
    row: dict[str, Any],
    kind: str,
    old: dt.datetime | None,
    new: dt.datetime | None,
    click_of: dict[int, Click],
) -> Row:
    """The change row of a moved source or start: old and new `starts_at` / `created_at`."""
    source = click_of[row["source_click_id"]]
    row_id = row["appointment_id"] if kind == "appointment" else row["ticket_id"]
    return (
        source.click_id,
        row["source_action"],
        row["person_id"],
        None,
        kind,
        row_id,
        timestamp_text(old),
        timestamp_text(new),
        source.clicked_at,
    )


def place_free_slots(owner: int, world: World, defs: Definitions) -> None:
    """Recompute the `next_free_slot` placement of one owner's appointments (§4)."""
    free_slot_actions = {
        action.id: action
        for _, action in defs.actions
        if isinstance(action, FollowUpAction) and action.due.next_free_slot
    }
    mine = [a for a in world.appointments.values() if a["owner_id"] == owner]
    to_place = [a for a in mine if a["source_action"] in free_slot_actions]
    placed_ids = {a["appointment_id"] for a in to_place}
    capacity = world.associates[owner]["daily_capacity"]
    if not capacity:  # NULL or 0: no shifting
        for a in to_place:
            a["starts_at"] = a["due_at"]
        return
    zone = zone_of(world, owner)
    taken: dict[dt.date, int] = defaultdict(int)
    for a in mine:
        if a["appointment_id"] not in placed_ids and a["starts_at"] is not None:
            taken[local_date(a["starts_at"], zone)] += 1
    click_of = {c.click_id: c for c in world.clicks}

    def order(a: dict[str, Any]) -> tuple[Any, ...]:
        source = click_of[a["source_click_id"]]
        return (
            local_date(a["due_at"], zone),
            source.clicked_at,
            source.click_id,
            a["source_action"],
        )

    for a in sorted(to_place, key=order):
        day = local_date(a["due_at"], zone)
        while day.weekday() >= 5 or taken[day] >= capacity:
            day += dt.timedelta(days=1)
        taken[day] += 1
        a["starts_at"] = local_time(day, free_slot_actions[a["source_action"]].due.time, zone)


# --- §5 responses ---------------------------------------------------------------------------------


def prefill(names: Iterable[str], person_id: int, world: World) -> str:
    person = world.persons[person_id]
    values: dict[str, str | None] = {}
    for name in names:
        if name in PERSON_COLUMNS:
            value = person[name]
            values[name] = None if value is None else str(value)
        elif (person_id, name) in world.person_field:
            values[name] = world.person_field[(person_id, name)][0]
        else:
            values[name] = None
    return json.dumps(values, sort_keys=True)


def respond(f: Fired, world: World) -> Row:
    action: ResponseAction = f.action
    if action.redirect is not None:
        return (f.click.click_id, action.id, "redirect", str(action.redirect), None, None, None)
    if action.feedback_text is not None:
        text = render(action.feedback_text, f, world, as_html=True)
        return (f.click.click_id, action.id, "feedback", None, text, None, None)
    assert action.form is not None
    filled = prefill(action.form.prefill, f.click.person_id, world)
    return (f.click.click_id, action.id, "form", None, None, action.form.form_id, filled)


# --- the run --------------------------------------------------------------------------------------


def replay(
    con: duckdb.DuckDBPyConnection,
    defs: Definitions,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    mailing: int | None = None,
    scripts: Mapping[str, Callable[[pd.DataFrame], Any]] | None = None,
    run_scripts: bool = True,
) -> Expected:
    """What one `apply` with this scope leaves in the tables of `Expected`, and its changes.

    ``run_scripts=False`` gives what a `preview` without scripts computes.
    """
    world = read_world(con)
    scoped = [c for c in world.clicks if in_scope(c, since, until, mailing)]
    eligible = {c.click_id for c in eligible_clicks(world, defs)}
    known = [c for c in scoped if _known(c, world)]
    counts = {
        "seen": len(scoped),
        "eligible": sum(c.click_id in eligible for c in scoped),
        "bot": sum(c.click_id not in eligible for c in known),
        "quarantined": len(scoped) - len(known),
    }
    # an action fires in the run where its click is confirmed (require: confirmed) or made
    fired = [
        f
        for f in fired_pairs(world, defs)
        if in_scope(replace(f.click, clicked_at=f.at), since, until, mailing)
    ]
    # what a click showed is history: responses come from the state before the run, once
    before = copy.deepcopy(world)
    new_responses = {
        (f.click.click_id, f.action.id): respond(f, before)
        for f in fired
        if isinstance(f.action, ResponseAction)
        and (f.click.click_id, f.action.id) not in world.responses
    }

    script_changes: dict[str, dict[tuple[int, str], str | None] | None] = {}
    for _, action in defs.actions:
        if isinstance(action, ScriptAction) and run_scripts:
            mine = [f for f in fired if f.action.id == action.id]
            script_changes[action.id] = run_script(action, mine, world, defs, scripts or {})

    ops = [op for f in fired for op in state_ops(f, world, script_changes)]
    changes = replay_state(ops, world, defs)
    changes += create_rows(fired, world, defs)
    world.responses.update(new_responses)
    return _expected(world, changes, counts)


def _expected(world: World, changes: list[Row], counts: dict[str, int]) -> Expected:
    def membership(kind: str, scope: str, person_first: bool) -> list[Row]:
        return rows(
            (owner, thing, *clock) if person_first else (thing, owner, *clock)
            for (k, s, owner, thing), clock in world.members.items()
            if (k, s) == (kind, scope)
        )

    return Expected(
        person_field=rows((p, f, *value) for (p, f), value in world.person_field.items()),
        person_interest=membership("interest", "person", True),
        contact_interest=membership("interest", "contact", True),
        selection_member=membership("selection", "person", False),
        project_member=membership("project", "person", False),
        appointment=rows(
            tuple(a[c] for c in COLUMNS["appointment"]) for a in world.appointments.values()
        ),
        ticket=rows(tuple(t[c] for c in COLUMNS["ticket"]) for t in world.tickets.values()),
        response=rows(world.responses.values()),
        removal=rows(
            (kind, scope, owner, thing, at, c)
            for (kind, scope, owner, thing), (at, c) in world.removals.items()
        ),
        state_writer=rows((*key, *writer) for key, writer in world.writers.items()),
        changes=rows(changes),
        counts=counts,
    )
