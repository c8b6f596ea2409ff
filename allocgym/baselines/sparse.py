"""Maximum Sharpe ratio with an L1 penalty on the deviations from a reference portfolio.

Long-only and fully invested, ``‖w‖₁ = 1ᵀw = 1`` for every feasible ``w``: an L1 penalty
on the weights themselves is a constant and changes nothing. The sparsity that matters
for a long-only book is in its *active bets*, the deviations from a reference portfolio
``w_ref`` (1/N by default), so the penalty is put there:

``max_w  (μᵀw − γ ‖w − w_ref‖₁ − c ‖w − w_prev‖₁) / √(wᵀΣw)``
``s.t.  w ≥ 0,  1ᵀw = 1,  w ≤ max_weight``.

Each unit of weight moved away from the reference costs ``γ`` of expected return (moving
``δ`` from asset ``j`` to ``i`` pays ``2γδ``), so an asset leaves its reference weight
only when its expected-return edge beats the hurdle: the L1 term's kink at ``w = w_ref``
keeps most weights exactly at the reference (as the lasso keeps coefficients at zero),
``γ = 0`` is the plain maximum Sharpe portfolio and a large ``γ`` holds ``w_ref``. The
numerator is the return net of the penalties, as skfolio's ``MeanRisk`` with
``MAXIMIZE_RATIO`` nets transaction costs from ``previous_weights`` (the tests use this
to cross-check). ``c`` is the optimiser's ``cost_rate`` (the policies'
``cost_penalty_bps``), a turnover penalty from the current weights ``w_prev``.

The ratio of a concave, positively homogeneous numerator to a norm is solved exactly
by the homogenised convex problem (Cornuejols & Tütüncü 2007, §8.2): with ``y = k w``,

``min ‖F y‖²  s.t.  μᵀy − γ‖y − k w_ref‖₁ − c‖y − k w_prev‖₁ ≥ 1,  1ᵀy = k,
0 ≤ y ≤ max_weight·k``,

``Σ = FᵀF``, ``w = y / k``. It needs some portfolio with a positive penalised return;
otherwise the problem is infeasible and the policy falls back (as ``max_sharpe`` does).

The Sharpe form is chosen over the utility form ``μᵀw − λ/2 wᵀΣw − γ‖w − w_ref‖₁``
because it is what the name says (the case study's "Sharpe objective with L1
sparsity"), needs no risk-aversion choice, and reduces to the existing ``max_sharpe``
baseline at ``γ = 0``.

References
----------
Cornuejols, G. and Tütüncü, R. (2007). *Optimization Methods in Finance*. CUP.
Tibshirani, R. (1996). Regression shrinkage and selection via the lasso. *JRSS B* 58(1).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np

from allocgym._typing import FloatArray
from allocgym.baselines._presets import bind_settings, keyword_parameters, preset_signature
from allocgym.baselines._schedule import full_weights
from allocgym.baselines.optimizer import _factor
from allocgym.baselines.policies import MeanRiskPolicy
from allocgym.exceptions import OptimizationError
from allocgym.policy import PolicyState

__all__ = ["SparseMaxSharpe", "SparseSharpeOptimizer"]


@dataclass
class _Compiled:
    problem: cp.Problem
    y: cp.Variable
    k: cp.Variable
    factor: cp.Parameter
    mu: cp.Parameter
    ref: cp.Parameter
    prev: cp.Parameter
    cap: cp.Parameter


class SparseSharpeOptimizer:
    """Maximum Sharpe ratio with the L1 deviation penalty of the module docstring.

    Parameters
    ----------
    gamma : float
        ``γ >= 0``, expected return (in the units of ``μ``, annual in the baselines)
        given up per unit of ``‖w − w_ref‖₁``.
    max_weight : float
        Upper bound on each weight, in (0, 1] (raised to ``1/n`` when needed).
    cost_rate : float
        ``c >= 0`` per unit of ``‖w − w_prev‖₁`` (set by ``cost_penalty_bps``).
    solver : str
        cvxpy solver name (default Clarabel).

    The problem is compiled once per universe size in DPP form and re-solved with new
    parameters at each rebalance, as :class:`~allocgym.baselines.MeanRiskOptimizer`.
    """

    def __init__(
        self,
        gamma: float = 0.1,
        *,
        max_weight: float = 1.0,
        cost_rate: float = 0.0,
        solver: str = "CLARABEL",
    ) -> None:
        if not (isinstance(gamma, int | float) and np.isfinite(gamma) and gamma >= 0):
            raise ValueError(f"gamma={gamma!r}; expected a finite number >= 0")
        if not 0 < max_weight <= 1:
            raise ValueError(f"max_weight={max_weight!r}; expected a number in (0, 1]")
        if not cost_rate >= 0:
            raise ValueError(f"cost_rate={cost_rate!r}; expected >= 0")
        self.gamma = float(gamma)
        self.max_weight = float(max_weight)
        self.cost_rate = float(cost_rate)
        self.solver = solver
        self._cache: dict[int, _Compiled] = {}

    def get_params(self) -> dict[str, Any]:
        """The settings this optimiser was built with (its constructor's arguments)."""
        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    def replace(self, **changes: Any) -> SparseSharpeOptimizer:
        """A new optimiser with ``changes`` applied to these settings."""
        return type(self)(**{**self.get_params(), **changes})

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def _compile(self, n: int) -> _Compiled:
        factor = cp.Parameter((n, n), name="F")
        mu, ref, prev = (cp.Parameter(n, name=s) for s in ("mu", "w_ref", "w_prev"))
        cap = cp.Parameter(nonneg=True, name="max_weight")
        y = cp.Variable(n, name="y")
        k = cp.Variable(nonneg=True, name="k")
        net = mu @ y
        if self.gamma > 0:
            net = net - self.gamma * cp.norm1(y - k * ref)
        if self.cost_rate > 0:
            net = net - self.cost_rate * cp.norm1(y - k * prev)
        cons = [net >= 1, cp.sum(y) == k, y >= 0, y <= cap * k]
        problem = cp.Problem(cp.Minimize(cp.sum_squares(factor @ y)), cons)
        return _Compiled(problem, y, k, factor, mu, ref, prev, cap)

    def solve(
        self,
        cov: FloatArray,
        mu: FloatArray,
        prev: FloatArray | None = None,
        reference: FloatArray | None = None,
    ) -> FloatArray:
        """Optimal weights, shape (n,), ``>= 0``, summing to 1.

        Parameters
        ----------
        cov : ndarray, shape (n, n)
            Covariance (positive semi-definite).
        mu : ndarray, shape (n,)
            Expected returns.
        prev : ndarray, shape (n,), optional
            Current weights for the ``cost_rate`` term (default equal weight).
        reference : ndarray, shape (n,), optional
            ``w_ref`` (default equal weight); renormalised to sum 1.

        Raises
        ------
        ValueError
            Mismatched shapes, or a reference with negative entries or zero sum.
        OptimizationError
            Non-finite input, no portfolio with a positive penalised return
            (infeasible), solver failure or a degenerate solution.
        """
        cov = np.asarray(cov, dtype=np.float64)
        n = cov.shape[0]
        mu = np.asarray(mu, dtype=np.float64)
        prev = np.full(n, 1.0 / n) if prev is None else np.asarray(prev, dtype=np.float64)
        ref = np.full(n, 1.0 / n) if reference is None else np.asarray(reference, dtype=float)
        if cov.shape != (n, n) or mu.shape != (n,) or prev.shape != (n,) or ref.shape != (n,):
            raise ValueError(
                f"cov has shape {cov.shape}, mu {mu.shape}, prev {prev.shape}, reference "
                f"{ref.shape}; expected (n, n), (n,), (n,), (n,)"
            )
        if (ref < 0).any() or not ref.sum() > 0:
            raise ValueError(f"reference={ref.tolist()}; expected weights >= 0 with a positive sum")
        if not all(np.isfinite(a).all() for a in (cov, mu, prev, ref)):
            raise OptimizationError("non-finite covariance, expected returns or weights")
        if n == 1:
            return np.ones(1)
        c = self._cache.get(n)
        if c is None:
            c = self._cache[n] = self._compile(n)
        c.factor.value = _factor(cov)
        c.mu.value, c.ref.value, c.prev.value = mu, ref / ref.sum(), prev
        c.cap.value = max(self.max_weight, 1.0 / n)
        try:
            c.problem.solve(solver=self.solver, warm_start=False)
        except cp.error.SolverError as exc:
            raise OptimizationError(f"sparse max-Sharpe: solver {self.solver} failed") from exc
        if c.problem.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            raise OptimizationError(
                f"sparse max-Sharpe: no portfolio has a positive expected return net of the L1 "
                f"penalty (gamma={self.gamma}); the largest expected return is {mu.max():.6g}"
            )
        if c.problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or c.y.value is None:
            raise OptimizationError(f"sparse max-Sharpe: solver status {c.problem.status!r}")
        k = float(c.k.value)
        if not k > 0:
            raise OptimizationError(f"sparse max-Sharpe: degenerate scale k={k}")
        w = np.clip(np.asarray(c.y.value, dtype=np.float64) / k, 0.0, None)
        if not (np.isfinite(w).all() and w.sum() > 0):
            raise OptimizationError("sparse max-Sharpe: non-finite solution")
        return w / w.sum()


_SPARSE_SETTINGS = keyword_parameters(SparseSharpeOptimizer, omit=("cost_rate",))


@preset_signature(keyword_parameters(MeanRiskPolicy, omit=("optimizer",)), _SPARSE_SETTINGS)
class SparseMaxSharpe(MeanRiskPolicy):
    """Maximum Sharpe ratio with an L1 penalty on the deviations from a reference portfolio.

    ``MeanRiskPolicy(SparseSharpeOptimizer(gamma, ...))``: at each rebalance annualised
    ``μ`` (window mean, or the ``lstm_forecast`` feature with
    ``expected_returns="forecast"``) and ``Σ`` (``covariance``) from the last
    ``lookback`` returns dated <= t, then :class:`SparseSharpeOptimizer` with
    ``w_ref`` = ``reference_weights`` renormalised over the tradable assets (default
    1/N). See the module docstring for the objective and why the penalty is on the
    deviations from ``w_ref``.

    Parameters
    ----------
    reference_weights : array of shape (n_assets,), optional
        The reference portfolio (market order; default equal weight).
    gamma : float
        ``γ >= 0`` in annual expected return per unit of ``‖w − w_ref‖₁`` (default
        0.1: an over-weight must promise 20 points a year more than the asset it is
        taken from, about one standard error of a one-year mean return of a single
        stock; set a priori, not tuned on data).
    **settings
        Those of :class:`~allocgym.baselines.MeanRiskPolicy` (``lookback``,
        ``rebalance_every``, ``covariance``, ``expected_returns``, ``cost_penalty_bps``,
        ``periods_per_year``) and of :class:`SparseSharpeOptimizer` (``max_weight``,
        ``solver``), with the same defaults.

    Attributes
    ----------
    n_active_ : int
        Assets whose weight differs from the reference by more than 1e-6 at the last
        rebalance (the sparsity of the active bets).
    """

    def __init__(self, reference_weights: FloatArray | None = None, **settings: Any) -> None:
        args = bind_settings(SparseMaxSharpe, settings)
        opt = {p.name: args.pop(p.name) for p in _SPARSE_SETTINGS}
        args.pop("reference_weights", None)
        if reference_weights is not None:
            reference_weights = np.asarray(reference_weights, dtype=np.float64)
            if reference_weights.ndim != 1 or (reference_weights < 0).any():
                raise ValueError(
                    f"reference_weights={reference_weights.tolist()}; expected a 1-D array of "
                    "weights >= 0, one per asset"
                )
        self.reference_weights = reference_weights
        super().__init__(SparseSharpeOptimizer(**opt), **args)

    def reset(self) -> None:
        super().reset()
        self.n_active_: int | None = None

    def _target(self, state: PolicyState) -> FloatArray:
        cols, cov, mu = self._estimates(state)
        ref = np.ones(state.n_assets) if self.reference_weights is None else self.reference_weights
        if ref.shape != (state.n_assets,):
            raise ValueError(
                f"reference_weights has {ref.size} entries; expected {state.n_assets} (one per "
                "asset)"
            )
        ref = ref[cols]
        if not ref.sum() > 0:
            raise OptimizationError(
                f"reference_weights are zero on every tradable asset at {state.date}"
            )
        prev = np.asarray(state.weights[1:][cols], dtype=np.float64)
        w = self.optimizer.solve(cov, mu, prev, ref / ref.sum())
        self.n_active_ = int((np.abs(w - ref / ref.sum()) > 1e-6).sum())
        return full_weights(state.n_assets, cols, w)
