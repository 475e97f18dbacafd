"""Conflicts between actions, found in SQL over the compiled definitions and `mail.mailing_link`.

Two actions *meet* where one person's clicks can fire both for one mailing: on one link, or on
two links of one mailing (the mailings come from the database, so a footer link shared by every
mailing meets each mailing's own links). Of the pairs that meet:

- `add-and-remove`: one adds a membership (interest, selection, project) the other removes;
- `two-values`: both set one field, to different values;
- `two-follow-ups`: both create a follow-up or a request.

An action that creates one on every click (`every-click-creates`) and a link without `mailings`
used by several mailings (`shared-link`) are reported too. Each conflict also leaves, in
`ls_lint_target`, which (action, mailing) firings it concerns, for `history.py` to count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from linksim.linting.findings import CODES, Finding
from linksim.store.query import run

__all__ = ["Conflict", "find_conflicts"]

# Where each action can fire: per link and per mailing that uses it (NULL: none does yet).
PLACES_SQL = """
CREATE OR REPLACE TEMP TABLE ls_lint_place AS
SELECT la.action_no, la.link_id, ml.mailing_id
FROM ls_def_link_action la
LEFT JOIN mail.mailing_link ml
  ON ml.link_id = la.link_id AND (la.mailing_id IS NULL OR la.mailing_id = ml.mailing_id)
"""

# Pairs of actions that can both fire for one person and mailing, with where they meet.
MEET_SQL = """
CREATE OR REPLACE TEMP TABLE ls_lint_meet AS
SELECT p.action_no AS a, q.action_no AS b,
       list(DISTINCT p.mailing_id ORDER BY p.mailing_id) FILTER (WHERE p.mailing_id IS NOT NULL)
         AS mailings,
       bool_or(p.link_id = q.link_id) AS same_link
FROM ls_lint_place p
JOIN ls_lint_place q
  ON p.mailing_id = q.mailing_id
  OR (p.link_id = q.link_id AND p.mailing_id IS NULL AND q.mailing_id IS NULL)
GROUP BY p.action_no, q.action_no
"""

CONFLICTS_SQL = """
WITH pairs AS (
    SELECT 'add-and-remove' AS code, x.action_no AS a, y.action_no AS b, x.kind, x.scope,
           x.target, NULL AS value_a, NULL AS value_b
    FROM ls_def_state_op x
    JOIN ls_def_state_op y
      ON x.kind = y.kind AND x.scope IS NOT DISTINCT FROM y.scope AND x.target = y.target
    WHERE x.op = 'add' AND y.op = 'remove'
    UNION ALL
    SELECT 'two-values', x.action_no, y.action_no, x.kind, x.scope, x.target, x.value, y.value
    FROM ls_def_state_op x
    JOIN ls_def_state_op y ON x.kind = 'field' AND y.kind = 'field' AND x.target = y.target
    WHERE x.op = 'set' AND y.op = 'set' AND x.action_no < y.action_no
      AND x.value IS DISTINCT FROM y.value
    UNION ALL
    SELECT 'two-follow-ups', x.action_no, y.action_no, x.type, NULL, y.type, NULL, NULL
    FROM ls_def_action x
    JOIN ls_def_action y ON x.action_no < y.action_no
    WHERE x.type IN ('follow_up', 'request') AND y.type IN ('follow_up', 'request')
)
SELECT p.code, p.a, p.b, p.kind, p.scope, p.target, p.value_a, p.value_b, m.mailings,
       m.same_link
FROM pairs p JOIN ls_lint_meet m ON m.a = p.a AND m.b = p.b
ORDER BY p.code, p.a, p.b, p.target
"""

# A follow-up or request on every click, with the mailings where it can fire.
EVERY_CLICK_SQL = """
SELECT a.action_no, list(DISTINCT p.mailing_id ORDER BY p.mailing_id)
                      FILTER (WHERE p.mailing_id IS NOT NULL)
FROM ls_def_action a JOIN ls_lint_place p USING (action_no)
WHERE a.type IN ('follow_up', 'request') AND a.fire = 'every_click'
GROUP BY a.action_no ORDER BY a.action_no
"""

# Links without `mailings` that several mailings use: every action of the entry fires for all.
SHARED_SQL = """
SELECT e.entry_no, any_value(la.link_id),
       list(DISTINCT ml.mailing_id ORDER BY ml.mailing_id), list(DISTINCT a.action_no)
FROM ls_def_entry e
JOIN ls_def_action a USING (entry_no)
JOIN ls_def_link_action la USING (action_no)
JOIN mail.mailing_link ml ON ml.link_id = la.link_id
WHERE NOT EXISTS (SELECT 1 FROM ls_def_entry_mailing m WHERE m.entry_no = e.entry_no)
GROUP BY e.entry_no
HAVING count(DISTINCT ml.mailing_id) >= 2
ORDER BY e.entry_no
"""

_TARGET_SQL = """
INSERT INTO ls_lint_target
SELECT $finding, unnest($actions::INTEGER[]), unnest($roles::VARCHAR[]), $kind,
       unnest($mailings::BIGINT[])
"""


@dataclass(frozen=True)
class Conflict:
    """A finding and how `history.py` counts it (``kind``: state, pair, repeat or link)."""

    finding: Finding
    kind: str


def find_conflicts(con: duckdb.DuckDBPyConnection) -> list[Conflict]:
    """The conflicts among the compiled definitions (`compile_definitions` ran on ``con``)."""
    run(con, PLACES_SQL)
    run(con, MEET_SQL)
    run(
        con,
        "CREATE OR REPLACE TEMP TABLE ls_lint_target (finding_no INTEGER, action_no INTEGER,"
        " role VARCHAR, kind VARCHAR, mailing_id BIGINT)",
    )
    names = _Names(con)
    conflicts: list[Conflict] = []
    for code, a, b, kind, scope, target, value_a, value_b, mailings, same_link in con.execute(
        CONFLICTS_SQL
    ).fetchall():
        finding = _pair_finding(names, code, a, b, kind, scope, target, value_a, value_b)
        finding = _placed(names, finding, [a, b], mailings, same_link)
        kind_of_count = "pair" if code == "two-follow-ups" else "state"
        conflicts.append(_target(con, len(conflicts), finding, kind_of_count, [a, b], mailings))
    # the loops below run over conflicts found in SQL (a few rows), to word each finding
    for a, mailings in con.execute(EVERY_CLICK_SQL).fetchall():
        what = names.created(a)
        finding = Finding(
            "every-click-creates",
            CODES["every-click-creates"][0],
            f"{names.action(a)} creates {what} on every click: a person who clicks "
            f"{names.link_of(a)} twice in one mailing gets two",
            f"if one per person and mailing is meant, drop `fire: every_click` from "
            f"{names.action(a)} (once_per_mailing is the default)",
        )
        finding = _placed(names, finding, [a], mailings, True)
        conflicts.append(_target(con, len(conflicts), finding, "repeat", [a], mailings))
    for _entry, link_id, mailings, actions in con.execute(SHARED_SQL).fetchall():
        actions = sorted(actions)
        finding = Finding(
            "shared-link",
            CODES["shared-link"][0],
            f"link {names.link(link_id)} is used by {len(mailings)} mailings and has no "
            f"`mailings`: {_listing([names.action(a) for a in actions])} "
            f"{'fires' if len(actions) == 1 else 'fire'} for all of them",
            "nothing to do if that is meant; else list the mailings it is for in `mailings:`",
            links=(link_id,),
            actions=tuple(names.action_id(a) for a in actions),
            mailings=tuple(mailings),
        )
        conflicts.append(_target(con, len(conflicts), finding, "link", actions, [None]))
    return conflicts


def _pair_finding(
    names: _Names,
    code: str,
    a: int,
    b: int,
    kind: str,
    scope: str | None,
    target: str,
    value_a: str | None,
    value_b: str | None,
) -> Finding:
    severity = CODES[code][0]
    if code == "add-and-remove":
        what = f"{'contact ' if scope == 'contact' else ''}{kind} {target!r}"
        return Finding(
            code,
            severity,
            f"{names.action(a)} adds {what} and {names.action(b)} removes it: a person who "
            "clicks both ends with whichever fired last",
            f"decide which wins: drop {target!r} from one of them, or give one link `mailings:` "
            "so that they never meet",
            outcomes=(),
        )
    if code == "two-values":
        return Finding(
            code,
            severity,
            f"{names.action(a)} sets field {target!r} to {value_a!r} and {names.action(b)} sets "
            f"it to {value_b!r}: a person who clicks both keeps whichever fired last",
            f"set {target!r} in one of them only, or give one link `mailings:` so that they "
            "never meet",
        )
    return Finding(
        code,
        severity,
        f"{names.action(a)} creates {names.created(a)} and {names.action(b)} creates "
        f"{names.created(b)}: a person who clicks both in one mailing gets both",
        "if one is enough, keep one of them, or give one link `mailings:` so that they never meet",
    )


def _placed(
    names: _Names,
    finding: Finding,
    actions: list[int],
    mailings: list[int] | None,
    same_link: bool,
) -> Finding:
    """The finding with the links, actions and mailings involved, and where they meet."""
    mailings = list(mailings or [])
    links = tuple(dict.fromkeys(names.link_key(a) for a in actions))
    where = f"on link {links[0]}" if same_link and len(links) == 1 else ""
    if mailings:
        shown = ", ".join(names.mailing(m) for m in mailings[:3])
        more = f" and {len(mailings) - 3} more" if len(mailings) > 3 else ""
        where += f"{' ' if where else ''}in mailing{'s' if len(mailings) > 1 else ''} {shown}{more}"
    message = finding.message + (f" ({where})" if where else "")
    return Finding(
        finding.code,
        finding.severity,
        message,
        finding.fix,
        links=links,
        actions=tuple(dict.fromkeys(names.action_id(a) for a in actions)),
        mailings=tuple(mailings),
    )


def _target(
    con: duckdb.DuckDBPyConnection,
    finding_no: int,
    finding: Finding,
    kind: str,
    actions: list[int],
    mailings: list[int | None] | None,
) -> Conflict:
    """Record which firings the finding concerns: its actions in its mailings (NULL: any)."""
    rows = [
        (action, "ab"[min(i, 1)], mailing)
        for i, action in enumerate(actions)
        for mailing in (mailings or [None])
    ]
    if kind == "link":
        rows = [(action, "a", None) for action in actions]
    con.execute(
        _TARGET_SQL,
        {
            "finding": finding_no,
            "actions": [r[0] for r in rows],
            "roles": [r[1] for r in rows],
            "kind": kind,
            "mailings": [r[2] for r in rows],
        },
    ).fetchall()
    return Conflict(finding, kind)


class _Names:
    """How to name actions, links and mailings in messages (read once from the database)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = con.execute(
            "SELECT a.action_no, a.action_id, a.type, coalesce(e.link_id::VARCHAR, e.url),"
            " f.kind FROM ls_def_action a JOIN ls_def_entry e USING (entry_no)"
            " LEFT JOIN ls_def_follow_up f USING (action_no)"
        ).fetchall()
        self._actions: dict[int, tuple[str, str, str, str | None]] = {
            r[0]: (r[1], r[2], r[3], r[4]) for r in rows
        }
        self._mailings: dict[int, str] = dict(
            con.execute("SELECT mailing_id, name FROM mail.mailing").fetchall()
        )
        self._links: dict[int, str] = dict(
            con.execute("SELECT link_id, name FROM mail.link").fetchall()
        )

    def action_id(self, no: int) -> str:
        return self._actions[no][0]

    def action(self, no: int) -> str:
        return repr(self._actions[no][0])

    def link_key(self, no: int) -> Any:
        key = self._actions[no][2]
        return int(key) if key.isdigit() else key

    def link_of(self, no: int) -> str:
        return f"link {self.link_key(no)}"

    def created(self, no: int) -> str:
        _, kind, _, follow_up_kind = self._actions[no]
        return "a ticket" if kind == "request" else f"a {follow_up_kind or 'follow-up'}"

    def link(self, link_id: int) -> str:
        name = self._links.get(link_id)
        return f"{link_id} ({name!r})" if name else str(link_id)

    def mailing(self, mailing_id: int) -> str:
        name = self._mailings.get(mailing_id)
        return f"{mailing_id} ({name!r})" if name else str(mailing_id)


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
