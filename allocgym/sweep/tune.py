"""Ray Tune backend: the sweep's trials as Tune trials (FIFO or ASHA; grid, random, optuna).

Tune only schedules: every Tune trial calls :func:`allocgym.sweep.trial.run_trial`,
the same function the sequential backend calls, which writes the trial's folder.
Tune's own state goes to ``<sweep>/ray/``. Needs ``pip install "allocgym[ray]"``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from allocgym.exceptions import ConfigError
from allocgym.experiment.config import ExperimentConfig, load_config
from allocgym.experiment.sweep_config import Dimension, SweepConfig
from allocgym.sweep.space import Trial
from allocgym.sweep.trial import RECORD, read_record, run_trial

__all__ = ["check_optuna", "run_on_ray", "run_optuna"]


class TrialFailed(RuntimeError):
    """Raised in a Tune trial whose run failed, so that Tune marks it ERROR."""


def _grid_trainable(
    tune_config: dict[str, Any],
    *,
    base: dict[str, Any],
    trials: dict[str, Trial],
    root: str,
    sweep: SweepConfig,
) -> None:
    from ray import tune

    trial = trials[tune_config["trial_id"]]
    record = run_trial(
        load_config(base), trial, Path(root), sweep.validation, tune.report, _cpus(sweep)
    )
    if record["status"] == "error":
        raise TrialFailed(f"trial {trial.trial_id}: {record['error']}")


def _optuna_trainable(
    tune_config: dict[str, Any], *, base: dict[str, Any], root: str, sweep: SweepConfig
) -> None:
    """One sampled configuration, trained once per seed; reports the mean after each."""
    import numpy as np
    from ray import tune

    cpus = _cpus(sweep)
    config_id = "o" + tune.get_context().get_trial_id().rsplit("_", 1)[-1]
    params = {name: tune_config[name] for name in sweep.space}
    values = []
    for seed in sweep.seeds:
        trial = Trial(config_id, params, seed)
        record = run_trial(load_config(base), trial, Path(root), sweep.validation, None, cpus)
        values.append(record.get("val_sharpe", float("nan")))
        mean = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        tune.report({"val_sharpe": mean, "seeds_done": len(values)})


def _cpus(sweep: SweepConfig) -> int:
    return max(1, int(sweep.resources["cpu"]))


def _tuner(trainable: Any, sweep: SweepConfig, root: Path, param_space: dict, **tune_kw: Any):
    from ray import tune

    resources = {"cpu": sweep.resources["cpu"], "gpu": sweep.resources["gpu"]}
    return tune.Tuner(
        tune.with_resources(trainable, resources),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric="val_sharpe",
            mode="max",
            max_concurrent_trials=sweep.max_concurrent,
            reuse_actors=True,  # one worker process per slot: imports paid once
            **tune_kw,
        ),
        run_config=tune.RunConfig(
            name="tune",
            storage_path=str(root / "ray"),
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    )


def _asha(sweep: SweepConfig, max_t: int) -> Any:
    if sweep.scheduler != "asha":
        return None
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(
        time_attr="training_iteration", max_t=max(max_t, 1),
        grace_period=min(sweep.grace_period, max(max_t, 1)),
    )  # fmt: skip


def _n_folds(config: ExperimentConfig) -> int:
    from allocgym.backtest import WalkForward

    market = config.data.load()
    return WalkForward(**vars(config.walk_forward)).get_n_splits(market.n_dates)


def run_on_ray(
    config: ExperimentConfig, sweep: SweepConfig, root: Path, trials: list[Trial]
) -> None:
    """Run ``trials`` as Tune trials (Ray must be initialised); records land in ``root``."""
    from ray import tune

    trainable = tune.with_parameters(
        _grid_trainable, base=config.to_dict(), trials={t.trial_id: t for t in trials},
        root=str(root), sweep=sweep,
    )  # fmt: skip
    space = {"trial_id": tune.grid_search([t.trial_id for t in trials])}
    _tuner(trainable, sweep, root, space, scheduler=_asha(sweep, _n_folds(config))).fit()
    _mark_stopped(root, [t.trial_id for t in trials])


def _domain(dim: Dimension) -> Any:
    from ray import tune

    if dim.discrete:
        return tune.choice(list(dim.values))
    low, high = dim.values
    return {"uniform": tune.uniform, "loguniform": tune.loguniform, "randint": tune.randint}[
        dim.kind
    ](low, high)


def check_optuna(root: Path) -> None:
    """Refuse an optuna sweep before Ray starts: Optuna missing, or a folder to resume."""
    if importlib.util.find_spec("optuna") is None:
        raise ConfigError(
            "sweep.search: 'optuna' needs Optuna, which is not installed; "
            "pip install optuna (or use search: random)"
        )
    if any((root / "trials").glob(f"*/{RECORD}")):
        raise ConfigError(
            f"{root}: an optuna sweep does not resume (its sampler state is not saved); "
            "pass --fresh to start over or use another name"
        )


def run_optuna(config: ExperimentConfig, sweep: SweepConfig, root: Path) -> None:
    """Let Optuna (TPE) draw ``num_samples`` configurations through Ray Tune."""
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    trainable = tune.with_parameters(
        _optuna_trainable, base=config.to_dict(), root=str(root), sweep=sweep
    )
    space = {name: _domain(dim) for name, dim in sweep.space.items()}
    _tuner(
        trainable, sweep, root, space,
        search_alg=OptunaSearch(seed=config.seed), num_samples=sweep.num_samples,
        scheduler=_asha(sweep, len(sweep.seeds)),
    ).fit()  # fmt: skip
    _mark_stopped(root, [p.name for p in (root / "trials").glob("*")])


def _mark_stopped(root: Path, trial_ids: list[str]) -> None:
    """Trials still 'running' after Tune returned were stopped early (ASHA) or killed."""
    for tid in trial_ids:
        record = read_record(root / "trials" / tid)
        if record is not None and record.get("status") == "running":
            record["status"] = "stopped"
            (root / "trials" / tid / RECORD).write_text(json.dumps(record, indent=2, default=str))
