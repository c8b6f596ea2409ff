"""What ``allocgym backtest`` and ``allocgym report`` run (the parsers live in allocgym.cli)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from allocgym.envs.settings import EnvSettings
from allocgym.exceptions import ConfigError, SettingError
from allocgym.policy import Policy
from allocgym.predictors.config import FeatureConfig, resolve_config

DEFAULT_POLICIES = "equal_weight,min_variance,mean_variance,black_litterman"
"""The default ``--policies``; those whose features ``--features`` does not build (the
Black-Litterman views need the LSTM forecast of ``--features full``) are left out."""


def make_policies(spec: str, lookback: int, rebalance: int) -> dict[str, Policy]:
    """Policies by display label from a comma-separated list of baseline names.

    The names are those of :data:`allocgym.baselines.BASELINES` (the same as in a YAML
    config, aliases such as ``1/N`` included); ``lookback`` and ``rebalance`` go to the
    baselines that take them. ``NAME+OVERLAY[+OVERLAY...]`` wraps the baseline in
    overlays of :data:`allocgym.overlays.OVERLAYS` with their defaults, innermost first,
    as a config's ``overlays: [OVERLAY, ...]`` under that baseline
    (``equal_weight+vol_target`` is labelled "1/N + vol target").
    """
    from allocgym.baselines import BASELINES
    from allocgym.overlays import OVERLAYS, apply_overlays, overlay_label

    items = [[p.strip() for p in s.split("+")] for s in spec.split(",") if s.strip()]
    if not items:
        raise ConfigError(
            f"--policies {spec!r}: empty list; expected a comma-separated list of "
            f"{BASELINES.names()}"
        )
    unknown = [BASELINES.unknown_message(i[0]) for i in items if BASELINES.find(i[0]) is None]
    unknown += [
        OVERLAYS.unknown_message(o) for i in items for o in i[1:] if OVERLAYS.find(o) is None
    ]
    if unknown:
        raise ConfigError(f"--policies {spec!r}: " + "; ".join(unknown))
    shared = {"lookback": lookback, "rebalance_every": rebalance}
    policies: dict[str, Policy] = {}
    for base, *overlays in items:
        entry = BASELINES.entry(base)
        label = overlay_label(entry.label, overlays)
        if label in policies:
            raise ConfigError(
                f"--policies {spec!r}: {'+'.join([entry.name, *overlays])!r} is listed twice"
            )
        policy = BASELINES.create_with(entry.name, shared)
        where = f"--policies {'+'.join([base, *overlays])!r} overlays"
        policies[label] = apply_overlays(policy, overlays, where)
    return policies


def runnable_policies(
    policies: dict[str, Policy],
    features: FeatureConfig | None,
    *,
    drop: bool,
    source: str = "--features none",
) -> dict[str, Policy]:
    """``policies`` whose required features (``required_features``) ``features`` make.

    With ``drop`` (the default list) the others are left out with a note on stderr;
    without (a list the user wrote) the first of them is a ConfigError, raised before
    any feature is built.
    """
    from allocgym.baselines import check_features

    kept = {}
    for label, policy in policies.items():
        try:
            check_features(policy, features, source=source)
        except ConfigError as exc:
            if not drop:
                raise ConfigError(f"--policies: {exc}") from None
            print(f"note: {label} left out of the default policies: {exc}", file=sys.stderr)
            continue
        kept[label] = policy
    return kept


def env_settings(args: argparse.Namespace) -> EnvSettings:
    """The environment settings of ``allocgym backtest`` (``--cost-bps``; the rest are
    :class:`~allocgym.envs.EnvSettings`' defaults), checked before any data is read.

    ``--rebalance-every`` is the baselines' own schedule, not a setting: the backtest
    asks every policy at every close.
    """
    try:
        return EnvSettings(cost_bps=args.cost_bps)
    except SettingError as exc:
        flag = "--" + exc.field.replace("_", "-")
        raise ConfigError(f"{flag} {exc.value!r} is invalid; expected {exc.expected}") from None


def run_backtest(args: argparse.Namespace) -> int:
    from allocgym.backtest import WalkForward, backtest
    from allocgym.data import load_market

    env = env_settings(args)
    market = load_market(args.data)
    if args.start or args.end:
        market = market.between(args.start, args.end)
    feature_config = None if args.features == "none" else resolve_config(args.features)
    policies = runnable_policies(
        make_policies(args.policies, args.lookback, args.rebalance_every),
        feature_config,
        drop=args.policies == DEFAULT_POLICIES,
        source=f"--features {args.features}",
    )
    features = None
    if feature_config is not None:
        from allocgym.predictors import build_features

        features = build_features(market, feature_config)
    splitter = WalkForward(train=args.train, test=args.test)
    results = backtest(
        policies,
        market,
        features,
        splitter=splitter,
        env=env,
        n_boot=args.n_boot,
        name=args.name,
        out=args.out,
    )
    cols = ["ann_return", "ann_volatility", "sharpe", "max_drawdown", "lw_p_value", "fallbacks"]
    print(results.metrics[cols].to_string(float_format=lambda x: f"{x:.4f}"))
    print(f"results and report written to {Path(args.out) / 'report.md'}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """``allocgym report RUN_DIR [--market SPEC]``: rewrite report.md and the plots of a
    results folder, which must be undamaged (:meth:`Results.load` refuses a folder whose
    files differ from its manifest or disagree with each other: a DataError, exit status
    1, never a partial report), its risk section against the market of ``--market``
    (default: the run's own ``report.market``)."""
    from allocgym.backtest import Results, write_report

    results = Results.load(args.results_dir)
    path = write_report(results, args.results_dir, market=getattr(args, "market", None))
    print(f"report written to {path}")
    return 0
