"""The `Policy` protocol shared by baselines and RL agents, and the `PolicyState` they see.

A policy is anything with ``reset()`` and ``act(state) -> target weights``; it may also
have ``fit(train_market, train_features)``, which the backtester calls at the start of
every walk-forward fold with the training slice only, and ``observed_features(market,
features)``, the part of the feature panel it sees (an RL agent's ``observe``: the
predictor ablation); the backtester then builds its observations, states and training
slices from that part only. Weights follow the project
convention: shape ``(n_assets + 1,)``, index 0 = cash, then ``MarketData.assets`` order.

Rebalancing schedule: the backtester steps the environment one trading day at a time
and asks every policy for target weights at every close. A policy that trades less
often (the baselines rebalance every 21 days by default) returns the current drifted
weights ``state.weights`` between its rebalances; trading to the weights one already
holds has zero turnover and costs nothing, so the schedule lives in the policy, not in
the accounting engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from allocgym._typing import BoolArray, FloatArray
from allocgym.data import MarketData
from allocgym.predictors.panel import FeaturePanel

__all__ = ["FittablePolicy", "Policy", "PolicyState", "observed_features"]


@dataclass(frozen=True, eq=False)
class PolicyState:
    """What a policy may see at the close of decision date ``t``: data dated <= t only.

    Attributes
    ----------
    t : int
        Position of the decision date in the full market the backtest runs on.
    date : pandas.Timestamp
        The decision date (``history.dates[-1]``).
    history : MarketData
        ``market[: t + 1]``: prices and returns up to and including ``t`` (views, no copy).
        ``history.returns[-1]`` is the return earned from close t-1 to close t.
    features : FeaturePanel or None
        ``panel[: t + 1]``: the point-in-time features up to ``t``, or None.
    weights : ndarray of float64, shape (n_assets + 1,)
        Current weights after drifting with prices to the close of ``t`` (index 0 = cash).
    wealth : float
        Portfolio value at the close of ``t`` (1.0 at the start of the backtest).
    observation : object, optional
        The environment's observation at ``t`` (what an RL agent acts on); built from
        data dated <= t by the environment, None outside a backtest.

    Point in time by construction: nothing after ``t`` is reachable from the state.
    """

    t: int
    date: pd.Timestamp
    history: MarketData
    features: FeaturePanel | None
    weights: FloatArray
    wealth: float = 1.0
    observation: Any = None

    @classmethod
    def at(
        cls,
        market: MarketData,
        t: int,
        weights: FloatArray,
        features: FeaturePanel | None = None,
        wealth: float = 1.0,
        observation: Any = None,
    ) -> PolicyState:
        """The state at position ``t`` of ``market`` (and of ``features``, same dates)."""
        if not 0 <= t < market.n_dates:
            raise ValueError(f"t={t} is outside the market's 0..{market.n_dates - 1}")
        w = np.array(weights, dtype=np.float64)
        w.flags.writeable = False
        return cls(
            t=int(t),
            date=market.dates[t],
            history=market[: t + 1],
            features=None if features is None else features[: t + 1],
            weights=w,
            wealth=float(wealth),
            observation=observation,
        )

    @property
    def n_assets(self) -> int:
        return self.history.n_assets

    @property
    def available(self) -> BoolArray:
        """Assets with a price at ``t``, shape (n_assets,); only these may get weight."""
        return self.history.available[-1]


@runtime_checkable
class Policy(Protocol):
    """Maps a point-in-time state to target weights of shape (n_assets + 1,)."""

    def reset(self) -> None:
        """Forget everything learnt from a previous run (schedules, last weights)."""

    def act(self, state: PolicyState) -> FloatArray:
        """Target weights at the close of ``state.t``; index 0 = cash, sum 1, >= 0."""


@runtime_checkable
class FittablePolicy(Policy, Protocol):
    """A policy that learns from a training slice (RL agents train; baselines may estimate)."""

    def fit(self, market: MarketData, features: FeaturePanel | None = None) -> FittablePolicy:
        """Learn from ``market`` (the fold's training part) only; return self."""


def observed_features(
    policy: Any, market: MarketData, features: FeaturePanel | None
) -> FeaturePanel | None:
    """The feature panel ``policy`` sees: its ``observed_features(market, features)`` when
    it has one (an agent that observes a subset of the predictors), else ``features``."""
    select = getattr(policy, "observed_features", None)
    if features is None or not callable(select):
        return features
    return select(market, features)
