"""One trial of a sweep: a validation pass, then the experiment runner on the variant.

A trial is the experiment config with the sampled parameters substituted and the
agent's seeds set to the trial's seed. It runs in ``<sweep>/trials/<trial_id>/``:

1. **Validation** (what the search optimises). On every walk-forward fold the agent
   trains on the fold's training part minus its last ``validation`` days (and the
   purge gap) and is backtested on those days, or, with ``sweep.cv`` purged k-fold or
   combinatorial purged cross-validation (CPCV), trains once per split of the training
   part and is backtested on the split's test block(s); the metric is the annualised
   Sharpe ratio of the validation returns of the folds seen so far (with CPCV, its
   mean over the backtest paths), reported after each fold (ASHA can stop a trial
   there); the validation turnover is recorded beside it (for
   ``sweep.max_turnover``). The test windows are never used to choose.
2. **Out of sample**: :func:`allocgym.experiment.run_experiment` on the variant config,
   the function behind ``allocgym run`` (results, report, TensorBoard, saved models).

The outcome, including a crash and its error, is written to ``trial.json``; a trial
whose ``trial.json`` says ``ok`` (or ``stopped``, by ASHA) is finished and is skipped
by a rerun.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from allocgym._io import atomic_write
from allocgym._threads import torch_threads
from allocgym.exceptions import ConfigError, DataError
from allocgym.experiment.config import ExperimentConfig, load_config
from allocgym.experiment.sweep_config import CrossValidation, SweepConfig
from allocgym.sweep.space import Trial, apply_params

__all__ = [
    "OOS_METRICS",
    "Validation",
    "read_record",
    "run_trial",
    "trial_config",
    "validation_pass",
]

OOS_METRICS = ("sharpe", "ann_return", "ann_volatility", "max_drawdown", "turnover")
RECORD = "trial.json"

Reporter = Callable[[dict[str, Any]], None]


@dataclasses.dataclass(frozen=True)
class Validation:
    """What :func:`validation_pass` measured.

    Attributes
    ----------
    sharpe : list of float
        The annualised Sharpe ratio of the validation returns of folds ``0..k``, for
        each fold ``k`` (the last is the trial's metric). With combinatorial purged
        cross-validation: the mean over the backtest paths of each path's Sharpe ratio
        on folds ``0..k``.
    turnover : list of float
        The turnover of each validation backtest (one per fold with the hold-out, one
        per fold and split with purged k-fold, one per fold, split and test group with
        combinatorial purged cross-validation, in that order: folds, then splits in
        :meth:`~allocgym.backtest.CombinatorialPurgedKFold.test_groups` order, then
        groups in increasing order): one-way traded fraction of wealth per year, as in
        the report's ``turnover`` column.
    path_sharpe : list of float
        Combinatorial purged cross-validation only (empty otherwise): the Sharpe ratio
        of each backtest path ``p`` on all folds (path ``p`` of every fold joined), in
        path order; ``sharpe[-1]`` is their mean.
    """

    sharpe: list[float]
    turnover: list[float]
    path_sharpe: list[float] = dataclasses.field(default_factory=list)

    @property
    def mean_turnover(self) -> float:
        """Mean validation turnover per year over the backtests (equal windows with the
        hold-out; k-fold blocks and CPCV groups differ by the first one's ``window``
        days of history)."""
        return float(np.mean(self.turnover)) if self.turnover else float("nan")


def trial_config(base: ExperimentConfig, trial: Trial, trials_dir: Path) -> ExperimentConfig:
    """The experiment config of ``trial``: ``base`` with its parameters and seed.

    Raises :class:`~allocgym.exceptions.ConfigError` when a substituted value is invalid.
    """
    data = base.to_dict()
    data["sweep"] = None
    data = apply_params(data, trial.params)
    if len(data["agents"]) != 1:
        raise ConfigError(
            f"agents: {len(data['agents'])} agents is invalid for a sweep; expected exactly "
            "one agent to tune (baselines are fine)"
        )
    data["agents"][0]["seeds"] = [trial.seed]
    data["name"] = trial.trial_id
    data["output_dir"] = str(trials_dir)
    try:
        return load_config(data)
    except ConfigError as exc:
        raise ConfigError(f"trial {trial.trial_id} {trial.params}: {exc}") from None


def validation_pass(
    config: ExperimentConfig,
    market: Any,
    features: Any,
    folds: list[tuple[np.ndarray, np.ndarray]],
    validation: int,
    report: Reporter | None = None,
    cv: CrossValidation | None = None,
) -> Validation:
    """Validation Sharpe after each fold (running, on the validation days seen so far),
    and each validation backtest's turnover.

    With the hold-out (``cv`` None or ``kind: holdout``) each fold's training part
    ``[a, b)`` is split into ``[a, b - v - purge)`` to train and ``[b - v, b)`` to
    evaluate (``v = validation``). With ``kind: purged_kfold`` the part is split by
    :class:`~allocgym.backtest.PurgedKFold` (``horizon = purge + 1``, ``cv.embargo``),
    and every test block is evaluated with the agent trained on the purged rows around
    it (:func:`_purged_kfold`). With ``kind: combinatorial_purged`` the part is split
    by :class:`~allocgym.backtest.CombinatorialPurgedKFold` in the same way, every test
    group of a split is evaluated on its own, and the groups' returns are strung into
    the splitter's backtest paths (:func:`_combinatorial_purged`); the metric is then
    the mean over the paths of the Sharpe ratio of each path's returns on the folds
    seen so far. All go through the same :func:`~allocgym.backtest.backtest` and
    environment settings as ``allocgym run``. Models and TensorBoard curves go to
    ``<trial>/validation/``.
    """
    from allocgym.backtest.metrics import sharpe_ratio
    from allocgym.experiment.runner import build_policies

    cv = CrossValidation() if cv is None else cv
    val_config = dataclasses.replace(config, output_dir=str(config.run_dir), name="validation")
    agents = {k: p for k, p in build_policies(val_config).items() if hasattr(p, "checkpoint_dir")}
    paths: dict[int, list[np.ndarray]] = defaultdict(list)  # path: returns of folds 0..k
    running: list[float] = []
    turnover: list[float] = []
    path_sharpe: list[float] = []
    for k, (train, _) in enumerate(folds):
        sub = slice(int(train[0]), int(train[-1]) + 1)
        part = (market[sub], None if features is None else features[sub])
        fold: dict[int, dict[int, np.ndarray]] = defaultdict(dict)  # path: group: returns
        for path, group, res in _fold_backtests(config, agents, part, validation, cv, k):
            fold[path][group] = res.returns.mean(axis=1).to_numpy()
            turnover.append(float(res.metrics["turnover"].mean()))
        for path, groups in fold.items():
            paths[path] += [groups[g] for g in sorted(groups)]
        path_sharpe = [sharpe_ratio(np.concatenate(paths[p])) for p in sorted(paths)]
        running.append(float(np.mean(path_sharpe)))
        if report is not None and k < len(folds) - 1:
            report({"val_sharpe": _finite(running[-1]), "fold": k + 1})
    # the hold-out and purged k-fold have one path, whose Sharpe ratio is the metric
    paths_of_cpcv = path_sharpe if cv.kind == "combinatorial_purged" else []
    return Validation(running, turnover, paths_of_cpcv)


_Part = tuple[Any, Any]  # a training part's (MarketData, FeaturePanel or None)
_Tests = list[tuple[str, np.ndarray]]  # a split's test groups: (name suffix, rows)


def _fold_backtests(
    config: ExperimentConfig,
    agents: dict,
    part: _Part,
    validation: int,
    cv: CrossValidation,
    k: int,
) -> Iterator[tuple[int, int, Any]]:
    """Every validation backtest of fold ``k`` as ``(path, group, result)``: the
    results of a path, in group order, make its validation returns on the fold (one
    path, groups in time order, with the hold-out and purged k-fold)."""
    if cv.kind == "holdout":
        yield 0, 0, _holdout(config, agents, part, validation, k)
    elif cv.kind == "purged_kfold":
        for j, res in enumerate(_purged_kfold(config, agents, part, cv, k)):
            yield 0, j, res
    else:
        yield from _combinatorial_purged(config, agents, part, cv, k)


def _holdout(config: ExperimentConfig, agents: dict, part: _Part, validation: int, k: int) -> Any:
    """Train on the part minus its last ``validation`` days and the purge; test on them."""
    from allocgym.backtest import WalkForward

    market, features = part
    purge = config.walk_forward.purge
    fit_days = market.n_dates - validation - purge
    if fit_days <= config.env.window + 1:
        raise ConfigError(
            f"sweep.validation: {validation} is invalid; the {market.n_dates}-day training "
            f"part leaves {fit_days} days to train on, expected more than window + 1 = "
            f"{config.env.window + 1}"
        )
    splitter = WalkForward(fit_days, validation, purge=purge)
    return _validation_backtest(config, agents, (market, features), splitter, f"fold {k}")


def _purged_kfold(
    config: ExperimentConfig, agents: dict, part: _Part, cv: CrossValidation, k: int
) -> Iterator[Any]:
    """One validation backtest per split of :class:`~allocgym.backtest.PurgedKFold`,
    whose test block is the split's one test group (:func:`_split_backtests`)."""
    from allocgym.backtest import PurgedKFold

    splitter = PurgedKFold(cv.n_splits, config.walk_forward.purge + 1, cv.embargo)
    splits = [(train, [("", test)]) for train, test in splitter.split(part[0].n_dates)]
    return _split_backtests(config, agents, part, cv, splits, k)


def _combinatorial_purged(
    config: ExperimentConfig, agents: dict, part: _Part, cv: CrossValidation, k: int
) -> Iterator[tuple[int, int, Any]]:
    """One validation backtest per split of
    :class:`~allocgym.backtest.CombinatorialPurgedKFold` and test group ``g`` of the
    split (:func:`_split_backtests`; an agent trained per split), as
    ``(path, g, result)`` with the path of ``path_assignments()[split, g]``.
    """
    from allocgym.backtest import CombinatorialPurgedKFold

    n = part[0].n_dates
    splitter = CombinatorialPurgedKFold(
        cv.n_groups, cv.n_test_groups, config.walk_forward.purge + 1, cv.embargo
    )
    # the splitter's groups: np.array_split of the rows, as CombinatorialPurgedKFold cuts them
    groups = np.array_split(np.arange(n, dtype=np.int64), cv.n_groups)
    chosen = splitter.test_groups()
    splits = [
        (train, [(f" group {g}", groups[g]) for g in test_groups])
        for (train, _), test_groups in zip(splitter.split(n), chosen, strict=True)
    ]
    paths = splitter.path_assignments()
    order = [(int(paths[i, g]), g) for i, test_groups in enumerate(chosen) for g in test_groups]
    results = _split_backtests(config, agents, part, cv, splits, k)
    for (path, g), res in zip(order, results, strict=True):
        yield path, g, res


def _split_backtests(
    config: ExperimentConfig,
    agents: dict,
    part: _Part,
    cv: CrossValidation,
    splits: list[tuple[np.ndarray, _Tests]],
    k: int,
) -> Iterator[Any]:
    """Per split ``(train, tests)`` of the part, fit the agents on ``train`` and yield one
    validation backtest per test group in ``tests``, in order.

    The agents are fitted on the split's training rows, one block per contiguous run
    (``RLAgent.fit_blocks``: no episode spans a test group), then stepped over each
    test group ``[s, e]`` of the part cut after it (rows ``<= e``): decisions at
    ``max(s, window)..e - 1`` (the first group keeps its first ``window`` days as
    history), returns dated ``s + 1..e``. The training env never reads a price past its
    block and the test returns only prices ``s..e``, so ``horizon = purge + 1`` leaves
    the hold-out's gap of ``purge`` days on each side of a test block, and the embargo
    drops the ``embargo`` days after it, whose features look back into it. Every split
    is checked (:func:`_check_split`) before any training.
    """
    market, features = part
    env = config.env
    plans = []
    for j, (train, tests) in enumerate(splits):
        blocks = np.split(train, np.flatnonzero(np.diff(train) > 1) + 1)
        windows = []
        for suffix, test in tests:
            first, stop = max(int(test[0]), env.window), int(test[-1]) + 1
            where = f"split {j}{suffix} of the {market.n_dates}-day training part of fold {k}"
            _check_split(env, cv, [len(b) for b in blocks], int(test[0]), stop, where)
            windows.append((f"fold {k} split {j}{suffix}", first, stop))
        plans.append((blocks, windows))
    for blocks, windows in plans:
        for agent in agents.values():
            agent.fit_blocks([(market[_rows(b)], _sliced(features, b)) for b in blocks])
        for name, first, stop in windows:
            cut = (market[:stop], None if features is None else features[:stop])
            yield _validation_backtest(config, agents, cut, _TestBlock(first, stop), name)


def _validation_backtest(
    config: ExperimentConfig, agents: dict, part: _Part, splitter: Any, where: str
) -> Any:
    """One silent validation backtest of ``agents`` on a training part (hold-out, split
    or test group)."""
    from allocgym.backtest import backtest

    market, features = part
    return backtest(
        agents,
        market,
        features,
        splitter=splitter,
        env=config.env,
        n_boot=10,
        name=f"{config.name} validation {where}",
        progress=False,
    )


def _check_split(
    env: Any, cv: CrossValidation, days: list[int], start: int, stop: int, where: str
) -> None:
    """Refuse a split whose training blocks hold no training decision, or whose test
    block (or group) ``[start, stop)`` has no return after the part's first ``window``
    days."""
    need = env.window + env.rebalance_every + 1
    if min(days) < need or stop - max(start, env.window) < 2:
        raise ConfigError(
            f"sweep.cv: {cv.to_dict()} is invalid; {where} trains on blocks of {days} days "
            f"and tests on rows {start}..{stop - 1}, expected blocks of at least window + "
            f"rebalance_every + 1 = {need} days and a test block reaching 2 days past row "
            f"window = {env.window} (fewer splits or groups, or a shorter embargo)"
        )


@dataclasses.dataclass(frozen=True)
class _TestBlock:
    """A splitter of one test window ``[start, stop)`` with no training rows: the
    backtest fits a policy only on a non-empty training part, so the agents fitted on
    the purged blocks are stepped as they are."""

    start: int
    stop: int

    @property
    def test(self) -> int:
        return self.stop - self.start

    stride = test  # one window: no overlap

    def split(self, n_samples: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield np.empty(0, dtype=np.int64), np.arange(self.start, self.stop, dtype=np.int64)


def _rows(block: np.ndarray) -> slice:
    return slice(int(block[0]), int(block[-1]) + 1)


def _sliced(features: Any, block: np.ndarray) -> Any:
    return None if features is None else features[_rows(block)]


def run_trial(
    base: ExperimentConfig,
    trial: Trial,
    root: Path,
    validation: int,
    report: Reporter | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run ``trial`` of the sweep in ``root`` and return (and save) its record.

    Never raises for a failing trial: the record then has ``status: "error"`` and the
    error, so that the sweep goes on. ``report`` receives the validation metric after
    each fold but the last, and the whole record at the end (Ray Tune's ``report``).
    ``threads`` (the trial's CPUs) caps torch's threads while the trial runs: the
    floating-point sums, hence the trained agents, then do not depend on the backend.
    """
    with torch_threads(None if threads is None else max(1, int(threads))):
        return _run_trial(base, trial, root, validation, report)


def _run_trial(
    base: ExperimentConfig,
    trial: Trial,
    root: Path,
    validation: int,
    report: Reporter | None,
) -> dict[str, Any]:
    from allocgym.experiment.runner import prepare_run, run_experiment

    record: dict[str, Any] = {
        "trial_id": trial.trial_id,
        "config_id": trial.config_id,
        "seed": trial.seed,
        "params": trial.params,
        "status": "running",
    }
    start = time.perf_counter()
    trial_dir = root / "trials" / trial.trial_id
    try:
        config = trial_config(base, trial, root / "trials")
        record["label"] = config.agents[0].display

        def provisional(metrics: dict[str, Any]) -> None:
            record.update(metrics)
            _write(trial_dir, record)
            if report is not None:
                report(metrics)

        with prepare_run(config, progress=False, verbose=False) as prepared:
            config, market, features, _, folds = prepared
            cv = None if base.sweep is None else SweepConfig.from_dict(base.sweep).cv
            val = validation_pass(config, market, features, folds, validation, provisional, cv)
            record["val_sharpe"] = _finite(val.sharpe[-1])
            record["val_sharpe_folds"] = [_finite(x) for x in val.sharpe]
            record["val_turnover"] = _finite(val.mean_turnover)
            record["val_turnover_folds"] = [_finite(x) for x in val.turnover]
            record["val_sharpe_paths"] = [_finite(x) for x in val.path_sharpe]
            results = run_experiment(config, progress=False, verbose=False)
        row = results.metrics.loc[record["label"]]
        record["oos"] = {m: _finite(row[m]) for m in OOS_METRICS if m in row.index}
        record["status"] = "ok"
    except Exception as exc:  # a crashing trial is recorded and the sweep goes on
        record["status"] = "error"
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
    record["elapsed_s"] = round(time.perf_counter() - start, 3)
    _write(trial_dir, record)
    if report is not None:
        report(_final_metrics(record))
    return record


def _final_metrics(record: dict[str, Any]) -> dict[str, Any]:
    out = {
        "val_sharpe": record.get("val_sharpe", float("nan")),
        "fold": len(record.get("val_sharpe_folds", [])),
        "status": record["status"],
    }
    out.update({f"oos_{k}": v for k, v in record.get("oos", {}).items()})
    return out


def _finite(x: Any) -> float:
    x = float(x)
    return x if np.isfinite(x) else float("nan")


def _write(trial_dir: Path, record: dict[str, Any]) -> None:
    trial_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=2, default=str)
    atomic_write(trial_dir / RECORD, lambda tmp: Path(tmp).write_text(text))


def read_record(trial_dir: Path) -> dict[str, Any] | None:
    """The saved record of a trial, or None if it never started."""
    path = Path(trial_dir) / RECORD
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(
            f"{path}: unreadable trial record ({exc}). {redo_trial(trial_dir)}"
        ) from None


def redo_trial(trial_dir: Path) -> str:
    """What to do about a damaged file of a trial: run that trial again."""
    return (
        f"Delete the folder {trial_dir} and run `allocgym sweep` again: it resumes and "
        "re-runs only that trial"
    )
