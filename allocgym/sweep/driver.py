"""`run_sweep`: the trials of a sweep on Ray Tune, or one after the other without Ray.

Output folder ``<output_dir>/<name>/``::

    sweep.yaml              the resolved experiment config and sweep (guards resumption)
    trials/<trial_id>/      one experiment folder per trial (``allocgym run`` layout):
        trial.json          params, seed, status, error, validation and OOS metrics
        validation/         models and TensorBoard curves of the validation pass
        tensorboard/        training curves and backtest runs of the trial
    sweep.csv               one row per trial: params, validation and OOS metrics
    configs.csv             one row per configuration, averaged over its seeds
    sweep.md                the report: number of configurations tried, the table, the
                            selected configuration and its deflated Sharpe ratio
    ray/                    Ray Tune's own experiment state (Ray backend only)

Ray backend: a local Ray instance bound to 127.0.0.1 with ``sweep.num_cpus`` CPUs, or
the cluster at ``address``; trials run concurrently, each with ``sweep.resources``.
Sequential backend (no Ray installed, or ``backend="sequential"``): the same trial
function in this process, one trial after the other.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from allocgym._ray import INSTALL_RAY, ray_available, start_ray
from allocgym.exceptions import ConfigError
from allocgym.experiment.config import ExperimentConfig, load_config
from allocgym.experiment.run_folder import open_run_folder, release_lock
from allocgym.experiment.sweep_config import SweepConfig
from allocgym.sweep.space import Trial, expand, make_trials
from allocgym.sweep.summary import SweepResults, summarise
from allocgym.sweep.trial import read_record, run_trial, trial_config

__all__ = ["BACKENDS", "INSTALL_RAY", "ray_available", "run_sweep", "start_ray"]

BACKENDS = ("auto", "ray", "sequential")


def _load(config: ExperimentConfig | str | Path, overrides: dict[str, Any]) -> ExperimentConfig:
    if not isinstance(config, ExperimentConfig):
        config = load_config(config, **overrides)
    if config.sweep is None:
        raise ConfigError(f"{config.name}: no 'sweep:' section; add one (see docs/sweep.md)")
    # trials may run in other working directories (Ray) or on other machines
    data = config.to_dict()
    data["output_dir"] = str(Path(config.output_dir).resolve())
    if config.data.source is not None and Path(config.data.source).exists():
        data["data"]["source"] = str(Path(config.data.source).resolve())
    return load_config(data)


def run_sweep(
    config: ExperimentConfig | str | Path,
    *,
    backend: str = "auto",
    address: str | None = None,
    fresh: bool = False,
    verbose: bool = True,
    **overrides: Any,
) -> SweepResults:
    """Run the sweep of an experiment config and return its summary.

    Parameters
    ----------
    config : ExperimentConfig or path to a YAML file with a ``sweep:`` section
    backend : {"auto", "ray", "sequential"}
        ``auto``: Ray Tune when installed, else sequential trials with a message.
    address : str, optional
        Join this Ray cluster (``ray start --head`` prints it) instead of starting Ray
        locally; the output folder must then be on storage every node sees.
    fresh : bool
        Delete the sweep folder first instead of resuming its finished trials.
    verbose : bool
        Print the stages and the summary table.
    overrides
        Top-level config keys to replace (e.g. ``output_dir``), as in ``load_config``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}; expected one of {list(BACKENDS)}")
    say = print if verbose else (lambda *a, **k: None)
    config = _load(config, overrides)
    sweep = SweepConfig.from_dict(config.sweep, "sweep")
    root = config.run_dir
    use_ray = backend == "ray" or (backend == "auto" and ray_available())
    if use_ray and not ray_available():
        raise ConfigError(f"backend='ray' needs Ray Tune, which is not installed: {INSTALL_RAY}")
    if not use_ray:
        if backend == "auto":
            say(
                "[allocgym] Ray is not installed: running the trials sequentially in this "
                f"process (install it for parallel and distributed sweeps: {INSTALL_RAY})",
                file=sys.stderr,
            )
        if sweep.search == "optuna" or sweep.scheduler == "asha":
            raise ConfigError(
                f"sweep.search={sweep.search!r}, sweep.scheduler={sweep.scheduler!r} need "
                f"Ray Tune; use search grid/random with scheduler fifo, or {INSTALL_RAY}"
            )
    if address is not None and not use_ray:
        raise ConfigError(f"--address {address!r} joins a Ray cluster; it needs the Ray backend")
    open_run_folder(config, fresh=fresh, record="sweep.yaml")
    try:
        if sweep.search == "optuna":
            from allocgym.sweep.tune import check_optuna, run_optuna

            check_optuna(root)
            start_ray(sweep.num_cpus, address)
            run_optuna(config, sweep, root)
            trials = None
        else:
            trials = make_trials(expand(sweep, config.seed), sweep.seeds)
            for trial in trials:  # invalid substituted values fail before anything runs
                trial_config(config, trial, root / "trials")
            todo = [t for t in trials if _status(root, t) not in ("ok", "stopped")]
            say(
                f"[allocgym] sweep {config.name}: {len(trials) // len(sweep.seeds)} configurations "
                f"x {len(sweep.seeds)} seeds = {len(trials)} trials, {len(trials) - len(todo)} "
                f"already finished; backend {'ray' if use_ray else 'sequential'}"
            )
            if todo and use_ray:
                from allocgym.sweep.tune import run_on_ray

                start_ray(sweep.num_cpus, address)
                run_on_ray(config, sweep, root, todo)
            else:
                for i, trial in enumerate(todo):
                    cpus = int(sweep.resources["cpu"])
                    record = run_trial(config, trial, root, sweep.validation, threads=cpus)
                    say(f"[allocgym] trial {i + 1}/{len(todo)} {trial.trial_id}: {_line(record)}")
        results = summarise(root, config, sweep, trials)
    finally:
        release_lock(root)
    if verbose:
        print(results.table_text())
        print(f"\nreport: {root / 'sweep.md'}\ntensorboard --logdir {root / 'trials'}")
    return results


def _status(root: Path, trial: Trial) -> str | None:
    record = read_record(root / "trials" / trial.trial_id)
    return None if record is None else record.get("status")


def _line(record: dict[str, Any]) -> str:
    if record["status"] != "ok":
        return f"{record['status']}: {record.get('error', '')}"
    return (
        f"validation Sharpe {record['val_sharpe']:.3f}, "
        f"out-of-sample Sharpe {record['oos'].get('sharpe', float('nan')):.3f}"
    )
