"""``allocgym predictors build|evaluate``: build the cached panel, print predictor quality."""

from __future__ import annotations

import argparse
import time


def _panel(args: argparse.Namespace):
    from allocgym.data import load_market
    from allocgym.predictors import build_features

    market = load_market(args.file)
    cache_dir = False if args.no_cache else args.cache_dir
    t0 = time.perf_counter()
    panel = build_features(market, args.preset, cache_dir=cache_dir, progress=not args.quiet)
    print(f"{panel!r} in {time.perf_counter() - t0:.1f} s (key {panel.key or '-'})")
    return market, panel


def _build(args: argparse.Namespace) -> int:
    _, panel = _panel(args)
    print(f"features: {', '.join(panel.feature_names)}")
    if panel.market_feature_names:
        print(f"market features: {', '.join(panel.market_feature_names)}")
    print(f"available: {panel.available.mean():.1%} of (date, asset) pairs")
    for key, value in panel.diagnostics.items():
        print(f"{key}: {value}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import pandas as pd

    from allocgym.predictors.evaluate import panel_quality

    market, panel = _panel(args)
    tables = panel_quality(panel, market)
    if not tables:
        print("nothing to evaluate: the preset has no LSTM or GARCH features")
    with pd.option_context("display.width", 120):
        for name, table in tables.items():
            print(f"\n{name} (out of sample; lower QLIKE/MSE/MAE is better)")
            print(table.to_string(float_format=lambda x: f"{x:.4g}"))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``predictors build`` and ``predictors evaluate``."""
    parser = sub.add_parser("predictors", help="build the feature panel, evaluate predictors")
    commands = parser.add_subparsers(dest="predictors_command", required=True)
    for name, func, text in (
        ("build", _build, "build (or load from the cache) the feature panel and summarise it"),
        ("evaluate", _evaluate, "out-of-sample quality of the predictors vs naive references"),
    ):
        cmd = commands.add_parser(name, help=text)
        cmd.add_argument(
            "file", nargs="?", default=None, help="CSV/Parquet prices (default: embedded)"
        )
        cmd.add_argument(
            "--preset", default="full", choices=("technical", "standard", "full"),
            help="feature preset (default: full)",
        )  # fmt: skip
        cmd.add_argument("--cache-dir", default=None, help="panel cache directory")
        cmd.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
        cmd.add_argument("--quiet", action="store_true", help="no progress bar")
        cmd.set_defaults(func=func)
