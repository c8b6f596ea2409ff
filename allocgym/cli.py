"""The ``allocgym`` command.

Each subcommand is one ``_add_<name>(subparsers)`` function that registers its parser
and sets ``func``; ``main`` turns allocgym's domain errors into one readable line and
exit status 1 instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from allocgym.exceptions import ConfigError, DataError, OptimizationError

__all__ = ["main"]


def _data_check(args: argparse.Namespace) -> int:
    from allocgym.data import load_market

    market = load_market(args.file, date_column=args.date_column, max_fill=args.max_fill)
    print(market.summary())
    print("ok: the data loads and passes validation")
    return 0


def _add_data(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="inspect and validate market data")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    check = data_sub.add_parser(
        "check",
        help="validate a CSV/Parquet price file and print a summary (no FILE: embedded data)",
    )
    check.add_argument("file", nargs="?", default=None, help="CSV or Parquet file")
    check.add_argument("--date-column", default=None, help="name of the date column")
    check.add_argument("--max-fill", type=int, default=5, help="longest gap forward-filled")
    check.set_defaults(func=_data_check)


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_data]


def build_parser() -> argparse.ArgumentParser:
    from allocgym import __version__

    parser = argparse.ArgumentParser(
        prog="allocgym",
        description="Portfolio allocation with RL: data, features, environments, backtests.",
    )
    parser.add_argument("--version", action="version", version=f"allocgym {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``allocgym`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (DataError, ConfigError, OptimizationError, FileNotFoundError) as exc:
        print(f"allocgym: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("allocgym: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
