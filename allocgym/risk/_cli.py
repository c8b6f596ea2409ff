"""``allocgym stress RUN_DIR``: crisis windows, replay and Monte Carlo scenarios of a run;
and ``allocgym report RUN_DIR --market SPEC``, the report against a chosen market index."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from allocgym._io import read_yaml_mapping
from allocgym.exceptions import ConfigError, DataError

__all__ = ["MARKET_HELP", "add_arguments", "run_market", "stress"]

MARKET_HELP = (
    "market index to compare with: sp500 (the embedded S&P 500 price index), none, or "
    "FILE[:COLUMN] (a CSV/Parquet file of index levels); default: the run's "
    "report.market, else sp500 for the embedded stocks and none for other data"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="results folder of `allocgym run` or `allocgym backtest`")
    p.add_argument(
        "--date",
        default=None,
        help="date the scenario model stands at (default: the run's last date)",
    )
    p.add_argument("--paths", type=int, default=1000, help="Monte Carlo paths (default 1000)")
    p.add_argument("--horizon", type=int, default=21, help="days per path (default 21)")
    p.add_argument("--seed", type=int, default=0, help="seed of the scenarios (default 0)")
    p.add_argument(
        "--windows",
        default=None,
        metavar="FILE.yaml",
        help="crisis windows, name: [start, end] (default: the built-in windows)",
    )
    p.add_argument(
        "--mode",
        choices=("hold", "constant_mix"),
        default="hold",
        help="policies hold their weights (default) or trade back to them daily",
    )
    p.add_argument(
        "--drawdown",
        type=float,
        default=0.10,
        help="X of the probability of a drawdown worse than X (default 0.10)",
    )
    p.add_argument("--market", default=None, metavar="SPEC", help=MARKET_HELP)


def run_market(run_dir: Path, config: dict[str, Any]) -> Any:
    """The data a run was made on (its ``experiment.yaml``'s, else ``config.yaml``'s),
    whole: not cut to the run's dates."""
    from allocgym.data import EMBEDDED_SOURCE
    from allocgym.experiment.config import DataConfig

    data = dict(config.get("data") or {})
    experiment = run_dir / "experiment.yaml"
    saved: dict[str, Any] = {}
    if experiment.is_file():
        saved = (
            read_yaml_mapping(
                experiment,
                "the run's experiment config",
                "restore it from a copy of the run folder, or re-run the experiment",
            ).get("data")
            or {}
        )
        if not isinstance(saved, dict):
            raise ConfigError(
                f"{experiment}: its 'data' section is not a mapping; restore the file"
            )
    source = saved.get("source") or data.get("source")
    # The whole source, not the run's start..end: a replay may take any crisis of the
    # data, and the scenario model sees only the days up to its date anyway.
    market = DataConfig(
        source=None if source in (None, EMBEDDED_SOURCE) else source,
        synthetic=saved.get("synthetic"),
    ).load(whole=True)
    assets = data.get("assets")
    if assets and list(assets) != list(market.assets):
        raise DataError(
            f"{run_dir}: the run's assets {list(assets)} differ from those of its data "
            f"source {source!r} {list(market.assets)}; was the data file changed?"
        )
    return market


def stress(args: argparse.Namespace) -> int:
    from allocgym.backtest import Results
    from allocgym.envs.costs import CostModel
    from allocgym.risk.report_section import default_market
    from allocgym.risk.stress import load_windows
    from allocgym.risk.stress_report import run_stress, write_stress

    for name in ("paths", "horizon"):
        if getattr(args, name) <= 0:
            raise ConfigError(
                f"--{name} {getattr(args, name)} is invalid; expected an integer >= 1"
            )
    if not 0.0 < args.drawdown < 1.0:
        raise ConfigError(f"--drawdown {args.drawdown} is invalid; expected 0 < X < 1")
    windows = None if args.windows is None else load_windows(args.windows)
    run_dir = Path(args.run_dir)
    results = Results.load(run_dir)
    market = run_market(run_dir, results.config)
    index, index_name = default_market(results, args.market, market.dates)
    cost = (results.config.get("env") or {}).get("cost_bps", 10.0)
    try:
        cost_model = CostModel(cost)
    except (TypeError, ValueError):  # a custom cost model is saved as its repr
        print(f"note: cost_bps {cost!r} of the run is not a rate; constant_mix uses 10 bps")
        cost_model = CostModel(10.0)
    try:
        report = run_stress(
            results, market, date=args.date, n_paths=args.paths, horizon=args.horizon,
            seed=args.seed, windows=windows, mode=args.mode, drawdown=args.drawdown,
            cost_model=cost_model, market_returns=index, market_name=index_name,
        )  # fmt: skip
    except ValueError as exc:  # bad dates and windows: one line, exit status 1
        raise DataError(str(exc)) from None
    path = write_stress(report, run_dir)
    from allocgym.backtest import write_report

    write_report(results, run_dir)  # report.md links the new page
    show = {"Historical stress": (report.historical.table, report.historical.notes),
            "Replay": (report.replay.table, report.replay.notes),
            "Scenarios": (report.scenarios.table, report.model.notes_)}  # fmt: skip
    for title, (table, notes) in show.items():
        print(f"\n{title}:")
        print(table.to_string(float_format=lambda x: f"{x:.4f}") if len(table) else "(none)")
        for note in notes:
            print(f"note: {note}")
    print(f"\nstress report written to {path}")
    return 0
