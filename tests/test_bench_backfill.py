"""The backfill benchmark (`bench/backfill.py`): repeated runs, medians and the copies it keeps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import backfill
from linksim.demo.build import build_demo


def _stand_in(seconds: dict[str, float]) -> Any:
    """A `timed_apply` that writes a copy and takes the given seconds per run label, and drops
    the copy unless kept, as the real one does."""

    def timed_apply(label: str, command_of: Any, args: Any, fresh: Path, work: Path, *, keep: bool):
        copy = work / f"{label}.duckdb"
        copy.write_text("applied")
        phase = backfill.Phase(label, [label], clicks=100, seconds=seconds[label])
        phase.peak_rss_bytes = int(seconds[label] * 1000)
        if not keep:
            copy.unlink()
        return phase, copy

    return timed_apply


@pytest.mark.parametrize("flags", [[], ["--compare"], ["--keep"]])
def test_the_median_run_of_each_side_is_reported_and_copies_go_unless_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str]
) -> None:
    seconds = {"engine-1": 5.0, "floor-1": 2.0, "engine-2": 9.0, "floor-2": 3.0}
    seconds |= {"engine-3": 4.0, "floor-3": 2.5}
    monkeypatch.setattr(backfill, "timed_apply", _stand_in(seconds))
    args = backfill.parse_args(["--db", "x", "--repeat", "3", *flags])
    every, medians, first = backfill.repeated(args, tmp_path / "fresh", tmp_path)
    assert [p.name for p in every] == list(seconds)  # in turns: engine-1, floor-1, engine-2, …
    engine, floor = medians["engine"], medians["floor"]
    assert (engine.name, engine.command, engine.seconds) == ("engine", ["engine-1"], 5.0)
    assert (floor.name, floor.command, floor.seconds) == ("floor", ["floor-3"], 2.5)
    assert engine.repeats == [5.0, 9.0, 4.0] and engine.peak_rss_bytes == 9000
    # the turns' ratios are 2.5, 3.0 and 1.6: their median, not 5.0 / 2.5
    assert backfill.time_ratio(engine, floor) == 2.5
    assert first == {"engine": tmp_path / "engine-1.duckdb", "floor": tmp_path / "floor-1.duckdb"}
    kept = sorted(p.name for p in tmp_path.glob("*.duckdb"))
    expected = {
        (): [],
        ("--compare",): ["engine-1.duckdb", "floor-1.duckdb"],
        ("--keep",): sorted(f"{label}.duckdb" for label in seconds),
    }
    assert kept == expected[tuple(flags)]


@pytest.mark.parametrize("repeat", ["0", "2", "-1"])
def test_repeat_takes_an_odd_number_of_runs(repeat: str) -> None:
    with pytest.raises(SystemExit):
        backfill.parse_args(["--repeat", repeat])


def test_a_repeated_benchmark_of_a_small_demo_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = tmp_path / "fresh.duckdb"
    build_demo(fresh, clicks=3_000)
    work = tmp_path / "work"
    argv = ["--db", str(fresh), "--skip-replay", "--repeat", "3", "--work-dir", str(work)]
    backfill.main([*argv, "--compare", "--json"])
    out = capsys.readouterr().out  # each run's command line, then the report
    report = json.loads(out[out.index("\n{") :])
    phases = {p["name"]: p for p in report["phases"]}
    for side in ("engine", "floor"):
        runs = [phases[f"{side}-{i}"] for i in (1, 2, 3)]
        assert phases[side]["repeats"] == [r["seconds"] for r in runs]
        assert phases[side]["counts"] == runs[0]["counts"]
    assert phases["engine"]["counts"]["responses"] > 0
    # the first turn's results were compared (the floor leaves out next_free_slot and team
    # balancing, so those two columns are not compared), then every copy went
    assert report["compare"]["crm.person_field"] == [0, 0]
    assert not list(work.glob("*-?.duckdb"))
    assert len(list(work.glob("*-?.stdout"))) == 6
