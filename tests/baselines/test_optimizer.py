"""The cvxpy optimiser against an independent solver (scipy SLSQP) on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from allocgym.baselines import MeanRiskOptimizer
from allocgym.exceptions import OptimizationError


@pytest.fixture(scope="module")
def inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    n = 8
    a = rng.normal(size=(n, n)) * 0.1
    cov = a @ a.T + np.diag(rng.uniform(0.01, 0.05, n))
    mu = rng.normal(0.06, 0.04, n)
    return cov, mu


def _slsqp(fun, n: int, bounds=(0.0, 1.0), extra=()) -> np.ndarray:
    cons = [{"type": "eq", "fun": lambda w: w.sum() - 1.0}, *extra]
    res = minimize(
        fun,
        np.full(n, 1.0 / n),
        method="SLSQP",
        bounds=[bounds] * n,
        constraints=cons,
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert res.success, res.message
    return res.x


def test_min_variance_matches_slsqp(inputs) -> None:
    cov, _ = inputs
    w = MeanRiskOptimizer("min_variance").solve(cov)
    ref = _slsqp(lambda x: x @ cov @ x, cov.shape[0])
    np.testing.assert_allclose(w, ref, atol=2e-4)
    assert w @ cov @ w <= ref @ cov @ ref * (1 + 1e-6)


def test_max_sharpe_matches_slsqp(inputs) -> None:
    cov, mu = inputs
    w = MeanRiskOptimizer("max_sharpe").solve(cov, mu)
    ref = _slsqp(lambda x: -(mu @ x) / np.sqrt(x @ cov @ x), cov.shape[0])
    np.testing.assert_allclose(w, ref, atol=2e-4)
    sharpe = lambda x: mu @ x / np.sqrt(x @ cov @ x)  # noqa: E731
    assert sharpe(w) >= sharpe(ref) * (1 - 1e-6)


def test_utility_and_max_weight_match_slsqp(inputs) -> None:
    cov, mu = inputs
    w = MeanRiskOptimizer("utility", risk_aversion=3.0, max_weight=0.3).solve(cov, mu)
    ref = _slsqp(lambda x: -(mu @ x - 1.5 * x @ cov @ x), cov.shape[0], bounds=(0.0, 0.3))
    np.testing.assert_allclose(w, ref, atol=2e-4)
    assert w.max() <= 0.3 + 1e-7


def test_target_volatility_and_return_constraints_hold(inputs) -> None:
    cov, mu = inputs
    w = MeanRiskOptimizer("target_volatility", target_volatility=0.2).solve(cov, mu)
    assert np.sqrt(w @ cov @ w) <= 0.2 + 1e-6
    r_star = float(np.quantile(mu, 0.7))
    w = MeanRiskOptimizer("target_return", target_return=r_star).solve(cov, mu)
    assert mu @ w >= r_star - 1e-6


def test_turnover_cap_and_penalty(inputs) -> None:
    cov, _mu = inputs
    prev = np.full(cov.shape[0], 1.0 / cov.shape[0])
    free = MeanRiskOptimizer("min_variance").solve(cov, prev=prev)
    capped = MeanRiskOptimizer("min_variance", turnover_cap=0.1).solve(cov, prev=prev)
    assert np.abs(free - prev).sum() > 0.1
    assert np.abs(capped - prev).sum() <= 0.1 + 1e-6
    penalised = MeanRiskOptimizer("min_variance", turnover_penalty=1.0).solve(cov, prev=prev)
    assert np.abs(penalised - prev).sum() < np.abs(free - prev).sum()


def test_problem_is_compiled_once_per_size(inputs) -> None:
    cov, mu = inputs
    opt = MeanRiskOptimizer("utility")
    opt.solve(cov, mu)
    problem = opt._cache[cov.shape[0]].problem
    assert problem.is_dpp()
    opt.solve(cov * 1.1, mu * 0.9)
    assert opt._cache[cov.shape[0]].problem is problem


def test_max_sharpe_without_positive_returns_raises_clearly(inputs) -> None:
    cov, mu = inputs
    with pytest.raises(OptimizationError, match="positive expected return"):
        MeanRiskOptimizer("max_sharpe").solve(cov, -np.abs(mu))


def test_infeasible_target_return_raises(inputs) -> None:
    cov, mu = inputs
    with pytest.raises(OptimizationError, match="status"):
        MeanRiskOptimizer("target_return", target_return=mu.max() + 1).solve(cov, mu)


def test_non_finite_inputs_raise(inputs) -> None:
    cov, _mu = inputs
    bad = cov.copy()
    bad[0, 0] = np.nan
    with pytest.raises(OptimizationError, match="non-finite"):
        MeanRiskOptimizer().solve(bad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"objective": "best"}, "objective"),
        ({"objective": "target_volatility"}, "target_volatility"),
        ({"objective": "target_return"}, "target_return"),
        ({"max_weight": 0.0}, "max_weight"),
        ({"turnover_cap": -1.0}, "turnover_cap"),
        ({"risk_aversion": 0.0}, "risk_aversion"),
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MeanRiskOptimizer(**kwargs)
