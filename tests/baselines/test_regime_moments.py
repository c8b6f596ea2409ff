"""expected_returns="regime": the regime-weighted mean, its feature check and its kind (issue 16).

``μ_t = Σ_k p_k(t) μ_k`` with ``μ_k`` each asset's mean over the lookback window with
every day weighted by its filtered probability of regime k (shrunk towards the window
mean by ``prior_obs`` pseudo-observations), all from data dated <= t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from allocgym.backtest import WalkForward, backtest
from allocgym.baselines import (
    BASELINES,
    BlackLitterman,
    EqualWeight,
    LedoitWolfCovariance,
    MeanRiskOptimizer,
    MeanVariance,
    RegimeCovariance,
    check_features,
)
from allocgym.data import MarketData
from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config, run_experiment
from allocgym.policy import PolicyState
from allocgym.predictors.config import PRESETS
from tests.helpers import regime_panel, tiny_experiment

T, LB = 30, 25  # decision date and lookback of the tiny panel: window rows 6..30


@pytest.fixture(scope="module")
def tiny() -> MarketData:
    """3 assets, 40 days of random prices."""
    rng = np.random.default_rng(3)
    returns = rng.normal([4e-4, -2e-4, 1e-4], [0.01, 0.02, 0.015], (40, 3))
    prices = 100 * np.exp(np.cumsum(returns, axis=0))
    dates = pd.bdate_range("2021-01-04", periods=40)
    return MarketData.from_prices(prices, dates=dates, assets=("A", "B", "C"))


def _probs(n: int, k: int, seed: int = 0) -> np.ndarray:
    """Random probabilities (rows sum to one), as the float32 a panel stores."""
    p = np.random.default_rng(seed).dirichlet(np.ones(k), n)
    return p.astype(np.float32)


def _state(market: MarketData, probs: np.ndarray, t: int = T) -> PolicyState:
    return PolicyState.at(
        market, t, np.full(market.n_assets + 1, 0.25), regime_panel(market, probs)
    )


def _hand_regime_mean(market: MarketData, probs: np.ndarray, c: float) -> list[float]:
    """The daily regime mean at T, written out as explicit weighted sums."""
    rows = range(T - LB + 1, T + 1)  # the window's return rows s, each with p_{k,s}
    x = np.asarray(market.returns, dtype=np.float64)
    p = np.asarray(probs, dtype=np.float64)
    n_assets, n_regimes = x.shape[1], p.shape[1]
    mu = [0.0] * n_assets
    total_now = sum(p[T, k] for k in range(n_regimes))
    for k in range(n_regimes):
        n_k = sum(p[s, k] for s in rows)
        pi_k = p[T, k] / total_now  # the filtered probability at the decision date
        for i in range(n_assets):
            mean_k = sum(p[s, k] * x[s, i] for s in rows) / n_k
            window_mean = sum(x[s, i] for s in rows) / LB
            shrunk = (n_k * mean_k + c * window_mean) / (n_k + c)
            mu[i] += pi_k * shrunk
    return mu


@pytest.mark.parametrize("prior_obs", [0.0, 5.0])
def test_regime_mean_is_the_hand_computed_weighted_sum(tiny: MarketData, prior_obs: float) -> None:
    probs = _probs(tiny.n_dates, 2)
    regime = RegimeCovariance(prior_obs=prior_obs, min_rows=5)
    policy = MeanVariance(lookback=LB, covariance=regime, expected_returns="regime")
    state = _state(tiny, probs)
    cols, cov, mu = policy._estimates(state)
    expected = 252 * np.array(_hand_regime_mean(tiny, probs, prior_obs))
    np.testing.assert_array_equal(cols, [0, 1, 2])
    np.testing.assert_allclose(mu, expected, rtol=1e-12, atol=1e-15)
    # one pass of the covariance estimator gives both moments
    x = np.asarray(tiny.returns[1 : T + 1][-LB:], dtype=np.float64)
    np.testing.assert_array_equal(cov, 252 * regime.estimate(x, state, cols))
    # and the weights are the optimiser's on these estimates
    w = policy.act(state)
    np.testing.assert_allclose(
        w[1:], MeanRiskOptimizer("utility").solve(cov, expected, state.weights[1:]), atol=1e-8
    )


def test_regime_mean_with_another_covariance(tiny: MarketData) -> None:
    """``covariance="ledoit_wolf"``: Σ is Ledoit-Wolf, μ the default RegimeCovariance's."""
    probs = _probs(tiny.n_dates, 3, seed=1)
    policy = MeanVariance(lookback=LB, expected_returns="regime")
    state = _state(tiny, probs)
    cols, cov, mu = policy._estimates(state)
    x = np.asarray(tiny.returns[1 : T + 1][-LB:], dtype=np.float64)
    np.testing.assert_array_equal(cov, 252 * LedoitWolfCovariance().estimate(x, state, cols))
    # default prior_obs = 20; min_rows = 20 <= the 25 window rows
    expected = 252 * np.array(_hand_regime_mean(tiny, probs, 20.0))
    np.testing.assert_allclose(mu, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("prior_obs", [0.0, 20.0])
def test_one_certain_regime_gives_the_historical_mean(tiny: MarketData, prior_obs: float) -> None:
    probs = np.zeros((tiny.n_dates, 3), dtype=np.float32)
    probs[:, 1] = 1.0
    state = _state(tiny, probs)
    regime = MeanVariance(
        lookback=LB, covariance=RegimeCovariance(prior_obs=prior_obs), expected_returns="regime"
    )
    historical = MeanVariance(lookback=LB, covariance=RegimeCovariance(prior_obs=prior_obs))
    _, cov_r, mu_r = regime._estimates(state)
    _, cov_h, mu_h = historical._estimates(state)
    x = np.asarray(tiny.returns[1 : T + 1][-LB:], dtype=np.float64)
    np.testing.assert_allclose(mu_r, 252 * x.mean(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(mu_r, mu_h, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(cov_r, cov_h)
    np.testing.assert_allclose(regime.act(state), historical.act(state), atol=1e-8)


def test_without_probabilities_yet_it_is_the_window_mean(tiny: MarketData) -> None:
    """Before the first regime fit (NaN probabilities) the estimate is the window mean."""
    probs = np.full((tiny.n_dates, 2), np.nan, dtype=np.float32)
    _, _, mu = MeanVariance(lookback=LB, expected_returns="regime")._estimates(_state(tiny, probs))
    x = np.asarray(tiny.returns[1 : T + 1][-LB:], dtype=np.float64)
    np.testing.assert_array_equal(mu, 252 * x.mean(axis=0))


def test_regime_mean_reads_nothing_after_t(tiny: MarketData) -> None:
    probs = _probs(tiny.n_dates, 2)
    changed_probs = probs.copy()
    changed_probs[T + 1 :] = _probs(tiny.n_dates - T - 1, 2, seed=9)
    prices = np.array(tiny.prices, copy=True)
    prices[T + 1 :] *= 1.5
    changed = tiny.with_prices(prices)
    for make in (
        lambda: MeanVariance(lookback=LB, expected_returns="regime"),
        lambda: MeanVariance(
            "max_sharpe", lookback=LB, covariance="regime", expected_returns="regime"
        ),
    ):
        a = make()._estimates(_state(tiny, probs))
        b = make()._estimates(_state(changed, changed_probs))
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(
            make().act(_state(tiny, probs)), make().act(_state(changed, changed_probs))
        )


# ---------------------------------------------------------------- features and kind

REGIME_MISSING = r"needs the market feature 'regime_p0' \(regime probabilities\)"


def test_a_panel_without_regime_probabilities_is_refused(tiny: MarketData) -> None:
    policy = MeanVariance(lookback=LB, expected_returns="regime")
    with pytest.raises(ConfigError, match=REGIME_MISSING + r" for expected_returns='regime'"):
        policy.fit(tiny, None)
    no_regimes = regime_panel(tiny, np.zeros((tiny.n_dates, 0), dtype=np.float32))
    with pytest.raises(
        ConfigError,
        match=REGIME_MISSING + r".*has only the market features \[\]\. Build the features with "
        r"the preset 'standard' or 'full'.*set expected_returns='historical'",
    ):
        policy.fit(tiny, no_regimes)
    state = PolicyState.at(tiny, T, np.full(4, 0.25), no_regimes)
    with pytest.raises(ConfigError, match=REGIME_MISSING):
        policy.act(state)
    assert policy.n_fallbacks_ == 0  # a configuration error, not an optimiser failure
    assert policy.fit(tiny, regime_panel(tiny, _probs(tiny.n_dates, 2))) is policy


@pytest.mark.parametrize(
    ("policy", "use", "instead"),
    [
        (MeanVariance(expected_returns="regime"), "for expected_returns='regime'",
         "set expected_returns='historical'"),
        (MeanVariance("max_sharpe", covariance="regime", expected_returns="regime"),
         "for covariance='regime' and for expected_returns='regime'",
         "'ledoit_wolf', and set expected_returns='historical'"),
        (BlackLitterman(views="none", covariance="regime"), "for covariance='regime'",
         "'ledoit_wolf'"),
    ],
)  # fmt: skip
def test_feature_configurations_without_regimes_are_refused(policy, use: str, instead: str) -> None:
    for preset in ("standard", "full"):
        check_features(policy, PRESETS[preset])
    with pytest.raises(
        ConfigError,
        match=rf"{REGIME_MISSING} {use}, but --features technical has no regime predictor\. "
        rf"Build the features with the preset 'standard' or 'full'.*{instead}",
    ):
        check_features(policy, PRESETS["technical"], source="--features technical")


def test_regime_moments_make_a_baseline_ml_enhanced() -> None:
    assert MeanVariance(expected_returns="regime").kind == "ML-enhanced"
    assert BASELINES.create("max_sharpe", expected_returns="regime").kind == "ML-enhanced"
    # Black-Litterman reads the panel through its covariance: labelled like the others
    assert BlackLitterman(views="none", covariance="regime").kind == "ML-enhanced"
    assert BlackLitterman(views="none").kind == "traditional"
    assert MeanVariance().kind == "traditional"


def test_unknown_expected_returns_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"expected_returns='regimes'; expected one of "):
        MeanVariance(expected_returns="regimes")


# ---------------------------------------------------------------- YAML


def test_config_refuses_regime_moments_without_a_regime_predictor() -> None:
    data = {
        "features": {"preset": "technical"},
        "baselines": [{"name": "mean_variance", "params": {"expected_returns": "regime"}}],
    }
    with pytest.raises(
        ConfigError,
        match=r"baselines\[0\]: MeanVariance " + REGIME_MISSING + r" for expected_returns="
        r"'regime', but features\.preset 'technical' has no regime predictor\. Build the "
        r"features with the preset 'standard' or 'full' \(features: \{preset: standard\}",
    ):
        load_config(data)
    data["features"] = {"preset": "technical", "overrides": {"regime": {}}}
    assert load_config(data).baselines[0].build().expected_returns == "regime"


def test_yaml_config_with_regime_expected_returns_runs(tmp_path, synthetic_market) -> None:
    config = tiny_experiment(
        tmp_path,
        synthetic_market,
        500,
        features={
            "preset": "technical",
            "cache": False,
            "overrides": {
                "min_train": 250,
                "refit_every": 250,
                "regime": {"n_restarts": 1, "n_iter": 20},
            },
        },
        walk_forward={"train": 300, "test": 199},
        agents=[],
        baselines=[
            {"name": "equal_weight"},
            {"name": "mean_variance", "label": "MV regime",
             "params": {"expected_returns": "regime", "lookback": 100}},
            {"name": "max_sharpe", "label": "MaxSharpe regime",
             "params": {"expected_returns": "regime", "covariance": "regime", "lookback": 100}},
        ],
    )  # fmt: skip
    path = tmp_path / "regime.yaml"
    path.write_text(yaml.safe_dump(config))
    loaded = load_config(path)
    assert [b.build().expected_returns for b in loaded.baselines[1:]] == ["regime", "regime"]
    results = run_experiment(loaded, progress=False, verbose=False)
    for name in ("MV regime", "MaxSharpe regime"):
        w = results.weights[name].to_numpy()
        assert np.isfinite(w).all() and np.allclose(w.sum(axis=1), 1.0)
        assert results.metrics.loc[name, "kind"] == "ML-enhanced"


def test_api_backtest_by_name(tiny: MarketData) -> None:
    """The registry name and keyword of the YAML, in a backtest on a hand-built panel."""
    probs = _probs(tiny.n_dates, 2)
    policy = BASELINES.create("mean_variance", expected_returns="regime", lookback=LB)
    results = backtest(
        {"1/N": EqualWeight(), "MV regime": policy},
        tiny,
        regime_panel(tiny, probs),
        splitter=WalkForward(train=26, test=13),
        n_boot=20,
    )
    assert results.metrics.loc["MV regime", "kind"] == "ML-enhanced"
    assert np.isfinite(results.weights["MV regime"].to_numpy()).all()
