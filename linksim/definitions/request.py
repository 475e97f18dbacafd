"""The `request` action: a support ticket (SuperOffice "request") about the click."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from linksim.definitions._base import ActionBase, Fire, Id, Name, fire_field
from linksim.definitions._owners import RequestOwner
from linksim.definitions._templates import Template

__all__ = ["RequestAction"]


class RequestAction(ActionBase):
    """Opens a ticket in `crm.ticket`, one per person and mailing."""

    type: Literal["request"] = "request"
    title: Template
    priority: Literal["low", "medium", "high", "critical"] = "medium"
    category: Name | None = Field(default=None, description="Free text, e.g. 'Sales'.")
    owner: RequestOwner = Field(
        default="unassigned",
        description="An associate id, unassigned, contact_owner (the contact's owner, else "
        "`fallback`, else unassigned), or {team: NAME}.",
    )
    fallback: Id | None = Field(
        default=None,
        description="The associate id that owns the ticket when contact_owner finds none.",
    )
    fire: Fire = fire_field("once_per_mailing")
