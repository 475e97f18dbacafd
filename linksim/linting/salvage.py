"""Read definitions the way a linter must: every problem reported, and the valid rest kept.

`parse_definitions` refuses a file with any problem. Lint reports those problems and still
looks for conflicts among the actions that are valid: it drops each action (or link) a problem
is found in and parses again.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import duckdb

from linksim.definitions import Definitions, find_problems, parse_definitions
from linksim.definitions._problems import Problem
from linksim.errors import DefinitionError

__all__ = ["salvage", "without_actions"]

_ROUNDS = 5  # each round drops what the last found; a new problem needs an earlier fix


def salvage(
    data: Any, con: duckdb.DuckDBPyConnection, source: str
) -> tuple[Definitions | None, list[Problem]]:
    """The valid part of ``data`` as definitions (``None`` if none), and every problem found.

    >>> from linksim.store.connect import connect
    >>> con = connect(":memory:")
    >>> _ = con.execute("INSERT INTO mail.link VALUES (1, 'https://example.com', 'Home')")
    >>> defs, problems = salvage({"version": 1, "links": [{"link": 1, "actions": [
    ...     {"id": "ok", "type": "response", "redirect": "https://example.com/thanks"},
    ...     {"id": "bad", "type": "response", "redirect": "javascript:alert(1)"}]}]}, con, "d")
    >>> [a.id for a in defs.links[0].actions], [p["code"] for p in problems]
    (['ok'], ['redirect-refused'])
    """
    problems: list[Problem] = []
    seen: set[tuple[Any, ...]] = set()
    for _ in range(_ROUNDS):
        try:
            defs = parse_definitions(data, source=source)
        except DefinitionError as exc:
            _add(problems, seen, exc.problems)
            data = _without(data, [p.get("path") for p in exc.problems])
            if data is None:
                return None, problems
            continue
        found = find_problems(defs, con, source=source)
        _add(problems, seen, found)
        return _without_checked(defs, found), problems
    return None, problems


def _add(problems: list[Problem], seen: set[tuple[Any, ...]], new: Iterable[Problem]) -> None:
    for p in new:
        key = (p.get("link"), p.get("action"), p.get("field"), p["message"])
        if key not in seen:
            seen.add(key)
            problems.append(p)


def _without(data: Any, paths: list[Any]) -> Any:
    """``data`` without the actions and links the paths point into; ``None`` if that fails."""
    if not isinstance(data, dict) or not isinstance(data.get("links"), list):
        return None
    data = copy.deepcopy(data)
    links: list[Any] = data["links"]
    drop_links: set[int] = set()
    drop_actions: set[tuple[int, int]] = set()
    for path in paths:
        if not path:
            return None  # a problem of the file as a whole, e.g. its version
        if path[0] == "bot_filter":
            data.pop("bot_filter", None)  # the defaults stand in for a broken filter
        elif path[0] != "links" or len(path) < 2 or not isinstance(path[1], int):
            return None
        elif len(path) >= 4 and path[2] == "actions" and isinstance(path[3], int):
            drop_actions.add((path[1], path[3]))
        else:
            drop_links.add(path[1])
    kept = []
    for i, entry in enumerate(links):
        if i in drop_links:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("actions"), list):
            entry["actions"] = [
                a for j, a in enumerate(entry["actions"]) if (i, j) not in drop_actions
            ]
            if not entry["actions"]:
                continue
        kept.append(entry)
    data["links"] = kept
    return data


def _without_checked(defs: Definitions, problems: list[Problem]) -> Definitions | None:
    """``defs`` without the actions whose names or values the database refused.

    A link named by an unknown id or URL goes as a whole; an unknown mailing in `mailings` only
    means that mailing's clicks never come, so the link stays.
    """
    bad_actions = {p["action"] for p in problems if p.get("action") is not None}
    bad_links = {
        p["link"] for p in problems if p.get("action") is None and p.get("field") in ("link", "url")
    }
    data = defs.model_dump(mode="json")
    links = []
    for entry, link in zip(data["links"], defs.links, strict=True):
        if link.key in bad_links:
            continue
        entry["actions"] = [a for a in entry["actions"] if a["id"] not in bad_actions]
        if entry["actions"]:
            links.append(entry)
    if not links:
        return None
    data["links"] = links
    return parse_definitions(data)


def without_actions(defs: Definitions, action_ids: set[str]) -> Definitions | None:
    """``defs`` without these actions (``None`` if none is left)."""
    if not action_ids:
        return defs
    return _without_checked(defs, [{"action": a, "message": ""} for a in action_ids])
