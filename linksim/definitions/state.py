"""State actions: they change what the CRM knows about the person (SPEC §4.4, last writer wins)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from linksim.definitions._base import ActionBase, Fire, Name, fire_field
from linksim.definitions.field_values import FieldValue, value_text

__all__ = ["InterestAction", "ProjectAction", "SelectionAction", "SetFieldAction"]


class _Membership(ActionBase):
    """Adds the person to some named things and removes them from others."""

    add: tuple[Name, ...] = Field(default=(), description="Names to add the person to.")
    remove: tuple[Name, ...] = Field(default=(), description="Names to remove the person from.")

    @model_validator(mode="after")
    def _adds_or_removes(self) -> _Membership:
        if not self.add and not self.remove:
            raise PydanticCustomError(
                "nothing_to_do", "nothing to do: give `add`, `remove` or both", {"field": "add"}
            )
        both = sorted(set(self.add) & set(self.remove))
        if both:
            raise PydanticCustomError(
                "add_and_remove",
                "{names} both added and removed by the same action; keep it in one list",
                {"field": "remove", "names": ", ".join(repr(n) for n in both)},
            )
        return self


class InterestAction(_Membership):
    """Adds and removes interests of the person, or of their contact with `scope: contact`."""

    type: Literal["interest"] = "interest"
    scope: Literal["person", "contact"] = Field(
        default="person", description="person: crm.person_interest; contact: crm.contact_interest."
    )
    fire: Fire = fire_field("every_click")


class SelectionAction(_Membership):
    """Adds the person to selections and removes them from others."""

    type: Literal["selection"] = "selection"
    fire: Fire = fire_field("every_click")


class ProjectAction(_Membership):
    """Adds the person to projects and removes them from others."""

    type: Literal["project"] = "project"
    fire: Fire = fire_field("every_click")


class SetFieldAction(ActionBase):
    """Sets one extra field of the person (null clears it)."""

    type: Literal["set_field"] = "set_field"
    field: Name = Field(description="A field name from crm.extra_field.")
    value: FieldValue
    fire: Fire = fire_field("every_click")

    @property
    def value_text(self) -> str | None:
        """The value as stored in `crm.person_field.value` (``"true"``, ``"12"``, …)."""
        return value_text(self.value)
