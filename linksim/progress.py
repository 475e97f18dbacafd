"""A progress bar for long runs: tqdm in a terminal, a widget in Jupyter, nothing otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["progress_bar", "wanted"]


def wanted(show: bool | None) -> bool:
    """Whether to draw: as asked, or by default when a person watches (a terminal or Jupyter).

    >>> wanted(False), wanted(True)
    (False, True)
    """
    if show is not None:
        return show
    if "ipykernel" in sys.modules:
        return True
    return sys.stderr.isatty()


def _tqdm() -> Any:
    """tqdm's widget in Jupyter when ipywidgets is installed, else its text bar (tqdm.auto
    would warn that the widget is missing, once per bar)."""
    if "ipykernel" in sys.modules:
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm
        except ImportError:
            from tqdm.std import tqdm
        return tqdm
    from tqdm.std import tqdm

    return tqdm


@contextmanager
def progress_bar(total: int, *, initial: int = 0, show: bool | None = None) -> Iterator[Any]:
    """A bar counting clicks, with clicks/s and the time left; ``update(n)`` advances it.

    >>> with progress_bar(10, show=False) as bar:
    ...     bar.update(10)
    """
    bar = _tqdm()(
        total=total,
        initial=initial,
        unit=" clicks",
        unit_scale=True,
        smoothing=0.1,
        disable=not wanted(show),
        file=sys.stderr,
    )
    try:
        yield bar
    finally:
        bar.close()
