"""The `follow_up` action: a task or meeting for a sales rep, due on a working day."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from linksim.definitions._base import ActionBase, Fire, Id, Model, Name, fire_field
from linksim.definitions._owners import FollowUpOwner
from linksim.definitions._templates import Template

__all__ = ["Due", "FollowUpAction"]

_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def _check_clock(value: str) -> str:
    match = _CLOCK.fullmatch(value)
    if not match:
        raise ValueError(
            f"expected a time of day as HH:MM (24 hours, e.g. '09:00'); found {value!r}"
        )
    return f"{int(match[1]):02d}:{match[2]}"


Clock = Annotated[
    str,
    AfterValidator(_check_clock),
    Field(
        description="A time of day, HH:MM on a 24-hour clock.",
        json_schema_extra={"pattern": f"^{_CLOCK.pattern}$"},
    ),
]


class Due(Model):
    """When a follow-up is due: business days after the click, at a time of the owner's day."""

    business_days: Annotated[int, Field(strict=True, ge=0)] = Field(
        default=1, description="Working days (Monday to Friday) after the click; 0 = the same day."
    )
    at: Clock = Field(default="09:00", description="Time of day in the owner's time zone.")
    next_free_slot: StrictBool = Field(
        default=False,
        description="Move to the next working day where the owner's appointments are still "
        "under daily_capacity.",
    )

    @property
    def time(self) -> dt.time:
        """`at` as a time of day."""
        return dt.time.fromisoformat(self.at)


class FollowUpAction(ActionBase):
    """Creates a task or meeting for the person's sales rep, one per person and mailing."""

    type: Literal["follow_up"] = "follow_up"
    kind: Literal["task", "meeting"] = "task"
    task_type: Name | None = Field(
        default=None, description="The CRM's task type, e.g. 'Phone call'."
    )
    description: Template | None = None
    project: Name | None = Field(default=None, description="A project name from crm.project.")
    created_by: Id | None = Field(default=None, description="The associate id recorded as creator.")
    owner: FollowUpOwner = Field(
        description="An associate id, contact_owner (the contact's owner, else `fallback`), "
        "or {team: NAME} (the least loaded member that day)."
    )
    fallback: Id | None = Field(
        default=None,
        description="The associate id that owns the follow-up when contact_owner finds none.",
    )
    due: Due = Field(
        default=Due(), description="When the follow-up is due; the defaults when omitted."
    )
    duration_minutes: Annotated[int, Field(strict=True, gt=0)] = 30
    assignment: StrictBool = Field(
        default=False,
        description="An assignment the owner is asked to accept (SuperOffice's IsAssignment), "
        "recorded in crm.appointment.assignment.",
    )
    fire: Fire = fire_field("once_per_mailing")

    @model_validator(mode="after")
    def _someone_owns_it(self) -> FollowUpAction:
        if self.owner == "contact_owner" and self.fallback is None:
            raise PydanticCustomError(
                "fallback_required",
                "owner is contact_owner, so `fallback` (an associate id) is required: a task must "
                "have an owner, and some persons have no contact or their contact has no owner",
                {"field": "fallback"},
            )
        return self
