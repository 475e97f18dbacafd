"""The HTML report of a preview and of a simulation (issue 11): self-contained, in order, escaped,
and readable in a real browser at laptop and phone widths."""

from __future__ import annotations

import csv
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import linksim
from linksim._resources import data_path
from linksim.cli import main
from linksim.linting import lint
from linksim.superoffice import import_superoffice
from tests.browser import Browser, chromium

EXAMPLE = Path(__file__).parents[1] / "examples" / "superoffice"
PREVIEW_SECTIONS = ["summary", "lint", "actions", "workload", "tickets", "bots"]
SCRIPT = "<script>document.body.setAttribute('data-pwned', 'script')</script>"
IMAGE = "\"><img src=x onerror=\"document.body.setAttribute('data-pwned', 'img')\">"


class Page(HTMLParser):
    """What a page holds: elements with their attributes, section ids, the text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    @property
    def sections(self) -> list[str | None]:
        return [attrs.get("id") for attrs in self.tags("section")]


def _assert_self_contained(page: Page, raw: str) -> None:
    assert page.tags("script") == [] and page.tags("link") == [] and page.tags("iframe") == []
    assert not [a for _, attrs in page.elements for a in attrs if a.startswith("on")]
    for attrs in page.tags("img"):
        assert str(attrs["src"]).startswith("data:image/png;base64,")
        assert attrs.get("alt"), "every figure has alt text"
    assert not [a for _, attrs in page.elements if (a := attrs.get("href"))]
    assert "url(" not in raw and "@import" not in raw  # no outside styles, fonts or images
    policy = [m for m in page.tags("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert "script-src 'none'" in str(policy[0]["content"])


def _assert_tables_have_headers(page: Page, raw: str) -> None:
    tables = raw.count("<table")
    assert tables and raw.count("<thead>") == tables and raw.count('<th scope="col"') >= tables


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo database whose definitions are not applied yet (the demo applies them)."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    assert main(["demo", "--db", str(path)]) == 0
    assert main(["undo", "2", "--db", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A SuperOffice export whose names are markup, imported; and its definitions file."""
    folder = tmp_path_factory.mktemp("hostile") / "export"
    shutil.copytree(EXAMPLE, folder)
    renames = {
        "PersInt.csv": {"Product news": SCRIPT},
        "selection.csv": {"Hot leads": IMAGE},
        "person.csv": {"Erik": "<b onmouseover=alert(1)>Erik"},
        "s_shipment.csv": {"Webinar invite": "Webinar </title><script>alert(1)</script>"},
        "ej_category.csv": {"Support": "<svg onload=alert(1)>"},
        "Task.csv": {"Phone call": "Call <iframe src=javascript:alert(1)>"},
    }
    for name, values in renames.items():
        path = folder / name
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        rows = [[values.get(v, v) for v in row] for row in rows]
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(rows)
    db, defs = folder.parent / "hostile.duckdb", folder.parent / "links.yaml"
    con = linksim.connect(str(db))
    import_superoffice(con, folder, definitions_out=defs)
    con.close()
    return db, defs


def _preview_page(db: Path, defs: Path, out: Path) -> tuple[str, Any]:
    con = linksim.connect(str(db))
    try:
        result = linksim.preview(con, linksim.load_definitions(defs))
        result.to_html(out, title=f"Preview of {defs.name}", lint=lint(con, defs))
    finally:
        con.close()
    return out.read_text(encoding="utf-8"), result


def test_the_preview_report_is_in_order_self_contained_and_complete(
    demo: Path, tmp_path: Path
) -> None:
    raw, result = _preview_page(demo, data_path("demo-definitions.yaml"), tmp_path / "r.html")
    page = Page(raw)
    assert page.sections == PREVIEW_SECTIONS
    _assert_self_contained(page, raw)
    _assert_tables_have_headers(page, raw)
    summary = raw[raw.index('id="summary"') : raw.index('id="lint"')]
    assert f"{result.size('appointments'):,} follow-ups created or moved" in summary
    assert f"{result.size('tickets'):,} tickets opened" in summary
    assert "crm_enrich" in summary  # the script that would run
    actions = sorted(set(result.by_action()["action_id"]))
    assert [t for t in re.findall(r"<h3>([^<]+)</h3>", raw) if t in actions] == actions
    # a chart per action with more than one target (or change), the heatmap, the tickets chart
    charted = result.by_action_and_change().groupby("action_id").size().gt(1).sum()
    assert len(page.tags("img")) == charted + 2
    assert "Scripts called: crm_enrich" not in summary  # preview did not call it
    assert "Scripts an apply would call: crm_enrich" in summary
    assert "over capacity" in raw and "Days over capacity" in raw
    bots = raw[raw.index('id="bots"') :]
    assert f"{result.counts['bot']:,} clicks were a scanner" in bots


def test_names_from_the_crm_and_the_definitions_are_escaped(
    hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    db, defs = hostile
    raw, _ = _preview_page(db, defs, tmp_path / "r.html")
    page = Page(raw)
    _assert_self_contained(page, raw)
    text = "".join(page.text)
    assert SCRIPT in text and IMAGE in text  # shown as text, never as markup
    assert "&lt;script&gt;document.body.setAttribute" in raw
    assert [tag for tag, _ in page.elements if tag in ("svg", "iframe", "b")] == []


def test_the_simulation_report(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "sim.html"
    defs = data_path("demo-definitions.yaml")
    code = main(["simulate", str(defs), "--db", str(demo), "--mailing", "2026111", "--runs",
                 "50", "--seed", "3", "--html", str(out)])  # fmt: skip
    assert code == 0
    raw = out.read_text(encoding="utf-8")
    page = Page(raw)
    assert page.sections == ["summary", "changes", "workload", "tickets"]
    _assert_self_contained(page, raw)
    _assert_tables_have_headers(page, raw)
    assert len(page.tags("img")) == 2  # fan charts, workload heatmap
    assert "50 simulated worlds" in raw and "Chance of exceeding capacity" in raw


def test_every_figure_has_a_title_and_labelled_axes(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import linksim.report as report
    from linksim.report import figures

    drawn: list[Any] = []
    real = figures.chart

    def keep(fig: Any, title: str, alt: str) -> Any:
        drawn.append((fig, title, alt))
        return real(fig, title, alt)

    monkeypatch.setattr(figures, "chart", keep)
    monkeypatch.setattr(report, "chart", keep)
    con = linksim.connect(str(demo))
    try:
        defs = linksim.load_definitions(data_path("demo-definitions.yaml"))
        linksim.preview(con, defs).to_html()
        linksim.simulate(con, defs, 2026111, runs=20, seed=1).to_html()
    finally:
        con.close()
    assert len(drawn) > 5
    for fig, title, alt in drawn:
        assert title and alt
        plots = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        assert fig.get_suptitle() or all(ax.get_title() for ax in plots), title
        for ax in plots:
            assert ax.get_xlabel() and ax.get_ylabel(), title


def test_cli_preview_html(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    defs = str(data_path("demo-definitions.yaml"))
    argv = ["preview", defs, "--db", str(demo), "--mailing", "2026031", "--html", str(out)]
    assert main(argv) == 0
    raw = out.read_text(encoding="utf-8")
    assert "Preview of demo-definitions.yaml" in raw and "mailing 2026031" in raw
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit:
        main([*argv[:-1], str(tmp_path / "missing" / "r.html")])
    assert exit.value.code == 2 and "no folder" in capsys.readouterr().err


def test_the_demo_writes_its_preview_report(demo: Path) -> None:
    # `linksim demo` (in the fixture) writes linksim-demo-preview.html beside linksim-demo.duckdb
    page = Page(demo.with_name("demo-preview.html").read_text(encoding="utf-8"))
    assert page.sections == PREVIEW_SECTIONS


# --- in a real browser ------------------------------------------------------------------------

FACTS = """JSON.stringify({
    sections: [...document.querySelectorAll('section')].map(s => s.id),
    headings: [...document.querySelectorAll('section > h2')].map(h => h.textContent.trim()),
    scripts: document.scripts.length,
    pwned: document.body.getAttribute('data-pwned'),
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    images: [...document.images].map(i => i.complete && i.naturalWidth > 0 && i.alt.length > 0),
    tables: [...document.querySelectorAll('table')].every(t => t.querySelector('thead th')),
})"""


@pytest.fixture(scope="module")
def browser() -> Any:
    executable = chromium()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium: .ci/run installs Debian's chromium package")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with Browser(executable) as b:
        yield b


@pytest.mark.parametrize("width", [1280, 390])
def test_the_demo_report_reads_well_in_chromium(
    browser: Browser, demo: Path, hostile: tuple[Path, Path], tmp_path: Path, width: int
) -> None:
    import json

    for name, (db, defs) in {
        "demo": (demo, data_path("demo-definitions.yaml")),
        "hostile": hostile,
    }.items():
        out = tmp_path / f"{name}.html"
        _preview_page(db, defs, out)
        page = browser.open(out.as_uri(), width)
        facts = json.loads(page.evaluate(FACTS))
        assert facts["sections"] == PREVIEW_SECTIONS, name
        assert facts["scripts"] == 0 and facts["pwned"] is None, name
        assert facts["overflow"] <= 0, f"{name}: the page is wider than {width} px"
        assert facts["images"] and all(facts["images"]), name
        assert facts["tables"], name
        shot = page.screenshot(tmp_path / f"{name}-{width}.png")
        assert shot.stat().st_size > 10_000
