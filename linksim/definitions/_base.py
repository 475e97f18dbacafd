"""The building blocks every definitions model shares: the frozen base, ids, names, `fire`."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict

__all__ = ["ActionBase", "ActionId", "Fire", "Id", "Model", "Name", "Require", "fire_field"]

Fire = Literal["once_per_mailing", "once", "every_click"]
"""When an action fires (SPEC §4.3): for the earliest eligible click per (action, person, mailing),
per (action, person), or for every eligible click."""

Require = Literal["eligible", "confirmed"]
"""The evidence a click must give before an action fires for it: eligible (not a bot's), or
confirmed — eligible, and the person clicked again in the same mailing at least
`bot_filter.confirm_after_seconds` later."""

_ACTION_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


class Model(BaseModel):
    """Frozen and closed: a definitions model never changes and refuses keys it does not know."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_action_id(value: str) -> str:
    if not _ACTION_ID.fullmatch(value):
        raise ValueError(
            f"expected an action id of letters, digits, '_', '.' and '-' (at most 100, e.g. "
            f"'call-back'); found {value!r}"
        )
    return value


Id = Annotated[int, Strict(), Field(ge=0)]
"""A database id: a whole number >= 0 (a link, mailing or associate)."""

Name = Annotated[str, Field(min_length=1)]
"""The name of something in the CRM: an interest, selection, project, field or team."""

ActionId = Annotated[
    str,
    AfterValidator(_check_action_id),
    Field(
        description="Unique in the file; recorded as `source_action` on what the action creates.",
        json_schema_extra={"pattern": f"^{_ACTION_ID.pattern}$"},
    ),
]


def fire_field(default: Fire) -> Fire:
    """A `fire` field with the default of its action type (SPEC §4.3)."""
    described: Fire = Field(
        default=default,
        description="once_per_mailing: the earliest eligible click per (action, person, mailing); "
        "once: per (action, person); every_click: every eligible click.",
    )
    return described


class ActionBase(Model):
    """What every action has: an id, unique in the file, and its type (narrowed by each class)."""

    id: ActionId
    type: str
    require: Require = Field(
        default="eligible",
        description="eligible: any click that is not a bot's fires the action (SPEC §4.3); "
        "confirmed: only a click the person confirmed by clicking again in the same mailing at "
        "least bot_filter.confirm_after_seconds later — for actions a scanner must never "
        "trigger (follow-ups, requests, scripts, removals).",
    )
