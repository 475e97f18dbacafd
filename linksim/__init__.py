"""linksim: email link actions applied set-based in DuckDB — preview, apply, simulate, undo.

>>> import linksim
>>> con = linksim.connect(":memory:")
>>> linksim.load(con, "crm.interest", __import__("pandas").DataFrame(
...     {"interest_id": [1], "name": ["Product news"]})).loaded
1
"""

from linksim._resources import data_path
from linksim.definitions import (
    Definitions,
    check_definitions,
    definitions_schema,
    load_definitions,
    parse_definitions,
)
from linksim.errors import DatabaseError, DefinitionError, InputError, LinksimError, UsageError
from linksim.linting import LintResult, lint
from linksim.result import RunResult
from linksim.runs import apply, preview
from linksim.scripts import script
from linksim.simulation import SimulationResult, simulate
from linksim.store.connect import connect
from linksim.store.load import LoadReport, load
from linksim.undo import UndoResult, undo

__all__ = [
    "DatabaseError",
    "DefinitionError",
    "Definitions",
    "InputError",
    "LinksimError",
    "LintResult",
    "LoadReport",
    "RunResult",
    "SimulationResult",
    "UndoResult",
    "UsageError",
    "apply",
    "check_definitions",
    "connect",
    "data_path",
    "definitions_schema",
    "lint",
    "load",
    "load_definitions",
    "parse_definitions",
    "preview",
    "script",
    "simulate",
    "undo",
]
