"""Daily record of an episode: the :class:`Track` the backtester concatenates across folds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocgym._typing import BoolArray, FloatArray, IntArray

__all__ = ["Track"]


@dataclass(frozen=True, eq=False)
class Track:
    """What a portfolio did on every trading day of an episode so far.

    Row ``j`` describes the day ending at the close of ``dates[j]``: its return includes
    the cost of the trade made at the previous close when ``traded[j]`` is True.

    Attributes
    ----------
    dates : pandas.DatetimeIndex, shape (n_days,)
    net_returns : ndarray, shape (n_days,)
        ``W_j / W_{j-1} - 1`` after costs.
    gross_returns : ndarray, shape (n_days,)
        The day's return before costs, ``sum_i w_i r_{j,i}`` (cash earns the risk-free rate).
    costs : ndarray, shape (n_days,)
        ``1 - mu`` of the trade at the previous close (0 on days without a trade):
        cost as a fraction of the wealth before the trade.
    turnover : ndarray, shape (n_days,)
        ``sum_{i>=1} |mu w_i - w'_i|`` of that trade (0 on days without a trade).
    weights : ndarray, shape (n_days, n_assets + 1)
        Weights at the close of ``dates[j]`` after drifting (index 0 = cash).
    wealth : ndarray, shape (n_days,)
        Wealth at the close of ``dates[j]``.
    traded : ndarray of bool, shape (n_days,)
        True on the first day after each decision.
    assets : tuple of str
    initial_wealth : float
        Wealth at the close before ``dates[0]`` (the episode's start).
    """

    dates: pd.DatetimeIndex
    net_returns: FloatArray
    gross_returns: FloatArray
    costs: FloatArray
    turnover: FloatArray
    weights: FloatArray
    wealth: FloatArray
    traded: BoolArray
    assets: tuple[str, ...]
    initial_wealth: float = 1.0

    def __len__(self) -> int:
        return len(self.dates)

    def to_frame(self) -> pd.DataFrame:
        """Returns, costs, turnover and wealth as a DataFrame indexed by date."""
        return pd.DataFrame(
            {
                "net_return": self.net_returns,
                "gross_return": self.gross_returns,
                "cost": self.costs,
                "turnover": self.turnover,
                "wealth": self.wealth,
                "traded": self.traded,
            },
            index=self.dates,
        )

    def weights_frame(self) -> pd.DataFrame:
        """End-of-day weights, columns ``cash`` then the assets."""
        return pd.DataFrame(self.weights, index=self.dates, columns=["cash", *self.assets])


class _Recorder:
    """Per-day records of an episode, filled by the environment's step.

    ``rows`` holds one tuple (date index, gross return, net return, cost, turnover,
    wealth, traded) per day (appending a tuple is ~20x cheaper than writing a numpy row).
    ``sources`` holds per day either the target weights of the trade at the previous
    close (``drift`` True: the end-of-day weights are derived in :meth:`track` as
    ``w * (1 + r) / sum(w * (1 + r))``) or the end-of-day weights themselves.
    """

    def __init__(self, n_assets: int) -> None:
        self.rows: list[tuple[float, ...]] = []
        self.sources: list[FloatArray] = []
        self.drift: list[bool] = []
        self.n_assets = n_assets
        self.initial_wealth = 1.0

    @property
    def n(self) -> int:
        return len(self.rows)

    def clear(self, initial_wealth: float) -> None:
        self.rows, self.sources, self.drift = [], [], []
        self.initial_wealth = initial_wealth

    def track(self, dates: pd.DatetimeIndex, assets: tuple[str, ...], growth: FloatArray) -> Track:
        n = len(self.rows)
        rows = np.array(self.rows, dtype=np.float64).reshape(n, 7)
        index: IntArray = rows[:, 0].astype(np.int64)
        weights = np.array(self.sources, dtype=np.float64).reshape(n, self.n_assets + 1)
        drift = np.array(self.drift, dtype=bool)
        if drift.any():
            held = weights[drift] * growth[index[drift]]
            weights[drift] = held / held.sum(axis=1, keepdims=True)
        return Track(
            dates=dates[index],
            net_returns=rows[:, 2].copy(),
            gross_returns=rows[:, 1].copy(),
            costs=rows[:, 3].copy(),
            turnover=rows[:, 4].copy(),
            weights=weights,
            wealth=rows[:, 5].copy(),
            traded=rows[:, 6] > 0.5,
            assets=assets,
            initial_wealth=self.initial_wealth,
        )
