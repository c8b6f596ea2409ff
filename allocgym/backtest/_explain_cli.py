"""What ``allocgym explain RUN_DIR`` runs (the parser lives in allocgym.cli).

It reloads a finished run, as ``allocgym run`` left it: the config from
``experiment.yaml``, the data and the (cached) features, the walk-forward folds and every
RL agent's saved model per fold (``models/<label>/<train range>/``), then rates each
agent's observation groups over its test windows
(:func:`~allocgym.backtest.explain.permutation_importance`) and writes ``explain.md`` and
``explain.png`` into the run folder. This module sits at the command line's level: it
uses the experiment runner, which the backtest package itself does not.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

from allocgym.backtest.explain import Importance, permutation_importance
from allocgym.backtest.explain_report import format_table, write_explain
from allocgym.backtest.results import Results
from allocgym.exceptions import AllocgymWarning, ConfigError, DataError
from allocgym.experiment.config import load_config
from allocgym.experiment.runner import PreparedRun, build_policies, prepare_run

__all__ = ["add_arguments", "explain", "explain_run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="run folder of `allocgym run` (holds experiment.yaml)")
    p.add_argument(
        "--repeats", type=int, default=5, help="permutations per feature group (default 5)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the permutations (default 0)")


def explain(args: argparse.Namespace) -> int:
    if args.repeats < 1:
        raise ConfigError(f"--repeats {args.repeats} is invalid; expected an integer >= 1")
    importances, path = explain_run(args.run_dir, n_repeats=args.repeats, seed=args.seed)
    for imp in importances:
        print(f"\n{imp.policy} (Sharpe {imp.base_sharpe:.3f}, {imp.n_days} test days):")
        print(format_table(imp))
    if not importances:
        print("no RL agent in this run: nothing to explain")
    print(f"\nexplanation written to {path}")
    return 0


def explain_run(
    run_dir: str | Path, *, n_repeats: int = 5, seed: int = 0
) -> tuple[list[Importance], Path]:
    """Permutation importance of every RL agent of a run; writes ``explain.md``.

    Returns the importances (one per agent, seed ensembles included) and the path of
    ``explain.md``.

    Raises
    ------
    ConfigError
        ``run_dir`` holds no readable ``experiment.yaml``, or another run holds its lock.
    DataError
        An agent has no saved model for a fold (the run was not finished): explaining
        never trains.
    """
    run_dir = Path(run_dir)
    config = load_config(
        run_dir / "experiment.yaml", output_dir=str(run_dir.parent), name=run_dir.name
    )
    with prepare_run(config, progress=False, verbose=False) as run:
        policies = build_policies(run.config)
        agents = {k: p for k, p in policies.items() if getattr(p, "kind", None) == "RL"}
        for label, policy in agents.items():
            _check_saved(label, policy, run)
        importances = []
        for policy in agents.values():
            env = getattr(policy, "env", None) or run.config.env
            found = permutation_importance(
                policy, run.market, run.features, splitter=run.splitter, env=env,
                n_repeats=n_repeats, seed=seed,
            )  # fmt: skip
            importances.append(found)
        results = Results.load(run_dir) if (run_dir / "metrics.csv").is_file() else None
        if results is not None:
            _compare_with_run(results, importances)
        path = write_explain(importances, run_dir)
        if results is not None:  # the report links the new page
            from allocgym.backtest import write_report

            write_report(results, run_dir)
    return importances, path


def _check_saved(label: str, policy: Any, run: PreparedRun) -> None:
    """Refuse an agent with a fold whose model is not saved (fit would train it)."""
    folder = getattr(policy, "checkpoint_dir", None)
    if folder is None:
        return  # a seed ensemble: its members are checked
    for train, _ in run.folds:
        key = policy.fold_key(run.market[int(train[0]) : int(train[-1]) + 1])
        if not (folder / key / "agent.json").is_file():
            raise DataError(
                f"{label}: no saved model for the fold trained on {key} (expected "
                f"{folder / key}); explain does not train: finish the run first "
                "(allocgym run or allocgym train with its config)"
            )


def _compare_with_run(results: Results, importances: list[Importance]) -> None:
    """Warn when an agent's unshuffled track is not the one the run reported."""
    sharpe = results.metrics["sharpe"]
    for imp in importances:
        saved = sharpe.get(imp.policy)
        if saved is not None and abs(float(saved) - imp.base_sharpe) > 1e-6:
            warnings.warn(
                f"{imp.policy}: Sharpe {imp.base_sharpe:.4f} here but {float(saved):.4f} in "
                f"the run's metrics.csv; the models or the data changed since the run",
                AllocgymWarning,
                stacklevel=3,
            )
