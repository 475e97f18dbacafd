"""Where the files of the repository's `data/` folder are, installed or not."""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_path"]


def data_path(name: str) -> Path:
    """The path of ``data/<name>``: inside the installed wheel, or in the source checkout.

    >>> data_path("hillstrom.csv").name
    'hillstrom.csv'
    """
    here = Path(__file__).resolve().parent
    for folder in (here / "_data", here.parent / "data"):
        if (folder / name).exists():
            return folder / name
    return here.parent / "data" / name
