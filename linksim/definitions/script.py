"""The `script` action: a script registered in code, called once per batch of fired clicks."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from linksim.definitions._base import ActionBase, Fire, fire_field

__all__ = ["ScriptAction"]

_SCRIPT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")

_HOW = (
    "scripts are registered in code, by an entry point in group `linksim.scripts` or with "
    '`@linksim.script("name")`, and a definitions file names them; it can never name a module '
    "path, a callable or code"
)


def _check_script_name(value: str) -> str:
    if not _SCRIPT_NAME.fullmatch(value):
        raise ValueError(
            f"expected the name of a registered script (letters, digits, '_', '.', '-'; starting "
            f"with a letter or '_'); found {value!r}: {_HOW}"
        )
    return value


ScriptName = Annotated[
    str,
    AfterValidator(_check_script_name),
    Field(
        description="The name of a registered script: " + _HOW + ".",
        json_schema_extra={"pattern": f"^{_SCRIPT_NAME.pattern}$"},
    ),
]


class ScriptAction(ActionBase):
    """Calls a registered script with the batch of clicks that fired it."""

    type: Literal["script"] = "script"
    script: ScriptName
    fire: Fire = fire_field("once_per_mailing")
