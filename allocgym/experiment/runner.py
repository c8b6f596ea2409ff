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

from allocgym._io import safe_component
from allocgym._threads import check_threads, torch_threads
from allocgym.exceptions import ConfigError
from allocgym.experiment.config import AgentConfig, ExperimentConfig, load_config

if TYPE_CHECKING:
    from allocgym.backtest import WalkForward
    from allocgym.data import MarketData
    from allocgym.predictors import FeaturePanel

__all__ = [
    "RUN_BACKENDS",
    "PreparedRun",
    "build_agent",
    "build_policies",
    "check_against_data",
    "prepare_run",
    "run_experiment",
    "train_agents",
]

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
    from allocgym.agents import SeedEnsemble

    policies: dict[str, Any] = {}
    for agent in config.agents:
        members = []
        for seed in agent.seeds:
            label = agent.seed_label(seed)
            policies[label] = build_agent(config, agent, seed, progress=progress)
            members.append(policies[label])
        if agent.ensemble_label is not None:
            policies[agent.ensemble_label] = SeedEnsemble(members, agent.ensemble_label)
    for base in config.baselines:
        policies[base.display] = base.build()
    return policies


def build_agent(
    config: ExperimentConfig,
    agent: AgentConfig,
    seed: int,
    *,
    root: Path | None = None,
    progress: Any = None,
) -> Any:
    """The :class:`~allocgym.agents.RLAgent` of one (agent, seed): its models in
    ``<root>/models/<label>/``, its training curves in ``<root>/tensorboard/train/``;
    ``root`` is the run folder unless given (a Ray task trains in a folder of its own)."""
    from allocgym.agents import RLAgent

    root = config.run_dir if root is None else Path(root)
    label = agent.seed_label(seed)
    return RLAgent(
        agent.name,
        agent.timesteps,
        seed,
        env=agent.env_settings(config.env),
        network=agent.network,
        observe=agent.observe,
        hyperparameters=agent.hyperparameters,
        n_envs=agent.n_envs,
        name=label,
        checkpoint_dir=root / "models" / safe_component(label),
        tensorboard_dir=root / "tensorboard" / "train",
        progress=progress,
    )


def _seed_groups(config: ExperimentConfig) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The rows of each agent with several seeds, and the row of its seed ensemble."""
    multi = [a for a in config.agents if a.ensemble_label is not None]
    groups = {a.display: [a.seed_label(s) for s in a.seeds] for a in multi}
    return groups, {a.display: str(a.ensemble_label) for a in multi}


def run_experiment(
    config: ExperimentConfig | str | Path,
    *,
    fresh: bool = False,
    progress: bool = True,
    verbose: bool = True,
    backend: str = "local",
    address: str | None = None,
    threads: int = 1,
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
    backend : {"local", "ray"}
        ``"ray"``: the (agent, seed, fold) trainings run as Ray tasks
        (:func:`~allocgym.experiment.distributed.train_on_ray`), then the backtest loads
        their models; the run folder and its results are those of a local run.
    address : str, optional
        With ``backend="ray"``: join this Ray cluster instead of starting Ray locally.
    threads : int, default 1
        PyTorch threads of each training: set while a local run trains, or the CPUs of
        each Ray task. A trained network depends on the thread count in its last
        digits, so one value gives the same models on every machine and backend;
        1 is also the fastest for these small networks on a shared machine.
    """
    _check_backend(backend, address, threads)
    prepared = _prepare_on(backend, address, config, fresh, progress, verbose)
    with prepared:
        _train_on(backend, prepared, address, threads, progress, verbose)
        with torch_threads(threads):  # a local run trains when the backtest reaches a fold
            return _run(*prepared, progress=progress, verbose=verbose)


RUN_BACKENDS = ("local", "ray")


def _check_backend(backend: str, address: str | None, threads: int) -> None:
    """Refuse a bad backend or thread count before anything is written."""
    check_threads(threads)
    from allocgym._ray import INSTALL_RAY, ray_available

    if backend not in RUN_BACKENDS:
        raise ConfigError(f"backend={backend!r} is invalid; expected one of {list(RUN_BACKENDS)}")
    if address is not None and backend != "ray":
        raise ConfigError(f"address={address!r} joins a Ray cluster; it needs backend='ray'")
    if backend == "ray" and not ray_available():
        raise ConfigError(f"backend='ray' needs Ray, which is not installed: {INSTALL_RAY}")


def _prepare_on(
    backend: str,
    address: str | None,
    config: ExperimentConfig | str | Path,
    fresh: bool,
    progress: bool,
    verbose: bool,
) -> PreparedRun:
    """:func:`prepare_run`; with ``backend="ray"`` the config is loaded first (a bad one
    fails before Ray starts), then the feature build's processes are Ray workers
    (joblib's Ray backend, every CPU of the instance or cluster)."""
    if backend != "ray":
        return prepare_run(config, fresh=fresh, progress=progress, verbose=verbose)
    import joblib
    from ray.util.joblib import register_ray

    from allocgym._ray import start_ray

    if not isinstance(config, ExperimentConfig):
        config = load_config(config)
    start_ray(None, address)
    register_ray()
    with joblib.parallel_backend("ray"):
        return prepare_run(config, fresh=fresh, progress=progress, verbose=verbose, n_jobs=-1)


def _train_on(
    backend: str,
    prepared: PreparedRun,
    address: str | None,
    threads: int,
    progress: bool,
    verbose: bool,
) -> list[Path]:
    """With ``backend="ray"``, train every missing model as Ray tasks; else nothing
    (a local run trains each fold when the backtest reaches it)."""
    if backend != "ray" or not prepared.config.agents:
        return []
    from allocgym.experiment.distributed import train_on_ray

    say = print if verbose else (lambda *a, **k: None)
    return train_on_ray(
        prepared, address=address, cpus_per_task=threads, progress=progress, say=say
    )


def _run(config, market, features, splitter, folds, *, progress: bool, verbose: bool) -> Any:
    from allocgym.backtest import backtest
    from allocgym.backtest.tensorboard import write_tensorboard

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
            # each agent, each seed ensemble and each baseline is one row, one trial,
            # and so is each configuration tried before the run (report.prior_trials)
            n_trials=len(policies) + config.report.prior_trials,
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
    """What every stage of a run starts from (:func:`prepare_run`).

    Holds the run folder's lock: use it in a ``with`` block (or call :meth:`release`)
    so that the lock is given back when the stage is done.
    """

    config: ExperimentConfig
    market: MarketData
    features: FeaturePanel
    splitter: WalkForward
    folds: list[tuple[np.ndarray, np.ndarray]]

    def release(self) -> None:
        """Give back the run folder's lock taken by :func:`prepare_run`."""
        from allocgym.experiment.run_folder import release_lock

        release_lock(self.config.run_dir)

    def __enter__(self) -> PreparedRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def prepare_run(
    config: ExperimentConfig | str | Path,
    *,
    fresh: bool = False,
    progress: bool = True,
    verbose: bool = True,
    n_jobs: int = 1,
) -> PreparedRun:
    """The run folder, market, point-in-time features and folds of an experiment.

    Shared by :func:`run_experiment`, :func:`train_agents` and the sweep's trials.
    Loads and validates ``config`` (a path) first, then checks every setting against
    the data (:func:`check_against_data`), so that a bad config or a setting the data
    cannot hold fails before anything is written; then opens the run folder
    (:func:`~allocgym.experiment.run_folder.open_run_folder`: created, or with
    ``fresh`` deleted first if allocgym made it; locked; a folder made with another
    config refused) and builds the features (cached).

    ``n_jobs`` processes build the features (:func:`~allocgym.predictors.build_features`;
    the panel does not depend on it).

    Returns
    -------
    PreparedRun
        ``(config, market, features, splitter, folds)``, holding the folder's lock
        until its ``release()`` (or the end of its ``with`` block).
    """
    from allocgym.backtest import WalkForward
    from allocgym.experiment.run_folder import open_run_folder, release_lock
    from allocgym.predictors import build_features

    if not isinstance(config, ExperimentConfig):
        config = load_config(config)
    say = print if verbose else (lambda *a, **k: None)
    market = config.data.load()
    folds = check_against_data(config, market)
    splitter = WalkForward(**vars(config.walk_forward))
    open_run_folder(config, fresh=fresh)
    try:
        say(f"[allocgym] {config.name}: {market}")
        features = build_features(
            market, config.features.resolve(), cache_dir=None if config.features.cache else False,
            progress=progress, n_jobs=n_jobs,
        )  # fmt: skip
        say(f"[allocgym] features: {features}")
        _check_observe(config, market, features)
    except BaseException:
        release_lock(config.run_dir)
        raise
    return PreparedRun(config, market, features, splitter, folds)


def _check_observe(config: ExperimentConfig, market: MarketData, features: FeaturePanel) -> None:
    """Every agent's ``observe`` names features of the built panel (before any training)."""
    from allocgym.predictors.groups import select_features

    for i, agent in enumerate(config.agents):
        if agent.observe is not None:
            try:
                select_features(features, market, agent.observe)
            except ValueError as exc:
                raise ConfigError(f"agents[{i}].observe: {exc}") from None


def check_against_data(
    config: ExperimentConfig, market: MarketData
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The walk-forward folds of ``config`` on ``market``, once every setting that depends
    on the data's length is known to fit; a misfit names the setting.

    Checked: the folds (``walk_forward.train + purge`` must leave test days); per-asset
    ``env.cost_bps`` against the assets; ``env.window`` against the data and, with
    agents, against each fold's training days (an episode needs ``window`` days of
    history plus at least one decision of ``rebalance_every`` days); ``report.market``
    must share dates with the data.
    """
    from allocgym.backtest import WalkForward
    from allocgym.envs import CostModel

    n = market.n_dates
    span = f"the {n} days of data from {market.dates[0].date()} to {market.dates[-1].date()}"
    wf = config.walk_forward
    splitter = WalkForward(**vars(wf))
    if splitter.get_n_splits(n) == 0:
        _fail_data(
            "walk_forward.train", wf.train,
            f"train + purge ({wf.train} + {wf.purge}) < {n} so that {span} leave test days; "
            "shorten train or widen data.start/data.end",
        )  # fmt: skip
    folds = list(splitter.split(n))
    env = config.env
    try:
        CostModel.coerce(env.cost_bps).coefficients(market.n_assets)
    except ValueError as exc:
        _fail_data("env.cost_bps", env.cost_bps, f"one rate per asset ({exc})")
    if env.window > n - 2:
        _fail_data("env.window", env.window, f"at most {n - 2} days of history for {span}")
    if config.agents:
        days = min(len(train) for train, _ in folds)
        room = days - 1 - env.window
        if room < env.rebalance_every:
            _fail_data(
                "env.window", env.window,
                f"at most {days - 1 - env.rebalance_every}: the shortest training window "
                f"({days} days, walk_forward.train) must hold window days of history and "
                f"one decision of rebalance_every={env.rebalance_every} days",
            )  # fmt: skip
    config.report.check_market(market)  # an index with no date in common, before training
    return folds


def _fail_data(key: str, value: Any, expected: str) -> None:
    raise ConfigError(f"{key}: {value!r} does not fit the data; expected {expected}")


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
    backend: str = "local",
    address: str | None = None,
    threads: int = 1,
) -> list[Path]:
    """Train (or find already saved) every agent on every fold; no backtest.

    A later ``run_experiment`` with the same config loads these models. ``backend``,
    ``address`` and ``threads`` as in :func:`run_experiment`.
    """
    _check_backend(backend, address, threads)
    prepared = _prepare_on(backend, address, config, fresh, progress, verbose)
    if backend == "ray":
        with prepared:
            return _train_on(backend, prepared, address, threads, progress, verbose)
    config, market, features, _, folds = prepared
    bar = _training_bar(config, len(folds), progress)
    saved = []
    try:
        with torch_threads(threads):
            for policy in build_policies(config, progress=bar.update).values():
                if not hasattr(policy, "checkpoint_dir"):
                    continue
                for train, _ in folds:
                    sl = slice(int(train[0]), int(train[-1]) + 1)
                    policy.fit(market[sl], features[sl])
                    saved.append(policy.checkpoint_dir / policy.fold_key(market[sl]))
    finally:
        bar.close()
        prepared.release()
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
