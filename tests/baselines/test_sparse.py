"""Sparse max-Sharpe: the L1 penalty on deviations from the reference portfolio.

Cross-checks (same μ, Σ):

- skfolio ``MeanRisk(MAXIMIZE_RATIO, STANDARD_DEVIATION, transaction_costs=γ,
  previous_weights=w_ref)`` maximises the same ratio ``(μᵀw − γ‖w − w_ref‖₁)/σ(w)``
  (skfolio nets a proportional cost from ``previous_weights``): weights agree to 3e-4,
  the accuracy of skfolio's default solve (the observed gap is 3e-5 to 9e-5);
- ``γ = 0`` is allocgym's own ``max_sharpe`` (a different cvxpy problem) to 1e-6;
- the optimum is checked against a dense search on two assets to 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.baselines import (
    BASELINES,
    MeanRiskOptimizer,
    SparseMaxSharpe,
    SparseSharpeOptimizer,
)
from allocgym.data import MarketData
from allocgym.exceptions import OptimizationError
from allocgym.policy import PolicyState
from tests.baselines.test_policies import _ledoit_wolf_2004, _window, make_panel, run

LB = 60


@pytest.fixture(scope="module")
def moments(embedded_slice: MarketData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (2018-2019, 20 assets), their sample covariance and mean."""
    x = np.asarray(embedded_slice.returns)[1:253]
    return x, np.cov(x, rowvar=False), x.mean(axis=0)


@pytest.mark.parametrize("gamma", [0.0, 1e-4, 5e-4])
def test_matches_skfolio_max_ratio_net_of_costs_from_the_reference(moments, gamma: float) -> None:
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    x, cov, mu = moments
    ref = np.full(20, 0.05)
    sk = MeanRisk(
        objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
        risk_measure=RiskMeasure.STANDARD_DEVIATION,
        transaction_costs=gamma,
        previous_weights=ref,
    ).fit(x)
    ours = SparseSharpeOptimizer(gamma).solve(cov, mu)
    np.testing.assert_allclose(ours, sk.weights_, atol=3e-4)


def test_gamma_zero_is_max_sharpe_and_large_gamma_holds_the_reference(moments) -> None:
    _, cov, mu = moments
    np.testing.assert_allclose(
        SparseSharpeOptimizer(0.0).solve(cov, mu),
        MeanRiskOptimizer("max_sharpe").solve(cov, mu),
        atol=1e-6,
    )
    ref = np.linspace(1.0, 2.0, 20)
    mu = mu - mu @ ref / ref.sum() + 1e-3  # the reference itself must earn > 0
    held = SparseSharpeOptimizer(1.0).solve(cov, mu, reference=ref)  # γ ≫ daily μ
    np.testing.assert_allclose(held, ref / ref.sum(), atol=1e-7)


def test_the_penalty_makes_the_active_bets_sparse(moments) -> None:
    _, cov, mu = moments
    ref = np.full(20, 0.05)
    active = [
        int((np.abs(SparseSharpeOptimizer(g).solve(cov, mu) - ref) > 1e-6).sum())
        for g in (0.0, 2e-4, 5e-4, 1e-3)
    ]
    assert active[0] == 20 and active == sorted(active, reverse=True) and active[-1] < 10


def test_two_assets_against_a_dense_search() -> None:
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    mu = np.array([0.08, 0.12])
    gamma = 0.02
    grid = np.linspace(0.0, 1.0, 200001)
    w = np.stack([grid, 1 - grid], axis=1)
    net = w @ mu - gamma * np.abs(w - 0.5).sum(axis=1)
    sharpe = net / np.sqrt(np.einsum("ij,jk,ik->i", w, cov, w))
    best = grid[sharpe.argmax()]
    np.testing.assert_allclose(SparseSharpeOptimizer(gamma).solve(cov, mu)[0], best, atol=1e-4)


def test_no_positive_penalised_return_is_an_optimisation_error() -> None:
    cov = np.diag([0.04, 0.09])
    with pytest.raises(OptimizationError, match="positive expected return net of the L1"):
        SparseSharpeOptimizer(0.1).solve(cov, np.array([-0.01, -0.02]))


def test_policy_target_is_the_optimum_of_annualised_estimates(synthetic_market: MarketData) -> None:
    t = 600  # a window with positive mean returns (at 300 all but one are negative)
    current = np.array([0.0, 0.05, 0.1, 0.15, 0.3, 0.4])
    ref = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    policy = SparseMaxSharpe(lookback=LB, gamma=0.3, reference_weights=ref, max_weight=0.5)
    w = policy.act(PolicyState.at(synthetic_market, t, current))
    x = _window(synthetic_market, t, LB)
    expected = SparseSharpeOptimizer(0.3, max_weight=0.5).solve(
        252 * _ledoit_wolf_2004(x), 252 * x.mean(axis=0), current[1:], ref / ref.sum()
    )
    assert w[0] == 0.0 and policy.n_fallbacks_ == 0
    np.testing.assert_allclose(w[1:], expected, atol=1e-6)
    assert policy.n_active_ == int((np.abs(expected - ref / ref.sum()) > 1e-6).sum())
    assert 0 < policy.n_active_ < 5


def test_cost_penalty_becomes_the_cost_rate() -> None:
    policy = SparseMaxSharpe(cost_penalty_bps=10.0, rebalance_every=21)
    assert policy.optimizer.cost_rate == pytest.approx(10e-4 * 252 / 21)
    assert policy.optimizer.gamma == 0.1  # the default


def test_falls_back_when_every_penalised_return_is_negative(synthetic_market: MarketData) -> None:
    prices = np.array(synthetic_market.prices)
    prices[:] = (
        100.0
        * np.exp(-0.002 * np.arange(prices.shape[0]))[:, None]
        * (1 + 0.01 * np.random.default_rng(0).standard_normal(prices.shape))
    )
    policy = SparseMaxSharpe(lookback=LB)
    current = np.eye(6)[0]
    w = policy.act(PolicyState.at(synthetic_market.with_prices(prices), 300, current))
    np.testing.assert_array_equal(w, current)
    assert policy.n_fallbacks_ == 1 and "L1 penalty" in policy.fallbacks_[0][1]


def test_point_in_time(synthetic_market: MarketData) -> None:
    market = synthetic_market[:260]
    prices = np.array(market.prices)
    prices[221:] *= np.random.default_rng(1).uniform(0.5, 1.5, prices[221:].shape)
    policy = SparseMaxSharpe(lookback=LB, rebalance_every=10, gamma=0.05)
    a = run(policy, market, make_panel(market), 150, 250)
    b = run(policy, market.with_prices(prices), make_panel(market), 150, 250)
    np.testing.assert_array_equal(a[: 220 - 150 + 1], b[: 220 - 150 + 1])
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: SparseMaxSharpe(gamma=-0.1), "gamma=-0.1"),
        (lambda: SparseSharpeOptimizer(float("nan")), "gamma=nan"),
        (lambda: SparseMaxSharpe(max_weight=0.0), "max_weight"),
        (lambda: SparseMaxSharpe(reference_weights=[1.0, -1.0]), "reference_weights"),
        (lambda: SparseMaxSharpe(expected_returns="oracle"), "expected_returns"),
    ],
)
def test_bad_parameters_name_the_parameter(factory, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory()


def test_unknown_keyword_and_wrong_reference_length(synthetic_market: MarketData) -> None:
    with pytest.raises(TypeError, match=r"gama.*did you mean 'gamma'"):
        SparseMaxSharpe(gama=0.1)
    with pytest.raises(ValueError, match="reference_weights has 2 entries; expected 5"):
        SparseMaxSharpe(lookback=LB, reference_weights=[1.0, 1.0]).act(
            PolicyState.at(synthetic_market, 300, np.eye(6)[0])
        )


def test_registered() -> None:
    policy = BASELINES.create("sparse_max_sharpe", gamma=0.2, lookback=126)
    assert type(policy) is SparseMaxSharpe
    assert policy.optimizer.gamma == 0.2 and policy.lookback == 126
    assert "gamma" in BASELINES.entry("sparse_max_sharpe").parameters()
    assert SparseMaxSharpe(expected_returns="forecast").kind == "ML-enhanced"
