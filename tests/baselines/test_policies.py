"""Baseline policies: schedule, availability, fallbacks and the point-in-time invariant."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from allocgym.baselines import (
    BlackLitterman,
    BuyAndHold,
    EqualWeight,
    EWMACovariance,
    GarchCovariance,
    MeanRiskOptimizer,
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
    policy = BlackLitterman(lookback=LB, views="none")
    w = policy.act(PolicyState.at(synthetic_market, 300, np.eye(6)[0]))
    # no views -> posterior = prior implied by 1/N -> the long-only optimum is 1/N
    np.testing.assert_allclose(w[1:], 0.2, atol=1e-4)


def test_black_litterman_views_tilt_towards_the_forecast(synthetic_market: MarketData) -> None:
    panel = make_panel(synthetic_market)
    values = np.array(panel.values)
    values[:, :, 0] = 0.0
    values[:, 0, 0] = 2e-3  # strong bullish forecast on asset 0
    panel = dataclasses.replace(panel, values=values)
    w = BlackLitterman(lookback=LB).act(PolicyState.at(synthetic_market, 300, np.eye(6)[0], panel))
    assert w[1] == w[1:].max() and w[1] > 0.3


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


def test_policies_follow_the_protocol_in_behaviour(synthetic_market: MarketData) -> None:
    """Policy protocol: ``act`` gives (n_assets + 1,) long-only weights summing to 1;
    ``reset`` forgets the schedule (the next decision rebalances) and the fallbacks."""
    market = synthetic_market[:320]
    panel = make_panel(market)
    drifted = np.array([0.0, 0.5, 0.2, 0.1, 0.1, 0.1])
    for name, policy in all_policies().items():
        assert isinstance(policy, Policy)
        assert policy.fit(market, panel) is policy
        first = policy.act(PolicyState.at(market, 300, drifted, panel))
        assert first.shape == (6,) and (first >= 0).all(), name
        assert first.sum() == pytest.approx(1.0, abs=1e-9), name
        if name != "buy_and_hold":  # 1 day later: between rebalances, hold the drift
            held = policy.act(PolicyState.at(market, 301, drifted, panel))
            np.testing.assert_array_equal(held, drifted)
        policy.n_fallbacks_ = 3
        policy.reset()
        assert policy.n_fallbacks_ == 0 and policy.fallbacks_ == []
        again = policy.act(PolicyState.at(market, 302, drifted, panel))
        assert not np.array_equal(again, drifted), name  # rebalanced after reset


def test_policy_state_is_point_in_time(synthetic_market: MarketData) -> None:
    panel = make_panel(synthetic_market)
    s = PolicyState.at(synthetic_market, 10, np.eye(6)[0], panel)
    assert s.history.n_dates == 11 and s.date == synthetic_market.dates[10]
    assert s.date == s.history.dates[-1]
    np.testing.assert_array_equal(s.history.prices, np.asarray(synthetic_market.prices)[:11])
    np.testing.assert_array_equal(s.features.values, panel.values[:11])
    np.testing.assert_array_equal(s.available, synthetic_market.available[10])
    assert not s.weights.flags.writeable
    with pytest.raises(ValueError, match="t=900"):
        PolicyState.at(synthetic_market, 900, np.eye(6)[0])


# ---------------------------------------------------------------- estimates and targets


def _window(market: MarketData, t: int, lookback: int = LB) -> np.ndarray:
    """The ``lookback`` daily returns ending at (and including) t: rows t-lookback+1..t."""
    return np.asarray(market.returns)[t - lookback + 1 : t + 1]


def _ledoit_wolf_2004(x: np.ndarray) -> np.ndarray:
    """Ledoit & Wolf (2004), "A well-conditioned estimator for large-dimensional
    covariance matrices", JMVA 88(2), Lemma 3.2-3.4 / Theorem 3.4, with the Frobenius
    norm scaled by 1/p: shrink the ddof=0 sample covariance S towards m I, m = tr(S)/p."""
    t, p = x.shape
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / t
    m = np.trace(s) / p
    d2 = np.sum((s - m * np.eye(p)) ** 2) / p
    b2_bar = sum(np.sum((np.outer(row, row) - s) ** 2) / p for row in xc) / t**2
    b2 = min(b2_bar, d2)
    return b2 / d2 * m * np.eye(p) + (1 - b2 / d2) * s


def test_covariance_estimators(synthetic_market: MarketData) -> None:
    state = PolicyState.at(synthetic_market, 300, np.eye(6)[0], make_panel(synthetic_market))
    x = _window(synthetic_market, 300)
    cols = np.arange(5)
    np.testing.assert_allclose(
        get_covariance("sample").estimate(x, state, cols), np.cov(x, rowvar=False)
    )
    np.testing.assert_allclose(
        get_covariance("ledoit_wolf").estimate(x, state, cols), _ledoit_wolf_2004(x), rtol=1e-10
    )
    # EWMA with an infinite half-life is the (biased) sample covariance
    np.testing.assert_allclose(
        EWMACovariance(halflife=1e12).estimate(x, state, cols),
        np.cov(x, rowvar=False, ddof=0),
        rtol=1e-6,
    )
    # half-life 10: weights 0.5^((T-1-s)/10), the last day weighs most, weighted mean
    aweights = 0.5 ** (np.arange(x.shape[0] - 1, -1, -1) / 10)
    np.testing.assert_allclose(
        EWMACovariance(halflife=10).estimate(x, state, cols),
        np.cov(x, rowvar=False, aweights=aweights, bias=True),
        rtol=1e-10,
    )
    garch = GarchCovariance().estimate(x, state, cols)
    vol = np.asarray(state.features.feature("garch_vol")[-1], dtype=float)
    np.testing.assert_allclose(np.sqrt(np.diag(garch)), vol, rtol=1e-12)
    lw = _ledoit_wolf_2004(x)
    corr = lw / np.sqrt(np.outer(np.diag(lw), np.diag(lw)))
    np.testing.assert_allclose(garch, corr * np.outer(vol, vol), rtol=1e-10)
    with pytest.raises(ValueError, match="covariance='nope'"):
        get_covariance("nope")
    with pytest.raises(TypeError, match="estimate"):
        get_covariance(42)


@pytest.mark.parametrize(
    ("policy", "objective", "kwargs"),
    [
        (lambda: MinVariance(lookback=LB), "min_variance", {}),
        (lambda: MeanVariance(lookback=LB), "utility", {}),
        (
            lambda: MinVariance(lookback=LB, rebalance_every=10, cost_penalty_bps=10.0),
            "min_variance",
            {"cost_rate": 10.0 * 1e-4 * 252 / 10},
        ),
        (
            lambda: MeanVariance(
                lookback=LB, rebalance_every=5, cost_penalty_bps=2.0, risk_aversion=50.0
            ),
            "utility",
            {"risk_aversion": 50.0, "cost_rate": 2.0 * 1e-4 * 252 / 5},
        ),
        (
            lambda: MeanVariance(lookback=LB, expected_returns="forecast", covariance="sample"),
            "utility",
            {},
        ),
    ],
)
def test_mean_variance_target_is_the_optimum_of_annualised_estimates(
    synthetic_market: MarketData, policy, objective: str, kwargs: dict
) -> None:
    """The weights are ``MeanRiskOptimizer.solve(252 Σ̂, 252 μ̂, w_prev)`` on the last
    ``lookback`` returns up to t; the cost term is ``bps·1e-4·252/rebalance_every`` and
    ``w_prev`` the current asset weights (cash dropped). The cost cases are interior:
    the cost moves the weights, and so does ``w_prev``."""
    t = 300
    panel = make_panel(synthetic_market)
    current = np.array([0.0, 0.05, 0.1, 0.15, 0.3, 0.4])
    pol = policy()
    w = pol.act(PolicyState.at(synthetic_market, t, current, panel))
    x = _window(synthetic_market, t)
    if pol.covariance == get_covariance("sample"):
        cov = np.cov(x, rowvar=False)
    else:
        cov = _ledoit_wolf_2004(x)
    if pol.expected_returns == "forecast":
        mu = np.asarray(panel.values[t, :, 0], dtype=np.float64)
    else:
        mu = x.mean(axis=0)
    expected = MeanRiskOptimizer(objective, **kwargs).solve(252 * cov, 252 * mu, current[1:])
    assert w[0] == 0.0
    np.testing.assert_allclose(w[1:], expected, atol=1e-6)
    assert pol.n_fallbacks_ == 0


def _theil(cov, pi, P, Q, tau, omega):
    """Posterior by mixed estimation (precision weighting), as in Black & Litterman (1992)."""
    a = np.linalg.inv(tau * cov)
    m = np.linalg.inv(a + P.T @ np.linalg.inv(omega) @ P)
    return m @ (a @ pi + P.T @ np.linalg.inv(omega) @ Q), cov + m


@pytest.mark.parametrize(
    ("kwargs", "k"),
    [
        ({}, None),  # absolute views, He-Litterman Ω, δ = 2.5, τ = 0.05
        ({"views": "relative", "risk_aversion": 4.0, "tau": 0.1}, 1),  # ⌊5/3⌋ = 1
        ({"views": "relative", "fraction": 0.4, "omega": "idzorek", "confidences": 0.3}, 2),
        ({"omega": "error", "tau": 0.02}, None),
    ],
)
def test_black_litterman_posterior_from_the_forecasts(
    synthetic_market: MarketData, kwargs: dict, k: int | None
) -> None:
    """Σ = 252·LW(window), Π = δΣ·1/N, views from f = 252·forecast at t: absolute
    ``P = I``; relative, one view "mean of the top k minus mean of the bottom k"
    (k = ⌊fraction·N⌋); Ω = diag(PτΣPᵀ), Idzorek's (1 − c)/c · diag(PτΣPᵀ), or the
    measured error: 252 · var(P(f_{s−1} − r_s), ddof=1) over the window. Posterior by
    mixed estimation (Black & Litterman 1992), independently of allocgym's gain form."""
    t = 300
    delta, tau = kwargs.get("risk_aversion", 2.5), kwargs.get("tau", 0.05)
    panel = make_panel(synthetic_market)
    state = PolicyState.at(synthetic_market, t, np.eye(6)[0], panel)
    cols, mean, post = BlackLitterman(lookback=LB, **kwargs).posterior(state)
    np.testing.assert_array_equal(cols, np.arange(5))
    cov = 252 * _ledoit_wolf_2004(_window(synthetic_market, t))
    pi = delta * cov @ np.full(5, 0.2)
    forecasts = np.asarray(panel.values[:, :, 0], dtype=np.float64)
    f = 252 * forecasts[t]
    if k is None:
        P = np.eye(5)
    else:
        order = np.argsort(f)
        P = np.zeros((1, 5))
        P[0, order[-k:]], P[0, order[:k]] = 1.0 / k, -1.0 / k
    omega = np.diag(np.diag(P @ (tau * cov) @ P.T))
    if kwargs.get("omega") == "idzorek":
        omega *= (1 - 0.3) / 0.3
    elif kwargs.get("omega") == "error":
        returns = np.asarray(synthetic_market.returns)
        s = np.arange(t - LB + 1, t + 1)  # the return dates of the window
        err = (forecasts[s - 1] - returns[s]) @ P.T
        omega = np.diag(252 * err.var(axis=0, ddof=1))
    ref_mean, ref_post = _theil(cov, pi, P, P @ f, tau, omega)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-8)
    np.testing.assert_allclose(post, ref_post, rtol=1e-8)


def test_black_litterman_error_omega_trusts_a_perfect_forecaster(
    synthetic_market: MarketData,
) -> None:
    """``omega="error"`` measures forecast(s−1) against return(s): a forecaster that was
    always right has Ω ≈ 0, so the posterior satisfies its views (P = I: μ ≈ Q)."""
    t = 300
    panel = make_panel(synthetic_market)
    values = np.array(panel.values)
    returns = np.asarray(synthetic_market.returns)
    values[5:-1, :, 0] = returns[6:]  # the forecast made at s-1 is the return at s
    panel = dataclasses.replace(panel, values=values)
    state = PolicyState.at(synthetic_market, t, np.eye(6)[0], panel)
    _, mean, _ = BlackLitterman(lookback=LB, omega="error").posterior(state)
    q = 252 * values[t, :, 0].astype(np.float64)
    np.testing.assert_allclose(mean, q, atol=1e-4 * np.abs(q).max())
    _, prior_like, _ = BlackLitterman(lookback=LB).posterior(state)
    assert np.abs(prior_like - q).max() > 100 * np.abs(mean - q).max()


def test_black_litterman_without_views_holds_non_uniform_reference_weights(
    synthetic_market: MarketData,
) -> None:
    """No views: μ = Π = δΣw_ref, Σ_post = (1 + τ)Σ and the utility with risk aversion
    δ/(1 + τ) is maximised at w_ref (He & Litterman 1999: w* = w_eq/(1 + τ) rescaled)."""
    ref = np.array([0.1, 0.3, 0.15, 0.25, 0.2])
    policy = BlackLitterman(lookback=LB, reference_weights=ref * 7.0, views="none")  # renormalised
    w = policy.act(PolicyState.at(synthetic_market, 300, np.eye(6)[0]))
    np.testing.assert_allclose(w[1:], ref, atol=1e-5)
