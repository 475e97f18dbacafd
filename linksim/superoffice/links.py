"""SuperOffice link actions (`s_link`) as a linksim definitions file (SPEC §3).

`s_link.action_flags` is a bitmask of SuperOffice's ShipmentLinkAction; each flag, the extra field
and the redirect kind become one action of the link, named ``so-<link id>-<what>``. Names
(interests, selections, projects, task types, categories) are looked up in the exported lists, so
that the file names things the way the CRM does. Whatever cannot be expressed is reported with
the link it belongs to, never dropped silently: Customer Service selections, a name missing from
its list, an ejScript (a script must be registered in linksim), a fixed task start.

This reads one row per configured link — the definitions, not the clicks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb

from linksim.superoffice.sources import staged
from linksim.superoffice.tables import lookup_sql, parsed_timestamp

__all__ = ["ACTION_FLAGS", "REDIRECT_KINDS", "TASK_FLAGS", "LinkNote", "link_definitions"]

ACTION_FLAGS = {
    "SetPersonInterest": 1,
    "RemovePersonInterest": 2,
    "SetContactInterest": 4,
    "RemoveContactInterest": 8,
    "AddToSmSelection": 16,
    "RemoveFromSmSelection": 32,
    "AddToSmProject": 64,
    "RemoveFromSmProject": 128,
    "AddTask": 256,
    "AddRequest": 512,
    "AddToCsSelection": 1024,
    "RemoveFromCsSelection": 2048,
    "ExecuteScript": 4096,
}
"""SuperOffice's ShipmentLinkAction bits."""

TASK_FLAGS = {"AssignToOurContact": 1, "UseNextAvailableTime": 2, "IsAssignment": 4}
"""SuperOffice's ShipmentLinkTaskFlags bits."""

REDIRECT_KINDS = {"0": "ShowText", "1": "RedirectToURL", "2": "ShowForm"}
"""SuperOffice's ShipmentLinkRedirectKind."""

_PRIORITIES = {"low": "low", "medium": "medium", "normal": "medium", "high": "high",
               "critical": "critical", "urgent": "critical"}  # fmt: skip
_SCRIPT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class LinkNote:
    """Something about one SuperOffice link that the definitions could not say as SuperOffice
    did, or that needs the user: ``kind`` is ``unsupported``, ``changed`` or ``todo``."""

    link_id: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"s_link {self.link_id}: {self.message}"


def _interest(source: str, value: str) -> str:
    """The name of a live interest item (a deleted one has none: a note says so)."""
    return (
        f"(SELECT min(m.name) FROM so_interest_names m WHERE m.source = '{source}' "
        f"AND m.source_id = nullif(trim({value}), '') AND NOT m.deleted)"
    )


_LINKS_SQL = f"""
SELECT TRY_CAST(trim(s.id) AS BIGINT) AS link_id, trim(s.url) AS url,
       coalesce(TRY_CAST(trim(s.action_flags) AS BIGINT), 0) AS flags,
       nullif(trim(s.extra_field), '') AS extra_field, s.value,
       nullif(nullif(trim(s.script_id), ''), '-1') AS script_id,
       {lookup_sql("ejscript", "id", "s.script_id", "include_id")} AS script_include_id,
       nullif(trim(s.ticket_title), '') AS ticket_title,
       nullif(trim(s.ticket_category), '') AS ticket_category,
       {lookup_sql("ej_category", "id", "s.ticket_category")} AS category_name,
       nullif(trim(s.ticket_priority), '') AS ticket_priority,
       {lookup_sql("ticket_priority", "id", "s.ticket_priority")} AS priority_name,
       nullif(trim(s.ticket_owned_by), '') AS ticket_owned_by,
       (SELECT TRY_CAST(trim(a.associate_id) AS BIGINT) FROM {staged("associate")} a
        WHERE trim(a.ejuserid) = trim(s.ticket_owned_by) LIMIT 1) AS ticket_owner,
       s.template_text,
       nullif(nullif(trim(s.add_person_interest), ''), '0') AS add_person_interest,
       {_interest("persint", "s.add_person_interest")} AS add_person_interest_name,
       nullif(nullif(trim(s.remove_person_interest), ''), '0') AS remove_person_interest,
       {_interest("persint", "s.remove_person_interest")} AS remove_person_interest_name,
       nullif(nullif(trim(s.add_contact_interest), ''), '0') AS add_contact_interest,
       {_interest("contint", "s.add_contact_interest")} AS add_contact_interest_name,
       nullif(nullif(trim(s.remove_contact_interest), ''), '0') AS remove_contact_interest,
       {_interest("contint", "s.remove_contact_interest")} AS remove_contact_interest_name,
       nullif(nullif(trim(s.add_contact_selection), ''), '0') AS add_selection,
       {lookup_sql("selection", "selection_id", "s.add_contact_selection")} AS add_selection_name,
       nullif(nullif(trim(s.remove_contact_selection), ''), '0') AS remove_selection,
       {lookup_sql("selection", "selection_id", "s.remove_contact_selection")}
           AS remove_selection_name,
       nullif(nullif(trim(s.add_project), ''), '0') AS add_project,
       {lookup_sql("project", "project_id", "s.add_project")} AS add_project_name,
       nullif(nullif(trim(s.remove_project), ''), '0') AS remove_project,
       {lookup_sql("project", "project_id", "s.remove_project")} AS remove_project_name,
       nullif(trim(s.task_text), '') AS task_text,
       nullif(nullif(trim(s.task_idx), ''), '0') AS task_idx,
       {lookup_sql("task", "task_id", "s.task_idx")} AS task_name,
       {lookup_sql("task", "task_id", "s.task_idx", "record_type")} AS task_record_type,
       coalesce(TRY_CAST(trim(s.task_flags) AS BIGINT), 0) AS task_flags,
       TRY_CAST(nullif(trim(s.task_associate_id), '0') AS BIGINT) AS task_associate_id,
       TRY_CAST(nullif(trim(s.task_creating_associate_id), '0') AS BIGINT) AS task_creator,
       nullif(nullif(trim(s.task_project), ''), '0') AS task_project,
       {lookup_sql("project", "project_id", "s.task_project")} AS task_project_name,
       {parsed_timestamp("s.task_start")} AS task_start,
       nullif(trim(s.task_start), '') AS task_start_text,
       nullif(trim(s.action_flags), '') AS flags_text,
       (SELECT count(*) FROM {staged("task")}) AS task_list_rows,
       (SELECT list(TRY_CAST(trim(a.associate_id) AS BIGINT)) FROM {staged("associate")} a)
           AS associates,
       TRY_CAST(trim(s.task_duration) AS BIGINT) AS task_duration,
       nullif(trim(s.redirect_kind), '') AS redirect_kind,
       nullif(nullif(trim(s.form_id), ''), '0') AS form_id
FROM {staged("s_link")} s JOIN so_route_s_link r ON r._row = s._row AND r._to = 'mail.link'
WHERE TRY_CAST(trim(s.id) AS BIGINT) IS NOT NULL
ORDER BY link_id
"""


# the columns that _LINKS_SQL renames, by their SuperOffice names
_COLUMNS = {
    "add_selection": "add_contact_selection",
    "remove_selection": "remove_contact_selection",
    "task_creator": "task_creating_associate_id",
}


def _literal(text: str) -> str:
    """SuperOffice text as a linksim template that shows it as it is (braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


class _Link:
    """The actions of one link being built, and the notes about it."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.id = int(row["link_id"])
        self.actions: list[dict[str, Any]] = []
        self.notes: list[LinkNote] = []

    def note(self, kind: str, message: str) -> None:
        self.notes.append(LinkNote(self.id, kind, message))

    def text(self, column: str) -> str:
        """SuperOffice text as a template showing it as it is; merge fields are noted."""
        value = self.row[column]
        if "{" in value or "[[" in value:
            self.note(
                "changed",
                f"{column} has merge fields or braces, kept as literal text; linksim's "
                "placeholders are {first_name}, {person_name}, {contact_name}, {link_name}, …",
            )
        return _literal(value)

    def has(self, flag: str) -> bool:
        return bool(self.row["flags"] & ACTION_FLAGS[flag])

    def named(self, flag: str, column: str, what: str) -> list[str]:
        """The name behind ``column`` when ``flag`` is set: one name, or none with a note."""
        if not self.has(flag):
            return []
        value, name = self.row[column], self.row[f"{column}_name"]
        shown = _COLUMNS.get(column, column)  # as SuperOffice names it
        if value is None:
            self.note("unsupported", f"{flag} is set but {shown} is empty: nothing to do")
        elif name is None:
            self.note(
                "unsupported",
                f"{flag}: {shown} {value} is not in the exported {what}, or is deleted there",
            )
        else:
            return [name]
        return []

    def membership(self, kind: str, add: list[str], remove: list[str], **extra: Any) -> None:
        if add or remove:
            action: dict[str, Any] = {"id": f"so-{self.id}-{kind.replace('_', '-')}"}
            action["type"] = "interest" if kind.endswith("interest") else kind
            action |= extra
            if add:
                action["add"] = add
            if remove:
                action["remove"] = remove
            self.actions.append(action)


def link_definitions(con: duckdb.DuckDBPyConnection) -> tuple[list[dict[str, Any]], list[LinkNote]]:
    """The ``links`` entries of a definitions file for the staged `s_link` rows, and the notes.

    A link gets an entry when SuperOffice does something on a click beyond redirecting to its
    URL; the redirect itself becomes a ``response`` only on such a link.
    """
    cursor = con.execute(_LINKS_SQL)
    columns = [d[0] for d in cursor.description]
    links, notes = [], []
    for values in cursor.fetchall():
        link = _Link(dict(zip(columns, values, strict=True)))
        _actions(link)
        notes.extend(link.notes)
        if link.actions:
            links.append({"link": link.id, "actions": link.actions})
    return links, notes


def _actions(link: _Link) -> None:
    row = link.row
    if row["flags_text"] is not None and not row["flags_text"].isdigit():
        link.note(
            "unsupported",
            f"action_flags {row['flags_text']!r} is not a number (a sum of ShipmentLinkAction "
            "flags): none of its actions were read",
        )
    unknown = row["flags"] & ~sum(ACTION_FLAGS.values())
    if unknown:
        link.note("unsupported", f"action_flags has bits linksim does not know: {unknown}")
    link.membership(
        "interest",
        link.named("SetPersonInterest", "add_person_interest", "PersInt list"),
        link.named("RemovePersonInterest", "remove_person_interest", "PersInt list"),
    )
    link.membership(
        "contact_interest",
        link.named("SetContactInterest", "add_contact_interest", "ContInt list"),
        link.named("RemoveContactInterest", "remove_contact_interest", "ContInt list"),
        scope="contact",
    )
    link.membership(
        "selection",
        link.named("AddToSmSelection", "add_selection", "selection table"),
        link.named("RemoveFromSmSelection", "remove_selection", "selection table"),
    )
    link.membership(
        "project",
        link.named("AddToSmProject", "add_project", "project table"),
        link.named("RemoveFromSmProject", "remove_project", "project table"),
    )
    for flag in ("AddToCsSelection", "RemoveFromCsSelection"):
        if link.has(flag):
            link.note(
                "unsupported",
                f"{flag}: Customer Service selections (ejselection) have no linksim counterpart; "
                "nothing was defined for it",
            )
    if row["extra_field"] is not None:
        link.actions.append(
            {
                "id": f"so-{link.id}-field",
                "type": "set_field",
                "field": row["extra_field"],
                "value": row["value"],
            }
        )
    if link.has("AddTask"):
        _follow_up(link)
    if link.has("AddRequest"):
        _request(link)
    if link.has("ExecuteScript"):
        _script(link)
    _response(link)


def _follow_up(link: _Link) -> None:
    row, flags = link.row, link.row["task_flags"]
    action: dict[str, Any] = {"id": f"so-{link.id}-task", "type": "follow_up"}
    action["kind"] = "meeting" if (row["task_record_type"] or "").strip() == "1" else "task"
    if row["task_name"] is not None:
        action["task_type"] = row["task_name"]
    elif row["task_idx"] is not None and not row["task_list_rows"]:
        link.note(
            "changed",
            f"AddTask: task_idx {row['task_idx']}, but the export has no Task list: the "
            "follow-up has no task type, and is a task even if the type is an appointment",
        )
    elif row["task_idx"] is not None:
        link.note(
            "changed",
            f"AddTask: task_idx {row['task_idx']} is not in the exported Task "
            "list, so the follow-up has no task type",
        )
    if row["task_text"] is not None:
        action["description"] = link.text("task_text")
    if row["task_project_name"] is not None:
        action["project"] = row["task_project_name"]
    elif row["task_project"] is not None:
        link.note(
            "changed",
            f"AddTask: task_project {row['task_project']} is not in the "
            "exported project table, so the follow-up has no project",
        )
    known = set(row["associates"] or ())
    for column in ("task_associate_id", "task_creator"):
        if known and row[column] is not None and row[column] not in known:
            link.note(
                "changed",
                f"AddTask: {_COLUMNS.get(column, column)} {row[column]} is not in the exported "
                "associate table; lint will name it until it exists",
            )
    if row["task_creator"] is not None:
        action["created_by"] = row["task_creator"]
    owner = row["task_associate_id"] or row["task_creator"]
    if flags & TASK_FLAGS["AssignToOurContact"]:
        action["owner"] = "contact_owner"
        if owner is not None:
            action["fallback"] = owner
    elif owner is not None:
        action["owner"] = owner
    if owner is None:
        link.note(
            "unsupported",
            "AddTask: neither task_associate_id nor "
            "task_creating_associate_id names an associate to own the "
            "task; no follow-up was defined",
        )
        return
    due: dict[str, Any] = {}
    if row["task_start"] is None and row["task_start_text"] is not None:
        link.note(
            "changed",
            f"AddTask: task_start {row['task_start_text']!r} is not a date and time linksim "
            "reads (2024-03-05 10:00:00 or 05.03.2024 10:00): the due time is linksim's default",
        )
    if flags & TASK_FLAGS["UseNextAvailableTime"]:
        due = {"business_days": 0, "next_free_slot": True}
    elif row["task_start"] is not None:  # SuperOffice ignores task_start with the flag
        at = row["task_start"].strftime("%H:%M")
        due["at"] = at
        link.note(
            "changed",
            f"AddTask: task_start {row['task_start']:%Y-%m-%d %H:%M} is a "
            "fixed time; linksim schedules from the click: the next working "
            f"day at {at}, in the owner's time zone",
        )
    if due:
        action["due"] = due
    if row["task_duration"] is not None and row["task_duration"] > 0:
        action["duration_minutes"] = int(row["task_duration"])
    if flags & TASK_FLAGS["IsAssignment"]:
        action["assignment"] = True
    link.actions.append(action)


def _request(link: _Link) -> None:
    row = link.row
    action: dict[str, Any] = {"id": f"so-{link.id}-request", "type": "request"}
    if row["ticket_title"] is not None:
        action["title"] = link.text("ticket_title")
    else:
        action["title"] = "Request from {person_name}"
        link.note(
            "changed",
            "AddRequest: ticket_title is empty; the title is 'Request from {person_name}'",
        )
    priority = (row["priority_name"] or "").strip().lower()
    action["priority"] = _PRIORITIES.get(priority, "medium")
    if priority not in _PRIORITIES and row["ticket_priority"] is not None:
        shown = row["priority_name"] or f"id {row['ticket_priority']} (not in ticket_priority)"
        link.note(
            "changed",
            f"AddRequest: priority {shown} is none of low, medium (normal), "
            "high, critical (urgent); it became medium",
        )
    if row["category_name"] is not None:
        action["category"] = row["category_name"]
    elif row["ticket_category"] not in (None, "0", "-1"):
        link.note(
            "changed",
            f"AddRequest: ticket_category {row['ticket_category']} is not in "
            "the exported ej_category, so the ticket has no category",
        )
    owned_by = row["ticket_owned_by"]
    if owned_by in (None, "0", "1"):  # 1 is SuperOffice's system user: unassigned
        action["owner"] = "unassigned"
    elif row["ticket_owner"] is not None:
        action["owner"] = row["ticket_owner"]
    else:
        action["owner"] = "unassigned"
        link.note(
            "changed",
            f"AddRequest: ticket_owned_by {owned_by} is an ejuser that no exported associate has "
            "as ejUserId; the ticket is unassigned",
        )
    link.actions.append(action)


def _script(link: _Link) -> None:
    row = link.row
    if row["script_id"] is None:
        link.note("unsupported", "ExecuteScript is set but script_id is empty: nothing to run")
        return
    named = row["script_include_id"]
    name = (
        named
        if named and _SCRIPT_NAME.fullmatch(named)
        else f"superoffice_script_{row['script_id']}"
    )
    link.actions.append({"id": f"so-{link.id}-script", "type": "script", "script": name})
    link.note(
        "todo",
        f"ExecuteScript: ejScript {row['script_id']} cannot run in linksim; "
        f"register a Python script named {name!r} (@linksim.script({name!r})) "
        "that does its work, or remove the action",
    )


def _response(link: _Link) -> None:
    row = link.row
    kind = row["redirect_kind"] or "1"  # a link redirects to its URL unless told otherwise
    response: dict[str, Any] = {"id": f"so-{link.id}-response", "type": "response"}
    if kind == "0":
        if row["template_text"] is None or not row["template_text"].strip():
            link.note("unsupported", "ShowText with an empty template_text: no response")
            return
        response["feedback_text"] = link.text("template_text")
    elif kind == "2":
        if row["form_id"] is None:
            link.note("unsupported", "ShowForm without a form_id: no response")
            return
        response["form"] = {"form_id": str(row["form_id"])}
    elif kind == "1":
        if not link.actions:
            return  # a plain tracked link: the redirect needs no definition
        if not re.match(r"https?://[^\s/]+", row["url"] or "", re.IGNORECASE):
            link.note(
                "unsupported",
                f"RedirectToURL: {row['url']!r} is not an absolute http(s) "
                "URL, which a response redirect must be",
            )
            return
        response["redirect"] = row["url"]
    else:
        link.note("unsupported", f"redirect_kind {kind} is not a ShipmentLinkRedirectKind")
        return
    link.actions.append(response)
