"""Search-space expansion (grid, random) and the trials it yields.

Grid search is the Cartesian product of the listed values. Random search crosses the
explicit ``{grid: [...]}`` dimensions and draws ``num_samples`` values of the others
for every grid point (Ray Tune's semantics), from a generator seeded with the
experiment's ``seed`` so that a rerun rebuilds the same trials and can resume them.
Every configuration is then tried once per seed.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from allocgym.exceptions import ConfigError
from allocgym.experiment.sweep_config import SweepConfig

__all__ = ["Trial", "apply_params", "expand", "make_trials"]


@dataclass(frozen=True)
class Trial:
    """One configuration (``params``: dotted path -> value) trained with one ``seed``."""

    config_id: str
    params: dict[str, Any]
    seed: int

    @property
    def trial_id(self) -> str:
        return f"{self.config_id}-s{self.seed}"


def expand(sweep: SweepConfig, seed: int = 0) -> list[dict[str, Any]]:
    """The configurations (dicts dotted path -> value) of a grid or random search.

    Optuna draws its configurations while the sweep runs, so it has none here.
    """
    if sweep.search == "optuna":
        raise ValueError("search='optuna' samples configurations during the sweep")
    names = list(sweep.space)
    explicit = [n for n in names if sweep.space[n].kind == "grid"]
    grid = names if sweep.search == "grid" else explicit
    points = itertools.product(*(sweep.space[n].values for n in grid))
    rng = np.random.default_rng(seed)
    configs = []
    for point in points:
        fixed = dict(zip(grid, point, strict=True))
        repeats = 1 if sweep.search == "grid" else sweep.num_samples
        for _ in range(repeats):
            params = {
                n: fixed[n] if n in fixed else _plain(sweep.space[n].sample(rng)) for n in names
            }
            configs.append(params)
    return configs


def make_trials(configs: list[dict[str, Any]], seeds: tuple[int, ...]) -> list[Trial]:
    """Configurations × seeds, with ids ``c000-s0``, ``c000-s1``, ``c001-s0`` ..."""
    return [Trial(f"c{i:03d}", params, s) for i, params in enumerate(configs) for s in seeds]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def apply_params(base: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A copy of the experiment dict ``base`` with each dotted path set to its value.

    ``agents.0.hyperparameters.gamma`` walks mappings by key and lists by index; the
    last key may be new in a mapping (a hyperparameter the base config leaves at its
    default), every other step must exist.
    """
    out = copy.deepcopy(base)
    for path, value in params.items():
        keys = path.split(".")
        node: Any = out
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            where = ".".join(keys[: depth + 1])
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise ConfigError(
                        f"sweep.space.{path}: {where!r} is invalid; expected an index "
                        f"in [0, {len(node)}) of that list"
                    )
                key = int(key)
            elif isinstance(node, dict):
                if not last and key not in node:
                    node[key] = {}
            else:
                raise ConfigError(
                    f"sweep.space.{path}: {'.'.join(keys[:depth])!r} is {node!r}, not a "
                    "mapping or a list"
                )
            if last:
                node[key] = value
            else:
                node = node[key]
    return out
