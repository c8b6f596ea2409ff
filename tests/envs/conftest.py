"""Small markets and hand-built, causal feature panels for the environment tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocgym.data import MarketData
from allocgym.predictors.panel import FeaturePanel


def causal_panel(market: MarketData) -> FeaturePanel:
    """Two per-asset features and one market feature, each computed from prices <= t."""
    p = pd.DataFrame(np.asarray(market.prices))
    mom = (p / p.shift(5) - 1.0).to_numpy()
    vol = np.log(p).diff().rolling(10).std().to_numpy()
    values = np.stack([mom, vol], axis=-1).astype(np.float32)
    up = (p.diff() > 0).astype(float).where(p.notna()).mean(axis=1)
    regime = up.rolling(10).mean().to_numpy()[:, None].astype(np.float32)
    return FeaturePanel(
        dates=market.dates,
        assets=market.assets,
        values=values,
        feature_names=("mom_5", "vol_10"),
        market_values=regime,
        market_feature_names=("regime_p0",),
        available=np.asarray(market.available) & np.isfinite(values).all(axis=-1),
    )


@pytest.fixture(scope="session")
def small_market(synthetic_market: MarketData) -> MarketData:
    """5 synthetic assets, 300 days."""
    return synthetic_market[:300]


@pytest.fixture(scope="session")
def small_panel(small_market: MarketData) -> FeaturePanel:
    return causal_panel(small_market)


@pytest.fixture(scope="session")
def late_market(synthetic_market: MarketData) -> MarketData:
    """Like small_market, but asset 2 has no price before day 120 and cash earns 2 %/yr."""
    prices = np.array(synthetic_market.prices[:300])
    prices[:120, 2] = np.nan
    rf = np.full(300, 0.02 / 252)
    return MarketData.from_prices(
        prices, synthetic_market.dates[:300], synthetic_market.assets, risk_free=rf
    )
