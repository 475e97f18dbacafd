"""What `linksim lint` reports: findings with a severity, and the result that shows them.

A finding names its kind (`code`, stable), the links, actions and mailings involved, what is wrong
and a one-line fix. With clicks in the database it also says how many people it touched, and for
an outcome that depends on click order, how many people it decided either way.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

__all__ = ["CODES", "SEVERITIES", "Finding", "LintResult"]

SEVERITIES = ("error", "warning", "info")
"""Most severe first. An error stops `preview` and `apply`, or makes an action do nothing."""

CODES: dict[str, tuple[str, str]] = {
    # code: (severity, what it is)
    "invalid": ("error", "the definitions break a rule of the format"),
    "duplicate-id": ("error", "an action id used twice"),
    "bad-template": ("error", "a template with a placeholder that does not exist"),
    "redirect-refused": ("error", "a redirect that is not an absolute http(s) URL"),
    "unknown-name": ("error", "a name or id the database does not have"),
    "type-mismatch": ("error", "a set_field value that does not fit the field's type"),
    "link-not-in-mailing": ("error", "a `mailings` entry whose mailing does not use the link"),
    "unregistered-script": ("error", "a script name no code registered"),
    "add-and-remove": ("warning", "one link or mailing adds and removes the same membership"),
    "two-values": ("warning", "one link or mailing sets one field to two values"),
    "two-follow-ups": ("warning", "a person can get two follow-ups or requests from one mailing"),
    "every-click-creates": ("info", "a follow-up or request created on every click"),
    "shared-link": ("info", "a link used by several mailings: its actions fire for all"),
}
"""Every finding kind, with its severity."""


@dataclass(frozen=True)
class Finding:
    """One thing lint found.

    Attributes:
        code: the kind, one of `CODES`.
        severity: ``error``, ``warning`` or ``info``.
        message: what is wrong, naming what is involved.
        fix: one line saying how to fix it.
        links, actions, mailings: what is involved (link ids or URLs, action ids, mailing ids).
        field: the key of the definitions file, for a problem found there.
        people: with clicks in the database, how many people the finding concerns (their
            eligible clicks fire the actions involved); ``None`` when not counted.
        order_dependent: how many of them the outcome depends on click order for (they fired
            both actions of a conflict), or who got two follow-ups or requests.
        outcomes: for an order-dependent state, how many of those ended as each action left
            it (its firing was their last), as (action id, people) pairs.
    """

    code: str
    severity: str
    message: str
    fix: str
    links: tuple[int | str, ...] = ()
    actions: tuple[str, ...] = ()
    mailings: tuple[int, ...] = ()
    field: str | None = None
    people: int | None = None
    order_dependent: int | None = None
    outcomes: tuple[tuple[str, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of a finding (see docs/LINT.md)."""
        d = asdict(self)
        d["links"], d["actions"], d["mailings"] = (
            list(self.links),
            list(self.actions),
            list(self.mailings),
        )
        d["outcomes"] = [{"action": a, "people": n} for a, n in self.outcomes]
        return d


class LintResult:
    """Every finding of one lint, most severe first.

    Attributes:
        file: the definitions file linted.
        findings: the findings, errors first, then warnings, then info.
        clicks: the clicks in the database the history was counted on (``None``: not counted).
    """

    def __init__(self, file: str, findings: list[Finding], clicks: int | None) -> None:
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        self.file = file
        self.findings = sorted(findings, key=lambda f: rank[f.severity])
        self.clicks = clicks

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def ok(self) -> bool:
        """No errors (warnings and info may remain)."""
        return not self.errors

    def counts(self) -> dict[str, int]:
        """Findings per severity."""
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def to_frame(self) -> pd.DataFrame:
        """One row per finding; links, actions and mailings as lists, outcomes as a dict."""
        columns = [
            "severity",
            "code",
            "message",
            "fix",
            "links",
            "actions",
            "mailings",
            "field",
            "people",
            "order_dependent",
            "outcomes",
        ]
        rows = [
            {
                **{k: getattr(f, k) for k in columns},
                "links": list(f.links),
                "actions": list(f.actions),
                "mailings": list(f.mailings),
                "outcomes": dict(f.outcomes) or None,
            }
            for f in self.findings
        ]
        frame = pd.DataFrame(rows, columns=columns)
        for c in ("people", "order_dependent"):
            frame[c] = frame[c].astype("Int64")
        return frame

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of `linksim lint --json`."""
        return {
            "file": self.file,
            "ok": self.ok,
            "counts": self.counts(),
            "clicks": self.clicks,
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def headline(self) -> str:
        """``lint FILE: 1 error, 2 warnings, 0 info (history: N clicks)``."""
        c = self.counts()
        head = (
            f"lint {self.file}: {_count(c['error'], 'error')}, "
            f"{_count(c['warning'], 'warning')}, {c['info']} info"
        )
        if self.clicks is not None:
            head += f" (history: {self.clicks:,} clicks)"
        return head

    def __str__(self) -> str:
        head = self.headline()
        lines = [head]
        for f in self.findings:
            lines.append(f"\n{f.severity.upper()} [{f.code}] {f.message}")
            involved = _involved(f)
            if involved:
                lines.append(f"  {involved}")
            if f.people is not None:
                lines.append(f"  history: {_history(f)}")
            lines.append(f"  fix: {f.fix}")
        if not self.findings:
            lines.append("no findings")
        return "\n".join(lines)

    def brief(self) -> str:
        """The head line, then one line per finding: its kind, what it involves, its history."""
        lines = [self.headline()]
        for f in self.findings:
            involved = ", ".join(f.actions) or ", ".join(f"link {x}" for x in f.links) or "-"
            counted = "" if f.people is None else f": {_history(f).split(';')[0]}"
            lines.append(f"  {f.severity:<7} {f.code:<19} {involved}{counted}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = f"<p>{html.escape(self.headline())}</p>"
        if not self.findings:
            return head + "<p>no findings</p>"
        return head + self.to_frame().to_html(index=False)  # to_html escapes every cell

    def __repr__(self) -> str:
        return f"LintResult({self.file!r}, {self.counts()})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _short(values: tuple[int, ...], most: int = 6) -> str:
    shown = ", ".join(str(v) for v in values[:most])
    return shown + (f" (+{len(values) - most} more)" if len(values) > most else "")


def _involved(f: Finding) -> str:
    parts = []
    if f.links:
        parts.append("links " + ", ".join(str(x) for x in f.links))
    if f.actions:
        parts.append("actions " + ", ".join(f.actions))
    if f.mailings:
        parts.append("mailings " + _short(f.mailings))
    if f.field:
        parts.append(f"key {f.field}")
    return "; ".join(parts)


def _history(f: Finding) -> str:
    if not f.people:
        return "no one in the clicks so far"
    text = f"{f.people:,} people"
    if f.order_dependent is not None:
        text += f", {f.order_dependent:,} of them {_DEPENDENT.get(f.code, 'affected')}"
    if f.outcomes:
        text += "; it ended as " + ", ".join(f"{a!r} left it for {n:,}" for a, n in f.outcomes)
    return text


_DEPENDENT = {
    "add-and-remove": "fired both, so click order decided",
    "two-values": "fired both, so click order decided",
    "two-follow-ups": "got both in one mailing",
    "every-click-creates": "got two or more in one mailing",
}
