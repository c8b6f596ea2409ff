"""SPEC invariant 1 for the overlays: prices after t change no weight at dates <= t.

The feature panel is rebuilt from the perturbed prices (GARCH and HMM refits included),
as the runner does, so the overlays see exactly what a backtest would give them.
"""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.backtest import WalkForward, backtest
from allocgym.baselines import EqualWeight, MinVariance
from allocgym.data import MarketData
from allocgym.overlays import (
    CostAwareRebalancing,
    DynamicRebalancing,
    ToleranceBands,
    VolatilityTarget,
    risk_profile,
)
from allocgym.predictors import build_features

FEATURES = {"lstm": None, "min_train": 250, "refit_every": 250}
T = 480  # inside the second test window [400, 550)


def _policies():
    return {
        "dynamic": DynamicRebalancing(
            EqualWeight(rebalance_every=1), regime_persistence=2, vol_threshold=0.15, max_gap=40
        ),
        "cost_aware": CostAwareRebalancing(MinVariance(lookback=100), partial=True),
        "bands": ToleranceBands(EqualWeight(rebalance_every=1), band=0.02),
        "vol_target": VolatilityTarget(EqualWeight(), target=0.08),
        "balanced": risk_profile(EqualWeight(rebalance_every=5), "balanced"),
    }


def _run(market):
    features = build_features(market, FEATURES, cache_dir=False, progress=False)
    policies = _policies()
    results = backtest(policies, market, features, splitter=WalkForward(train=250, test=150),
                       n_boot=10)  # fmt: skip
    return results, policies


@pytest.fixture(scope="module")
def market(synthetic_market):
    m = synthetic_market
    return MarketData.from_prices(np.array(m.prices[:700, :4]), m.dates[:700], m.assets[:4])


def test_overlays_are_point_in_time(market):
    results, policies = _run(market)
    prices = np.array(market.prices, copy=True)
    rng = np.random.default_rng(5)
    prices[T + 1 :] *= np.exp(np.cumsum(rng.normal(0, 0.03, prices[T + 1 :].shape), axis=0))
    changed, _ = _run(market.with_prices(prices))
    cutoff = market.dates[T]
    for name in policies:
        a = results.weights[name].loc[:cutoff].to_numpy()
        b = changed.weights[name].loc[:cutoff].to_numpy()
        np.testing.assert_array_equal(a, b, err_msg=name)
        later = results.weights[name].loc[cutoff:].iloc[2:].to_numpy()
        assert not np.array_equal(later, changed.weights[name].loc[cutoff:].iloc[2:].to_numpy())
    # not vacuous: every overlay acted on the features
    assert policies["dynamic"].triggers_["regime"] + policies["dynamic"].triggers_["volatility"]
    assert policies["cost_aware"].n_trades_ and policies["cost_aware"].n_holds_
    assert policies["bands"].n_rebalances_ > 1
    assert all(s < 1 for *_, s in policies["vol_target"].scales_)
    assert (results.weights["vol_target"]["cash"] > 0).all()
