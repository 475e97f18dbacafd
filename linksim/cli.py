"""The `linksim` command: argument parsing and printing only; the work happens in the core.

Exit codes (SPEC §5): 0 ok; 1 findings (rows quarantined, lint errors); 2 bad input or usage, with
one line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from linksim.errors import LinksimError
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
    from linksim.demo.build import build_demo

    summary = build_demo(args.db, dataset=args.dataset, clicks=args.clicks, seed=args.seed)
    print(summary)
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="linksim", description=__doc__.splitlines()[0] if __doc__ else None)
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
    p.add_argument("--db", default=DEFAULT_DB)

    p = command("load", _cmd_load, "load a CSV, Parquet or JSON-lines file into an input table")
    p.add_argument("table", help="target table, e.g. crm.person or mail.click")
    p.add_argument("file", help="a .csv, .parquet or .jsonl file")
    p.add_argument("--db", default=DEFAULT_DB)
    p.add_argument("--json", action="store_true", help="print the accounting as JSON")

    command("schema", _cmd_schema, "print the JSON Schema of the definitions format")
    return parser


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
