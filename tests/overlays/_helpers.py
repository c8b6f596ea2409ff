"""Plain helpers of the overlay tests: a synthetic market, a hand-made panel, a driver."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from allocgym._typing import FloatArray
from allocgym.data import MarketData
from allocgym.envs import PortfolioEnv
from allocgym.policy import PolicyState
from allocgym.predictors.panel import FeaturePanel


def market(n_days: int = 300, n_assets: int = 3, seed: int = 0, vol: float = 0.01) -> MarketData:
    """A market with one common factor (positive correlations), business days from 2020."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0, vol, (n_days, 1))
    r = 0.0003 + common + rng.normal(0.0, vol, (n_days, n_assets))
    prices = 100.0 * np.exp(np.cumsum(r, axis=0))
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    return MarketData.from_prices(prices, dates, tuple(f"A{i}" for i in range(n_assets)))


def panel(
    mkt: MarketData,
    *,
    vol: FloatArray | float | None = None,
    vol_name: str | tuple[str, ...] = "garch_vol",
    regimes: FloatArray | None = None,
    n_regimes: int = 2,
) -> FeaturePanel:
    """A panel with a per-asset volatility forecast ``vol`` (daily; scalar, (n_dates,) or
    (n_dates, n_assets)) and regime probabilities putting 0.9 on the label ``regimes[t]``
    (-1: missing)."""
    n, m = mkt.n_dates, mkt.n_assets
    values = np.zeros((n, m, 0), dtype=np.float32)
    names: tuple[str, ...] = ()
    if vol is not None:
        v = np.asarray(vol, dtype=np.float64)
        v = np.broadcast_to(v if v.ndim != 1 else v[:, None], (n, m))
        names = (vol_name,) if isinstance(vol_name, str) else tuple(vol_name)
        values = np.repeat(v[:, :, None], len(names), axis=2).astype(np.float32)
    market_values = np.zeros((n, 0), dtype=np.float32)
    market_names: tuple[str, ...] = ()
    if regimes is not None:
        probs = np.full((n, n_regimes), 0.1 / (n_regimes - 1))
        labels = np.asarray(regimes)
        probs[np.arange(n), np.maximum(labels, 0)] = 0.9
        probs[labels < 0] = np.nan
        market_values = probs.astype(np.float32)
        market_names = tuple(f"regime_p{k}" for k in range(n_regimes))
    return FeaturePanel(
        dates=mkt.dates, assets=mkt.assets, values=values, feature_names=names,
        market_values=market_values, market_feature_names=market_names,
        available=np.ones((n, m), dtype=bool),
    )  # fmt: skip


class Scripted:
    """A policy whose target at t is ``targets(t)``; it decides every day."""

    def __init__(self, targets: Callable[[int], FloatArray]) -> None:
        self.targets = targets

    def reset(self) -> None:
        pass

    def act(self, state: PolicyState) -> FloatArray:
        return np.asarray(self.targets(state.t), dtype=np.float64)


def drive(
    policy, mkt: MarketData, features: FeaturePanel | None, start: int, end: int | None = None,
    cost_bps: float = 0.0,
) -> tuple[list[FloatArray], list[FloatArray]]:  # fmt: skip
    """Step ``policy`` through ``PortfolioEnv`` from ``start``; the (weights held, target)
    of every close."""
    env = PortfolioEnv(mkt, features, cost_bps=cost_bps, start=start, end=end,
                       window=min(5, start), rebalance_every=1)  # fmt: skip
    env.reset()
    policy.reset()
    held, targets = [], []
    done = False
    while not done:
        state = PolicyState.at(mkt, env.t, env.weights, features, env.wealth)
        w = policy.act(state)
        held.append(np.array(state.weights))
        targets.append(np.array(w))
        _, _, terminated, truncated, _ = env.step_weights(w)
        done = terminated or truncated
    return held, targets
