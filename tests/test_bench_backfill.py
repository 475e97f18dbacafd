"""The backfill benchmark (`bench/backfill.py`) end to end, on a small demo: real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import backfill
from linksim.demo.build import build_demo


def test_repeated_runs_take_turns_and_the_median_runs_are_compared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = tmp_path / "fresh.duckdb"
    build_demo(fresh, clicks=3_000)
    work = tmp_path / "work"
    argv = ["--db", str(fresh), "--skip-replay", "--repeat", "3", "--work-dir", str(work)]
    backfill.main([*argv, "--json"])
    out = capsys.readouterr().out  # each run's command line, then the report
    report = json.loads(out[out.index("\n{") :])
    phases = {p["name"]: p for p in report["phases"]}
    order = [p["name"] for p in report["phases"]]
    assert order == [f"{n}-{i}" for i in (1, 2, 3) for n in ("engine", "floor")] + [
        "engine",
        "floor",
    ]
    for side in ("engine", "floor"):
        runs = [phases[f"{side}-{i}"] for i in (1, 2, 3)]
        median = phases[side]
        assert median["repeats"] == [r["seconds"] for r in runs]
        assert median["seconds"] == sorted(median["repeats"])[1]
        assert median["peak_rss_bytes"] == max(r["peak_rss_bytes"] for r in runs)
        assert median["counts"] == runs[0]["counts"] and median["counts"]["responses"] > 0
    ratio = phases["engine"]["seconds"] / phases["floor"]["seconds"]
    within = next(t for t in report["targets"] if t["target"] == "within 2x of the floor")
    assert within["measured"] == f"{ratio:.2f}x the floor's time"
    # the copies are gone, the logs of every run stay
    assert not list(work.glob("*-?.duckdb")) and not list(work.glob("engine.duckdb"))
    assert len(list(work.glob("*-?.stdout"))) == 6
