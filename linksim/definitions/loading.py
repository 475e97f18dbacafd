"""Read a definitions file (YAML or JSON) or a parsed mapping into `Definitions`.

Every problem found is reported at once, as a `DefinitionError` whose `problems` name the file,
link, action and key. No database is needed: names are checked against one by `check.py`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from linksim.definitions._problems import duplicate_problems, problem, validation_problems
from linksim.definitions._yaml import Loader
from linksim.definitions.file import Definitions, duplicate_ids
from linksim.errors import DefinitionError

__all__ = ["load_definitions", "parse_definitions", "read_definitions_data"]

_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def load_definitions(path: str | os.PathLike[str]) -> Definitions:
    """Read and validate a definitions file: YAML (``.yaml``, ``.yml``) or JSON (``.json``).

    Raises:
        DefinitionError: the file is missing, unreadable, not valid YAML/JSON, or breaks a rule
            of the format; its ``problems`` list every problem found.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "defs.yaml"
    >>> _ = path.write_text('''
    ... version: 1
    ... links:
    ...   - link: 101
    ...     actions: [{id: thanks, type: response, feedback_text: "Thanks, {first_name}!"}]
    ... ''')
    >>> load_definitions(path).links[0].actions[0].fire
    'every_click'
    """
    return parse_definitions(read_definitions_data(path), source=str(path))


def read_definitions_data(path: str | os.PathLike[str]) -> Any:
    """The file's content as parsed YAML or JSON, not yet validated.

    Raises:
        DefinitionError: the file is missing, unreadable, or not valid YAML/JSON.
    """
    source = str(path)
    fmt = _FORMATS.get(Path(source).suffix.lower())
    if fmt is None:
        raise DefinitionError([problem(source, _unknown_suffix(source))])
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError([problem(source, "file not found")]) from None
    except IsADirectoryError:
        raise DefinitionError([problem(source, "expected a file; found a directory")]) from None
    except UnicodeDecodeError as exc:
        message = f"cannot read the file as UTF-8 text (byte {exc.start}); save it as UTF-8"
        raise DefinitionError([problem(source, message)]) from None
    except OSError as exc:
        raise DefinitionError([problem(source, f"cannot read the file: {exc.strerror}")]) from None
    return _parse_yaml(text, source) if fmt == "yaml" else _parse_json(text, source)


def parse_definitions(data: Any, source: str = "<dict>") -> Definitions:
    """Validate already parsed definitions (a mapping, as read from YAML or JSON).

    Args:
        data: the mapping with ``version``, ``bot_filter`` and ``links``.
        source: what to call it in problems, e.g. a file name.

    Raises:
        DefinitionError: every problem found, each with ``file``, ``link``, ``action``,
            ``field`` and ``message``.

    >>> defs = parse_definitions({"version": 1, "links": [{"url": "https://example.com/p",
    ...     "actions": [{"id": "hot", "type": "selection", "add": ["Hot leads"]}]}]})
    >>> defs.links[0].actions[0].add
    ('Hot leads',)
    >>> parse_definitions({"version": 1, "links": [{"link": 7, "actions": [  # doctest: +ELLIPSIS
    ...     {"id": "x", "type": "intrest", "add": ["News"]}]}]})
    Traceback (most recent call last):
    ...
    linksim.errors.DefinitionError: <dict>: link 7, action 'x': unknown action type 'intrest'; ...
    """
    if not isinstance(data, Mapping):
        message = (
            "expected a mapping with keys version, bot_filter and links at the top; found "
            + ("nothing (the file is empty)" if data is None else type(data).__name__)
        )
        raise DefinitionError([problem(source, message)])
    try:
        return Definitions.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, data, source)
        if not any(e["type"] == "duplicate_id" for e in exc.errors()):
            # The uniqueness rule runs only on otherwise valid files; report it anyway.
            problems += duplicate_problems(duplicate_ids(_raw_ids(data)), data, source)
        raise DefinitionError(problems) from None


def _raw_ids(data: Mapping[str, Any]) -> list[list[object]]:
    links = data.get("links")
    if not isinstance(links, list | tuple):
        return []
    return [
        [a.get("id") for a in link.get("actions") or () if isinstance(a, dict)]
        if isinstance(link, dict) and isinstance(link.get("actions"), list | tuple)
        else []
        for link in links
    ]


def _unknown_suffix(source: str) -> str:
    suffix = Path(source).suffix or "no extension"
    return f"expected a .yaml, .yml or .json file; found {suffix!r}"


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = exc.problem or exc.context or "invalid YAML"
        raise DefinitionError([problem(source, f"invalid YAML at {where}{what}")]) from None
    except yaml.YAMLError as exc:
        raise DefinitionError([problem(source, f"invalid YAML: {exc}")]) from None


def _parse_json(text: str, source: str) -> Any:
    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"found the key {key!r} twice in one object")
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise DefinitionError([problem(source, message)]) from None
    except ValueError as exc:
        raise DefinitionError([problem(source, f"invalid JSON: {exc}")]) from None
