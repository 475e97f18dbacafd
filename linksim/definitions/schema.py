"""The JSON Schema of the definitions format, as `linksim schema` prints it."""

from __future__ import annotations

from typing import Any

from linksim.definitions.file import ACTION_TYPES, Definitions

__all__ = ["definitions_schema"]


def definitions_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that a definitions file must satisfy.

    It describes the shape of the file; the rules that span keys (exactly one of `link`/`url`,
    unique action ids, names that exist in the database) are checked by linksim itself.

    >>> schema = definitions_schema()
    >>> schema["title"], sorted(schema["properties"])
    ('linksim definitions', ['bot_filter', 'links', 'version'])
    """
    schema = Definitions.model_json_schema(mode="validation")
    for cls in ACTION_TYPES.values():
        # `type` has a default for Python users, but a file must say which action it means.
        action = schema["$defs"][cls.__name__]
        required = [key for key in action.get("required", []) if key != "id"]
        action["required"] = ["id", "type", *required]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "linksim definitions",
        "description": (
            "Link actions of marketing mailings: which actions fire when a tracked link is "
            "clicked (a response, a field, interests, a selection, a project, a follow-up, a "
            "request or a script)."
        ),
    }
