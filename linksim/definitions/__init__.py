"""Link-action definitions: frozen pydantic models, file loading, JSON Schema, database checks.

::

    Definitions                     version, bot_filter (BotFilter), links
     └── Link                       link id or url, mailings, actions (in order)
          └── Action                one of, by `type`:
               InterestAction       interest:  add/remove interests (scope person|contact)
               SetFieldAction       set_field: one extra field := value
               SelectionAction      selection: add/remove selections
               ProjectAction        project:   add/remove projects
               FollowUpAction       follow_up: a task or meeting (owner, Due)
               RequestAction        request:   a ticket
               ScriptAction         script:    a registered script
               ResponseAction       response:  a redirect, feedback text or Form

`load_definitions` and `parse_definitions` need no database; `check_definitions` and
`find_problems` check names and values against one.
"""

from linksim.definitions._base import Fire
from linksim.definitions._owners import TeamOwner
from linksim.definitions._templates import PLACEHOLDERS, split_template
from linksim.definitions.check import PERSON_COLUMNS, check_definitions, find_problems
from linksim.definitions.field_values import FIELD_TYPES, value_problem, value_text
from linksim.definitions.file import (
    ACTION_TYPES,
    SUPPORTED_VERSIONS,
    Action,
    BotFilter,
    Definitions,
    Link,
)
from linksim.definitions.follow_up import Due, FollowUpAction
from linksim.definitions.loading import load_definitions, parse_definitions
from linksim.definitions.request import RequestAction
from linksim.definitions.response import Form, ResponseAction
from linksim.definitions.schema import definitions_schema
from linksim.definitions.script import ScriptAction
from linksim.definitions.state import InterestAction, ProjectAction, SelectionAction, SetFieldAction

__all__ = [
    "ACTION_TYPES",
    "FIELD_TYPES",
    "PERSON_COLUMNS",
    "PLACEHOLDERS",
    "SUPPORTED_VERSIONS",
    "Action",
    "BotFilter",
    "Definitions",
    "Due",
    "Fire",
    "FollowUpAction",
    "Form",
    "InterestAction",
    "Link",
    "ProjectAction",
    "RequestAction",
    "ResponseAction",
    "ScriptAction",
    "SelectionAction",
    "SetFieldAction",
    "TeamOwner",
    "check_definitions",
    "definitions_schema",
    "find_problems",
    "load_definitions",
    "parse_definitions",
    "split_template",
    "value_problem",
    "value_text",
]
