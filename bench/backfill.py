"""Backfill benchmark (issue 4): the engine against the floor and the sequential replay.

    python bench/backfill.py [--clicks 10000000 | --full] [--db PATH] [--memory-limit 4GB]
        [--temp-dir DIR] [--batch SPEC] [--replay-clicks 1000000] [--replay-db PATH]
        [--skip-replay] [--repeat N] [--work-dir DIR] [--keep] [--compare] [--json]

In one run, each phase a subprocess timed by wall clock from here, with its own peak RSS taken
from `os.wait4` (so the generator's or the benchmark's memory never counts in apply's):

1. generate the demo company at `--clicks` (default 10M; `--full` = 100M) with
   `bench/build_demo.py`, unless `--db` names an existing generated, never applied database;
2. engine: copy it, `linksim apply data/demo-definitions.yaml --db COPY --json` (with
   `--memory-limit`, `--temp-dir`, `--batch` only when given here);
3. floor: copy it again, `bench/floor.py COPY`: the same work as minimal hand-written SQL (see
   its docstring for what it leaves out); its row counts are printed next to the engine's, and
   with `--compare` the rows where the two results differ, table by table; with `--repeat N`
   (odd), steps 2 and 3 run N times, taking turns (so that a change in the machine's load falls
   on both alike): the engine/floor ratio is then the median of the turns' ratios, and clicks/s
   and the speed-up over the replay are the engine's median run's;
4. replay: `tests/oracle.py`'s sequential Python replay on a `--replay-clicks` (1M) sample,
   generated unless `--replay-db` names one (or the big database itself when it is no larger);
   the speed-up over the replay is the engine's clicks/s at the big scale divided by the
   replay's clicks/s on the sample. The oracle runs unchanged except where, as written, it
   scans every click for every click (the bot burst rule, the confirmation search: quadratic,
   hours at 1M) or every change of a script for each of its clicks: those of its functions are
   called on only what they keep, the clicks of the same person and mailing or the changes of
   the same click, from indexes built once; the address ranges are parsed once (see
   `replay_indexes`). The result is exactly the oracle's (`tests/test_bench_replay.py`).

Prints the command line, the machine, one table (phase, clicks, seconds, clicks/s, peak RSS), the
engine/floor time ratio, the speed-up over the replay and each target of issue 4 as met / NOT met
(`--json`: the same as one JSON object). Seconds include each subprocess's start-up (imports,
opening the database), the same for all phases. The copies live in `--work-dir` (default a new
`bench-backfill-*` directory under the temp dir) and are deleted at the end unless `--keep`; a
database generated at a `--db` path is kept for reuse.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
DEFINITIONS = ROOT / "data" / "demo-definitions.yaml"
FULL_CLICKS = 100_000_000
GB = 10**9  # the targets are in decimal GB; RSS is printed in GiB like docs/BENCHMARKS.md
GIB = 2**30

# What a run writes, counted the same way for the engine and the floor.
COUNT_SQL = {
    "appointments": "SELECT count(*) FROM crm.appointment",
    "tickets": "SELECT count(*) FROM crm.ticket",
    "responses": "SELECT count(*) FROM linksim.response",
}


@dataclass
class Phase:
    """One timed subprocess."""

    name: str
    command: list[str]
    clicks: int = 0
    seconds: float = 0.0
    peak_rss_bytes: int = 0
    exit_code: int = 0
    output: str = ""  # its stdout
    counts: dict[str, int] = field(default_factory=dict)
    repeats: list[float] = field(default_factory=list)  # the seconds of every run, when repeated

    @property
    def clicks_per_second(self) -> float:
        return self.clicks / self.seconds if self.seconds else 0.0


# --- subprocesses ---------------------------------------------------------------------------------


def run_phase(name: str, command: list[str], work: Path) -> Phase:
    """Run ``command``; its wall time and its own peak RSS (not RUSAGE_CHILDREN, which mixes)."""
    out_path, err_path = work / f"{name}.stdout", work / f"{name}.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen.wait
    phase = Phase(
        name,
        command,
        seconds=seconds,
        peak_rss_bytes=usage.ru_maxrss * 1024,  # KiB on Linux
        exit_code=proc.returncode,
        output=out_path.read_text(),
    )
    if phase.exit_code != 0:
        tail = "\n".join(err_path.read_text().splitlines()[-15:])
        raise SystemExit(f"{name} failed (exit {phase.exit_code}): {shlex.join(command)}\n{tail}")
    return phase


def generate(name: str, clicks: int, path: Path, work: Path) -> Phase:
    """Build the demo at ``clicks`` into ``path`` with bench/build_demo.py."""
    print(f"generating {clicks:,} clicks into {path} ...", flush=True)
    command = [
        sys.executable,
        str(BENCH / "build_demo.py"),
        "--clicks",
        str(clicks),
        "--db",
        str(path),
    ]
    phase = run_phase(name, command, work)
    phase.clicks = clicks
    return phase


def engine_command(args: argparse.Namespace, db: Path) -> list[str]:
    command = [sys.executable, "-m", "linksim", "apply", str(DEFINITIONS), "--db", str(db)]
    command.append("--json")
    # The CLI flags below are passed only when asked for, so that the benchmark runs against a
    # CLI that does not have them yet.
    for flag, value in (
        ("--memory-limit", args.memory_limit),
        ("--temp-dir", args.temp_dir),
        ("--batch", args.batch),
    ):
        if value:
            command += [flag, value]
    return command


def floor_command(args: argparse.Namespace, db: Path) -> list[str]:
    command = [sys.executable, str(BENCH / "floor.py"), str(db)]
    for flag, value in (("--memory-limit", args.memory_limit), ("--temp-dir", args.temp_dir)):
        if value:
            command += [flag, value]
    return command


def replay_command(db: Path) -> list[str]:
    return [sys.executable, str(BENCH / "backfill.py"), "--replay-only", str(db)]


# --- databases ------------------------------------------------------------------------------------


def fresh_counts(db: Path) -> tuple[int, int]:
    """(clicks, runs) of a database: a fresh one has no `linksim.run` row."""
    import linksim

    con = linksim.connect(db, read_only=True)
    try:
        clicks = con.execute("SELECT count(*) FROM mail.click").fetchall()[0][0]
        runs = con.execute("SELECT count(*) FROM linksim.run").fetchall()[0][0]
    finally:
        con.close()
    return int(clicks), int(runs)


def written(db: Path) -> dict[str, int]:
    """The rows a run leaves: `linksim.change` per target kind, created rows and responses."""
    import linksim

    con = linksim.connect(db, read_only=True)
    try:
        counts = {
            f"changes {kind}": int(n)
            for kind, n in con.execute(
                "SELECT target_kind, count(*) FROM linksim.change GROUP BY 1 ORDER BY 1"
            ).fetchall()
        }
        for name, sql in COUNT_SQL.items():
            counts[name] = int(con.execute(sql).fetchall()[0][0])
    finally:
        con.close()
    return counts


def copy_db(source: Path, target: Path) -> None:
    """Copy a database file, with its write-ahead log if it has one (else that part is lost)."""
    shutil.copy(source, target)
    wal = Path(f"{source}.wal")
    if wal.exists():
        shutil.copy(wal, f"{target}.wal")


def drop_db(path: Path) -> None:
    path.unlink(missing_ok=True)
    Path(f"{path}.wal").unlink(missing_ok=True)


def work_copy(fresh: Path, work: Path, name: str) -> tuple[Path, int, dict[str, int]]:
    """Copy the fresh database for one run; its clicks and its counts before the run."""
    copy = work / f"{name}.duckdb"
    copy_db(fresh, copy)
    clicks, runs = fresh_counts(copy)
    if runs:
        raise SystemExit(
            f"{fresh} has {runs} linksim run(s) already: pass a freshly generated database "
            "(bench/build_demo.py), never an applied one"
        )
    return copy, clicks, written(copy)


def after_run(phase: Phase, copy: Path, before: dict[str, int], keep: bool) -> None:
    """Record what the run wrote (counts after minus before), then drop the copy."""
    after = written(copy)
    phase.counts = {k: n - before.get(k, 0) for k, n in after.items()}
    if not keep:
        drop_db(copy)


# --- the phases -----------------------------------------------------------------------------------


def prepare(args: argparse.Namespace, work: Path) -> tuple[Path, Phase | None]:
    """The fresh database at the big scale, generated unless ``--db`` names one."""
    if args.db and Path(args.db).exists():
        return Path(args.db), None
    path = Path(args.db) if args.db else work / "fresh.duckdb"
    return path, generate("generate", args.clicks, path, work)


def timed_apply(
    name: str, command_of: Any, args: argparse.Namespace, fresh: Path, work: Path, *, keep: bool
) -> tuple[Phase, Path]:
    """Run one apply on a copy of ``fresh``; the phase and the copy (gone unless ``keep``)."""
    copy, clicks, before = work_copy(fresh, work, name)
    command = command_of(args, copy)
    print(f"{name}: {shlex.join(command)}", flush=True)
    phase = run_phase(name, command, work)
    phase.clicks = clicks
    after_run(phase, copy, before, keep)
    return phase, copy


# (table, columns) compared between the engine's and the floor's results; the floor leaves out
# team balancing and next_free_slot, so an appointment's owner_id and starts_at may differ.
COMPARED = (
    ("crm.person_field", "*"),
    ("crm.person_interest", "*"),
    ("crm.contact_interest", "*"),
    ("crm.selection_member", "*"),
    ("crm.project_member", "*"),
    ("linksim.removal", "* EXCLUDE (run_id)"),
    ("crm.appointment", "* EXCLUDE (owner_id, starts_at)"),
    ("crm.ticket", "*"),
    ("linksim.response", "* EXCLUDE (run_id, prefill), prefill::VARCHAR"),
    ("linksim.change", "* EXCLUDE (run_id)"),
)


def compare(engine_db: Path, floor_db: Path) -> dict[str, tuple[int, int]]:
    """Per table, rows only in the engine's result and only in the floor's (0, 0: the same)."""
    import duckdb

    con = duckdb.connect()  # two files side by side, read only: plain ATTACH, no linksim schema
    try:
        for alias, path in (("e", engine_db), ("f", floor_db)):
            literal = str(path).replace("'", "''")
            con.execute(f"ATTACH '{literal}' AS {alias} (READ_ONLY)").fetchall()
        out = {}
        for table, cols in COMPARED:
            only = [
                con.execute(
                    f"SELECT count(*) FROM (SELECT {cols} FROM {a}.{table} "
                    f"EXCEPT ALL SELECT {cols} FROM {b}.{table})"
                ).fetchall()[0][0]
                for a, b in (("e", "f"), ("f", "e"))
            ]
            out[f"{table} ({cols})" if cols != "*" else table] = (int(only[0]), int(only[1]))
    finally:
        con.close()
    return out


def repeated(
    args: argparse.Namespace, fresh: Path, work: Path
) -> tuple[list[Phase], dict[str, Phase], dict[str, Path]]:
    """The engine and the floor, ``--repeat`` (an odd number of) times each, taking turns.

    Returns every run (none when not repeated), per side its median run, and per side the copy
    of the first turn: every run writes the same rows, so that one is kept for ``--compare``;
    the others go as soon as their run ends (with ``--keep``, every copy stays). The median
    phase is named plainly ("engine", "floor"), lists every run's seconds in turn order, and has
    the largest peak RSS of the runs: the memory target holds for each.
    """
    runs: dict[str, list[Phase]] = {"engine": [], "floor": []}
    first: dict[str, Path] = {}
    for i in range(args.repeat):
        for name, command_of in (("engine", engine_command), ("floor", floor_command)):
            label = name if args.repeat == 1 else f"{name}-{i + 1}"
            keep = args.keep or (args.compare and i == 0)
            phase, copy = timed_apply(label, command_of, args, fresh, work, keep=keep)
            runs[name].append(phase)
            first.setdefault(name, copy)
    medians = {}
    for name, done in runs.items():
        median = sorted(done, key=lambda phase: phase.seconds)[len(done) // 2]
        medians[name] = replace(
            median,
            name=name,
            repeats=[phase.seconds for phase in done],
            peak_rss_bytes=max(phase.peak_rss_bytes for phase in done),
        )
    every = [phase for turn in zip(runs["engine"], runs["floor"], strict=True) for phase in turn]
    return (every if args.repeat > 1 else []), medians, first


def time_ratio(engine: Phase, floor: Phase) -> float:
    """The engine's time over the floor's: of the one pair of runs, or, when repeated, the
    median of the turns' ratios (the two runs of a turn ran under about the same load).

    >>> one, other = Phase("engine", [], seconds=3.0), Phase("floor", [], seconds=2.0)
    >>> time_ratio(one, other)
    1.5
    >>> time_ratio(replace(one, repeats=[3.0, 9.0, 4.0]), replace(other, repeats=[2.0, 3.0, 2.0]))
    2.0
    """
    if len(engine.repeats) > 1:
        return statistics.median(turn_ratios(engine, floor))
    return engine.seconds / floor.seconds


def turn_ratios(engine: Phase, floor: Phase) -> list[float]:
    """The engine's time over the floor's in each turn of a repeated run, in turn order."""
    return [e / f for e, f in zip(engine.repeats, floor.repeats, strict=True)]


def replay_phase(args: argparse.Namespace, fresh: Path, work: Path) -> tuple[Phase, Phase | None]:
    """The replay on the sample: ``--replay-db``, the big database if small enough, or a new one."""
    generated = None
    if args.replay_db:
        sample = Path(args.replay_db)
    elif args.replay_clicks >= args.clicks:
        sample = fresh
    else:
        sample = work / "replay-fresh.duckdb"
        generated = generate("generate sample", args.replay_clicks, sample, work)
    copy = work / "replay.duckdb"
    copy_db(sample, copy)  # opened to write (an older file gains the tables added since)
    clicks, _ = fresh_counts(copy)
    command = replay_command(copy)
    print(f"replay: {shlex.join(command)}", flush=True)
    phase = run_phase("replay", command, work)
    phase.clicks = clicks
    if not args.keep:
        drop_db(copy)
        if generated:
            drop_db(sample)
    return phase, generated


def replay_indexes(oracle: Any) -> dict[str, Callable[..., Any] | SimpleNamespace]:
    """Stand-ins for the parts of `tests/oracle.py` that scan every click: {name: stand-in}.

    As written, the bot burst rule and the confirmation search compare each click with every
    click (quadratic: hours at 1M), and a script's state ops scan all of the script's changes for
    each of its clicks. Each stand-in calls the oracle's own function, unchanged, on only the
    clicks (or changes) that function keeps anyway, looked up in an index built once per input:
    no rule is copied here, so none can drift from the oracle. `tests/test_bench_replay.py` checks
    that the result stays exactly the oracle's.
    """
    return {
        "bot_reason": bot_reason_by_group(oracle.bot_reason),
        "confirmed_at": confirmed_at_by_group(oracle.confirmed_at),
        "state_ops": state_ops_by_click(oracle.state_ops),
        "ipaddress": parsed_once(oracle.ipaddress),
    }


def index_replay(oracle: Any) -> None:
    """Put `replay_indexes` into the oracle module (the replay child's only change to it)."""
    for name, stand_in in replay_indexes(oracle).items():
        setattr(oracle, name, stand_in)


def by_person_and_mailing(clicks: list[Any]) -> dict[tuple[int, int], list[Any]]:
    """The clicks per (person, mailing), each list in the order of ``clicks``."""
    groups: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for click in clicks:
        groups[(click.person_id, click.mailing_id)].append(click)
    return groups


def bot_reason_by_group(bot_reason: Callable[..., Any]) -> Callable[..., Any]:
    """`bot_reason` on a world whose clicks are those of the click's person and mailing.

    Of its rules only the burst rule reads `world.clicks`, and it keeps just those. Each click's
    reason is remembered: `eligible_clicks` runs twice per replay.
    """
    cache: dict[str, Any] = {"world": None}

    def indexed(click: Any, world: Any, defs: Any) -> Any:
        if cache["world"] is not world:  # a new replay (held here, so never a freed one's id)
            cache.update(world=world, groups=by_person_and_mailing(world.clicks), reasons={})
        reasons = cache["reasons"]
        if click not in reasons:
            group = cache["groups"][(click.person_id, click.mailing_id)]
            reasons[click] = bot_reason(click, replace(world, clicks=group), defs)
        return reasons[click]

    return indexed


def confirmed_at_by_group(confirmed_at: Callable[..., Any]) -> Callable[..., Any]:
    """`confirmed_at` on the eligible clicks of the click's person and mailing, the only ones it
    keeps."""
    cache: dict[str, Any] = {"eligible": None}

    def indexed(click: Any, eligible: list[Any], defs: Any) -> Any:
        if cache["eligible"] is not eligible:
            cache.update(eligible=eligible, groups=by_person_and_mailing(eligible))
        return confirmed_at(click, cache["groups"][(click.person_id, click.mailing_id)], defs)

    return indexed


def changes_per_click(script_changes: dict[str, Any]) -> dict[str, Any]:
    """Each script's changes {(click_id, field): value} split by click: {click_id: changes}; a
    failed script's ``None`` stays ``None``."""
    out: dict[str, Any] = {}
    for action_id, changes in script_changes.items():
        per_click: dict[int, dict[Any, Any]] | None = None
        if changes is not None:
            per_click = defaultdict(dict)
            for (click_id, name), value in changes.items():
                per_click[click_id][(click_id, name)] = value
        out[action_id] = per_click
    return out


def state_ops_by_click(state_ops: Callable[..., Any]) -> Callable[..., Any]:
    """`state_ops` given, of each script's changes, those of the fired click, the only ones it
    keeps."""
    cache: dict[str, Any] = {"changes": None}

    def indexed(fired: Any, world: Any, script_changes: dict[str, Any]) -> Any:
        if cache["changes"] is not script_changes:
            cache.update(changes=script_changes, index=changes_per_click(script_changes))
        click_id = fired.click.click_id
        mine = {
            action_id: None if per_click is None else per_click.get(click_id, {})
            for action_id, per_click in cache["index"].items()
        }
        return state_ops(fired, world, mine)

    return indexed


def parsed_once(ipaddress: ModuleType) -> SimpleNamespace:
    """The `ipaddress` module with `ip_network` cached (its networks are immutable): the bot rule
    parses every address range again for every click, a third of the indexed replay's time."""
    return SimpleNamespace(
        **{**vars(ipaddress), "ip_network": functools.cache(ipaddress.ip_network)}
    )


def replay_only(db: str) -> None:
    """The child of the replay phase: `tests/oracle.replay` over every click of ``db``."""
    sys.path.insert(0, str(ROOT))  # tests/ is not installed: import it from the checkout
    import linksim
    from linksim.demo.scripts import crm_enrich
    from tests import oracle

    index_replay(oracle)
    con = linksim.connect(db)  # a copy: an older file gets the tables added since
    defs = linksim.load_definitions(DEFINITIONS)
    started = time.perf_counter()
    expected = oracle.replay(con, defs, scripts={"crm_enrich": crm_enrich})
    seconds = time.perf_counter() - started
    con.close()
    counts = {**expected.counts, "changes": len(expected.changes)}
    print(json.dumps({"seconds": seconds, "counts": counts}))


# --- the report -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import duckdb

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        # dirty: the engine measured is the working tree, with uncommitted edits
        "commit": git("describe", "--always", "--dirty", "--abbrev=7"),
        "load_before": os.getloadavg(),
    }


def targets(
    args: argparse.Namespace, engine: Phase, floor: Phase, replay: Phase | None
) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) per target of issue 4; met is None when this run cannot tell."""
    ratio = time_ratio(engine, floor)
    out: list[tuple[str, str, bool | None]] = [
        (
            ">= 2M clicks/s end-to-end at 10M",
            f"{engine.clicks_per_second / 1e6:.2f}M clicks/s at {engine.clicks:,} clicks",
            engine.clicks_per_second >= 2e6 if engine.clicks >= 9_000_000 else None,
        ),
        ("within 2x of the floor", f"{ratio:.2f}x the floor's time", ratio <= 2.0),
    ]
    if replay is not None:
        speedup = engine.clicks_per_second / replay.clicks_per_second
        out.append((">= 50x the sequential replay", f"{speedup:.3g}x", speedup >= 50))
    big = engine.clicks >= 0.9 * FULL_CLICKS and args.memory_limit is not None
    out.append(
        (
            "100M clicks with --memory-limit 4GB, peak RSS <= 6 GB",
            f"peak RSS {engine.peak_rss_bytes / GB:.2f} GB at {engine.clicks:,} clicks"
            + (f", --memory-limit {args.memory_limit}" if args.memory_limit else ""),
            engine.peak_rss_bytes <= 6 * GB if big else None,
        )
    )
    return out


def verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "not measured by this run"}[met]


def print_report(
    args: argparse.Namespace, phases: list[Phase], info: dict[str, Any], checks: list[Any]
) -> None:
    print(f"\ncommand: python {shlex.join(sys.argv)}")
    print(
        f"machine: {info['cores']} cores, Python {info['python']}, DuckDB {info['duckdb']}, "
        f"commit {info['commit']}, load average before/after "
        f"{info['load_before'][0]:.2f} / {info['load_after'][0]:.2f}"
    )
    print(f"\n{'phase':<18} {'clicks':>12} {'seconds':>9} {'clicks/s':>12} {'peak RSS':>10}")
    for p in phases:
        label = f"{p.name} (median)" if len(p.repeats) > 1 else p.name
        print(
            f"{label:<18} {p.clicks:>12,} {p.seconds:>9.1f} {p.clicks_per_second:>12,.0f} "
            f"{p.peak_rss_bytes / GIB:>6.2f} GiB"
        )
    engine, floor = phases_named(phases, "engine"), phases_named(phases, "floor")
    print(f"\nengine / floor time: {time_ratio(engine, floor):.2f}")
    if len(engine.repeats) > 1:
        ratios = ", ".join(f"{r:.2f}" for r in turn_ratios(engine, floor))
        print(
            f"  the median of the turns: {ratios} "
            f"(engine {min(engine.repeats):.1f}-{max(engine.repeats):.1f} s, "
            f"floor {min(floor.repeats):.1f}-{max(floor.repeats):.1f} s)"
        )
    replay = phases_named(phases, "replay")
    if replay:
        print(
            f"speed-up over the replay: {engine.clicks_per_second / replay.clicks_per_second:.3g}x"
            f" (engine clicks/s at {engine.clicks:,} / replay clicks/s at {replay.clicks:,})"
        )
    print(f"\n{'rows written':<20} {'engine':>10} {'floor':>10}")
    for key in sorted(set(engine.counts) | set(floor.counts)):
        e, f = engine.counts.get(key, 0), floor.counts.get(key, 0)
        print(f"{key:<20} {e:>10,} {f:>10,}" + ("" if e == f else f"   differ by {e - f:+,}"))
    print(f"engine clicks: {child_json(engine).get('clicks')}")
    print(f"floor steps (s): {child_json(floor).get('steps')}")
    if replay:
        print(f"replay clicks: {child_json(replay).get('counts')}")
    if "compare" in info:
        print("\nrows only in the engine's / only in the floor's result:")
        for table, (e, f) in info["compare"].items():
            print(f"  {table}: {e:,} / {f:,}")
    print("\ntargets (issue 4):")
    for target, measured, met in checks:
        print(f"  {target}: {measured}: {verdict(met)}")


def child_json(phase: Phase) -> dict[str, Any]:
    """What a child printed as JSON (the engine's `--json`, the floor's and replay's line).

    The object is read from its first brace: a progress bar may precede it on stdout.
    """
    start = phase.output.find("{")
    try:
        found, _ = json.JSONDecoder().raw_decode(phase.output[start:]) if start >= 0 else ({}, 0)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def phases_named(phases: list[Phase], name: str) -> Any:
    return next((p for p in phases if p.name == name), None)


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clicks", type=int, default=10_000_000, help="scale (default 10M)")
    parser.add_argument("--full", action="store_true", help="100M clicks (the issue's flag)")
    parser.add_argument("--db", help="a generated, never applied database (made when missing)")
    parser.add_argument("--memory-limit", help="passed to apply and the floor, e.g. 4GB")
    parser.add_argument("--temp-dir", help="passed to apply and the floor: where DuckDB spills")
    parser.add_argument("--batch", help="passed to apply, e.g. 1d or 1000000")
    parser.add_argument("--replay-clicks", type=int, default=1_000_000, help="replay sample")
    parser.add_argument("--replay-db", help="a generated database for the replay sample")
    parser.add_argument("--skip-replay", action="store_true", help="no replay phase")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the engine and the floor N (odd) times each, in turns; report the medians",
    )
    parser.add_argument("--work-dir", help="where the copies go (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the copies and logs")
    parser.add_argument(
        "--compare", action="store_true", help="diff the engine's and the floor's tables"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--replay-only", metavar="DB", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args(argv)
    if args.full:
        args.clicks = FULL_CLICKS
    if args.repeat < 1 or args.repeat % 2 == 0:
        parser.error("--repeat takes an odd number of runs (1, 3, 5, ...): its median is a run")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.replay_only:
        replay_only(args.replay_only)
        return
    info = machine()  # before the phases: the commit measured, the load at the start
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench-backfill-"))
    work.mkdir(parents=True, exist_ok=True)
    fresh, generated = prepare(args, work)
    phases = [generated] if generated else []
    every, medians, first = repeated(args, fresh, work)
    engine_db, floor_db = first["engine"], first["floor"]
    phases += [*every, medians["engine"], medians["floor"]]
    if args.compare:
        info["compare"] = compare(engine_db, floor_db)
        if not args.keep:
            drop_db(engine_db)
            drop_db(floor_db)
    replay = None
    if not args.skip_replay:
        replay, sample = replay_phase(args, fresh, work)
        phases += [p for p in (sample, replay) if p]
    info["load_after"] = os.getloadavg()
    engine, floor = phases_named(phases, "engine"), phases_named(phases, "floor")
    checks = targets(args, engine, floor, replay)
    if args.json:
        print(json.dumps(report_json(args, phases, info, checks), indent=2, default=str))
    else:
        print_report(args, phases, info, checks)
    if not args.keep and not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)


def report_json(
    args: argparse.Namespace, phases: list[Phase], info: dict[str, Any], checks: list[Any]
) -> dict[str, Any]:
    return {
        "command": f"python {shlex.join(sys.argv)}",
        "machine": {k: v for k, v in info.items() if k != "compare"},
        "compare": info.get("compare"),
        "phases": [
            {**asdict(p), "clicks_per_second": p.clicks_per_second, "output": p.output[-2000:]}
            for p in phases
        ],
        "targets": [
            {"target": t, "measured": m, "met": met, "verdict": verdict(met)}
            for t, m, met in checks
        ],
    }


if __name__ == "__main__":
    main()
