"""`Results`: everything a backtest measured, saved to and loaded from a folder."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from allocgym._io import atomic_write

# atomic_write lives in allocgym._io; still exported here for code that imports it from here
__all__ = ["Results", "atomic_write"]


@dataclass(frozen=True, eq=False)
class Results:
    """Out-of-sample tracks of every policy, their metrics and statistics, and the config.

    Attributes
    ----------
    metrics : pandas.DataFrame
        One row per policy: the columns of :func:`allocgym.backtest.metrics.summary`,
        ``fallbacks`` and the statistics of :func:`allocgym.backtest.stats.sharpe_tests`
        (``lw_p_value`` against the benchmark, ``psr``, ``dsr``, Sharpe CI).
    returns : pandas.DataFrame
        Daily net returns, dates × policies.
    gross_returns, costs, turnover : pandas.DataFrame
        Daily gross returns, cost (fraction of wealth) and one-way turnover, dates × policies.
    weights : dict of str to pandas.DataFrame
        Per policy, end-of-day weights (dates × ``cash`` + assets).
    fallbacks : dict of str to int
        Optimiser failures per policy (the previous weights were kept).
    config : dict
        The resolved configuration of the run (data, splitter, costs, policies, ...).
    """

    metrics: pd.DataFrame
    returns: pd.DataFrame
    gross_returns: pd.DataFrame
    costs: pd.DataFrame
    turnover: pd.DataFrame
    weights: dict[str, pd.DataFrame]
    fallbacks: dict[str, int]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def policies(self) -> list[str]:
        return list(self.returns.columns)

    @property
    def wealth(self) -> pd.DataFrame:
        """Wealth paths from 1, dates × policies."""
        return (1.0 + self.returns).cumprod()

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``metrics.csv``, ``returns.parquet``, ``weights.parquet``, ``config.yaml``.

        ``returns.parquet`` is long: (date, policy, net_return, gross_return, cost,
        turnover); ``weights.parquet`` is long: (date, policy, cash, assets...). Every file
        is written atomically.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "metrics.csv", lambda p: self.metrics.to_csv(p))
        long = pd.concat(
            {
                name: pd.DataFrame(
                    {
                        "net_return": self.returns[name],
                        "gross_return": self.gross_returns[name],
                        "cost": self.costs[name],
                        "turnover": self.turnover[name],
                    }
                )
                for name in self.policies
            },
            names=["policy", "date"],
        ).reset_index()
        atomic_write(folder / "returns.parquet", lambda p: long.to_parquet(p, index=False))
        w = pd.concat(self.weights, names=["policy", "date"]).reset_index()
        atomic_write(folder / "weights.parquet", lambda p: w.to_parquet(p, index=False))
        cfg = {**self.config, "fallbacks": {k: int(v) for k, v in self.fallbacks.items()}}
        atomic_write(
            folder / "config.yaml",
            lambda p: Path(p).write_text(yaml.safe_dump(_plain(cfg), sort_keys=False)),
        )
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Results:
        """Read a folder written by :meth:`save`."""
        folder = Path(folder)
        missing = [
            f
            for f in ("metrics.csv", "returns.parquet", "weights.parquet", "config.yaml")
            if not (folder / f).is_file()
        ]
        if missing:
            raise FileNotFoundError(
                f"{folder} is not a results folder: missing {', '.join(missing)}"
            )
        metrics = pd.read_csv(folder / "metrics.csv", index_col="policy")
        long = pd.read_parquet(folder / "returns.parquet")
        order = list(dict.fromkeys(long["policy"]))

        def wide(col: str) -> pd.DataFrame:
            out = long.pivot(index="date", columns="policy", values=col)[order]
            out.columns.name = None
            return out

        w = pd.read_parquet(folder / "weights.parquet")
        weights = {
            name: g.drop(columns="policy").set_index("date") for name, g in w.groupby("policy")
        }
        config = yaml.safe_load((folder / "config.yaml").read_text()) or {}
        fallbacks = config.pop("fallbacks", {})
        return cls(
            metrics=metrics,
            returns=wide("net_return"),
            gross_returns=wide("gross_return"),
            costs=wide("cost"),
            turnover=wide("turnover"),
            weights={k: weights[k] for k in order},
            fallbacks={k: int(v) for k, v in fallbacks.items()},
            config=config,
        )


def _plain(x: Any) -> Any:
    """Config values as YAML-safe builtins (numpy scalars, tuples, timestamps)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, pd.Timestamp):
        return str(x.date())
    if x is None or isinstance(x, bool | int | float | str):
        return x
    return str(x)
