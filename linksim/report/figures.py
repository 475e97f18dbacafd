"""Figures for the HTML report: matplotlib drawn to PNG and inlined as data URIs.

PNG rather than SVG: matplotlib's SVG carries the names drawn in the figure as markup, while a PNG
carries pixels only, so nothing from the CRM can reach the page's markup through a figure.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Chart", "bar_chart", "chart"]


@dataclass(frozen=True)
class Chart:
    """One inline figure: its PNG as a data URI, its title and its alt text."""

    uri: str
    title: str
    alt: str


def chart(fig: Figure, title: str, alt: str) -> Chart:
    """Draw ``fig`` to an inline PNG and close it (a report draws many figures)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Chart(f"data:image/png;base64,{data}", title, alt)


def bar_chart(
    labels: pd.Series, values: pd.Series, *, title: str, xlabel: str, ylabel: str, alt: str
) -> Chart:
    """A small horizontal bar chart: one bar per label."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 0.35 * len(labels) + 1.3))
    ax.barh([_short(str(label)) for label in labels], values.astype(float).to_numpy())
    ax.invert_yaxis()  # the first row on top, as in the table beside it
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return chart(fig, title, alt)


def _short(text: str, width: int = 40) -> str:
    # a long name would squeeze the bars: the table beside the chart shows it whole
    return text if len(text) <= width else text[: width - 1] + "…"
