"""The ``allocgym`` command.

Each subcommand is one ``_add_<name>(subparsers)`` function that registers its parser
and sets ``func``; ``main`` turns allocgym's domain errors into one readable line and
exit status 1 instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence

from allocgym.exceptions import (
    AllocgymWarning,
    ConfigError,
    DataError,
    DataRepairWarning,
    OptimizationError,
    TrainingFailed,
)

__all__ = ["main"]


def _data_check(args: argparse.Namespace) -> int:
    from allocgym.data import load_market

    with warnings.catch_warnings():  # the summary lists every repair: no second copy
        warnings.simplefilter("ignore", DataRepairWarning)
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


def _add_backtest(sub: argparse._SubParsersAction) -> None:
    from allocgym.backtest._cli import DEFAULT_POLICIES, run_backtest

    p = sub.add_parser(
        "backtest",
        help="walk-forward backtest of the baselines; writes results and report.md",
    )
    p.add_argument("--data", default=None, help="CSV/Parquet price file (default: embedded)")
    p.add_argument("--start", default=None, help="first date of the data to use")
    p.add_argument("--end", default=None, help="last date of the data to use")
    p.add_argument(
        "--policies",
        default=DEFAULT_POLICIES,
        help="comma-separated baseline names, as in a config's baselines: (`allocgym list "
        "baselines`; 1/N is equal_weight); NAME+OVERLAY wraps one in overlays with their "
        "defaults (`allocgym list overlays`; e.g. equal_weight+vol_target) "
        f"(default {DEFAULT_POLICIES})",
    )
    p.add_argument(
        "--features",
        default="none",
        help="feature preset for build_features (e.g. full, technical) or none (default); "
        "Black-Litterman takes its views from the LSTM forecast",
    )
    p.add_argument("--cost-bps", type=float, default=10.0, help="cost per unit turnover")
    p.add_argument("--lookback", type=int, default=252, help="estimation window (days)")
    p.add_argument("--rebalance-every", type=int, default=21, help="days between rebalances")
    p.add_argument("--train", type=int, default=252, help="walk-forward training window")
    p.add_argument("--test", type=int, default=252, help="walk-forward test window")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replications")
    p.add_argument("--name", default="backtest", help="experiment name")
    p.add_argument("--out", default="runs/backtest", help="results folder")
    p.set_defaults(func=run_backtest)


def _add_report(sub: argparse._SubParsersAction) -> None:
    from allocgym.backtest._cli import run_report
    from allocgym.risk._cli import MARKET_HELP

    p = sub.add_parser("report", help="(re)write report.md and plots of a results folder")
    p.add_argument("results_dir", help="folder written by a backtest")
    p.add_argument("--market", default=None, metavar="SPEC", help=MARKET_HELP)
    p.set_defaults(func=run_report)


def _list(args: argparse.Namespace) -> int:
    from allocgym.registry import format_listing

    kinds = args.kinds or list(_LISTS)
    for i, kind in enumerate(kinds):
        registry, usage = _LISTS[kind]()
        if len(kinds) > 1:
            print(("\n" if i else "") + f"{kind}:")
        print(format_listing(registry))
        print(f"\nuse: {usage}")
    return 0


def _baselines_list():
    from allocgym.baselines import BASELINES

    return BASELINES, (
        "allocgym backtest --policies NAME,NAME; in a config baselines: [{name: NAME, "
        "params: {...}}]; in Python BASELINES.create(NAME, **params)"
    )


def _agents_list():
    from allocgym.agents.registry import AGENTS

    return AGENTS, (
        "in a config agents: [{name: NAME, hyperparameters: {...}}]; in Python "
        "make_agent(NAME, env, **hyperparameters) or RLAgent(NAME, timesteps)"
    )


def _rewards_list():
    from allocgym.envs.rewards import REWARDS

    return REWARDS, (
        "PortfolioEnv(reward=NAME), reward='module:function', "
        "reward='path/to/file.py:function' or reward={NAME: weight, ...}"
    )


def _overlays_list():
    from allocgym.overlays import OVERLAYS

    return OVERLAYS, (
        "in a config baselines: [{name: NAME, overlays: [{name: OVERLAY, params: {...}}]}]; "
        'in Python apply_overlays(policy, [{"name": OVERLAY, "params": {...}}])'
    )


_LISTS = {
    "baselines": _baselines_list,
    "agents": _agents_list,
    "rewards": _rewards_list,
    "overlays": _overlays_list,
}


def _add_list(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list the registered baselines, agents, rewards and overlays with their parameters",
    )
    p.add_argument(
        "kinds", nargs="*", type=_list_kind, metavar="{" + ",".join(_LISTS) + "}",
        help="what to list (default: everything)",
    )  # fmt: skip
    p.set_defaults(func=_list)


def _list_kind(text: str) -> str:
    if text not in _LISTS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {list(_LISTS)}")
    return text


def _add_rewards(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rewards", help="list the registered reward functions (list rewards)")
    p.set_defaults(func=_list, kinds=["rewards"])


def _add_experiment_command(sub: argparse._SubParsersAction, name: str, help: str) -> None:
    from allocgym.experiment import _cli

    p = sub.add_parser(name, help=help)
    _cli.add_arguments(p)
    p.set_defaults(func=getattr(_cli, name))


def _add_run(sub: argparse._SubParsersAction) -> None:
    _add_experiment_command(
        sub,
        "run",
        "run an experiment end to end: features, walk-forward training of the agents, "
        "backtest beside the baselines, report and TensorBoard (resumes if interrupted)",
    )


def _add_train(sub: argparse._SubParsersAction) -> None:
    _add_experiment_command(
        sub,
        "train",
        "train the agents of an experiment on every walk-forward fold and save them "
        "(a later `allocgym run` reuses them)",
    )


def _add_predictors(sub: argparse._SubParsersAction) -> None:
    from allocgym.predictors import _cli

    _cli.add_parser(sub)


def _add_module_command(
    sub: argparse._SubParsersAction, name: str, module: str, help: str, func: str
) -> None:
    """A subcommand whose arguments and action live in ``module`` (imported on use):
    ``module.add_arguments(parser)`` and ``module.<func>(args)``."""
    import importlib

    cli = importlib.import_module(module)
    p = sub.add_parser(name, help=help)
    cli.add_arguments(p)
    p.set_defaults(func=getattr(cli, func))


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    _add_module_command(
        sub, "sweep", "allocgym.sweep._cli",
        "hyperparameter/reward/seed sweep of an experiment on Ray Tune (sequential without "
        "Ray); selects on validation Sharpe, reports every configuration tried",
        "sweep",
    )  # fmt: skip


def _add_stress(sub: argparse._SubParsersAction) -> None:
    _add_module_command(
        sub, "stress", "allocgym.risk._cli",
        "crisis windows, replay on today's weights and Monte Carlo scenarios of a run; "
        "writes stress.md",
        "stress",
    )  # fmt: skip


def _add_explain(sub: argparse._SubParsersAction) -> None:
    _add_module_command(
        sub, "explain", "allocgym.backtest._explain_cli",
        "what a run's RL agents look at: permutation importance of each feature group over "
        "the test windows; writes explain.md and a bar plot",
        "explain",
    )  # fmt: skip


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_run,
    _add_train,
    _add_data,
    _add_backtest,
    _add_report,
    _add_stress,
    _add_explain,
    _add_list,
    _add_rewards,
    _add_predictors,
    _add_sweep,
]


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


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """allocgym's own warnings as one line each, without the package's source line."""
    if issubclass(category, AllocgymWarning):
        print(f"allocgym: warning: {message}", file=sys.stderr if file is None else file)
    else:
        _default_show(message, category, filename, lineno, file, line)


_default_show = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``allocgym`` console script."""
    args = build_parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return int(args.func(args) or 0)
    except (
        DataError, ConfigError, OptimizationError, FileNotFoundError, TrainingFailed
    ) as exc:  # fmt: skip
        print(f"allocgym: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("allocgym: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = _default_show


if __name__ == "__main__":
    sys.exit(main())
