"""The cvxpy optimiser against closed forms and an independent solver (scipy SLSQP).

Closed forms hold when no bound binds (Markowitz 1952; Merton 1972, "An analytic
derivation of the efficient portfolio frontier", JFQA 7(4)): the global minimum-variance
portfolio ``Σ⁻¹1 / 1ᵀΣ⁻¹1``, the tangency portfolio ``Σ⁻¹μ / 1ᵀΣ⁻¹μ`` and, for the
utility ``μᵀw − (γ/2) wᵀΣw`` with ``1ᵀw = 1``, the first-order condition
``μ = γΣw + η1``. Elsewhere the reference is SLSQP on the same problem, with
``‖w − w_prev‖₁`` written with split variables ``w = w_prev + u − v``, ``u, v >= 0``
so that it is smooth. SLSQP (``ftol`` 1e-14) and Clarabel agree to about 1e-6 on these
problems; the weight tolerance 1e-5 leaves a margin over that and is far below the
effect of any changed term.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from allocgym.baselines import MeanRiskOptimizer
from allocgym.baselines.optimizer import _factor
from allocgym.exceptions import OptimizationError

ATOL = 1e-5  # weights; see the module docstring


@pytest.fixture(scope="module")
def inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    n = 8
    a = rng.normal(size=(n, n)) * 0.1
    cov = a @ a.T + np.diag(rng.uniform(0.01, 0.05, n))
    mu = rng.normal(0.06, 0.04, n)
    return cov, mu


@pytest.fixture(scope="module")
def interior() -> tuple[np.ndarray, np.ndarray]:
    """A covariance whose unconstrained minimum-variance weights are all positive, and
    strictly positive weights ``w0`` that no bound touches."""
    rng = np.random.default_rng(3)
    n = 6
    a = rng.normal(size=(n, 2)) * 0.05
    cov = a @ a.T + np.diag(rng.uniform(0.02, 0.06, n))
    w0 = rng.uniform(0.5, 1.5, n)
    return cov, w0 / w0.sum()


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


def _slsqp_turnover(
    fun, prev: np.ndarray, kappa: float = 0.0, cap: float | None = None, ineq=()
) -> np.ndarray:
    """``min fun(w) + κ‖w − prev‖₁`` (s.t. ``‖w − prev‖₁ <= cap`` and ``g(w) >= 0`` for
    every ``g`` in ``ineq``), long-only, fully invested.

    Variables ``z = (w, u, v)`` with ``w − prev = u − v``, ``u, v >= 0``.
    """
    n = prev.size

    def split(z):
        return z[:n], z[n : 2 * n], z[2 * n :]

    cons = [
        {"type": "eq", "fun": lambda z: split(z)[0].sum() - 1.0},
        {"type": "eq", "fun": lambda z: split(z)[0] - prev - split(z)[1] + split(z)[2]},
    ]
    if cap is not None:
        cons.append({"type": "ineq", "fun": lambda z: cap - split(z)[1].sum() - split(z)[2].sum()})
    cons += [{"type": "ineq", "fun": lambda z, g=g: g(split(z)[0])} for g in ineq]
    res = minimize(
        lambda z: fun(split(z)[0]) + kappa * (split(z)[1].sum() + split(z)[2].sum()),
        np.concatenate([prev, np.zeros(2 * n)]),
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n + [(0.0, None)] * (2 * n),
        constraints=cons,
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    assert res.success, res.message
    return res.x[:n]


# ------------------------------------------------------------------ closed forms


def test_min_variance_is_the_global_minimum_variance_portfolio(interior) -> None:
    """``Σ⁻¹1 / 1ᵀΣ⁻¹1`` when it is long-only (the bounds do not bind)."""
    cov, _ = interior
    x = np.linalg.solve(cov, np.ones(cov.shape[0]))
    assert (x > 0).all()
    w = MeanRiskOptimizer("min_variance").solve(cov)
    np.testing.assert_allclose(w, x / x.sum(), atol=1e-6)


@pytest.mark.parametrize("gamma", [1.0, 4.0])
def test_utility_recovers_the_weights_its_returns_were_implied_from(interior, gamma) -> None:
    """With ``μ = γΣw₀ + c1`` the utility ``μᵀw − (γ/2)wᵀΣw`` is maximised at ``w₀``.

    First-order condition ``μ − γΣw − η1 = 0`` with ``η = c`` (reverse optimisation,
    He & Litterman 1999 eq. 1, with a constant added to every return).
    """
    cov, w0 = interior
    mu = gamma * cov @ w0 + 0.03
    w = MeanRiskOptimizer("utility", risk_aversion=gamma).solve(cov, mu)
    np.testing.assert_allclose(w, w0, atol=1e-6)


@pytest.mark.parametrize("scale", [0.7, 500.0])
def test_max_sharpe_is_the_tangency_portfolio(interior, scale: float) -> None:
    """``Σ⁻¹μ / 1ᵀΣ⁻¹μ`` when it is long-only: ``μ = s Σ w₀`` gives back ``w₀`` for any
    scale ``s > 0``, also when ``μᵀw₀ > 1`` makes the homogenising scale ``k = 1/μᵀw``
    less than one."""
    cov, w0 = interior
    mu = scale * cov @ w0
    assert (mu @ w0 > 1) == (scale > 1)
    w = MeanRiskOptimizer("max_sharpe").solve(cov, mu)
    np.testing.assert_allclose(w, w0, atol=1e-6)


def test_max_weight_below_one_over_n_is_raised_to_it(inputs) -> None:
    """``max_weight = 0.05 < 1/8``: the only feasible long-only portfolio is 1/N."""
    cov, mu = inputs
    for objective in ("min_variance", "utility", "max_sharpe"):
        w = MeanRiskOptimizer(objective, max_weight=0.05).solve(cov, mu)
        np.testing.assert_allclose(w, 1 / 8, atol=1e-6)


def test_one_asset_is_fully_invested() -> None:
    np.testing.assert_array_equal(MeanRiskOptimizer("utility").solve([[0.04]], [0.1]), [1.0])


def test_two_assets_min_variance_is_the_closed_form() -> None:
    """``w₁ = (σ₂² − σ₁₂) / (σ₁² + σ₂² − 2σ₁₂)``: σ = (0.2, 0.3), ρ = 0.25 give (0.75, 0.25)."""
    cov = np.array([[0.04, 0.015], [0.015, 0.09]])
    np.testing.assert_allclose(MeanRiskOptimizer().solve(cov), [0.75, 0.25], atol=1e-7)


# ------------------------------------------------------------------ SLSQP references


def test_min_variance_matches_slsqp(inputs) -> None:
    cov, _ = inputs
    w = MeanRiskOptimizer("min_variance").solve(cov)
    ref = _slsqp(lambda x: x @ cov @ x, cov.shape[0])
    assert (ref < 1e-6).any()  # the long-only bound binds: no closed form here
    np.testing.assert_allclose(w, ref, atol=ATOL)
    assert w @ cov @ w <= ref @ cov @ ref * (1 + 1e-6)


def test_max_sharpe_matches_slsqp(inputs) -> None:
    cov, mu = inputs
    w = MeanRiskOptimizer("max_sharpe").solve(cov, mu)
    ref = _slsqp(lambda x: -(mu @ x) / np.sqrt(x @ cov @ x), cov.shape[0])
    np.testing.assert_allclose(w, ref, atol=ATOL)
    sharpe = lambda x: mu @ x / np.sqrt(x @ cov @ x)  # noqa: E731
    assert sharpe(w) >= sharpe(ref) * (1 - 1e-6)


def test_max_sharpe_with_max_weight_matches_slsqp(inputs) -> None:
    """The cap enters the homogenised problem as ``y <= cap·k``."""
    cov, mu = inputs
    w = MeanRiskOptimizer("max_sharpe", max_weight=0.2).solve(cov, mu)
    ref = _slsqp(lambda x: -(mu @ x) / np.sqrt(x @ cov @ x), cov.shape[0], bounds=(0.0, 0.2))
    assert ref.max() == pytest.approx(0.2, abs=1e-6)  # binding
    np.testing.assert_allclose(w, ref, atol=ATOL)


def test_utility_and_max_weight_match_slsqp(inputs) -> None:
    cov, mu = inputs
    w = MeanRiskOptimizer("utility", risk_aversion=3.0, max_weight=0.3).solve(cov, mu)
    ref = _slsqp(lambda x: -(mu @ x - 1.5 * x @ cov @ x), cov.shape[0], bounds=(0.0, 0.3))
    np.testing.assert_allclose(w, ref, atol=ATOL)
    assert w.max() <= 0.3 + 1e-7


def test_target_volatility_matches_slsqp_and_binds(inputs) -> None:
    """max ``μᵀw`` s.t. ``wᵀΣw <= σ*²``; σ* between the minimum-variance and the
    highest-return asset's volatility, so the constraint binds."""
    cov, mu = inputs
    gmv = MeanRiskOptimizer("min_variance").solve(cov)
    top = np.sqrt(cov[np.argmax(mu), np.argmax(mu)])
    target = 0.5 * (np.sqrt(gmv @ cov @ gmv) + top)
    w = MeanRiskOptimizer("target_volatility", target_volatility=target).solve(cov, mu)
    vol = {"type": "ineq", "fun": lambda x: target**2 - x @ cov @ x}
    ref = _slsqp(lambda x: -(mu @ x), cov.shape[0], extra=[vol])
    np.testing.assert_allclose(w, ref, atol=ATOL)
    assert np.sqrt(w @ cov @ w) == pytest.approx(target, rel=1e-6)


def test_target_return_matches_slsqp_and_binds(inputs) -> None:
    """min ``wᵀΣw`` s.t. ``μᵀw >= r*`` with r* above the minimum-variance return."""
    cov, mu = inputs
    r_star = float(np.quantile(mu, 0.7))
    gmv = MeanRiskOptimizer("min_variance").solve(cov)
    assert mu @ gmv < r_star
    w = MeanRiskOptimizer("target_return", target_return=r_star).solve(cov, mu)
    ret = {"type": "ineq", "fun": lambda x: mu @ x - r_star}
    ref = _slsqp(lambda x: x @ cov @ x, cov.shape[0], extra=[ret])
    np.testing.assert_allclose(w, ref, atol=ATOL)
    assert mu @ w == pytest.approx(r_star, abs=1e-7)


@pytest.mark.parametrize(
    ("objective", "kwargs"),
    [
        ("min_variance", {"turnover_penalty": 0.01}),
        ("min_variance", {"cost_rate": 0.01}),
        ("utility", {"turnover_penalty": 0.004, "cost_rate": 0.002}),
    ],
)
def test_turnover_penalty_and_cost_rate_match_slsqp(inputs, objective: str, kwargs: dict) -> None:
    """Objective ``± (κ + c)‖w − w_prev‖₁``: both coefficients count, once each.

    Near the kinks of ``|·|`` the objective is flat: with Clarabel's default tolerances
    the weights sit up to 4e-5 from the exact optimum (objective 3e-10 above it), so
    weights are compared at 1e-4 and objective values at 1e-7 relative. Dropping or
    doubling a coefficient moves the weights by more than 1e-2.
    """
    cov, mu = inputs
    prev = np.linspace(1.0, 3.0, cov.shape[0])
    prev /= prev.sum()
    kappa = kwargs.get("turnover_penalty", 0.0) + kwargs.get("cost_rate", 0.0)
    if objective == "min_variance":
        fun = lambda x: x @ cov @ x  # noqa: E731
    else:
        fun = lambda x: -(mu @ x - 1.25 * x @ cov @ x)  # noqa: E731 (γ = 2.5)
    w = MeanRiskOptimizer(objective, **kwargs).solve(cov, mu, prev=prev)
    ref = _slsqp_turnover(fun, prev, kappa=kappa)
    free = MeanRiskOptimizer(objective).solve(cov, mu, prev=prev)
    assert np.abs(ref - free).max() > 0.01  # the penalty matters here
    np.testing.assert_allclose(w, ref, atol=1e-4)
    total = lambda x: fun(x) + kappa * np.abs(x - prev).sum()  # noqa: E731
    assert total(w) == pytest.approx(total(ref), rel=1e-7)


def test_target_objectives_charge_the_turnover_penalty(inputs) -> None:
    """target_volatility maximises ``μᵀw − κΔ`` s.t. ``‖Fw‖ <= σ*``; target_return
    minimises ``wᵀΣw + cΔ`` s.t. ``μᵀw >= r*``: the trade term is a cost in both."""
    cov, mu = inputs
    prev = np.linspace(1.0, 3.0, cov.shape[0])
    prev /= prev.sum()
    gmv = MeanRiskOptimizer("min_variance").solve(cov)
    sigma = 0.5 * (np.sqrt(gmv @ cov @ gmv) + np.sqrt(cov[np.argmax(mu), np.argmax(mu)]))
    r_star = float(np.quantile(mu, 0.7))
    cases = [
        (
            {
                "objective": "target_volatility",
                "target_volatility": sigma,
                "turnover_penalty": 0.01,
            },
            lambda x: -(mu @ x),
            lambda x: sigma**2 - x @ cov @ x,
        ),
        (
            {"objective": "target_return", "target_return": r_star, "cost_rate": 0.005},
            lambda x: x @ cov @ x,
            lambda x: mu @ x - r_star,
        ),
    ]
    for kwargs, fun, constraint in cases:
        w = MeanRiskOptimizer(**kwargs).solve(cov, mu, prev=prev)
        kappa = kwargs.get("turnover_penalty", 0.0) + kwargs.get("cost_rate", 0.0)
        ref = _slsqp_turnover(fun, prev, kappa=kappa, ineq=(constraint,))
        free = {k: v for k, v in kwargs.items() if k not in ("turnover_penalty", "cost_rate")}
        assert np.abs(ref - MeanRiskOptimizer(**free).solve(cov, mu, prev=prev)).max() > 0.01
        np.testing.assert_allclose(w, ref, atol=1e-4)


@pytest.mark.parametrize("objective", ["min_variance", "max_sharpe"])
def test_turnover_cap_matches_slsqp_and_binds(inputs, objective: str) -> None:
    cov, mu = inputs
    prev = np.full(cov.shape[0], 1.0 / cov.shape[0])
    if objective == "min_variance":
        fun = lambda x: x @ cov @ x  # noqa: E731
    else:
        fun = lambda x: -(mu @ x) / np.sqrt(x @ cov @ x)  # noqa: E731
    capped = MeanRiskOptimizer(objective, turnover_cap=0.1).solve(cov, mu, prev=prev)
    ref = _slsqp_turnover(fun, prev, cap=0.1)
    np.testing.assert_allclose(capped, ref, atol=ATOL)
    assert np.abs(capped - prev).sum() == pytest.approx(0.1, abs=1e-6)
    # the default previous weights are equal weight
    default = MeanRiskOptimizer(objective, turnover_cap=0.1).solve(cov, mu)
    np.testing.assert_allclose(default, capped, atol=1e-7)


def test_turnover_penalty_reduces_turnover(inputs) -> None:
    cov, _mu = inputs
    prev = np.full(cov.shape[0], 1.0 / cov.shape[0])
    free = MeanRiskOptimizer("min_variance").solve(cov, prev=prev)
    penalised = MeanRiskOptimizer("min_variance", turnover_penalty=1.0).solve(cov, prev=prev)
    assert np.abs(free - prev).sum() > 0.1
    assert np.abs(penalised - prev).sum() < np.abs(free - prev).sum()


def test_factor_reproduces_the_covariance_also_when_singular(inputs) -> None:
    """``FᵀF = Σ`` from Cholesky and, for a singular Σ (rank 5 of 8), from eigh."""
    cov, _ = inputs
    np.testing.assert_allclose(_factor(cov).T @ _factor(cov), cov, atol=1e-14)
    b = np.random.default_rng(8).normal(size=(8, 5)) * 0.1
    singular = b @ b.T
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(singular)
    f = _factor(singular)
    np.testing.assert_allclose(f.T @ f, singular, atol=1e-14)
    w = MeanRiskOptimizer("min_variance").solve(singular)
    ref = _slsqp(lambda x: x @ singular @ x, 8)
    assert w @ singular @ w == pytest.approx(ref @ singular @ ref, abs=1e-8)


def _cvxpy_only(objective: str) -> MeanRiskOptimizer:
    """An optimiser that skips the exact fast path (these tests are of the cvxpy path)."""
    opt = MeanRiskOptimizer(objective)
    opt._fast_path = False
    return opt


def test_problem_is_compiled_once_per_size(inputs) -> None:
    cov, mu = inputs
    opt = _cvxpy_only("utility")
    first = opt.solve(cov, mu)
    problem = opt._cache[cov.shape[0]].problem
    assert problem.is_dpp()
    second = opt.solve(cov * 1.1, mu * 0.9)
    assert opt._cache[cov.shape[0]].problem is problem
    # the re-solve used the new numbers: same as a fresh optimiser on them
    np.testing.assert_allclose(second, _cvxpy_only("utility").solve(cov * 1.1, mu * 0.9))
    assert np.abs(second - first).max() > 1e-3


def test_max_sharpe_without_positive_returns_raises_clearly(inputs) -> None:
    """Zero is not positive: a best expected return of exactly 0 is refused too."""
    cov, mu = inputs
    with pytest.raises(OptimizationError, match="positive expected return"):
        MeanRiskOptimizer("max_sharpe").solve(cov, -np.abs(mu))
    flat = -np.abs(mu)
    flat[3] = 0.0
    with pytest.raises(OptimizationError, match=r"positive expected return; the largest is 0$"):
        MeanRiskOptimizer("max_sharpe").solve(cov, flat)


class _FinishedSolver:
    """Stands in for a compiled problem whose solver ended with ``status`` and left
    ``value`` in the weight variable (cvxpy keeps a solution for ``user_limit``)."""

    def __init__(self, w, status: str, value) -> None:
        self.w, self.status, self.value = w, status, np.asarray(value, dtype=float)

    def solve(self, **kwargs) -> None:
        self.w.value = self.value


def _finishing(status: str, value) -> MeanRiskOptimizer:
    opt = _cvxpy_only("min_variance")
    n = len(value)
    opt.solve(np.eye(n))  # compile
    compiled = opt._cache[n]
    compiled.problem = _FinishedSolver(compiled.w, status, value)
    return opt


def test_a_solver_stopped_at_its_iteration_limit_is_a_failure() -> None:
    """cvxpy fills the variables for ``user_limit``; that unconverged point is not used."""
    import cvxpy as cp

    opt = _finishing(cp.USER_LIMIT, [0.3, 0.3, 0.4])
    with pytest.raises(OptimizationError, match="min_variance: solver status 'user_limit'"):
        opt.solve(np.eye(3))


def test_the_solution_is_clipped_at_zero_and_rescaled_to_sum_to_one() -> None:
    """Solver round-off (a −1e-9 weight, a sum of 0.8) never reaches the caller."""
    import cvxpy as cp

    w = _finishing(cp.OPTIMAL, [-1e-9, 0.3, 0.5]).solve(np.eye(3))
    np.testing.assert_allclose(w, [0.0, 0.375, 0.625], rtol=1e-15, atol=0)
    with pytest.raises(OptimizationError, match=r"solution sums to 0\.0$"):
        _finishing(cp.OPTIMAL, [-1e-9, 0.0, 0.0]).solve(np.eye(3))


def test_infeasible_target_return_raises(inputs) -> None:
    cov, mu = inputs
    with pytest.raises(OptimizationError, match="status"):
        MeanRiskOptimizer("target_return", target_return=mu.max() + 1).solve(cov, mu)


def test_non_finite_inputs_raise(inputs) -> None:
    cov, mu = inputs
    bad = cov.copy()
    bad[0, 0] = np.nan
    with pytest.raises(OptimizationError, match="non-finite"):
        MeanRiskOptimizer().solve(bad)
    with pytest.raises(OptimizationError, match="non-finite"):
        MeanRiskOptimizer("utility").solve(cov, np.where(mu > 0.06, np.inf, mu))
    with pytest.raises(ValueError, match="needs mu"):
        MeanRiskOptimizer("utility").solve(cov)


@pytest.mark.parametrize(
    ("cov", "mu", "prev", "shapes"),
    [
        ([[0.04, 0.01]], [0.1], None, r"cov has shape \(1, 2\), mu \(1,\), prev \(1,\)"),
        ([0.04, 0.09], [0.1, 0.2], None, r"cov has shape \(2,\)"),
        (np.eye(2), [0.1, 0.2, 0.3], None, r"mu \(3,\)"),
        (np.eye(2), [0.1, 0.2], [1.0], r"prev \(1,\)"),
    ],
)
def test_mismatched_shapes_are_rejected(cov, mu, prev, shapes: str) -> None:
    """Named in a ValueError, also for one asset (which otherwise needs no solver)."""
    with pytest.raises(ValueError, match=shapes + r".*expected \(n, n\), \(n,\), \(n,\)"):
        MeanRiskOptimizer("utility").solve(cov, mu, prev)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"objective": "best"}, "objective"),
        ({"objective": "target_volatility"}, "target_volatility"),
        ({"objective": "target_return"}, "target_return"),
        ({"max_weight": 0.0}, "max_weight"),
        ({"max_weight": 1.01}, "max_weight"),
        ({"turnover_cap": -1.0}, "turnover_cap"),
        ({"turnover_cap": 0.0}, r"turnover_cap=0.0; expected > 0 or None"),
        ({"turnover_penalty": -0.1}, "turnover_penalty"),
        ({"cost_rate": -0.1}, "cost_rate"),
        ({"risk_aversion": 0.0}, "risk_aversion"),
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MeanRiskOptimizer(**kwargs)


def test_get_params_and_replace_copy_the_settings(inputs) -> None:
    cov, mu = inputs
    opt = MeanRiskOptimizer("utility", risk_aversion=5.0, max_weight=0.3, turnover_cap=0.4)
    params = opt.get_params()
    assert params == {
        "objective": "utility", "risk_aversion": 5.0, "target_volatility": None,
        "target_return": None, "max_weight": 0.3, "turnover_penalty": 0.0,
        "turnover_cap": 0.4, "cost_rate": 0.0, "solver": "CLARABEL",
    }  # fmt: skip
    penalised = opt.replace(cost_rate=0.01)
    assert penalised.get_params() == {**params, "cost_rate": 0.01}
    assert opt.cost_rate == 0.0  # unchanged
    np.testing.assert_array_equal(opt.replace().solve(cov, mu), opt.solve(cov, mu))
    assert repr(opt) == (
        "MeanRiskOptimizer(objective='utility', risk_aversion=5.0, max_weight=0.3, "
        "turnover_cap=0.4)"
    )
    with pytest.raises(ValueError, match="max_weight"):
        opt.replace(max_weight=2.0)
