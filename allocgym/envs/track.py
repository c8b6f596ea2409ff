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
    """Preallocated per-day arrays the environment fills during an episode.

    ``rows[j]`` holds (date index, gross return, net return, cost, turnover, wealth,
    traded) so that recording one day is a single row assignment.
    """

    INDEX, GROSS, NET, COST, TURNOVER, WEALTH, TRADED = range(7)

    def __init__(self, capacity: int, n_assets: int) -> None:
        self.rows = np.zeros((capacity, 7))
        self.weights = np.zeros((capacity, n_assets + 1))
        self.n = 0
        self.initial_wealth = 1.0

    def clear(self, initial_wealth: float) -> None:
        self.n = 0
        self.initial_wealth = initial_wealth

    def track(self, dates: pd.DatetimeIndex, assets: tuple[str, ...]) -> Track:
        n = self.n
        rows = self.rows[:n]
        index: IntArray = rows[:, self.INDEX].astype(np.int64)
        return Track(
            dates=dates[index],
            net_returns=rows[:, self.NET].copy(),
            gross_returns=rows[:, self.GROSS].copy(),
            costs=rows[:, self.COST].copy(),
            turnover=rows[:, self.TURNOVER].copy(),
            weights=self.weights[:n].copy(),
            wealth=rows[:, self.WEALTH].copy(),
            traded=rows[:, self.TRADED] > 0.5,
            assets=assets,
            initial_wealth=self.initial_wealth,
        )
