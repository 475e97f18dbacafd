"""Text templates: `{placeholder}` names from a fixed list, `{{` and `}}` for literal braces.

A template is checked when the definitions are read, so that the engine can render it without
surprises: no attribute or index access, no format spec, no conversion, only known names.
"""

from __future__ import annotations

import difflib
import string
from typing import Annotated

from pydantic import AfterValidator, Field

__all__ = ["PLACEHOLDERS", "Template", "TemplateError", "check_template", "split_template"]

PLACEHOLDERS: tuple[str, ...] = (
    "mailing_name",
    "link_name",
    "link_url",
    "clicked_at",
    "person_name",
    "first_name",
    "contact_name",
    "link_hits",
)

_ALLOWED = ", ".join("{" + name + "}" for name in PLACEHOLDERS)


class TemplateError(ValueError):
    """A template using something other than the allowed placeholders."""

    code = "bad-template"


def _refuse(what: str, name: str | None = None) -> TemplateError:
    closest = difflib.get_close_matches(name, PLACEHOLDERS, n=1) if name else []
    hint = f"; did you mean {{{closest[0]}}}?" if closest else "."
    return TemplateError(
        f"{what}{hint} Templates may use only {_ALLOWED}, and {{{{ }}}} for literal braces"
    )


def split_template(text: str) -> list[tuple[str, str | None]]:
    """The template as (literal text, placeholder or ``None``) pairs, in order.

    Raises:
        TemplateError: the template uses something other than the allowed placeholders.

    >>> split_template("Hi {first_name}, {{sic}}")
    [('Hi ', 'first_name'), (', {sic}', None)]
    """
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        raise _refuse(f"unbalanced brace in template {text!r}") from None
    pieces: list[tuple[str, str | None]] = []
    pending = ""  # `{{` and `}}` split the literal text into several parts; join them again
    for literal, name, spec, conversion in parts:
        pending += literal
        if name is None:
            continue
        shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        base = name.split(".")[0].split("[")[0]
        if name == "":
            raise _refuse(f"empty placeholder {{}} in template {text!r}")
        if base != name:
            raise _refuse(f"placeholder {shown}}} uses attribute or index access", base)
        if name not in PLACEHOLDERS:
            raise _refuse(f"unknown placeholder {{{name}}} in template {text!r}", name)
        if conversion:
            raise _refuse(f"placeholder {shown}}} has a conversion (!{conversion})")
        if spec:
            raise _refuse(f"placeholder {shown}}} has a format spec (:{spec})")
        pieces.append((pending, name))
        pending = ""
    if pending:
        pieces.append((pending, None))
    return pieces


def check_template(text: str) -> str:
    """Return ``text`` if it is a valid template, else raise `TemplateError` saying why.

    >>> check_template("Clicked {link_name}")
    'Clicked {link_name}'
    >>> check_template("Hi {firstname}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    linksim.definitions._templates.TemplateError: unknown placeholder {firstname} ...; did you ...
    """
    split_template(text)
    return text


Template = Annotated[
    str,
    AfterValidator(check_template),
    Field(description=f"Text with placeholders: {_ALLOWED}; {{{{ and }}}} for literal braces."),
]
