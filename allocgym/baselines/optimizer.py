"""Long-only mean–risk optimiser on cvxpy, with problems compiled once and re-solved.

Every problem is written in disciplined parametrised programming (DPP) form: the
covariance enters through a factor parameter ``F`` with ``Σ = Fᵀ F`` (``risk = ‖F w‖²``),
the expected returns and the previous weights are parameters too, so cvxpy compiles
each problem once per universe size and every later rebalance only copies new numbers
in and calls the solver (Agrawal et al. 2019).

Objectives (``w ≥ 0``, ``1ᵀw = 1``, ``w ≤ max_weight``; ``c = cost_rate``,
``κ = turnover_penalty``, ``Δ = ‖w − w_prev‖₁``):

- ``min_variance``: minimise ``wᵀΣw + κΔ + cΔ``.
- ``utility``: maximise ``μᵀw − (γ/2) wᵀΣw − κΔ − cΔ``.
- ``max_sharpe``: maximise ``μᵀw / √(wᵀΣw)`` via the homogenised QP
  ``min ‖F y‖²`` s.t. ``μᵀy = 1``, ``1ᵀy = k``, ``0 ≤ y ≤ max_weight·k``, ``w = y / k``
  (Cornuejols & Tütüncü 2007, §8.2). Needs some ``μ_i > 0``; the penalty terms are
  not used (a turnover cap is).
- ``target_volatility``: maximise ``μᵀw − κΔ − cΔ`` s.t. ``‖F w‖ ≤ σ*``.
- ``target_return``: minimise ``wᵀΣw + κΔ + cΔ`` s.t. ``μᵀw ≥ r*``.

``turnover_cap`` adds ``Δ ≤ cap``. Units are the caller's (the baselines pass
annualised ``μ`` and ``Σ``). ``max_weight`` is raised to ``1/n`` when fewer than
``1/max_weight`` assets are available, so the problem stays feasible.

Fast path: ``min_variance`` and ``utility`` without turnover terms (no ``turnover_cap``,
``κ = c = 0``) are the QP ``min wᵀΣw − c̃ᵀw`` on the capped simplex (``c̃ = 0`` or
``(2/γ)μ``), which :func:`~allocgym.baselines._qp.solve_box_qp` solves exactly by an
active-set method in numpy, with its KKT conditions checked, in a fraction of cvxpy's
per-solve overhead. Where it cannot certify its answer (a singular ``Σ`` with several
minimisers, cycling) the cvxpy problem is solved as before; a ``solver`` other than
Clarabel always goes to cvxpy. The exact answer differs from Clarabel's by up to a
few 1e-4 in weights where the objective is flat near its minimum (Clarabel stops at a
relative duality gap of 1e-8, which bounds the objective, not the weights), with an
objective never above Clarabel's.

References
----------
Agrawal, A., Barratt, S., Boyd, S., Busseti, E. and Moursi, W. (2019). Differentiating
through a cone program. *J. Appl. Numer. Optim.* 1(2) (DPP).
Cornuejols, G. and Tütüncü, R. (2007). *Optimization Methods in Finance*. CUP.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, ClassVar

import cvxpy as cp
import numpy as np

from allocgym._typing import FloatArray
from allocgym.baselines._qp import solve_box_qp
from allocgym.exceptions import OptimizationError

__all__ = ["OBJECTIVES", "MeanRiskOptimizer"]

OBJECTIVES = ("min_variance", "utility", "max_sharpe", "target_volatility", "target_return")


@dataclass
class _Compiled:
    problem: cp.Problem
    w: cp.Variable
    k: cp.Variable | None
    factor: cp.Parameter
    mu: cp.Parameter
    prev: cp.Parameter
    cap: cp.Parameter


class MeanRiskOptimizer:
    """Long-only, fully invested mean–risk optimiser (see the module docstring).

    Parameters
    ----------
    objective : {"min_variance", "utility", "max_sharpe", "target_volatility", "target_return"}
    risk_aversion : float
        ``γ`` of the utility objective.
    target_volatility, target_return : float, optional
        Required by the objectives of the same name (same units as ``μ``, ``Σ``).
    max_weight : float
        Upper bound on each asset's weight, in (0, 1].
    turnover_penalty : float
        ``κ`` in objective units per unit of one-way turnover ``‖w − w_prev‖₁``.
    turnover_cap : float, optional
        Hard limit on ``‖w − w_prev‖₁``.
    cost_rate : float
        Proportional cost penalty per unit of turnover, in the objective's units (the
        baselines set it from their ``cost_penalty_bps``, amortised over the rebalance
        period); 0 leaves the textbook problem.
    solver : str
        cvxpy solver name (default Clarabel). With Clarabel, the problems without
        turnover terms take the exact active-set fast path (module docstring).
    """

    _fast_path: ClassVar[bool] = True
    """Solve the problems without turnover terms by :func:`solve_box_qp` (off: always
    cvxpy, to compare the two in tests and benchmarks)."""

    def __init__(
        self,
        objective: str = "min_variance",
        *,
        risk_aversion: float = 2.5,
        target_volatility: float | None = None,
        target_return: float | None = None,
        max_weight: float = 1.0,
        turnover_penalty: float = 0.0,
        turnover_cap: float | None = None,
        cost_rate: float = 0.0,
        solver: str = "CLARABEL",
    ) -> None:
        if objective not in OBJECTIVES:
            raise ValueError(f"objective={objective!r}; expected one of {OBJECTIVES}")
        if objective == "target_volatility" and not (target_volatility or 0) > 0:
            raise ValueError(
                f"objective='target_volatility' needs target_volatility > 0; got "
                f"{target_volatility!r}"
            )
        if objective == "target_return" and target_return is None:
            raise ValueError("objective='target_return' needs target_return; got None")
        if not 0 < max_weight <= 1:
            raise ValueError(f"max_weight={max_weight!r}; expected a number in (0, 1]")
        if risk_aversion <= 0:
            raise ValueError(f"risk_aversion={risk_aversion!r}; expected > 0")
        if turnover_penalty < 0 or cost_rate < 0:
            raise ValueError(
                f"turnover_penalty={turnover_penalty!r}, cost_rate={cost_rate!r}; expected >= 0"
            )
        if turnover_cap is not None and not turnover_cap > 0:
            raise ValueError(f"turnover_cap={turnover_cap!r}; expected > 0 or None")
        self.objective = objective
        self.risk_aversion = float(risk_aversion)
        self.target_volatility = target_volatility
        self.target_return = target_return
        self.max_weight = float(max_weight)
        self.turnover_penalty = float(turnover_penalty)
        self.turnover_cap = turnover_cap
        self.cost_rate = float(cost_rate)
        self.solver = solver
        self._cache: dict[int, _Compiled] = {}

    def get_params(self) -> dict[str, Any]:
        """The settings this optimiser was built with (its constructor's arguments)."""
        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    def replace(self, **changes: Any) -> MeanRiskOptimizer:
        """A new optimiser with ``changes`` applied to these settings (this one is unchanged)."""
        return type(self)(**{**self.get_params(), **changes})

    def __repr__(self) -> str:
        defaults = {n: p.default for n, p in inspect.signature(type(self)).parameters.items()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults[k]]
        return f"{type(self).__name__}({', '.join(changed)})"

    # ------------------------------------------------------------------ compilation
    def _compile(self, n: int) -> _Compiled:
        factor = cp.Parameter((n, n), name="F")
        mu = cp.Parameter(n, name="mu")
        prev = cp.Parameter(n, name="w_prev")
        cap = cp.Parameter(nonneg=True, name="max_weight")
        if self.objective == "max_sharpe":
            y = cp.Variable(n, name="y")
            k = cp.Variable(nonneg=True, name="k")
            cons = [mu @ y == 1, cp.sum(y) == k, y >= 0, y <= cap * k]
            if self.turnover_cap is not None:
                cons.append(cp.norm1(y - k * prev) <= self.turnover_cap * k)
            problem = cp.Problem(cp.Minimize(cp.sum_squares(factor @ y)), cons)
            return _Compiled(problem, y, k, factor, mu, prev, cap)

        w = cp.Variable(n, name="w")
        cons = [cp.sum(w) == 1, w >= 0, w <= cap]
        if self.turnover_cap is not None:
            cons.append(cp.norm1(w - prev) <= self.turnover_cap)
        trade = self.turnover_penalty + self.cost_rate
        penalty = trade * cp.norm1(w - prev) if trade > 0 else 0.0
        risk = cp.sum_squares(factor @ w)
        if self.objective == "min_variance":
            obj = cp.Minimize(risk + penalty)
        elif self.objective == "utility":
            obj = cp.Maximize(mu @ w - 0.5 * self.risk_aversion * risk - penalty)
        elif self.objective == "target_volatility":
            cons.append(cp.norm(factor @ w, 2) <= float(self.target_volatility))
            obj = cp.Maximize(mu @ w - penalty)
        else:  # target_return
            cons.append(mu @ w >= float(self.target_return))
            obj = cp.Minimize(risk + penalty)
        return _Compiled(cp.Problem(obj, cons), w, None, factor, mu, prev, cap)

    # ------------------------------------------------------------------ solving
    def solve(
        self, cov: FloatArray, mu: FloatArray | None = None, prev: FloatArray | None = None
    ) -> FloatArray:
        """Optimal weights over the ``n`` assets of ``cov`` (shape (n,), sum 1, >= 0).

        Parameters
        ----------
        cov : ndarray, shape (n, n)
            Covariance (symmetric positive semi-definite).
        mu : ndarray, shape (n,), optional
            Expected returns; required by every objective but ``min_variance``.
        prev : ndarray, shape (n,), optional
            Current weights, for the turnover terms (default: equal weight).

        Raises
        ------
        ValueError
            ``cov``, ``mu`` or ``prev`` of mismatched shapes, or no ``mu`` for an
            objective that needs it.
        OptimizationError
            Non-finite inputs, max-Sharpe with no positive expected return, solver
            failure, infeasibility or a non-finite solution.
        """
        cov = np.asarray(cov, dtype=np.float64)
        n = cov.shape[0]
        if mu is None:
            if self.objective != "min_variance":
                raise ValueError(f"objective={self.objective!r} needs mu; got None")
            mu = np.zeros(n)
        mu = np.asarray(mu, dtype=np.float64)
        prev = np.full(n, 1.0 / n) if prev is None else np.asarray(prev, dtype=np.float64)
        if cov.shape != (n, n) or mu.shape != (n,) or prev.shape != (n,):
            raise ValueError(
                f"cov has shape {cov.shape}, mu {mu.shape}, prev {prev.shape}; expected "
                "(n, n), (n,), (n,)"
            )
        if not (np.isfinite(cov).all() and np.isfinite(mu).all() and np.isfinite(prev).all()):
            raise OptimizationError("non-finite covariance, expected returns or weights")
        if n == 1:
            return np.ones(1)
        if self.objective == "max_sharpe" and not (mu > 0).any():
            raise OptimizationError(
                f"max_sharpe needs at least one asset with a positive expected return; "
                f"the largest is {mu.max():.6g}"
            )
        factor = _factor(cov)
        cap = max(self.max_weight, 1.0 / n)
        if self._fast_path and self._is_box_qp():
            w = self._solve_box_qp(factor, mu, cap)
            if w is not None:
                return w
        return self._solve_cvxpy(factor, mu, prev, cap)

    def _is_box_qp(self) -> bool:
        """Whether the problem is :mod:`~allocgym.baselines._qp`'s: no turnover terms."""
        return (
            self.objective in ("min_variance", "utility")
            and self.turnover_cap is None
            and self.turnover_penalty + self.cost_rate == 0
            and self.solver.upper() == "CLARABEL"
        )

    def _solve_box_qp(self, factor: FloatArray, mu: FloatArray, cap: float) -> FloatArray | None:
        """The exact active-set answer, or ``None`` where it cannot be certified.

        ``μᵀw − (γ/2)‖Fw‖²`` is maximised where ``‖Fw‖² − (2/γ)μᵀw`` is minimised.
        """
        lin = np.zeros_like(mu) if self.objective == "min_variance" else 2 * mu / self.risk_aversion
        sol = solve_box_qp(factor.T @ factor, lin, cap)
        return None if sol is None else _normalised(self.objective, sol.weights)

    def _solve_cvxpy(
        self, factor: FloatArray, mu: FloatArray, prev: FloatArray, cap: float
    ) -> FloatArray:
        """The compiled cvxpy problem of this size, re-solved with these numbers."""
        n = factor.shape[0]
        c = self._cache.get(n)
        if c is None:
            c = self._cache[n] = self._compile(n)
        c.factor.value = factor
        c.mu.value = mu
        c.prev.value = prev
        c.cap.value = cap
        try:
            c.problem.solve(solver=self.solver, warm_start=False)
        except cp.error.SolverError as exc:
            msg = f"{self.objective}: solver {self.solver} failed: {exc}"
            raise OptimizationError(msg) from exc
        if c.problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or c.w.value is None:
            raise OptimizationError(f"{self.objective}: solver status {c.problem.status!r}")
        w = np.asarray(c.w.value, dtype=np.float64)
        if c.k is not None:
            k = float(c.k.value)
            if not k > 0:
                raise OptimizationError(f"max_sharpe: degenerate scale k={k}")
            w = w / k
        return _normalised(self.objective, w)


def _normalised(objective: str, w: FloatArray) -> FloatArray:
    """``w`` clipped at 0 and rescaled to sum 1 (solvers leave ~1e-9 residuals)."""
    if not np.isfinite(w).all():
        raise OptimizationError(f"{objective}: non-finite solution")
    w = np.clip(w, 0.0, None)
    total = w.sum()
    if not total > 0:
        raise OptimizationError(f"{objective}: solution sums to {total}")
    return w / total


def _factor(cov: FloatArray) -> FloatArray:
    """Upper factor ``F`` with ``FᵀF = Σ`` (Cholesky; eigen-decomposition if singular)."""
    cov = 0.5 * (cov + cov.T)
    try:
        return np.linalg.cholesky(cov).T
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(cov)
        return (vecs * np.sqrt(np.clip(vals, 0.0, None))).T
