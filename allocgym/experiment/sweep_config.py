"""`SweepConfig`: the ``sweep:`` section of an experiment config, typed and validated.

::

    sweep:
      search: grid                 # grid | random | optuna (Ray Tune + optuna)
      num_samples: 1               # random/optuna: configurations drawn (per grid point)
      seeds: [0, 1]                # every configuration is trained once per seed
      validation: 126              # days at the end of each fold's training part
      scheduler: fifo              # fifo | asha (Ray Tune early stopping, per fold)
      resources: {cpu: 1, gpu: 0}  # per trial
      num_cpus: 2                  # CPUs of the local Ray instance (default: all)
      max_turnover: 5.0            # select only configurations trading <= 5x a year
                                   # on the validation days (default: no limit)
      cv: {kind: purged_kfold, n_splits: 3, embargo: 5}
                                   # default {kind: holdout}: the last `validation` days;
                                   # or {kind: combinatorial_purged, n_groups: 6,
                                   #     n_test_groups: 2, embargo: 5}
      space:                       # dotted paths into the experiment config
        agents.0.hyperparameters.learning_rate: {loguniform: [1.0e-5, 1.0e-3]}
        agents.0.hyperparameters.gamma: [0.95, 0.99]           # a list = grid / choice
        env.reward: {choice: [log_return, differential_sharpe]}
        agents.0.hyperparameters.n_epochs: {randint: [1, 10]}  # high excluded
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field
from typing import Any

from allocgym.exceptions import ConfigError

__all__ = [
    "CV_KINDS",
    "DISTRIBUTIONS",
    "SCHEDULERS",
    "SEARCHES",
    "CrossValidation",
    "Dimension",
    "SweepConfig",
]

SEARCHES = ("grid", "random", "optuna")
SCHEDULERS = ("fifo", "asha")
DISTRIBUTIONS = ("grid", "choice", "uniform", "loguniform", "randint")
CV_KINDS = ("holdout", "purged_kfold", "combinatorial_purged")
# the keys of each kind, in to_dict order, and the lowest value of each integer key
_CV_KEYS = {
    "holdout": ("kind",),
    "purged_kfold": ("kind", "n_splits", "embargo"),
    "combinatorial_purged": ("kind", "n_groups", "n_test_groups", "embargo"),
}
_CV_LOW = {"n_splits": 2, "n_groups": 2, "n_test_groups": 1, "embargo": 0}


def _fail(path: str, value: Any, expected: str) -> typing.NoReturn:
    raise ConfigError(f"{path}: {value!r} is invalid; expected {expected}")


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: ``kind`` in :data:`DISTRIBUTIONS` and its values or bounds.

    ``grid``/``choice`` hold the candidate values; ``uniform``/``loguniform`` hold
    ``(low, high)``; ``randint`` holds ``(low, high)`` with ``high`` excluded (as in
    ``numpy`` and Ray Tune).
    """

    kind: str
    values: tuple[Any, ...]

    @property
    def discrete(self) -> bool:
        return self.kind in ("grid", "choice")

    @classmethod
    def from_yaml(cls, data: Any, path: str) -> Dimension:
        if isinstance(data, list):
            if not data:
                _fail(path, data, "a non-empty list of values")
            return cls("choice", tuple(data))  # crossed by grid search, drawn by random
        if not (isinstance(data, dict) and len(data) == 1):
            expected = f"a list of values or a mapping {{KIND: ...}}, KIND in {DISTRIBUTIONS}"
            _fail(path, data, expected)
        (kind, args), where = next(iter(data.items())), f"{path}.{next(iter(data))}"
        if kind not in DISTRIBUTIONS:
            _fail(path, kind, f"one of {list(DISTRIBUTIONS)}")
        if not isinstance(args, list) or not args:
            _fail(where, args, "a non-empty list")
        if kind in ("grid", "choice"):
            return cls(kind, tuple(args))
        number = int if kind == "randint" else (int, float)
        if len(args) != 2 or not all(
            isinstance(a, number) and not isinstance(a, bool) for a in args
        ):
            _fail(where, args, "[low, high], two numbers" + (" (integers)" * (kind == "randint")))
        low, high = args
        if not low < high:
            _fail(where, args, "low < high")
        if kind == "loguniform" and low <= 0:
            _fail(where, args, "0 < low < high (log scale)")
        if kind == "randint" and high - low < 1:
            _fail(where, args, "high - low >= 1 (high is excluded)")
        return cls(kind, (low, high))

    def sample(self, rng: Any) -> Any:
        """One draw with ``rng`` (a numpy Generator); values keep their YAML types."""
        if self.discrete:
            return self.values[int(rng.integers(len(self.values)))]
        low, high = self.values
        if self.kind == "uniform":
            return float(rng.uniform(low, high))
        if self.kind == "loguniform":
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        return int(rng.integers(low, high))


@dataclass(frozen=True)
class CrossValidation:
    """How a trial is validated inside each walk-forward fold's training part.

    ``holdout``: train on the part minus its last ``sweep.validation`` days (and the
    purge gap), evaluate on those days. ``purged_kfold``: split the part with
    :class:`~allocgym.backtest.PurgedKFold` (``n_splits`` contiguous test blocks, the
    ``embargo`` days after each dropped from training) and evaluate every block with an
    agent trained on the rest (López de Prado 2018, ch. 7). ``combinatorial_purged``:
    split the part with :class:`~allocgym.backtest.CombinatorialPurgedKFold`
    (``n_groups`` contiguous groups, every choice of ``n_test_groups`` of them tested
    with an agent trained on the rest, purged and embargoed), whose test groups
    assemble into ``C(n_groups - 1, n_test_groups - 1)`` backtest paths (López de
    Prado 2018, ch. 12). Each kind reads only its own keys (:meth:`to_dict`).
    """

    kind: str = "holdout"
    n_splits: int = 3
    embargo: int = 0
    n_groups: int = 6
    n_test_groups: int = 2

    @classmethod
    def from_yaml(cls, data: Any, path: str) -> CrossValidation:
        if not isinstance(data, dict):
            _fail(path, data, f"a mapping {{kind: KIND, ...}}, KIND in {list(CV_KINDS)}")
        kind = data.get("kind")
        if kind not in CV_KINDS:
            _fail(f"{path}.kind", kind, f"one of {list(CV_KINDS)}")
        allowed = list(_CV_KEYS[kind])
        unknown = sorted(set(map(str, data)) - set(allowed))
        if unknown:
            raise ConfigError(
                f"{path}.{unknown[0]}: unknown key for kind {kind}; allowed keys: {allowed}"
            )
        kw = {
            key: _int(data[key], f"{path}.{key}", _CV_LOW[key])
            for key in allowed[1:]
            if key in data
        }
        cv = cls(kind, **kw)
        if kind == "combinatorial_purged" and cv.n_test_groups >= cv.n_groups:
            expected = f"an integer >= 1 and below n_groups = {cv.n_groups}"
            _fail(f"{path}.n_test_groups", cv.n_test_groups, expected)
        return cv

    def to_dict(self) -> dict[str, Any]:
        """The YAML form: ``kind`` and that kind's keys (round-trips through
        :meth:`from_yaml`)."""
        return {key: getattr(self, key) for key in _CV_KEYS[self.kind]}


@dataclass(frozen=True)
class SweepConfig:
    """Search space, search algorithm, seeds, validation window and resources of a sweep.

    A *configuration* is one point of the search space; a *trial* is one configuration
    trained with one seed. The metric optimised is the validation Sharpe ratio: on
    every walk-forward fold the agent trains on the training part minus its last
    ``validation`` days and is evaluated on those days; the test windows are never
    looked at to choose. With ``max_turnover`` set, only configurations whose mean
    validation turnover (one-way, per year) is at most that many times their wealth
    can be selected. ``cv`` replaces that hold-out by purged k-fold or combinatorial
    purged cross-validation inside each training part (:class:`CrossValidation`).
    """

    space: dict[str, Dimension] = field(default_factory=dict)
    search: str = "grid"
    num_samples: int = 1
    seeds: tuple[int, ...] = (0,)
    validation: int = 126
    scheduler: str = "fifo"
    grace_period: int = 1
    resources: dict[str, float] = field(default_factory=lambda: {"cpu": 1.0, "gpu": 0.0})
    num_cpus: int | None = None
    max_concurrent: int | None = None
    max_turnover: float | None = None
    cv: CrossValidation = field(default_factory=CrossValidation)

    @classmethod
    def from_dict(cls, data: Any, path: str = "sweep") -> SweepConfig:
        """Build and validate from the YAML mapping; errors name ``path.key``."""
        if not isinstance(data, dict):
            _fail(path, data, "a mapping with keys " + str(sorted(_FIELDS)))
        unknown = sorted(set(map(str, data)) - set(_FIELDS))
        if unknown:
            raise ConfigError(f"{path}.{unknown[0]}: unknown key; allowed keys: {sorted(_FIELDS)}")
        kw: dict[str, Any] = {}
        space = data.get("space")
        if not isinstance(space, dict) or not space:
            _fail(f"{path}.space", space, "a non-empty mapping {dotted.config.path: values}")
        kw["space"] = {
            str(k): Dimension.from_yaml(v, f"{path}.space.{k}") for k, v in space.items()
        }
        for key, options in (("search", SEARCHES), ("scheduler", SCHEDULERS)):
            if key in data:
                if data[key] not in options:
                    _fail(f"{path}.{key}", data[key], f"one of {list(options)}")
                kw[key] = data[key]
        for key, low in (("num_samples", 1), ("validation", 2), ("grace_period", 1)):
            if key in data:
                kw[key] = _int(data[key], f"{path}.{key}", low)
        for key in ("num_cpus", "max_concurrent"):
            if data.get(key) is not None:
                kw[key] = _int(data[key], f"{path}.{key}", 1)
        if data.get("max_turnover") is not None:
            cap = data["max_turnover"]
            if not isinstance(cap, int | float) or isinstance(cap, bool) or not cap > 0:
                _fail(f"{path}.max_turnover", cap, "a number > 0 (turnover per year) or null")
            kw["max_turnover"] = float(cap)
        if "cv" in data:
            kw["cv"] = CrossValidation.from_yaml(data["cv"], f"{path}.cv")
        if "seeds" in data:
            seeds = data["seeds"]
            if isinstance(seeds, int) and not isinstance(seeds, bool):
                seeds = [seeds]
            if (
                not isinstance(seeds, list)
                or not seeds
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
            ):
                _fail(f"{path}.seeds", data["seeds"], "a non-empty list of integers")
            if len(set(seeds)) != len(seeds):
                _fail(f"{path}.seeds", seeds, "distinct seeds")
            kw["seeds"] = tuple(seeds)
        if "resources" in data:
            kw["resources"] = _resources(data["resources"], f"{path}.resources")
        config = cls(**kw)
        if config.search == "grid":
            for name, dim in config.space.items():
                if not dim.discrete:
                    _fail(
                        f"{path}.space.{name}", {dim.kind: list(dim.values)},
                        "a list of values with search: grid (use search: random or optuna "
                        "to sample distributions)",
                    )  # fmt: skip
        return config

    def to_dict(self) -> dict[str, Any]:
        """The YAML form (round-trips through :meth:`from_dict`)."""
        return {
            "space": {k: {d.kind: list(d.values)} for k, d in self.space.items()},
            "search": self.search,
            "num_samples": self.num_samples,
            "seeds": list(self.seeds),
            "validation": self.validation,
            "scheduler": self.scheduler,
            "grace_period": self.grace_period,
            "resources": dict(self.resources),
            "num_cpus": self.num_cpus,
            "max_concurrent": self.max_concurrent,
            "max_turnover": self.max_turnover,
            "cv": self.cv.to_dict(),
        }


_FIELDS = tuple(SweepConfig.__dataclass_fields__)


def _int(value: Any, path: str, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        _fail(path, value, f"an integer >= {low}")
    return int(value)


def _resources(value: Any, path: str) -> dict[str, float]:
    if not isinstance(value, dict):
        _fail(path, value, "a mapping like {cpu: 1, gpu: 0}")
    out = {"cpu": 1.0, "gpu": 0.0}
    for key, amount in value.items():
        if key not in out:
            _fail(f"{path}.{key}", key, "cpu or gpu")
        if not isinstance(amount, int | float) or isinstance(amount, bool) or amount < 0:
            _fail(f"{path}.{key}", amount, "a number >= 0")
        out[key] = float(amount)
    if out["cpu"] <= 0:
        _fail(f"{path}.cpu", out["cpu"], "a number > 0")
    return out
