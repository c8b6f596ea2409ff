"""What ``allocgym backtest`` and ``allocgym report`` run (the parsers live in allocgym.cli)."""

from __future__ import annotations

import argparse
from pathlib import Path

from allocgym.exceptions import ConfigError
from allocgym.policy import Policy

DEFAULT_POLICIES = "equal_weight,min_variance,mean_variance,black_litterman"


def make_policies(spec: str, lookback: int, rebalance: int) -> dict[str, Policy]:
    """Policies by display label from a comma-separated list of baseline names.

    The names are those of :data:`allocgym.baselines.BASELINES` (the same as in a YAML
    config, aliases such as ``1/N`` included); ``lookback`` and ``rebalance`` go to the
    baselines that take them.
    """
    from allocgym.baselines import BASELINES

    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise ConfigError(
            f"--policies {spec!r}: empty list; expected a comma-separated list of "
            f"{BASELINES.names()}"
        )
    unknown = [n for n in names if BASELINES.find(n) is None]
    if unknown:
        raise ConfigError(
            f"--policies {spec!r}: " + "; ".join(BASELINES.unknown_message(n) for n in unknown)
        )
    shared = {"lookback": lookback, "rebalance_every": rebalance}
    policies: dict[str, Policy] = {}
    for n in names:
        entry = BASELINES.entry(n)
        if entry.label in policies:
            raise ConfigError(f"--policies {spec!r}: {entry.name!r} is listed twice")
        policies[entry.label] = BASELINES.create_with(entry.name, shared)
    return policies


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
