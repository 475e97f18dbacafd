"""Every error linksim raises on purpose.

::

    LinksimError                      base: catch this to catch them all
     ├── DefinitionError (ValueError) a definitions file is malformed or names unknown things
     ├── InputError (ValueError)      an input file or DataFrame cannot be loaded as a whole
     ├── DatabaseError                the database file is missing, locked or not a linksim one
     └── UsageError (ValueError)      a command or function was called with impossible arguments

Each keeps what it was about as attributes, and its message says what was expected, what was found
and how to fix it. The CLI prints the message on one line and exits with code 2.
"""

from __future__ import annotations

__all__ = ["DatabaseError", "DefinitionError", "InputError", "LinksimError", "UsageError"]


class LinksimError(Exception):
    """The base of every error linksim raises on purpose."""


class DefinitionError(ValueError, LinksimError):
    """A definitions file is malformed, or names something the database does not have.

    Attributes:
        problems: one entry per problem, each a dict with ``file``, ``link``, ``action``, ``field``
            and ``message`` (``None`` where it does not apply).
    """

    def __init__(self, problems: list[dict[str, object]]) -> None:
        self.problems = problems
        super().__init__("\n".join(format_problem(p) for p in problems))


class InputError(ValueError, LinksimError):
    """An input file or DataFrame cannot be loaded at all (wrong columns, encoding, empty, …).

    Attributes:
        source: the file path or ``"<DataFrame>"``.
        table: the target table, e.g. ``"mail.click"``.
    """

    def __init__(self, message: str, *, source: str | None = None, table: str | None = None):
        self.source = source
        self.table = table
        where = ", ".join(x for x in (source, table and f"table {table}") if x)
        super().__init__(f"{where}: {message}" if where else message)


class DatabaseError(LinksimError):
    """The database cannot be used: missing, locked by another process, or not a linksim one."""


class UsageError(ValueError, LinksimError):
    """A command or function was called with arguments that cannot work together."""


def format_problem(problem: dict[str, object]) -> str:
    """One line for one definitions problem, naming where it was found.

    >>> format_problem({"file": "d.yaml", "link": 101, "action": "hot", "field": "add",
    ...                 "message": "unknown selection 'Hot'"})
    "d.yaml: link 101, action 'hot', field 'add': unknown selection 'Hot'"
    """
    where = []
    if problem.get("link") is not None:
        where.append(f"link {problem['link']}")
    if problem.get("action") is not None:
        where.append(f"action {problem['action']!r}")
    if problem.get("field"):
        where.append(f"field {problem['field']!r}")
    head = f"{problem['file']}: " if problem.get("file") else ""
    place = ", ".join(where)
    return f"{head}{place + ': ' if place else ''}{problem['message']}"
