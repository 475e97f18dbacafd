"""linksim: email link actions applied set-based in DuckDB — preview them, apply them, safely.

Argument parsing and printing only; the work happens in the core. Exit codes (SPEC §5): 0 ok;
1 findings (rows quarantined, lint errors); 2 bad input or usage, with
one line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from linksim.errors import LinksimError, UsageError
from linksim.store.connect import DEFAULT_DB, connect

__all__ = ["main"]

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"linksim: error: {message} (see `{self.prog} --help`)\n")


def _cmd_init(args: argparse.Namespace) -> int:
    connect(args.db).close()
    print(f"initialised {args.db}")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    from linksim.definitions import definitions_schema

    print(json.dumps(definitions_schema(), indent=2))
    return EXIT_OK


def _cmd_load(args: argparse.Namespace) -> int:
    con = connect(args.db, create=False)
    try:
        from linksim.store.load import load

        report = load(con, args.table, args.file)
    finally:
        con.close()
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return EXIT_FINDINGS if report.quarantined else EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from linksim._resources import data_path
    from linksim.definitions import load_definitions
    from linksim.demo.build import build_demo
    from linksim.linting import lint
    from linksim.runs import apply, preview

    summary = build_demo(args.db, dataset=args.dataset, clicks=args.clicks, seed=args.seed)
    print(summary)
    if args.dataset != "company":
        return EXIT_OK
    defs = load_definitions(data_path("demo-definitions.yaml"))
    con = connect(args.db, create=False)
    try:
        # lint first: what in the definitions conflicts, and whom it touched in past clicks
        for name, about in (
            ("demo-definitions.yaml", ""),
            ("conflicts-definitions.yaml", " (a file with a mistake of every kind)"),
        ):
            linted = lint(con, data_path(name))
            head, *rest = linted.brief().splitlines()
            print("\n".join([f"\n{head.replace(' (history', about + ' (history')}", *rest]))
        print(f"details and fixes: linksim lint FILE --db {args.db}, FILE one of the two above")
        previewed = preview(con, defs, run_scripts=True)
        report = Path(args.db).with_name(f"{Path(args.db).stem}-preview.html")
        previewed.to_html(
            report,
            title="Preview of demo-definitions.yaml",
            source=f"demo-definitions.yaml on {args.db}, before they were applied",
            lint=lint(con, data_path("demo-definitions.yaml")),
        )
        applied = apply(con, defs, progress=False)
        print(f"\n{previewed}\n")
        print(f"the preview as a report to open in a browser: {report}")
        print(
            f"apply (run {applied.run_id}): {applied.size('changes'):,} changes written, "
            f"as previewed in run {previewed.run_id}"
        )
    finally:
        con.close()
    return EXIT_OK


def _run_args(args: argparse.Namespace) -> dict[str, Any]:
    return {"since": args.since, "until": args.until, "mailing": args.mailing}


def _cmd_run(args: argparse.Namespace) -> int:
    from linksim.batches import parse_batch
    from linksim.definitions import load_definitions
    from linksim.runs import apply, preview
    from linksim.scripts import import_scripts

    defs = load_definitions(args.defs)
    for module in args.scripts or ():
        import_scripts(module)
    if args.engine == "spark":
        return _run_on_spark(args, defs)
    if args.warehouse or args.master:
        raise UsageError(
            "--warehouse and --master are for the Spark engine: add --engine spark, or give "
            "--db for DuckDB"
        )
    con = connect(
        args.db, create=False, memory_limit=args.memory_limit, temp_directory=args.temp_dir
    )
    try:
        if args.command == "preview":
            result = preview(con, defs, run_scripts=args.run_scripts, **_run_args(args))
            if args.html:
                from linksim.linting import lint

                # lint on the same connection: the report shows its findings first
                title, source = _report_text(args)
                result.to_html(args.html, title=title, source=source, lint=lint(con, args.defs))
                print(f"report written to {args.html}", file=sys.stderr)
        else:
            batch = parse_batch(args.batch) if args.batch else None
            # the bar draws on a terminal only, and never over --json output
            progress = False if args.json else None
            result = apply(con, defs, batch=batch, progress=progress, **_run_args(args))
        # an apply's result reads its rows from the database: print before closing it
        print(json.dumps(result.to_dict(), indent=2, default=str) if args.json else result)
    finally:
        con.close()
    return EXIT_OK


def _report_text(args: argparse.Namespace) -> tuple[str, str]:
    """The heading and the line under it of a preview's HTML report."""
    scope = [f"mailing {args.mailing}"] if args.mailing else []
    scope += [f"clicks from {args.since:%Y-%m-%d %H:%M}"] if args.since else []
    scope += [f"clicks before {args.until:%Y-%m-%d %H:%M}"] if args.until else []
    where = args.warehouse if args.engine == "spark" else args.db
    source = f"{args.defs} on {where}" + (f" ({', '.join(scope)})" if scope else "")
    return f"Preview of {Path(args.defs).name}", source


def _html_path(text: str) -> str:
    """A --html argument: a file in an existing folder."""
    folder = Path(text).parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"no folder {folder} to write {Path(text).name} in")
    return text


def _run_on_spark(args: argparse.Namespace, defs: Any) -> int:
    if not args.warehouse:
        raise UsageError(
            "--engine spark reads a warehouse directory: add --warehouse DIR "
            "(linksim export --db DB --warehouse DIR writes one)"
        )
    if getattr(args, "run_scripts", False):
        raise UsageError("--run-scripts is not supported with --engine spark yet")
    if args.db != DEFAULT_DB:
        raise UsageError("--engine spark reads --warehouse DIR, not --db")
    for option in ("memory_limit", "temp_dir"):
        if getattr(args, option, None):
            flag = "--" + option.replace("_", "-")
            raise UsageError(f"{flag} is DuckDB's: Spark takes its memory from its own settings")
    # what can be checked without Spark is checked first, as Spark takes seconds to start
    # (the engine checks again, as it must when called alone: metadata only, cheap)
    from linksim.batches import parse_batch
    from linksim.spark.session import require_pyspark

    require_pyspark()
    from linksim.spark.commit import writer_lock
    from linksim.spark.engine import check_warehouse
    from linksim.warehouse import check_manifest

    batch = parse_batch(args.batch) if getattr(args, "batch", None) else None
    check_manifest(Path(args.warehouse))
    # held to the end: a second writer is refused at once, before its Spark starts
    with writer_lock(args.warehouse):
        check_warehouse(args.warehouse, defs, args.since, args.until)
        return _spark_run(args, defs, batch)


def _spark_run(args: argparse.Namespace, defs: Any, batch: Any) -> int:
    from linksim.spark.engine import apply_spark, preview_spark
    from linksim.spark.session import spark_session

    spark = spark_session(args.master)
    try:
        if args.command == "preview":
            result = preview_spark(spark, args.warehouse, defs, **_run_args(args))
            if args.html:  # lint reads a DuckDB file: `linksim lint` it on an imported copy
                title, source = _report_text(args)
                result.to_html(args.html, title=title, source=source)
        else:
            progress = False if args.json else None
            result = apply_spark(
                spark, args.warehouse, defs, batch=batch, progress=progress, **_run_args(args)
            )
        # an apply's result reads its rows through the session: print before stopping it
        print(json.dumps(result.to_dict(), indent=2, default=str) if args.json else result)
    finally:
        spark.stop()
    return EXIT_OK


def _cmd_lint(args: argparse.Namespace) -> int:
    from linksim.linting import lint
    from linksim.scripts import import_scripts

    for module in args.scripts or ():
        import_scripts(module)
    con = connect(args.db, create=False)
    try:
        result = lint(con, args.defs, history=not args.no_history)
    finally:
        con.close()
    print(result.to_json() if args.json else result)
    return EXIT_OK if result.ok else EXIT_FINDINGS


def _cmd_simulate(args: argparse.Namespace) -> int:
    from linksim.definitions import load_definitions
    from linksim.simulation import simulate

    defs = load_definitions(args.defs)
    con = connect(
        args.db, create=False, memory_limit=args.memory_limit, temp_directory=args.temp_dir
    )
    try:
        result = simulate(
            con,
            defs,
            args.mailing,
            runs=args.runs,
            by=args.by,
            send_at=args.send_at,
            seed=args.seed,
        )
    finally:
        con.close()
    print(result.to_json() if args.json else result)
    if args.html:
        result.to_html(args.html)
        print(f"report written to {args.html}", file=sys.stderr)
    return EXIT_OK


def _cmd_undo(args: argparse.Namespace) -> int:
    from linksim.undo import undo

    con = connect(args.db, create=False)
    try:
        result = undo(con, args.run_id)
        print(json.dumps(result.to_dict(), indent=2, default=str) if args.json else result)
    finally:
        con.close()
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from linksim.warehouse import export_warehouse

    con = connect(args.db, create=False, read_only=True)
    try:
        counts = export_warehouse(con, args.warehouse)
    finally:
        con.close()
    _print_counts(f"exported {args.db} to {args.warehouse}", counts, args.json)
    return EXIT_OK


def _cmd_import(args: argparse.Namespace) -> int:
    if args.source is not None:
        return _import_superoffice(args)
    if args.warehouse is None:
        raise UsageError(
            "import needs a source: --warehouse DIR (after Spark), or superoffice DIR "
            "(a SuperOffice CSV export)"
        )
    if args.definitions_out or args.timezone:
        raise UsageError("--definitions-out and --timezone belong to `import superoffice DIR`")
    from linksim.warehouse import import_warehouse

    with _import_target(args.db) as con:
        counts = import_warehouse(con, args.warehouse)
    _print_counts(f"imported {args.warehouse} into {args.db}", counts, args.json)
    return EXIT_OK


@contextlib.contextmanager
def _import_target(path: str) -> Iterator[Any]:
    """A connection to the database an import fills; one it created is removed again when the
    import is refused, so that a refused import leaves no empty database behind."""
    new = not os.path.exists(path)
    con = connect(path)
    try:
        yield con
    except LinksimError:
        con.close()
        if new:
            for leftover in (path, f"{path}.wal"):
                if os.path.exists(leftover):
                    os.remove(leftover)
        raise
    finally:
        con.close()


def _import_superoffice(args: argparse.Namespace) -> int:
    from linksim.superoffice import import_superoffice

    if args.source != "superoffice":
        raise UsageError(f"unknown import source {args.source!r}: expected superoffice DIR")
    if args.folder is None:
        raise UsageError("import superoffice needs the folder of the CSV export: "
                         "linksim import superoffice DIR --db PATH")  # fmt: skip
    if args.warehouse is not None:
        raise UsageError("--warehouse imports a Spark warehouse; leave it out with superoffice")
    with _import_target(args.db) as con:
        report = import_superoffice(
            con, args.folder, definitions_out=args.definitions_out,
            timezone=args.timezone or "UTC",
        )  # fmt: skip
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return EXIT_FINDINGS if report.quarantined else EXIT_OK


def _print_counts(head: str, counts: dict[str, int], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"tables": counts}, indent=2))
        return
    width = max(len(name) for name in counts)
    print(head)
    print("\n".join(f"  {name:<{width}}  {n:>12,}" for name, n in counts.items()))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="linksim",
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="Exit codes: 0 ok; 1 findings (rows quarantined, lint errors); 2 bad input or "
        "usage.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, run: Callable[[argparse.Namespace], int], help: str) -> Any:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(run=run)
        return p

    p = command("demo", _cmd_demo, "build the embedded demo database and summarise it")
    p.add_argument("--db", default="linksim-demo.duckdb", help="demo database file to (re)create")
    p.add_argument("--dataset", choices=("company", "hillstrom"), default="company")
    p.add_argument("--clicks", type=_positive_int, help="scale: about this many clicks")
    p.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")

    p = command("init", _cmd_init, "create the linksim schemas in a database (idempotent)")
    p.add_argument("--db", default=DEFAULT_DB, help=f"database file (default {DEFAULT_DB})")

    p = command("load", _cmd_load, "load a CSV, Parquet or JSON-lines file into an input table")
    p.add_argument("table", help="target table, e.g. crm.person or mail.click")
    p.add_argument("file", help="a .csv, .parquet or .jsonl file")
    p.add_argument("--db", default=DEFAULT_DB, help=f"database file (default {DEFAULT_DB})")
    p.add_argument("--json", action="store_true", help="print the accounting as JSON")

    p = command(
        "lint",
        _cmd_lint,
        "find problems and conflicting actions in definitions, with the people they touched; "
        "exit code 1 when any error is found",
    )
    p.add_argument("defs", help="definitions file (.yaml, .yml or .json)")
    p.add_argument("--db", default=DEFAULT_DB, help=f"database file (default {DEFAULT_DB})")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument(
        "--no-history", action="store_true", help="do not count the people in past clicks"
    )
    p.add_argument(
        "--scripts",
        action="append",
        metavar="MODULE",
        help="import MODULE so that its @linksim.script functions register (repeatable)",
    )

    for name, help in (
        ("preview", "show the changes the definitions would make; writes nothing to crm"),
        ("apply", "apply the definitions to the clicks and write the changes"),
    ):
        p = command(name, _cmd_run, help)
        p.add_argument("defs", help="definitions file (.yaml, .yml or .json)")
        p.add_argument("--db", default=DEFAULT_DB, help=f"database file (default {DEFAULT_DB})")
        p.add_argument("--since", type=_timestamp, help="first click time included (UTC)")
        p.add_argument("--until", type=_timestamp, help="first click time excluded (UTC)")
        p.add_argument("--mailing", type=_positive_int, help="only clicks of this mailing id")
        p.add_argument("--json", action="store_true", help="print the summary as JSON")
        p.add_argument(
            "--scripts",
            action="append",
            metavar="MODULE",
            help="import MODULE so that its @linksim.script functions register (repeatable)",
        )
        _memory_options(p)
        p.add_argument(
            "--engine",
            choices=("duckdb", "spark"),
            default="duckdb",
            help="where to run: DuckDB on --db (default), or Spark on --warehouse",
        )
        p.add_argument("--warehouse", metavar="DIR", help="the warehouse directory (Spark)")
        p.add_argument(
            "--master",
            metavar="URL",
            help="Spark master: local[*] (default), spark://HOST:7077, yarn, or a Spark Connect "
            "server sc://HOST:15002",
        )
        if name == "preview":
            p.add_argument("--run-scripts", action="store_true", help="also call the scripts")
            p.add_argument(
                "--html",
                metavar="FILE",
                type=_html_path,
                help="also write the report as one self-contained HTML file, with lint findings",
            )
        else:
            p.add_argument(
                "--batch",
                metavar="SPAN|CLICKS",
                help="commit in batches of a time span (1d, 12h, 30min, 2w) or a number of "
                "clicks (100000), in time order; a re-run resumes after the last committed batch",
            )

    p = command(
        "simulate",
        _cmd_simulate,
        "simulate a planned mailing many times: clickers per link, changes, follow-ups per "
        "owner and day against capacity, tickets, with intervals",
    )
    p.add_argument("defs", help="definitions file (.yaml, .yml or .json)")
    p.add_argument("--db", default=DEFAULT_DB, help=f"database file (default {DEFAULT_DB})")
    p.add_argument("--mailing", type=_positive_int, required=True, help="the planned mailing id")
    p.add_argument("--runs", type=_positive_int, default=1000, help="simulated worlds (1000)")
    p.add_argument(
        "--by",
        metavar="FIELD",
        help="also count clickers per value of an extra field (numbers in quartiles, dates by "
        "year) or contact.category|business|country",
    )
    p.add_argument(
        "--send-at",
        type=_timestamp,
        help="when it is sent (UTC); default: its sent_at, else the next full hour",
    )
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same worlds")
    p.add_argument("--json", action="store_true", help="print the distributions as JSON")
    p.add_argument(
        "--html",
        metavar="FILE",
        type=_html_path,
        help="also write the report as one self-contained HTML file",
    )
    _memory_options(p)

    p = command(
        "undo",
        _cmd_undo,
        "revert what an apply wrote, where nothing changed it since; list the rest",
    )
    p.add_argument("run_id", type=_positive_int, help="the run to undo (linksim.run.run_id)")
    p.add_argument("--db", default=DEFAULT_DB, help=f"database file (default {DEFAULT_DB})")
    p.add_argument("--json", action="store_true", help="print what was restored and kept as JSON")

    p = command(
        "export",
        _cmd_export,
        "write every table of a database to a warehouse directory of Parquet folders (for Spark)",
    )
    p.add_argument("--db", default=DEFAULT_DB, help=f"database file (default {DEFAULT_DB})")
    p.add_argument("--warehouse", required=True, metavar="DIR", help="the warehouse directory")
    p.add_argument("--json", action="store_true", help="print the rows per table as JSON")

    p = command(
        "import",
        _cmd_import,
        "import a SuperOffice CSV export (superoffice DIR), or replace the tables of a database "
        "by those of a warehouse directory after Spark (--warehouse DIR)",
    )
    p.add_argument("source", nargs="?", metavar="superoffice", help="import a SuperOffice export")
    p.add_argument("folder", nargs="?", metavar="DIR", help="the folder of its CSV files")
    p.add_argument("--warehouse", metavar="DIR", help="the warehouse directory (after Spark)")
    p.add_argument("--db", default=DEFAULT_DB, help=f"database file (default {DEFAULT_DB})")
    p.add_argument(
        "--definitions-out",
        metavar="FILE",
        help="superoffice: write the link actions of s_link as a YAML definitions file",
    )
    p.add_argument(
        "--timezone",
        metavar="TZ",
        help="superoffice: the server's time zone of its DateTime columns (default UTC)",
    )
    p.add_argument("--json", action="store_true", help="print the accounting as JSON")

    command("schema", _cmd_schema, "print the JSON Schema of the definitions format")
    return parser


def _memory_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--memory-limit", metavar="SIZE", help="DuckDB memory limit, e.g. 4GB (spills beyond)"
    )
    p.add_argument(
        "--temp-dir", metavar="DIR", help="where DuckDB spills (default: DB.tmp beside it)"
    )


def _timestamp(text: str) -> dt.datetime:
    """A date or timestamp; with an offset it is converted to UTC, without one it is UTC."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date or timestamp like 2026-03-01 or 2026-03-01T10:00:00+02:00, "
            f"found {text!r}"
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, found {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, found {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except LinksimError as exc:
        message = str(exc).strip().replace("\n", "\n  ")
        print(f"linksim: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (`linksim schema | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("linksim: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
