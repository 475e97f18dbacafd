"""The `response` action: what the click shows — a redirect, a feedback text or a form."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from linksim.definitions._base import ActionBase, Fire, Model, Name, fire_field
from linksim.definitions._templates import Template
from linksim.definitions._urls import RedirectUrl

__all__ = ["Form", "ResponseAction"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_identifier(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(
            "expected a person column or extra field name (letters, digits and '_', not starting "
            f"with a digit, e.g. 'first_name'); found {value!r}"
        )
    return value


Identifier = Annotated[
    str,
    AfterValidator(_check_identifier),
    Field(json_schema_extra={"pattern": f"^{_IDENTIFIER.pattern}$"}),
]


class Form(Model):
    """A form to show, prefilled with some of the person's values."""

    form_id: Name
    prefill: tuple[Identifier, ...] = Field(
        default=(),
        description="Person columns (person_id, first_name, last_name, email, contact_id, "
        "owner_id) or extra field names.",
    )


class ResponseAction(ActionBase):
    """Shows the clicker a redirect, a feedback text or a prefilled form: exactly one of them."""

    type: Literal["response"] = "response"
    redirect: RedirectUrl | None = None
    feedback_text: Template | None = None
    form: Form | None = None
    fire: Fire = fire_field("every_click")

    @model_validator(mode="after")
    def _exactly_one(self) -> ResponseAction:
        given = [k for k in ("redirect", "feedback_text", "form") if getattr(self, k) is not None]
        if len(given) != 1:
            found = "none" if not given else " and ".join(given)
            raise PydanticCustomError(
                "one_response",
                "expected exactly one of `redirect`, `feedback_text` or `form`; found {found}",
                {"found": found},
            )
        return self

    @property
    def kind(self) -> Literal["redirect", "feedback", "form"]:
        """The `linksim.response.kind` this action records."""
        if self.redirect is not None:
            return "redirect"
        return "feedback" if self.feedback_text is not None else "form"
