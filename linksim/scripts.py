"""The script registry: a definitions file names a script; only code can register one.

A script is a function ``f(clicks: pandas.DataFrame) -> pandas.DataFrame | None``, registered by
an entry point in group ``linksim.scripts`` (in a package's ``pyproject.toml``)::

    [project.entry-points."linksim.scripts"]
    crm_enrich = "mypackage.scripts:enrich"

or with the decorator in a module the user names with ``--scripts module``::

    import linksim

    @linksim.script("crm_enrich")
    def enrich(clicks):
        ...

The DataFrame and the optional returned field changes are described in SPEC §4 and
docs/SEMANTICS.md §7.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pandas as pd

from linksim.errors import UsageError

__all__ = ["ENTRY_POINT_GROUP", "Script", "import_scripts", "registered_scripts", "script"]

ENTRY_POINT_GROUP = "linksim.scripts"

Script = Callable[[pd.DataFrame], Any]

_REGISTRY: dict[str, Script] = {}


def script(name: str) -> Callable[[Script], Script]:
    """Register the decorated function as the script called ``name``.

    >>> @script("doc_example")
    ... def noop(clicks):
    ...     return None
    >>> registered_scripts()["doc_example"] is noop
    True
    """

    def register(function: Script) -> Script:
        _REGISTRY[name] = function
        return function

    return register


def import_scripts(module: str) -> None:
    """Import ``module`` (``--scripts``) so that its ``@linksim.script`` functions register."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(
            f"cannot import the scripts module {module!r}: {exc}; give an importable module "
            "name (a file mymodule.py in the current folder is `--scripts mymodule`)"
        ) from None


def _broken(target: str, error: Exception) -> Script:
    def fail(clicks: pd.DataFrame) -> None:
        raise RuntimeError(f"entry point {target!r} could not be loaded: {error}")

    return fail


def registered_scripts() -> dict[str, Script]:
    """Every registered script by name: entry points first, then decorated functions."""
    found: dict[str, Script] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found[entry.name] = entry.load()
        except Exception as exc:  # a broken plugin fails the runs that use it, not the others
            found[entry.name] = _broken(entry.value, exc)
    found.update(_REGISTRY)
    return found
