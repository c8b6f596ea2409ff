"""What ``allocgym backtest`` and ``allocgym report`` run (the parsers live in allocgym.cli)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from allocgym.exceptions import ConfigError
from allocgym.policy import Policy

DEFAULT_POLICIES = "1/N,min_variance,mean_variance,black_litterman"


def baseline_factories(lookback: int, rebalance: int) -> dict[str, Callable[[], Policy]]:
    """Every baseline the CLI knows, by name, with the shared lookback and schedule."""
    from allocgym.baselines import (
        BlackLitterman,
        BuyAndHold,
        EqualWeight,
        MeanVariance,
        MinVariance,
    )

    kw = {"lookback": lookback, "rebalance_every": rebalance}
    return {
        "1/N": lambda: EqualWeight(rebalance_every=rebalance),
        "buy_and_hold": BuyAndHold,
        "min_variance": lambda: MinVariance(**kw),
        "mean_variance": lambda: MeanVariance("utility", **kw),
        "max_sharpe": lambda: MeanVariance("max_sharpe", **kw),
        "black_litterman": lambda: BlackLitterman(**kw),
    }


def make_policies(spec: str, lookback: int, rebalance: int) -> dict[str, Policy]:
    """Policies from a comma-separated list of names (see :func:`baseline_factories`)."""
    known = baseline_factories(lookback, rebalance)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ConfigError(
            f"--policies {spec!r}: unknown {unknown or 'empty list'}; expected a comma-separated "
            f"list of {sorted(known)}"
        )
    return {n: known[n]() for n in names}


def run_backtest(args: argparse.Namespace) -> int:
    from allocgym.backtest import WalkForward, backtest
    from allocgym.data import load_market

    market = load_market(args.data)
    if args.start or args.end:
        market = market.between(args.start, args.end)
    features = None
    if args.features != "none":
        from allocgym.predictors import build_features

        features = build_features(market, args.features)
    policies = make_policies(args.policies, args.lookback, args.rebalance_every)
    splitter = WalkForward(train=args.train, test=args.test)
    results = backtest(
        policies,
        market,
        features,
        splitter=splitter,
        cost_bps=args.cost_bps,
        n_boot=args.n_boot,
        name=args.name,
        out=args.out,
    )
    cols = ["ann_return", "ann_volatility", "sharpe", "max_drawdown", "lw_p_value", "fallbacks"]
    print(results.metrics[cols].to_string(float_format=lambda x: f"{x:.4f}"))
    print(f"results and report written to {Path(args.out) / 'report.md'}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from allocgym.backtest import Results, write_report

    results = Results.load(args.results_dir)
    path = write_report(results, args.results_dir)
    print(f"report written to {path}")
    return 0
