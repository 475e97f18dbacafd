"""The whole definitions file: its version, the bot filter, and the links with their actions."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool, field_validator, model_validator
from pydantic_core import PydanticCustomError

from linksim.definitions._base import ActionBase, Id, Model, Name
from linksim.definitions.follow_up import FollowUpAction
from linksim.definitions.request import RequestAction
from linksim.definitions.response import ResponseAction
from linksim.definitions.script import ScriptAction
from linksim.definitions.state import InterestAction, ProjectAction, SelectionAction, SetFieldAction

__all__ = [
    "ACTION_TYPES",
    "SUPPORTED_VERSIONS",
    "Action",
    "BotFilter",
    "Definitions",
    "Link",
    "duplicate_ids",
]

SUPPORTED_VERSIONS = (1,)

Action = Annotated[
    InterestAction
    | SetFieldAction
    | SelectionAction
    | ProjectAction
    | FollowUpAction
    | RequestAction
    | ScriptAction
    | ResponseAction,
    Field(discriminator="type"),
]
"""One action of a link, told apart by its `type`."""

ACTION_TYPES: dict[str, type[ActionBase]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        InterestAction,
        SetFieldAction,
        SelectionAction,
        ProjectAction,
        FollowUpAction,
        RequestAction,
        ScriptAction,
        ResponseAction,
    )
}


def _check_ip_range(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(
                f"expected an IP range in CIDR notation (e.g. '192.0.2.0/24' or "
                f"'2001:db8::/32'); found {value!r}"
            ) from exc
        raise ValueError(
            f"IP range {value!r} has host bits set; did you mean '{network}'?"
        ) from exc
    return value


IpRange = Annotated[str, AfterValidator(_check_ip_range)]


class BotFilter(Model):
    """Which clicks count as a bot's, not a person's (the built-in rules plus these extras)."""

    enabled: StrictBool = True
    min_seconds_after_delivery: Annotated[int, Field(strict=True, ge=0)] = Field(
        default=10, description="A click sooner than this after delivery is a link scanner's."
    )
    max_links_per_second: Annotated[int, Field(strict=True, ge=1)] = Field(
        default=3,
        description="A person clicking more distinct links per second than this is a bot.",
    )
    user_agents: tuple[Name, ...] = Field(
        default=(), description="Extra user-agent substrings that mark a bot (case-insensitive)."
    )
    ip_ranges: tuple[IpRange, ...] = Field(
        default=(), description="Extra IP ranges (CIDR) whose clicks are bots'."
    )
    default_lists: StrictBool = Field(
        default=True,
        description="Also use linksim's maintained lists of scanner user agents and address "
        "ranges (linksim.bots).",
    )
    confirm_after_seconds: Annotated[int, Field(strict=True, ge=1)] = Field(
        default=60,
        description="For actions with `require: confirmed`: how much later the person's next "
        "eligible click in the same mailing must come to confirm a click.",
    )


class Link(Model):
    """A tracked link, by id or by URL, and the actions a click on it fires, in order."""

    link: Id | None = Field(default=None, description="A link id from mail.link.")
    url: Name | None = Field(default=None, description="A URL from mail.link, instead of `link`.")
    mailings: tuple[Id, ...] | None = Field(
        default=None, description="Only clicks in these mailings (mail.mailing ids); omit for all."
    )
    actions: tuple[Action, ...] = Field(min_length=1)

    @field_validator("mailings")
    @classmethod
    def _once_each(cls, mailings: tuple[int, ...] | None) -> tuple[int, ...] | None:
        # a set in meaning: a mailing listed twice is listed once, for the engine (which would
        # fire twice for one click otherwise), the checks and the lint findings alike
        return None if mailings is None else tuple(dict.fromkeys(mailings))

    @model_validator(mode="after")
    def _link_or_url(self) -> Link:
        if (self.link is None) == (self.url is None):
            found = "both" if self.link is not None else "neither"
            raise PydanticCustomError(
                "link_or_url",
                "expected exactly one of `link` (a link id) or `url`; found {found}",
                {"found": found},
            )
        if self.mailings is not None and not self.mailings:
            raise PydanticCustomError(
                "no_mailings",
                "`mailings` is empty, so no click could fire these actions; omit it to act on "
                "clicks in every mailing",
                {"field": "mailings"},
            )
        return self

    @property
    def key(self) -> int | str:
        """The link id, or the URL when the link is named by URL."""
        return self.link if self.link is not None else str(self.url)


Place = tuple[int, int]
"""Where an action is: (index of its link, index of the action in that link)."""


def duplicate_ids(ids: Sequence[Sequence[object]]) -> list[tuple[str, Place, Place]]:
    """Action ids used more than once, as (id, first place, repeated place).

    Args:
        ids: the action ids of each link, in file order (values that are not text are skipped).

    >>> duplicate_ids([["a", "b"], ["b"]])
    [('b', (0, 1), (1, 0))]
    """
    first: dict[str, Place] = {}
    repeats: list[tuple[str, Place, Place]] = []
    for i, link_ids in enumerate(ids):
        for j, action_id in enumerate(link_ids):
            if not isinstance(action_id, str):
                continue
            if action_id in first:
                repeats.append((action_id, first[action_id], (i, j)))
            else:
                first[action_id] = (i, j)
    return repeats


class Definitions(Model):
    """A definitions file: which actions fire when a tracked link is clicked (SPEC §3)."""

    version: Literal[1] = Field(description="The format version; this linksim reads version 1.")
    bot_filter: BotFilter = Field(
        default=BotFilter(), description="Which clicks are bots'; omit for defaults."
    )
    links: tuple[Link, ...] = Field(description="The tracked links and their actions.")

    @field_validator("version", mode="before")
    @classmethod
    def _supported(cls, value: Any) -> Any:
        if type(value) is not int or value not in SUPPORTED_VERSIONS:
            supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
            raise PydanticCustomError(
                "version",
                "version {found} is not supported; this linksim reads version {supported}",
                {"found": repr(value), "supported": supported},
            )
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> Definitions:
        repeats = duplicate_ids([[a.id for a in link.actions] for link in self.links])
        if repeats:
            raise PydanticCustomError(
                "duplicate_id",
                "action ids must be unique in the file; used more than once: {ids}",
                {"ids": ", ".join(repr(r[0]) for r in repeats), "repeats": repeats},
            )
        return self

    @property
    def actions(self) -> list[tuple[Link, Action]]:
        """Every (link, action) pair, in file order."""
        return [(link, action) for link in self.links for action in link.actions]

    @property
    def sha256(self) -> str:
        """The SHA-256 of the canonical JSON form: equal definitions have equal hashes."""
        # ASCII escapes keep the form canonical for any text, even lone surrogates.
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()
