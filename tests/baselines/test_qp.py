"""The exact active-set fast path against cvxpy (Clarabel).

Two references: Clarabel on the same problem with its tolerances tightened to 1e-14,
which agrees with the active-set answer to about 1e-9 in weights, and the optimiser's
own compiled cvxpy path at Clarabel's default tolerances (relative gap 1e-8), whose
objective is within ~1e-9 of the minimum but whose weights are only accurate to a few
1e-4 (up to 3.7e-4 on the embedded data's 20-asset minimum-variance problems), hence
the looser weight tolerance there. The exact answer's objective is never above either
reference's, up to what the reference gains from its own bound violation (Clarabel
leaves weights ~1e-9 above the cap).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from allocgym.baselines import MeanRiskOptimizer, _qp, optimizer
from allocgym.baselines._qp import KKT_TOL, BoxQPSolution, kkt_violation, solve_box_qp
from allocgym.baselines.optimizer import _factor

GAMMA = 2.5


def _problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A well-conditioned covariance (3 factors plus idiosyncratic variance) and ``μ``."""
    rng = np.random.default_rng(seed)
    b = rng.normal(size=(n, 3)) * 0.1
    cov = b @ b.T + np.diag(rng.uniform(0.01, 0.05, n))
    return cov, rng.normal(0.06, 0.04, n)


def _qp_data(cov: np.ndarray, mu: np.ndarray, objective: str) -> tuple[np.ndarray, ...]:
    """``S = FᵀF`` and ``c`` of the optimiser's problem (``c = (2/γ)μ`` for utility)."""
    factor = _factor(cov)
    c = np.zeros_like(mu) if objective == "min_variance" else 2 * mu / GAMMA
    return factor, factor.T @ factor, c


def _tight_clarabel(factor: np.ndarray, c: np.ndarray, cap: float) -> np.ndarray:
    w = cp.Variable(factor.shape[0])
    problem = cp.Problem(
        cp.Minimize(cp.sum_squares(factor @ w) - c @ w), [cp.sum(w) == 1, w >= 0, w <= cap]
    )
    tight = {"tol_gap_abs": 1e-14, "tol_gap_rel": 1e-14, "tol_feas": 1e-14, "tol_ktratio": 1e-12}
    problem.solve(solver="CLARABEL", max_iter=500, **tight)
    assert problem.status == cp.OPTIMAL
    return w.value


def _cvxpy_path(objective: str, **settings) -> MeanRiskOptimizer:
    opt = MeanRiskOptimizer(objective, risk_aversion=GAMMA, **settings)
    opt._fast_path = False
    return opt


def _objective_slack(S: np.ndarray, c: np.ndarray, w: np.ndarray, cap: float) -> float:
    """What a point ``w`` above the cap may gain from it, to first order: moving the
    excess ``δ = Σ(w − cap)⁺`` onto other weights changes ``f`` by at most
    ``(max g − min g)·δ ≤ 2‖g‖∞·δ``."""
    return float(2 * np.abs(2 * S @ w - c).max() * np.clip(w - cap, 0, None).sum())


@pytest.mark.parametrize("n", [2, 5, 20, 100])
@pytest.mark.parametrize("objective", ["min_variance", "utility"])
@pytest.mark.parametrize("binding", [False, True], ids=["loose_cap", "binding_cap"])
def test_matches_clarabel_and_satisfies_kkt(n: int, objective: str, binding: bool) -> None:
    cov, mu = _problem(n, seed=n)
    factor, S, c = _qp_data(cov, mu, objective)
    cap = 1.0
    if binding:  # halfway between 1/n and the largest uncapped weight
        cap = 0.5 * (1 / n + solve_box_qp(S, c, 1.0).weights.max())
    sol = solve_box_qp(S, c, cap)
    assert sol is not None  # well-conditioned: certified, no fallback
    assert kkt_violation(S, c, cap, sol) <= KKT_TOL
    if binding:
        assert sol.at_upper.any()

    def f(w: np.ndarray) -> float:
        return float(w @ S @ w - c @ w)

    ref = _tight_clarabel(factor, c, cap)
    np.testing.assert_allclose(sol.weights, ref, atol=1e-7)
    assert f(sol.weights) <= f(ref) + 1e-10 + _objective_slack(S, c, ref, cap)

    fast = MeanRiskOptimizer(objective, risk_aversion=GAMMA, max_weight=cap).solve(cov, mu)
    compiled = _cvxpy_path(objective, max_weight=cap).solve(cov, mu)
    np.testing.assert_allclose(fast, sol.weights, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast, compiled, atol=5e-4)
    assert f(fast) <= f(compiled) + 1e-10 + _objective_slack(S, c, compiled, cap)


@pytest.mark.parametrize("seed", range(20))
def test_primal_dual_and_primal_active_set_agree(seed: int) -> None:
    """The fast method and the safeguard (N&W Algorithm 16.3) find the same point."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    cov, mu = _problem(n, seed)
    c = np.zeros(n) if seed % 2 else 2 * mu / rng.uniform(0.5, 10)
    cap = max(float(rng.choice([1.0, 0.5, 0.2, 0.1, 0.05])), 1 / n)
    S = _factor(cov).T @ _factor(cov)
    first, second = _qp._primal_dual(S, c, cap), _qp._primal(S, c, cap)
    assert second is not None
    assert kkt_violation(S, c, cap, second) <= KKT_TOL
    if first is not None:
        np.testing.assert_allclose(first.weights, second.weights, rtol=0, atol=1e-12)


def test_kkt_violation_flags_a_point_that_is_not_optimal() -> None:
    cov, _ = _problem(6, seed=1)
    S, c, cap = cov, np.zeros(6), 1.0
    sol = solve_box_qp(S, c, cap)
    moved = sol.weights + 1e-6 * np.array([1, -1, 0, 0, 0, 0])
    wrong = BoxQPSolution(moved, sol.nu, sol.at_lower, sol.at_upper, sol.n_iter)
    assert kkt_violation(S, c, cap, wrong) > KKT_TOL
    flipped = BoxQPSolution(sol.weights, sol.nu + 1.0, sol.at_lower, sol.at_upper, 0)
    assert kkt_violation(S, c, cap, flipped) > KKT_TOL


def test_a_riskless_asset_is_solved_exactly() -> None:
    """A zero-variance asset makes ``Σ`` singular, but the minimum is unique: all in it
    when uncapped, the cap in it and the rest at the others' minimum variance. (Clarabel
    at its default tolerances leaves 3e-4 elsewhere; its objective is not lower.)"""
    cov = np.zeros((5, 5))
    cov[1:, 1:], _ = _problem(4, seed=3)
    rest = np.linalg.solve(cov[1:, 1:], np.ones(4))
    assert (rest > 0).all() and (0.6 * rest / rest.sum() < 0.4).all()
    S = _factor(cov).T @ _factor(cov)
    for cap, exact in ((1.0, [1, 0, 0, 0, 0]), (0.4, [0.4, *(0.6 * rest / rest.sum())])):
        assert solve_box_qp(S, np.zeros(5), cap) is not None
        fast = MeanRiskOptimizer(max_weight=cap).solve(cov)
        np.testing.assert_allclose(fast, exact, rtol=0, atol=1e-12)
        compiled = _cvxpy_path("min_variance", max_weight=cap).solve(cov)
        assert fast @ S @ fast <= compiled @ S @ compiled + _objective_slack(S, 0, compiled, cap)


def test_several_minimisers_fall_back_to_cvxpy() -> None:
    """An asset listed twice makes every split of its weight between the two copies
    optimal: the fast path declines and the answer is cvxpy's."""
    cov, _ = _problem(6, seed=7)
    cov = cov[np.ix_([0, 0, 1, 2, 3, 4, 5], [0, 0, 1, 2, 3, 4, 5])]
    S = _factor(cov).T @ _factor(cov)
    assert solve_box_qp(S, np.zeros(7), 1.0) is None
    np.testing.assert_array_equal(
        MeanRiskOptimizer().solve(cov), _cvxpy_path("min_variance").solve(cov)
    )


def test_singular_mean_variance_matches_clarabel() -> None:
    """Fewer days than assets but a return term: solved exactly or by the fallback, the
    answer is the tightly solved one."""
    r = np.random.default_rng(6).normal(0.0005, 0.01, size=(15, 20))
    cov, mu = np.cov(r, rowvar=False) * 252, r.mean(axis=0) * 252
    factor, _, c = _qp_data(cov, mu, "utility")
    ref = _tight_clarabel(factor, c, 0.2)
    fast = MeanRiskOptimizer("utility", risk_aversion=GAMMA, max_weight=0.2).solve(cov, mu)
    np.testing.assert_allclose(fast, ref, atol=1e-6)


def test_declined_problems_are_solved_by_cvxpy(monkeypatch) -> None:
    """Where the fast path returns None the compiled problem answers, as without it."""
    cov, mu = _problem(8, seed=2)
    monkeypatch.setattr(optimizer, "solve_box_qp", lambda *args: None)
    opt = MeanRiskOptimizer("utility", risk_aversion=GAMMA, max_weight=0.3)
    np.testing.assert_array_equal(
        opt.solve(cov, mu), _cvxpy_path("utility", max_weight=0.3).solve(cov, mu)
    )
    assert 8 in opt._cache


@pytest.mark.parametrize(
    "settings",
    [
        {"objective": "max_sharpe"},
        {"objective": "target_return", "target_return": 0.05},
        {"objective": "target_volatility", "target_volatility": 0.15},
        {"turnover_penalty": 0.01},
        {"cost_rate": 0.01},
        {"turnover_cap": 0.5},
        {"solver": "SCS"},
    ],
)
def test_only_the_problems_without_turnover_terms_take_the_fast_path(settings) -> None:
    cov, mu = _problem(5, seed=4)
    opt = MeanRiskOptimizer(**settings)
    opt.solve(cov, mu)
    assert 5 in opt._cache
    plain = MeanRiskOptimizer("utility")
    plain.solve(cov, mu)
    assert plain._cache == {}


def test_a_cap_below_one_over_n_gives_equal_weights_on_both_paths() -> None:
    """``max_weight·n < 1`` is raised to ``1/n`` (feasible, the only point); the QP itself
    refuses an infeasible cap."""
    cov, mu = _problem(8, seed=5)
    for objective in ("min_variance", "utility"):
        fast = MeanRiskOptimizer(objective, max_weight=0.05).solve(cov, mu)
        np.testing.assert_allclose(fast, np.full(8, 1 / 8), rtol=0, atol=1e-15)
        slow = _cvxpy_path(objective, max_weight=0.05).solve(cov, mu)
        np.testing.assert_allclose(fast, slow, atol=1e-6)
    with pytest.raises(ValueError, match=r"cap=0\.1 with n=8; expected cap >= 1/n"):
        solve_box_qp(cov, np.zeros(8), 0.1)
