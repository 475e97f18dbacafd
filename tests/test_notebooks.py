"""The notebooks run top to bottom on a fresh kernel (real execution, not a smoke import), each
draws at least one figure, and none is committed with outputs."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

# Every figure: a title (its own or the figure's), and each plot axes labelled; colorbars aside.
KEEP_FIGURES = "%config InlineBackend.close_figures = False"
CHECK_FIGURES = """
import matplotlib.pyplot as plt

for number in plt.get_fignums():
    figure = plt.figure(number)
    plots = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    suptitle = figure._suptitle.get_text() if figure._suptitle else ""
    for ax in plots:
        assert ax.get_title() or suptitle, f"figure {number} has an axes without a title"
        assert ax.get_xlabel(), f"figure {number} ({ax.get_title()!r}) has no x label"
    assert any(ax.get_ylabel() for ax in plots), f"figure {number} has no y label"
"""

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


# The notebooks that write to their database: a second run on what the first left must work too.
RERUN = {"02-segment-clickers.ipynb", "05-backfill.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    committed = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in committed.cells if cell.cell_type == "code"), (
        f"{path.name} is committed with outputs; clear them"
    )
    for _ in range(2 if path.name in RERUN else 1):
        notebook = _execute(committed, tmp_path)
    errors = [
        out
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors
    figures = [
        out
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if "image/png" in out.get("data", {})
    ]
    assert figures, f"{path.name} draws no figure"


def _execute(committed: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    notebook = copy.deepcopy(committed)
    # keep the figures open after their cells, so the last cell can check every one of them
    notebook.cells.insert(0, nbformat.v4.new_code_cell(KEEP_FIGURES))
    notebook.cells.append(nbformat.v4.new_code_cell(CHECK_FIGURES))
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": folder}}
    ).execute()
    return notebook


def test_there_is_a_notebook_for_each_task() -> None:
    names = {p.stem.split("-", 1)[1] for p in NOTEBOOKS}
    assert {"segment-clickers", "plan-follow-ups", "preview-before-sending", "backfill"} <= names
