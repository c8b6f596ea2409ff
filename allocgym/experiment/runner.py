"""`run_experiment`: features -> walk-forward training -> backtest -> report -> TensorBoard.

Output folder ``<output_dir>/<name>/``::

    experiment.yaml    the resolved experiment config (what ran; guards resumption)
    config.yaml        the backtest's resolved config, the experiment config included
    metrics.csv, returns.parquet, weights.parquet, ...   (allocgym.backtest.Results)
    report.md + *.png  the comparison report
    models/<agent>/<train range>/   one saved model per (agent, seed, fold)
    tensorboard/train/ training curves per (agent, seed, fold)
    tensorboard/backtest/<policy>/  one run per policy, same tags for all

Resuming: every (agent, seed, fold) model is saved atomically as soon as it is trained
and loaded instead of retrained on the next run, so re-running an interrupted or
finished experiment only redoes what is missing (the backtest itself takes seconds).
A run folder made with a different config is refused rather than mixed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from allocgym.exceptions import ConfigError
from allocgym.experiment.config import ExperimentConfig, load_config

if TYPE_CHECKING:
    from allocgym.backtest import WalkForward
    from allocgym.data import MarketData
    from allocgym.predictors import FeaturePanel

__all__ = ["PreparedRun", "build_policies", "prepare_run", "run_experiment", "train_agents"]

_TABLE_COLUMNS = (
    "kind", "ann_return", "ann_volatility", "sharpe", "max_drawdown", "win_rate",
    "information_ratio", "turnover", "total_costs", "lw_p_value", "dsr",
)  # fmt: skip


def build_policies(config: ExperimentConfig, progress: Any = None) -> dict[str, Any]:
    """Policies named by their labels: every (agent, seed), every baseline.

    An agent with one seed is labelled by its ``display`` name ("PPO"); with several,
    each seed is a row ("PPO s0", "PPO s1", ...) and a
    :class:`~allocgym.agents.SeedEnsemble` of them ("PPO ensemble") follows them. The
    ensemble trains nothing: its members keep every fold's model in memory.
    """
    from allocgym.agents import RLAgent, SeedEnsemble

    policies: dict[str, Any] = {}
    for agent in config.agents:
        members = []
        for seed in agent.seeds:
            label = agent.seed_label(seed)
            policies[label] = RLAgent(
                agent.name,
                agent.timesteps,
                seed,
                env=agent.env_settings(config.env),
                network=agent.network,
                hyperparameters=agent.hyperparameters,
                n_envs=agent.n_envs,
                name=label,
                checkpoint_dir=config.run_dir / "models" / _slug(label),
                tensorboard_dir=config.run_dir / "tensorboard" / "train",
                progress=progress,
            )
            members.append(policies[label])
        if agent.ensemble_label is not None:
            policies[agent.ensemble_label] = SeedEnsemble(members, agent.ensemble_label)
    for base in config.baselines:
        policies[base.display] = base.build()
    return policies


def _seed_groups(config: ExperimentConfig) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The rows of each agent with several seeds, and the row of its seed ensemble."""
    multi = [a for a in config.agents if a.ensemble_label is not None]
    groups = {a.display: [a.seed_label(s) for s in a.seeds] for a in multi}
    return groups, {a.display: str(a.ensemble_label) for a in multi}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _config_guard(config: ExperimentConfig) -> None:
    """Write experiment.yaml, or refuse a run folder made with a different config."""
    from allocgym.backtest.results import atomic_write

    text = config.to_yaml()
    path = config.run_dir / "experiment.yaml"
    if path.exists():
        old = path.read_text()
        if old != text:
            first = next(
                (f"{a.strip()!r} -> {b.strip()!r}" for a, b in zip(old.splitlines(),
                 text.splitlines(), strict=False) if a != b), "length differs",
            )  # fmt: skip
            raise ConfigError(
                f"{config.run_dir} holds an experiment with a different config (first "
                f"difference: {first}); its saved models would not match. Use another "
                "name, delete the folder, or pass --fresh to start over"
            )
        return
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def run_experiment(
    config: ExperimentConfig | str | Path,
    *,
    fresh: bool = False,
    progress: bool = True,
    verbose: bool = True,
) -> Any:
    """Run an experiment end to end and return its :class:`~allocgym.backtest.Results`.

    Parameters
    ----------
    config : ExperimentConfig or path to a YAML file
    fresh : bool
        Delete the run folder first instead of resuming.
    progress : bool
        Progress bars (features, training) on stderr.
    verbose : bool
        Print the stages and the final comparison table.
    """
    from allocgym.backtest import backtest
    from allocgym.backtest.tensorboard import write_tensorboard

    config, market, features, splitter, folds = prepare_run(
        config, fresh=fresh, progress=progress, verbose=verbose
    )
    say = print if verbose else (lambda *a, **k: None)
    run_dir = config.run_dir
    bar = _training_bar(config, len(folds), progress)
    policies = build_policies(config, progress=bar.update)
    say(f"[allocgym] {len(folds)} walk-forward folds x {len(policies)} policies")
    try:
        results = backtest(
            policies,
            market,
            features,
            splitter=splitter,
            env=config.env,
            benchmark=config.report.benchmark,
            # the deflated Sharpe ratio counts every configuration tried: each seed of
            # each agent, each seed ensemble and each baseline is one row, one trial
            n_trials=len(policies),
            n_boot=config.report.n_boot,
            name=config.name,
            progress=False,  # the training bar above is this run's progress
        )
    finally:
        bar.close()
    from allocgym.backtest import write_report

    results.config["experiment"] = config.to_dict()
    groups, ensembles = _seed_groups(config)
    if groups:  # the report and summary_table show each agent's seeds as a distribution
        results.config["seed_groups"] = groups
        results.config["seed_ensembles"] = ensembles
    results.save(run_dir)
    write_report(results, run_dir)
    write_tensorboard(results, run_dir / "tensorboard" / "backtest")
    if verbose:
        print(summary_table(results))
        print(f"\nreport: {run_dir / 'report.md'}")
        print(f"tensorboard --logdir {run_dir}")
    return results


class PreparedRun(NamedTuple):
    """What every stage of a run starts from (:func:`prepare_run`)."""

    config: ExperimentConfig
    market: MarketData
    features: FeaturePanel
    splitter: WalkForward
    folds: list[tuple[np.ndarray, np.ndarray]]


def prepare_run(
    config: ExperimentConfig | str | Path,
    *,
    fresh: bool = False,
    progress: bool = True,
    verbose: bool = True,
) -> PreparedRun:
    """The run folder, market, point-in-time features and folds of an experiment.

    Shared by :func:`run_experiment`, :func:`train_agents` and the sweep's trials.
    Loads and validates ``config`` (a path) first, so a bad config fails before any
    data is read; creates the run folder (``fresh``: deletes it first) and refuses a
    folder made with another config; builds the features (cached).

    Returns
    -------
    PreparedRun
        ``(config, market, features, splitter, folds)``.
    """
    import shutil

    from allocgym.backtest import WalkForward
    from allocgym.data import load_market
    from allocgym.predictors import build_features
    from allocgym.predictors.config import PRESETS, FeatureConfig

    if not isinstance(config, ExperimentConfig):
        config = load_config(config)
    say = print if verbose else (lambda *a, **k: None)
    run_dir = config.run_dir
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _config_guard(config)

    market = load_market(config.data.source)
    if config.data.start or config.data.end:
        market = market.between(config.data.start, config.data.end)
    say(f"[allocgym] {config.name}: {market}")
    feat_cfg = PRESETS[config.features.preset]
    if config.features.overrides:
        feat_cfg = FeatureConfig.from_dict({**feat_cfg.to_dict(), **config.features.overrides})
    features = build_features(
        market, feat_cfg, cache_dir=None if config.features.cache else False, progress=progress
    )
    say(f"[allocgym] features: {features}")
    splitter = WalkForward(**vars(config.walk_forward))
    folds = list(splitter.split(market.n_dates))
    if not folds:
        raise ConfigError(
            f"walk_forward: train={splitter.train} + test windows do not fit in "
            f"{market.n_dates} days of data; shorten train or widen the date range"
        )
    return PreparedRun(config, market, features, splitter, folds)


def _training_bar(config: ExperimentConfig, n_folds: int, progress: bool):
    from tqdm.auto import tqdm

    total = n_folds * sum(a.timesteps * len(a.seeds) for a in config.agents)
    return tqdm(
        total=total, desc="training", unit="step", disable=not progress or total == 0,
        file=sys.stderr, dynamic_ncols=True,
    )  # fmt: skip


def train_agents(
    config: ExperimentConfig | str | Path,
    *,
    fresh: bool = False,
    progress: bool = True,
    verbose: bool = True,
) -> list[Path]:
    """Train (or find already saved) every agent on every fold; no backtest.

    A later ``run_experiment`` with the same config loads these models.
    """
    config, market, features, _, folds = prepare_run(
        config, fresh=fresh, progress=progress, verbose=verbose
    )
    bar = _training_bar(config, len(folds), progress)
    saved = []
    try:
        for policy in build_policies(config, progress=bar.update).values():
            if not hasattr(policy, "checkpoint_dir"):
                continue
            for train, _ in folds:
                sl = slice(int(train[0]), int(train[-1]) + 1)
                policy.fit(market[sl], features[sl])
                saved.append(policy.checkpoint_dir / policy.fold_key(market[sl]))
    finally:
        bar.close()
    return saved


def summary_table(results: Any) -> str:
    """The comparison table as aligned text; then, for agents run with several seeds
    (``results.config["seed_groups"]``), the Sharpe ratio across seeds
    (:func:`~allocgym.backtest.stats.seed_summary`: mean, 95 % t-interval, spread) and the
    seeds' mean turnover and costs."""
    from allocgym.backtest.stats import seed_summary

    cols = [c for c in _TABLE_COLUMNS if c in results.metrics.columns]
    table = results.metrics[cols]
    text = "\n" + table.to_string(float_format=lambda x: f"{x:.4f}")
    groups = results.config.get("seed_groups") or {}
    if groups:
        seeds = seed_summary(results.metrics, groups).drop(columns="ann_return_mean")
        text += (
            "\n\nacross seeds (Sharpe: mean, 95% t-interval over seeds, sd, min, max):\n"
            + seeds.to_string(float_format=lambda x: f"{x:.4f}")
        )
    return text
