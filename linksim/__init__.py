"""linksim: email link actions applied set-based in DuckDB — preview, apply, simulate, undo."""

from linksim.errors import DatabaseError, DefinitionError, InputError, LinksimError, UsageError
from linksim.store.connect import connect

__all__ = [
    "DatabaseError",
    "DefinitionError",
    "InputError",
    "LinksimError",
    "UsageError",
    "connect",
]
