"""Graphical-lasso covariance: the penalised likelihood solved independently, limits, policy;
and the direct Ledoit–Wolf computation, bit-identical to sklearn's.

The estimator runs sklearn's coordinate descent on the window's correlation. The test
solves the same problem, ``min −log det Θ + tr(RΘ) + α Σ_{i≠j} |Θ_ij|``, as a conic
program with cvxpy (a different algorithm) and compares the covariance ``Θ̂⁻¹`` scaled by
the sample standard deviations, to 2e-4 relative to the largest entry (sklearn stops
at a dual gap of 1e-4; tightened to 1e-8 here for the comparison, with inner lasso
solves to 1e-10). It also checks that the default settings converge (no sklearn
``ConvergenceWarning``) on windows of the embedded data.
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pytest

from allocgym.baselines import (
    BASELINES,
    GraphicalLassoCovariance,
    MinVariance,
    RiskParity,
    get_covariance,
)
from allocgym.data import MarketData
from allocgym.policy import PolicyState
from tests.baselines.test_policies import make_panel, run


@pytest.fixture(scope="module")
def window(embedded_slice: MarketData) -> np.ndarray:
    """126 daily returns of 6 embedded assets."""
    return np.asarray(embedded_slice.returns)[1:127, :6]


def _cvxpy_glasso(corr: np.ndarray, alpha: float) -> np.ndarray:
    n = corr.shape[0]
    theta = cp.Variable((n, n), PSD=True)
    off = 1.0 - np.eye(n)
    objective = -cp.log_det(theta) + cp.trace(corr @ theta)
    objective += alpha * cp.sum(cp.abs(cp.multiply(off, theta)))
    cp.Problem(cp.Minimize(objective)).solve(solver="SCS", eps=1e-9, max_iters=200000)
    return np.linalg.inv(theta.value)


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_matches_an_independent_conic_solve(window: np.ndarray, alpha: float) -> None:
    state = None  # the estimator reads only the returns
    ours = GraphicalLassoCovariance(alpha=alpha, tol=1e-8, enet_tol=1e-10, max_iter=1000).estimate(
        window, state, np.arange(6)
    )
    sd = window.std(axis=0, ddof=1)
    corr = np.corrcoef(window, rowvar=False)
    expected = _cvxpy_glasso(corr, alpha) * np.outer(sd, sd)
    np.testing.assert_allclose(ours, expected, atol=2e-4 * np.abs(expected).max(), rtol=0)
    precision = np.linalg.inv(ours / np.outer(sd, sd))
    if alpha == 0.2:  # the penalty zeroes some partial correlations
        assert (np.abs(precision[~np.eye(6, dtype=bool)]) < 1e-6).any()


def test_limits_and_variances(window: np.ndarray) -> None:
    cols = np.arange(6)
    sample = np.cov(window, rowvar=False)
    np.testing.assert_allclose(
        GraphicalLassoCovariance(alpha=0.0).estimate(window, None, cols), sample, rtol=1e-10
    )
    est = get_covariance("graphical_lasso").estimate(window, None, cols)
    assert isinstance(get_covariance("graphical_lasso"), GraphicalLassoCovariance)
    np.testing.assert_allclose(np.diag(est), np.diag(sample), rtol=1e-10)  # variances kept
    assert np.linalg.eigvalsh(est).min() > 0
    # the same (scale-free) estimate whatever the units of the returns
    np.testing.assert_allclose(
        GraphicalLassoCovariance().estimate(10.0 * window, None, cols), 100.0 * est, rtol=1e-8
    )


def test_default_settings_converge_on_the_embedded_data(embedded: MarketData) -> None:
    from sklearn.exceptions import ConvergenceWarning

    returns = np.asarray(embedded.returns)[1:]
    estimator = get_covariance("graphical_lasso")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for t in range(2000, returns.shape[0], 2000):
            x = returns[t - 252 : t]
            estimator.estimate(x, None, np.arange(x.shape[1]))


def test_cross_validated_alpha_runs_inside_the_window(window: np.ndarray) -> None:
    est = GraphicalLassoCovariance(alpha="cv").estimate(window, None, np.arange(6))
    sample = np.cov(window, rowvar=False)
    np.testing.assert_allclose(np.diag(est), np.diag(sample), rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": -0.1}, "alpha=-0.1"),
        ({"alpha": "auto"}, "alpha='auto'"),
        ({"max_iter": 0}, "max_iter=0"),
        ({"tol": 0.0}, "tol=0.0"),
        ({"enet_tol": -1.0}, "enet_tol=-1.0"),
    ],
)
def test_bad_parameters_name_the_parameter(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GraphicalLassoCovariance(**kwargs)


def test_any_baseline_takes_it_by_name(synthetic_market: MarketData) -> None:
    market = synthetic_market[:260]
    prices = np.array(market.prices)
    prices[221:] *= np.random.default_rng(1).uniform(0.5, 1.5, prices[221:].shape)
    policy = RiskParity(lookback=60, rebalance_every=20, covariance="graphical_lasso")
    a = run(policy, market, make_panel(market), 150, 250)
    b = run(policy, market.with_prices(prices), make_panel(market), 150, 250)
    np.testing.assert_array_equal(a[: 220 - 150 + 1], b[: 220 - 150 + 1])
    assert policy.n_fallbacks_ == 0 and policy.kind == "traditional"
    w = MinVariance(lookback=60, covariance="graphical_lasso").act(
        PolicyState.at(market, 200, np.eye(6)[0])
    )
    assert w.sum() == pytest.approx(1.0)
    assert type(BASELINES.create("hrp", covariance="graphical_lasso").covariance) is (
        GraphicalLassoCovariance
    )


def test_ledoit_wolf_is_sklearns_bit_for_bit(embedded: MarketData) -> None:
    """The estimator computes sklearn's formula without its input checks (1-4 ms a call)."""
    from sklearn.covariance import ledoit_wolf

    returns = np.asarray(embedded.returns)[1:]
    estimator = get_covariance("ledoit_wolf")
    for t in range(300, returns.shape[0], 700):
        for x in (returns[t - 252 : t], returns[t - 60 : t, ::3], returns[t - 30 : t, :1]):
            got = estimator.estimate(x, None, np.arange(x.shape[1]))
            np.testing.assert_array_equal(got, ledoit_wolf(x)[0])
