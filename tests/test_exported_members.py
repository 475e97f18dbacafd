"""The public API is explicit: this list changes only on purpose."""

import linksim

EXPORTED = sorted(
    [
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
)


def test_all_is_pinned() -> None:
    assert sorted(linksim.__all__) == EXPORTED


def test_every_exported_name_exists() -> None:
    for name in linksim.__all__:
        assert getattr(linksim, name) is not None


def test_every_error_is_a_linksim_error() -> None:
    for name in ("DatabaseError", "DefinitionError", "InputError", "UsageError"):
        assert issubclass(getattr(linksim, name), linksim.LinksimError)
    assert issubclass(linksim.DefinitionError, ValueError)
