"""Baseline policies: schedule, availability, fallbacks and the point-in-time invariant."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from allocgym.baselines import (
    BlackLitterman,
    BuyAndHold,
    EqualWeight,
    EWMACovariance,
    GarchCovariance,
    MeanVariance,
    MinVariance,
    get_covariance,
)
from allocgym.data import MarketData
from allocgym.policy import Policy, PolicyState
from allocgym.predictors.panel import FeaturePanel

LB = 60  # short lookback keeps the tests fast


def make_panel(market: MarketData, seed: int = 0) -> FeaturePanel:
    """A hand-built panel with the feature names the predictors produce."""
    rng = np.random.default_rng(seed)
    n, m = market.n_dates, market.n_assets
    values = np.empty((n, m, 2), dtype=np.float32)
    values[:, :, 0] = rng.normal(3e-4, 1e-3, (n, m))  # lstm_forecast
    values[:, :, 1] = rng.uniform(0.01, 0.02, (n, m))  # garch_vol
    values[:5] = np.nan
    return FeaturePanel(
        dates=market.dates,
        assets=market.assets,
        values=values,
        feature_names=("lstm_forecast", "garch_vol"),
        market_values=np.zeros((n, 1), dtype=np.float32),
        market_feature_names=("regime_p0",),
        available=market.available & np.isfinite(values).all(axis=2),
    )


def all_policies() -> dict[str, Policy]:
    return {
        "1/N": EqualWeight(rebalance_every=5),
        "buy_and_hold": BuyAndHold(),
        "min_variance": MinVariance(lookback=LB, rebalance_every=5),
        "mean_variance": MeanVariance(lookback=LB, rebalance_every=5, max_weight=0.5),
        "max_sharpe": MeanVariance("max_sharpe", lookback=LB, rebalance_every=5),
        "mv_forecast_garch": MeanVariance(
            lookback=LB, rebalance_every=5, expected_returns="forecast", covariance="garch"
        ),
        "bl_absolute": BlackLitterman(lookback=LB, rebalance_every=5),
        "bl_relative_idzorek": BlackLitterman(
            lookback=LB, rebalance_every=5, views="relative", omega="idzorek"
        ),
        "bl_error": BlackLitterman(lookback=LB, rebalance_every=5, omega="error"),
    }


def run(policy: Policy, market: MarketData, panel: FeaturePanel | None, t0: int, t1: int):
    """Decisions at t0..t1-1, feeding each target back as the next (undrifted) weights."""
    policy.reset()
    w = np.zeros(market.n_assets + 1)
    w[0] = 1.0
    out = []
    for t in range(t0, t1):
        w = policy.act(PolicyState.at(market, t, w, panel))
        out.append(w.copy())
    return np.array(out)


@pytest.mark.parametrize("name", list(all_policies()))
def test_point_in_time_changing_prices_after_t_leaves_weights_unchanged(
    synthetic_market: MarketData, name: str
) -> None:
    market = synthetic_market[:260]
    panel = make_panel(market)
    t_cut = 220
    prices = np.array(market.prices)
    prices[t_cut + 1 :] *= np.random.default_rng(1).uniform(0.5, 1.5, prices[t_cut + 1 :].shape)
    changed = market.with_prices(prices)
    values = np.array(panel.values)
    values[t_cut + 1 :] = 0.05  # the future of the features changes too
    changed_panel = dataclasses.replace(panel, values=values)
    policy = all_policies()[name]
    a = run(policy, market, panel, 150, 250)
    b = run(policy, changed, changed_panel, 150, 250)
    k = t_cut - 150 + 1
    np.testing.assert_array_equal(a[:k], b[:k])
    assert policy.n_fallbacks_ == 0 or name == "max_sharpe"


@pytest.mark.parametrize("name", list(all_policies()))
def test_weights_are_valid_and_respect_availability(
    synthetic_market: MarketData, name: str
) -> None:
    market = synthetic_market[:260]
    prices = np.array(market.prices)
    prices[:200, 2] = np.nan  # asset 2 lists at t = 200
    market = market.with_prices(prices)
    panel = make_panel(market)
    weights = run(all_policies()[name], market, panel, 150, 200)
    assert np.isfinite(weights).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-9)
    assert (weights >= 0).all()
    assert (weights[:, 3] == 0).all()  # column 0 is cash, asset 2 is column 3


def test_rebalances_on_schedule_and_holds_in_between(synthetic_market: MarketData) -> None:
    policy = EqualWeight(rebalance_every=21)
    drifted = np.array([0.0, 0.3, 0.2, 0.2, 0.2, 0.1])
    targets = [policy.act(PolicyState.at(synthetic_market, t, drifted)) for t in range(100, 143)]
    rebalanced = [i for i, w in enumerate(targets) if not np.array_equal(w, drifted)]
    assert rebalanced == [0, 21, 42]
    np.testing.assert_allclose(targets[0][1:], 0.2)


def test_buy_and_hold_never_trades_again(synthetic_market: MarketData) -> None:
    policy = BuyAndHold(weights=np.array([1.0, 0, 0, 0, 3.0]))
    first = policy.act(PolicyState.at(synthetic_market, 100, np.eye(6)[0]))
    np.testing.assert_allclose(first, [0, 0.25, 0, 0, 0, 0.75])
    drifted = np.array([0.0, 0.3, 0, 0, 0, 0.7])
    np.testing.assert_array_equal(
        policy.act(PolicyState.at(synthetic_market, 300, drifted)), drifted
    )


def test_optimiser_failure_falls_back_to_previous_weights_and_is_counted(
    synthetic_market: MarketData,
) -> None:
    policy = MeanVariance("target_return", target_return=10.0, lookback=LB)  # 1000 %/yr
    current = np.array([0.1, 0.5, 0.4, 0, 0, 0])
    w = policy.act(PolicyState.at(synthetic_market, 300, current))
    np.testing.assert_array_equal(w, current)
    assert policy.n_fallbacks_ == 1
    assert policy.fallbacks_[0][0] == synthetic_market.dates[300]
    assert "status" in policy.fallbacks_[0][1]
    policy.reset()
    assert policy.n_fallbacks_ == 0


def test_max_sharpe_with_only_negative_expected_returns_falls_back(
    synthetic_market: MarketData,
) -> None:
    prices = np.array(synthetic_market.prices)
    prices[:] = (
        100.0
        * np.exp(-0.001 * np.arange(prices.shape[0]))[:, None]
        * (1 + 0.01 * np.random.default_rng(0).standard_normal(prices.shape))
    )
    market = synthetic_market.with_prices(prices)
    policy = MeanVariance("max_sharpe", lookback=LB)
    current = np.eye(6)[0]
    assert np.array_equal(policy.act(PolicyState.at(market, 300, current)), current)
    assert "positive expected return" in policy.fallbacks_[0][1]


def test_too_little_history_falls_back(synthetic_market: MarketData) -> None:
    policy = MinVariance()
    w = policy.act(PolicyState.at(synthetic_market, 5, np.eye(6)[0]))
    np.testing.assert_array_equal(w, np.eye(6)[0])
    assert policy.n_fallbacks_ == 1


def test_black_litterman_without_views_holds_the_reference(synthetic_market: MarketData) -> None:
    policy = BlackLitterman(lookback=LB)
    w = policy.act(PolicyState.at(synthetic_market, 300, np.eye(6)[0]))
    # no panel -> posterior = prior implied by 1/N -> the long-only optimum is 1/N
    np.testing.assert_allclose(w[1:], 0.2, atol=1e-4)


def test_black_litterman_views_tilt_towards_the_forecast(synthetic_market: MarketData) -> None:
    panel = make_panel(synthetic_market)
    values = np.array(panel.values)
    values[:, :, 0] = 0.0
    values[:, 0, 0] = 2e-3  # strong bullish forecast on asset 0
    panel = dataclasses.replace(panel, values=values)
    w = BlackLitterman(lookback=LB).act(PolicyState.at(synthetic_market, 300, np.eye(6)[0], panel))
    assert w[1] == w[1:].max() and w[1] > 0.3


def test_covariance_estimators(synthetic_market: MarketData) -> None:
    state = PolicyState.at(synthetic_market, 300, np.eye(6)[0], make_panel(synthetic_market))
    x = np.asarray(synthetic_market.returns[241:301])
    cols = np.arange(5)
    np.testing.assert_allclose(
        get_covariance("sample").estimate(x, state, cols), np.cov(x, rowvar=False)
    )
    # EWMA with an infinite half-life is the (biased) sample covariance
    np.testing.assert_allclose(
        EWMACovariance(halflife=1e12).estimate(x, state, cols),
        np.cov(x, rowvar=False, ddof=0),
        rtol=1e-6,
    )
    garch = GarchCovariance().estimate(x, state, cols)
    vol = np.asarray(state.features.feature("garch_vol")[-1], dtype=float)
    np.testing.assert_allclose(np.sqrt(np.diag(garch)), vol, rtol=1e-12)
    with pytest.raises(ValueError, match="covariance='nope'"):
        get_covariance("nope")
    with pytest.raises(TypeError, match="estimate"):
        get_covariance(42)


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: EqualWeight(rebalance_every=0), "rebalance_every"),
        (lambda: MeanVariance(lookback=1), "lookback"),
        (lambda: MeanVariance(expected_returns="oracle"), "expected_returns"),
        (lambda: BlackLitterman(views="both"), "views"),
        (lambda: BlackLitterman(omega="magic"), "omega"),
        (lambda: EWMACovariance(halflife=0), "halflife"),
    ],
)
def test_bad_parameters_name_the_parameter(factory, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory()


def test_policies_satisfy_the_protocol() -> None:
    for policy in all_policies().values():
        assert isinstance(policy, Policy)


def test_policy_state_is_point_in_time(synthetic_market: MarketData) -> None:
    s = PolicyState.at(synthetic_market, 10, np.eye(6)[0])
    assert s.history.n_dates == 11 and s.date == synthetic_market.dates[10]
    assert isinstance(s.date, pd.Timestamp)
    with pytest.raises(ValueError, match="t=900"):
        PolicyState.at(synthetic_market, 900, np.eye(6)[0])
