"""Turn pydantic's validation errors into problems a marketer can act on.

Each problem names the link (by its id or URL, as written), the action (by its id), the key, and
says what was expected and what was found. Locations inside unions (the action `type`, an owner's
shape) are dropped, since they are not keys the user wrote.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from linksim.definitions.file import ACTION_TYPES, Definitions, Place

__all__ = ["duplicate_problems", "problem", "validation_problems"]

Problem = dict[str, object]

_TYPES = ", ".join(ACTION_TYPES)


def validation_problems(error: ValidationError, data: Any, source: str) -> list[Problem]:
    """One problem per error pydantic found in ``data``, located in the raw data."""
    problems: list[Problem] = []
    for err in error.errors(include_url=False):
        ctx = err.get("ctx") or {}
        if err["type"] == "duplicate_id":
            problems += duplicate_problems(ctx["repeats"], data, source)
            continue
        if err["type"] == "too_short" and len(err["input"]) >= ctx.get("min_length", 1):
            continue  # long enough as written: pydantic counts only the items that validated
        extra = err["type"] == "extra_forbidden"
        models, path = _walk(err["loc"][:-1] if extra else err["loc"])
        if extra:
            path.append(err["loc"][-1])
        if "field" in ctx:
            path.append(ctx["field"])
        model = models[0] if len(models) == 1 else None
        code = (
            getattr(ctx.get("error"), "code", "invalid")
            if err["type"] == "value_error"
            else "invalid"
        )
        problems.append(_located(path, data, source, _message(err, model, path), code=code))
    return problems


def duplicate_problems(
    repeats: list[tuple[str, Place, Place]], data: Any, source: str
) -> list[Problem]:
    """One problem per repeated action id, at the repeat, naming the first place too."""
    problems = []
    for action_id, (i, j), (k, m) in repeats:
        where = "this link" if i == k else f"link {_link_label(data, i)}"
        problems.append(
            _located(
                ["links", k, "actions", m, "id"],
                data,
                source,
                f"action id {action_id!r} is already used by action #{j + 1} of {where}; every "
                "action id must be unique in the file",
                code="duplicate-id",
            )
        )
    return problems


def problem(
    source: str | None,
    message: str,
    *,
    link: object = None,
    action: object = None,
    field: str | None = None,
    code: str = "invalid",
    path: list[Any] | None = None,
) -> Problem:
    """A problem in the shape `DefinitionError` expects.

    ``code`` names its kind (the lint finding it becomes); ``path`` is where it is in the data as
    read, e.g. ``["links", 0, "actions", 2, "redirect"]``, when known.
    """
    return {
        "file": source,
        "link": link,
        "action": action,
        "field": field,
        "message": message,
        "code": code,
        "path": path,
    }


# --- where ----------------------------------------------------------------------------------------


def _walk(loc: tuple[Any, ...]) -> tuple[list[type[BaseModel]], list[Any]]:
    """Follow ``loc`` through the models: the models found there, and the keys the user wrote."""
    models: list[type[BaseModel]] = [Definitions]
    path: list[Any] = []
    for step in loc:
        if isinstance(step, int):
            path.append(step)
            continue
        if step.startswith("<"):  # an owner's shape tag, see _owners.py
            continue
        tagged = [m for m in models if len(models) > 1 and _type_tag(m) == step]
        if tagged:  # the action `type` tag of a discriminated union
            models = tagged
            continue
        path.append(step)
        models = _unique(
            sub
            for m in models
            if step in m.model_fields
            for sub in _models_in(m.model_fields[step].annotation)
        )
    return models, path


def _type_tag(model: type[BaseModel]) -> object:
    field = model.model_fields.get("type")
    return field.default if field is not None else None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _unique(models: Any) -> list[type[BaseModel]]:
    return list(dict.fromkeys(models))


def _item(container: Any, key: Any) -> Any:
    if isinstance(container, dict):
        return container.get(key)
    if isinstance(container, list | tuple) and isinstance(key, int) and key < len(container):
        return container[key]
    return None


def _link_label(data: Any, index: int) -> object:
    entry = _item(_item(data, "links"), index)
    link, url = _item(entry, "link"), _item(entry, "url")
    if isinstance(link, int) and not isinstance(link, bool):
        return link
    if isinstance(url, str) and url:
        return url
    return f"#{index + 1}"


def _action_label(data: Any, link: int, index: int) -> object:
    action_id = _item(_item(_item(_item(data, "links"), link), "actions"), index)
    action_id = _item(action_id, "id")
    return action_id if isinstance(action_id, str) and action_id else f"#{index + 1}"


def _located(
    path: list[Any], data: Any, source: str, message: str, *, code: str = "invalid"
) -> Problem:
    full, link, action = list(path), None, None
    rest = path
    if len(rest) >= 2 and rest[0] == "links" and isinstance(rest[1], int):
        link = _link_label(data, rest[1])
        if len(rest) >= 4 and rest[2] == "actions" and isinstance(rest[3], int):
            action = _action_label(data, rest[1], rest[3])
            rest = rest[4:]
        else:
            rest = rest[2:]
    field = ".".join(str(step) for step in rest if not isinstance(step, int)) or None
    return problem(source, message, link=link, action=action, field=field, code=code, path=full)


# --- what -----------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, dict):
        return "a mapping " + _clip(json.dumps(value, default=str))
    if isinstance(value, list | tuple):
        return "a list " + _clip(json.dumps(value, default=str))
    return json.dumps(value, default=str)  # null, true, 12, 2.5 as written in the file


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _closest(word: object, choices: list[str]) -> str:
    if not isinstance(word, str) or not word:
        return ""
    # A close spelling first, else a key that contains the word (`days` -> `business_days`).
    found = difflib.get_close_matches(word, choices, n=1) or [c for c in choices if word in c]
    return f"; did you mean {found[0]!r}?" if found else ""


def _message(err: Any, model: type[BaseModel] | None, path: list[Any]) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err["input"]
    found = _show(value)
    key = path[-1] if path else None
    if kind == "missing":
        hint = ": add `version: 1` at the top of the file" if path == ["version"] else ""
        return f"missing required key {key!r}{hint}"
    if kind == "extra_forbidden":
        allowed = list(model.model_fields) if model else []
        listing = f" Allowed keys: {', '.join(allowed)}." if allowed else ""
        hint = _closest(key, allowed)
        return f"unknown key {key!r}{hint or '.'}{listing}"
    if kind == "union_tag_invalid":
        hint = _closest(ctx["tag"], list(ACTION_TYPES)) or "."
        return f"unknown action type {ctx['tag']!r}{hint} The action types are: {_TYPES}"
    if kind == "union_tag_not_found":
        return f"missing key 'type': say which kind of action this is, one of: {_TYPES}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        keys = f" with keys {', '.join(model.model_fields)}" if model else ""
        return f"expected a mapping{keys}; found {found}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list; found {found}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number; found {found}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false; found {found}"
    if kind == "string_type":
        quote = " (put it in quotes to use it as text)" if isinstance(value, int | float) else ""
        return f"expected text; found {found}{quote}"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return f"expected {ctx.get('expected')}; found {found}{_closest(value, options)}"
    if kind == "greater_than_equal":
        return f"expected a number >= {ctx['ge']}; found {found}"
    if kind == "greater_than":
        return f"expected a number > {ctx['gt']}; found {found}"
    if kind == "too_short":
        what = "action" if key == "actions" else "entry"
        return f"expected at least {ctx.get('min_length', 1)} {what}; found none"
    if kind == "string_too_short":
        return f"expected non-empty text; found {found}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "owner":
        return f"{err['msg']}; found {found}"
    message = str(err["msg"])
    if message.startswith("Input should be "):
        return f"expected {message.removeprefix('Input should be ')}; found {found}"
    return message
