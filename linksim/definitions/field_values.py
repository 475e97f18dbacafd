"""Values of person extra fields: what `set_field` may write and whether it fits the field's type.

`crm.person_field.value` is text; a definitions file may write a value as text, a number, true or
false, or null (which clears the field). :func:`value_text` gives the stored text and
:func:`value_problem` says whether it fits the field's type (`crm.extra_field.type`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import math
import re
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

__all__ = ["FIELD_TYPES", "FieldValue", "value_problem", "value_text"]

FIELD_TYPES = ("text", "integer", "decimal", "date", "boolean", "list")

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _scalar(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number; found {value}")
    if isinstance(value, dict | list | tuple | set):
        kind = "a mapping" if isinstance(value, dict) else "a list"
        raise ValueError(
            f"expected one value (text, a number, true/false, or null to clear); found {kind}"
        )
    return value


FieldValue = Annotated[
    str | int | float | bool | None,
    BeforeValidator(_scalar),
    Field(description="Text, a number, true/false, or null to clear the field."),
]


def value_text(value: str | int | float | bool | None) -> str | None:
    """The text stored in `crm.person_field.value` for a `set_field` value.

    >>> value_text(True), value_text(12), value_text(2.5), value_text(None)
    ('true', '12', '2.5', None)
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fits(field_type: str, text: str) -> bool:
    if field_type == "integer":
        return bool(_INTEGER.fullmatch(text))
    if field_type == "decimal":
        return bool(_DECIMAL.fullmatch(text))
    if field_type == "boolean":
        return text in ("true", "false")
    if field_type == "date":
        try:
            return bool(_DATE.fullmatch(text)) and bool(dt.date.fromisoformat(text))
        except ValueError:
            return False
    return True


_EXPECTED = {
    "integer": "a whole number such as 42",
    "decimal": "a number such as 12.50",
    "date": "a date as YYYY-MM-DD, such as 2026-03-31",
    "boolean": "true or false",
}


def value_problem(
    field: str, field_type: str, options: Sequence[str] | None, text: str | None
) -> str | None:
    """Why ``text`` does not fit the field, or ``None`` when it does (``None`` always fits).

    >>> value_problem("employees", "integer", None, "12")
    >>> print(value_problem("tier", "list", ["gold", "silver"], "gld"))  # doctest: +ELLIPSIS
    field 'tier' has type list: expected one of 'gold', 'silver'; found 'gld'; did you mean 'gold'?
    """
    if text is None or field_type == "text":
        return None
    if field_type == "list":
        choices = list(options or ())
        if text in choices:
            return None
        closest = difflib.get_close_matches(text, choices, n=1)
        hint = f"; did you mean {closest[0]!r}?" if closest else ""
        allowed = ", ".join(repr(c) for c in choices) or "(no options defined)"
        return f"field {field!r} has type list: expected one of {allowed}; found {text!r}{hint}"
    if field_type not in _EXPECTED:
        return f"field {field!r} has type {field_type!r}, which linksim does not know"
    if _fits(field_type, text):
        return None
    return (
        f"field {field!r} has type {field_type}: expected {_EXPECTED[field_type]}; found {text!r}"
    )
