"""The accounting of one load (SPEC §4.1, §5): what it did with each input row."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["OUTCOMES", "LoadReport"]

OUTCOMES = ("loaded", "updated", "duplicate", "quarantined")
"""Every input row ends in exactly one of these."""


@dataclass(frozen=True)
class LoadReport:
    """What one load did with its input rows; seen = loaded + updated + duplicate + quarantined.

    Attributes:
        table: the target table, e.g. ``"mail.click"``.
        source: where the rows came from (a path, ``"<DataFrame>"``, or the caller's name).
        load_id: the `linksim.load` row of this load; its quarantined rows carry it too.
        reasons: quarantine reason -> number of rows, most frequent first.

    >>> reasons = {"unknown person": 10}
    >>> print(LoadReport("mail.click", "clicks.csv", 4, 1200, 1100, 0, 90, 10, reasons))
    mail.click from clicks.csv: 1,200 rows seen (load_id 4)
      1,100  loaded
          0  updated
         90  duplicate
         10  quarantined
         10    unknown person
    quarantined rows: SELECT * FROM linksim.quarantine WHERE load_id = 4
    """

    table: str
    source: str
    load_id: int
    seen: int
    loaded: int
    updated: int
    duplicate: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, object]:
        """A plain dict, for ``--json`` output.

        >>> LoadReport("crm.interest", "x.csv", 1, 2, 2, 0, 0, 0).to_dict()["loaded"]
        2
        """
        return {
            "table": self.table,
            "source": self.source,
            "load_id": self.load_id,
            "seen": self.seen,
            **{o: getattr(self, o) for o in OUTCOMES},
            "reasons": dict(self.reasons),
        }

    def __str__(self) -> str:
        width = max(len(f"{self.seen:,}"), 1)
        rows = "row" if self.seen == 1 else "rows"
        lines = [
            f"{self.table} from {self.source}: {self.seen:,} {rows} seen (load_id {self.load_id})"
        ]
        for outcome in OUTCOMES:
            lines.append(f"  {getattr(self, outcome):>{width},}  {outcome}")
        lines.extend(f"  {n:>{width},}    {reason}" for reason, n in self.reasons.items())
        if self.quarantined:
            lines.append(
                f"quarantined rows: SELECT * FROM linksim.quarantine WHERE load_id = {self.load_id}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{e(o)}</td><td style='text-align:right'>{getattr(self, o):,}</td></tr>"
            for o in OUTCOMES
        ) + "".join(
            f"<tr><td style='padding-left:2em'>{e(r)}</td>"
            f"<td style='text-align:right'>{n:,}</td></tr>"
            for r, n in self.reasons.items()
        )
        return (
            f"<p><b>{e(self.table)}</b> from <code>{e(self.source)}</code>: "
            f"{self.seen:,} rows seen (load_id {self.load_id})</p><table>{rows}</table>"
        )
