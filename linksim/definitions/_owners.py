"""Who owns what an action creates: an associate id, a keyword, or the members of a team.

Each owner type is a union told apart by the shape of the value (a number, a keyword, a mapping),
so that a wrong value gets one error that lists every accepted form instead of one per form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from linksim.definitions._base import Id, Model, Name

__all__ = ["FollowUpOwner", "RequestOwner", "TeamOwner"]


class TeamOwner(Model):
    """The members of a team (`crm.associate.team`), shared out by their load."""

    team: Name = Field(description="A team name from crm.associate.team.")


# Tags in angle brackets appear in error locations only; they can never clash with a key.
_ID, _KEYWORD, _TEAM = "<associate id>", "<keyword>", "<team>"


def _shape(keywords: tuple[str, ...]) -> Callable[[Any], str | None]:
    """Tell the forms of an owner apart by the value's shape (``None``: no form fits)."""

    def shape(value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool):
            return _ID
        if isinstance(value, str) and value in keywords:
            return _KEYWORD
        if isinstance(value, dict | TeamOwner):
            return _TEAM
        return None

    return shape


def _expected(keywords: tuple[str, ...]) -> str:
    words = " or ".join(repr(k) for k in keywords)
    return f"expected an associate id (a whole number), {words}, or {{team: NAME}}"


_FOLLOW_UP_KEYWORDS = ("contact_owner",)
_REQUEST_KEYWORDS = ("unassigned", "contact_owner")

FollowUpOwner = Annotated[
    Annotated[Id, Tag(_ID)]
    | Annotated[Literal["contact_owner"], Tag(_KEYWORD)]
    | Annotated[TeamOwner, Tag(_TEAM)],
    Discriminator(
        _shape(_FOLLOW_UP_KEYWORDS),
        custom_error_type="owner",
        custom_error_message=_expected(_FOLLOW_UP_KEYWORDS),
    ),
]
"""An associate id, ``"contact_owner"`` (the contact's owner), or ``{team: NAME}``."""

RequestOwner = Annotated[
    Annotated[Id, Tag(_ID)]
    | Annotated[Literal["unassigned", "contact_owner"], Tag(_KEYWORD)]
    | Annotated[TeamOwner, Tag(_TEAM)],
    Discriminator(
        _shape(_REQUEST_KEYWORDS),
        custom_error_type="owner",
        custom_error_message=_expected(_REQUEST_KEYWORDS),
    ),
]
"""An associate id, ``"unassigned"``, ``"contact_owner"``, or ``{team: NAME}``."""
