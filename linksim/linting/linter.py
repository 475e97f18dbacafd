"""`lint`: every problem of a definitions file and every conflict between its actions.

Problems of the file and of its names come from the same checks `preview` and `apply` make, but
lint reports them all and goes on with the valid actions. Conflicts are found in SQL
(`conflicts.py`); with clicks in the database, `history.py` counts the people each finding
touched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import duckdb

from linksim.definitions import Definitions, ScriptAction, parse_definitions
from linksim.definitions._problems import Problem
from linksim.definitions.loading import read_definitions_data
from linksim.engine.compile import compile_definitions
from linksim.linting.conflicts import Conflict, find_conflicts
from linksim.linting.findings import CODES, Finding, LintResult
from linksim.linting.history import conflict_counts, problem_counts
from linksim.linting.salvage import salvage, without_actions
from linksim.runs import fire_history
from linksim.scripts import registered_scripts
from linksim.store.query import fetch_value, run

__all__ = ["lint"]

_FIXES = {
    "invalid": "correct the key as the message says (`linksim schema` prints the format)",
    "duplicate-id": "rename one of the two actions",
    "bad-template": "use only the placeholders the message lists",
    "redirect-refused": "use an absolute https:// URL",
    "unknown-name": "use an existing name, or create it in the CRM first",
    "type-mismatch": "give a value of the field's type",
    "link-not-in-mailing": "remove the mailing from `mailings`, or load the mailing's links",
    "unregistered-script": "register it: an entry point in group `linksim.scripts`, or "
    "@linksim.script in a module named with --scripts",
}


def lint(
    con: duckdb.DuckDBPyConnection,
    definitions: str | os.PathLike[str] | Mapping[str, Any] | Definitions,
    *,
    history: bool = True,
) -> LintResult:
    """Lint definitions against the database on ``con``.

    Args:
        con: a linksim database (see `linksim.connect`).
        definitions: a definitions file, its parsed mapping, or `Definitions`.
        history: count the people each finding touched in the clicks of the database.

    Raises:
        DefinitionError: the file cannot be read at all (missing, not YAML or JSON); every
            other problem is a finding.

    >>> import linksim
    >>> con = linksim.connect(":memory:")
    >>> _ = con.execute("INSERT INTO mail.link VALUES (1, 'https://example.com/p', 'Pricing')")
    >>> _ = con.execute("INSERT INTO crm.selection VALUES (1, 'Hot leads')")
    >>> result = lint(con, {"version": 1, "links": [{"link": 1, "actions": [
    ...     {"id": "hot", "type": "selection", "add": ["Hot leads"]},
    ...     {"id": "cool", "type": "selection", "remove": ["Hot leads"]}]}]})
    >>> [(f.severity, f.code, f.actions) for f in result.findings]
    [('warning', 'add-and-remove', ('hot', 'cool'))]
    """
    source, data = _source(definitions)
    defs, problems = salvage(data, con, source)
    findings = [_problem_finding(p, data) for p in problems]
    conflicts: list[Conflict] = []
    if defs is not None:
        unregistered = _unregistered(defs)
        findings += unregistered
        # an action with an error is left out of the conflict search, a script's too
        defs = without_actions(defs, {a for f in unregistered for a in f.actions})
    if defs is not None:
        compile_definitions(con, defs)
        conflicts = find_conflicts(con)
    clicks = None
    if history and fetch_value(con, "SELECT count(*) FROM mail.click"):
        clicks = fire_history(con, defs or parse_definitions({"version": 1, "links": []}))
        findings = _with_problem_history(con, findings)
        counts = conflict_counts(con) if conflicts else {}
        conflicts = [_with_history(c, counts.get(i)) for i, c in enumerate(conflicts)]
        for relation in ("ls_classified", "ls_fired"):
            run(con, f"DROP TABLE IF EXISTS {relation}")
    return LintResult(source, findings + [c.finding for c in conflicts], clicks)


def _source(definitions: Any) -> tuple[str, Any]:
    if isinstance(definitions, Definitions):
        return "<definitions>", definitions.model_dump(mode="json")
    if isinstance(definitions, Mapping):
        return "<dict>", definitions
    return str(definitions), read_definitions_data(definitions)


def _problem_finding(problem: Problem, data: Any) -> Finding:
    code = str(problem.get("code") or "invalid")
    link = problem.get("link")
    action = problem.get("action")
    known_link = isinstance(link, int | str)
    mailings = problem.get("mailings")  # the mailing a problem is about, when it names one
    if not isinstance(mailings, list):
        mailings = []
        if isinstance(link, int | str):
            mailings = _entry_mailings(data, problem.get("path"), link)
    return Finding(
        code,
        CODES[code][0],
        str(problem["message"]),
        _FIXES[code],
        links=(link,) if known_link else (),  # type: ignore[arg-type]
        actions=(action,) if isinstance(action, str) else (),
        mailings=tuple(mailings),
        field=problem.get("field"),  # type: ignore[arg-type]
    )


def _unregistered(defs: Definitions) -> list[Finding]:
    known = registered_scripts()
    return [
        Finding(
            "unregistered-script",
            CODES["unregistered-script"][0],
            f"no script named {action.script!r} is registered, so {action.id!r} would record an "
            f"error on every run (registered: {', '.join(sorted(known)) or 'none'})",
            _FIXES["unregistered-script"],
            links=(link.key,),
            actions=(action.id,),
            mailings=link.mailings or (),
            field="script",
        )
        for link, action in defs.actions
        if isinstance(action, ScriptAction) and action.script not in known
    ]


def _with_problem_history(con: duckdb.DuckDBPyConnection, findings: list[Finding]) -> list[Finding]:
    """Problems on a known link: the people whose eligible clicks there would have fired it."""
    wanted = [(i, str(f.links[0]), list(f.mailings)) for i, f in enumerate(findings) if f.links]
    counts = problem_counts(con, wanted)
    counted = {w[0] for w in wanted}
    return [
        replace(f, people=counts.get(i, 0)) if i in counted else f for i, f in enumerate(findings)
    ]


def _entry_mailings(data: Any, path: Any, link: int | str) -> list[int]:
    """The `mailings` of a link entry, as written (empty: any mailing).

    The entry is the one ``path`` points into, else the first naming ``link``.
    """
    links = data.get("links") if isinstance(data, Mapping) else None
    if not isinstance(links, list):
        return []
    if isinstance(path, list) and len(path) >= 2 and isinstance(path[1], int):
        entry = links[path[1]] if path[1] < len(links) else None
    else:
        entry = next(
            (e for e in links if isinstance(e, Mapping) and link in (e.get("link"), e.get("url"))),
            None,
        )
    mailings = entry.get("mailings") if isinstance(entry, Mapping) else None
    if not isinstance(mailings, list):
        return []
    return [m for m in mailings if isinstance(m, int) and not isinstance(m, bool)]


def _with_history(conflict: Conflict, counts: tuple[int, int | None, int, int] | None) -> Conflict:
    people, dependent, last_a, last_b = counts or (0, 0, 0, 0)
    f = conflict.finding
    outcomes: tuple[tuple[str, int], ...] = ()
    if conflict.kind == "state" and len(f.actions) == 2:
        first, second = f.actions
        outcomes = ((first, last_a), (second, last_b))
    dependent = None if conflict.kind == "link" else dependent
    return Conflict(
        replace(f, people=people, order_dependent=dependent, outcomes=outcomes), conflict.kind
    )
