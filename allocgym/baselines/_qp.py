"""Exact long-only, fully invested quadratic programme by active-set methods.

Solves

    minimise  f(w) = wᵀSw − cᵀw   subject to  1ᵀw = 1,  0 ≤ w ≤ u,

with ``S`` symmetric positive semi-definite: the minimum-variance (``c = 0``) and the
mean–variance (``c = (2/γ)μ``) problems of
:class:`~allocgym.baselines.MeanRiskOptimizer` without turnover terms. It is the
optimiser's fast path; the optimiser falls back to cvxpy whenever this returns ``None``.

Both methods keep a set ``W`` of weights fixed at a bound (``w_B`` at 0 or ``u``) and
solve the equality-constrained problem on the free weights ``F`` in closed form: the
Lagrange conditions ``2S_FF w_F − r + ν1 = 0``, ``1ᵀw_F = 1 − 1ᵀw_B`` with
``r = c_F − 2S_FB w_B`` give, for ``a = S_FF⁻¹r`` and ``b = S_FF⁻¹1``,

    ν = (1ᵀa − 2(1 − 1ᵀw_B)) / 1ᵀb,    w_F = (a − νb) / 2,

and the bound multipliers are ``z_i = g_i + ν`` at 0 and ``−(g_i + ν)`` at ``u``, with
``g = 2Sw − c``. ``W`` is optimal when ``w_F`` is inside the box and no multiplier is
negative (the KKT conditions, sufficient for a convex QP).

1. Primal–dual active set (Hintermüller, Ito & Kunisch 2002), from all weights free:
   the next ``W`` holds the free weights that left the box and the fixed ones whose
   multiplier is positive. It typically ends in 3–5 solves, but may cycle; a repeated
   ``W`` or an empty ``F`` hands over to
2. the primal active-set method (Nocedal & Wright 2006, Algorithm 16.3) from a vertex
   (the assets of smallest ``S_ii − c_i`` filled to ``u``): step towards ``w_F`` until
   the first bound met, which joins ``W``, or, at ``w_F``, free the weight with the
   most negative multiplier. Every step is feasible and does not increase ``f``.

The answer is accepted only after the KKT conditions are checked afresh
(:func:`kkt_violation`) and, when ``S`` is singular, after the solution is shown unique
(a definite reduced Hessian on the free weights and those at a bound with a zero
multiplier). Anything else (a singular
block, cycling at a degenerate vertex, the iteration limit) returns ``None``.

References
----------
Hintermüller, M., Ito, K. and Kunisch, K. (2002). The primal-dual active set strategy
as a semismooth Newton method. *SIAM J. Optim.* 13(3), 865–888.
Nocedal, J. and Wright, S. J. (2006). *Numerical Optimization*, 2nd ed., Springer,
§16.5 (active-set methods for convex QP) and §12.3 (first-order optimality conditions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotrs

from allocgym._typing import BoolArray, FloatArray, IntArray

__all__ = ["KKT_TOL", "BoxQPSolution", "kkt_violation", "solve_box_qp"]

KKT_TOL = 1e-9
"""Largest accepted KKT residual: multipliers relative to ``max(|S|, |c|)``."""
_FEAS_TOL = 1e-12  # absolute slack on the weights' bounds and budget
_STOP_TOL = 1e-12  # multipliers above −_STOP_TOL·scale count as non-negative
_RCOND = 1e-12  # a squared Cholesky pivot below _RCOND·max diag counts as singular


@dataclass(frozen=True)
class BoxQPSolution:
    """A point of the box QP with the working set it was found on.

    Attributes
    ----------
    weights : ndarray, shape (n,)
    nu : float
        Multiplier of the budget ``1ᵀw = 1``.
    at_lower, at_upper : ndarray of bool, shape (n,)
        Weights held at 0 and at ``u`` (the rest are free).
    n_iter : int
        Equality-constrained solves taken.
    """

    weights: FloatArray
    nu: float
    at_lower: BoolArray
    at_upper: BoolArray
    n_iter: int


def solve_box_qp(S: FloatArray, c: FloatArray, cap: float) -> BoxQPSolution | None:
    """Minimise ``wᵀSw − cᵀw`` s.t. ``1ᵀw = 1``, ``0 ≤ w ≤ cap`` (see the module docstring).

    Parameters
    ----------
    S : ndarray, shape (n, n)
        Symmetric positive semi-definite.
    c : ndarray, shape (n,)
    cap : float
        Upper bound on every weight, at least ``1/n``.

    Returns
    -------
    BoxQPSolution or None
        ``None`` when the answer could not be certified optimal and unique.

    Raises
    ------
    ValueError
        ``cap·n < 1``: no feasible point.
    """
    n = S.shape[0]
    if cap * n < 1.0 - _FEAS_TOL:
        raise ValueError(f"cap={cap!r} with n={n}; expected cap >= 1/n for a feasible point")
    scale = _scale(S, c)
    if not (np.isfinite(scale) and scale > 0):
        return None
    if cap * n <= 1.0 + _FEAS_TOL:  # the box meets the budget at 1/N only
        g = 2.0 * S.sum(axis=1) / n - c
        none, every = np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
        return BoxQPSolution(np.full(n, 1.0 / n), -float(g.max()), none, every, 0)
    definite = _cholesky(S) is not None
    sol = _primal_dual(S, c, cap) or _primal(S, c, cap)
    if sol is None or (not definite and not _is_unique(S, c, sol)):
        return None
    if kkt_violation(S, c, cap, sol) > KKT_TOL:
        return None
    return sol


def kkt_violation(S: FloatArray, c: FloatArray, cap: float, sol: BoxQPSolution) -> float:
    """Largest violation of the box QP's KKT conditions at ``sol``, in units of KKT_TOL.

    With ``z = 2Sw − c + ν1``: stationarity ``z_i = 0`` on the free weights, dual
    feasibility ``z_i ≥ 0`` at 0 and ``z_i ≤ 0`` at ``cap``, complementarity ``w_i = 0``
    (``= cap``) where the lower (upper) multiplier is used, primal feasibility
    ``1ᵀw = 1``, ``0 ≤ w ≤ cap`` (Nocedal & Wright 2006, Theorem 12.1; sufficient for a
    convex QP, Theorem 16.4). ``z`` is measured relative to ``max(|S|, |c|)`` against
    :data:`KKT_TOL`, the weights absolutely against 1e-12, and the result is rescaled
    so that a value up to :data:`KKT_TOL` passes both.
    """
    w, lo, hi = sol.weights, sol.at_lower, sol.at_upper
    z = (2.0 * (S @ w) - c + sol.nu) / _scale(S, c)
    dual = max(
        float(np.abs(z[~(lo | hi)]).max(initial=0.0)),
        float(-z[lo].min(initial=0.0)),
        float(z[hi].max(initial=0.0)),
    )
    primal = max(
        abs(float(w.sum()) - 1.0),
        float(-w.min()),
        float((w - cap).max()),
        float(np.abs(w[lo]).max(initial=0.0)),
        float(np.abs(w[hi] - cap).max(initial=0.0)),
    )
    return max(dual, primal * KKT_TOL / _FEAS_TOL)


def _primal_dual(S: FloatArray, c: FloatArray, cap: float) -> BoxQPSolution | None:
    """Primal–dual active set from all weights free; ``None`` on a cycle or empty ``F``."""
    n = S.shape[0]
    lo, hi = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    stop = _STOP_TOL * _scale(S, c)
    seen: set[bytes] = set()
    for it in range(n + 10):
        free = np.flatnonzero(~(lo | hi))
        w = np.where(hi, cap, 0.0)
        step = _equality_step(S, c, w, free) if free.size else None
        if step is None:
            return None
        w[free], nu = step
        z = 2.0 * (S @ w) - c + nu
        new_lo = np.where(lo, z >= -stop, w < -_FEAS_TOL)
        new_hi = np.where(hi, z <= stop, w > cap + _FEAS_TOL)
        if (new_lo == lo).all() and (new_hi == hi).all():
            return BoxQPSolution(w, nu, lo, hi, it + 1)
        lo, hi = new_lo, new_hi
        key = lo.tobytes() + hi.tobytes()
        if key in seen:
            return None
        seen.add(key)
    return None


def _primal(S: FloatArray, c: FloatArray, cap: float) -> BoxQPSolution | None:
    """Primal active set (N&W Algorithm 16.3) from a vertex; ``None`` past 10n + 20 solves."""
    n = S.shape[0]
    w, lo, hi = _start_vertex(S, c, cap)
    stop = _STOP_TOL * _scale(S, c)
    for it in range(10 * n + 20):
        free = np.flatnonzero(~(lo | hi))
        step = _equality_step(S, c, w, free)
        if step is None:
            return None
        x, nu = step
        p = x - w[free]
        j, alpha = _ratio_test(w[free], p, cap)
        if alpha < 1.0 and free.size > 1:  # one free weight moves by rounding only
            w[free] += alpha * p
            blocking, down = free[j], bool(p[j] < 0)
            w[blocking] = 0.0 if down else cap
            lo[blocking], hi[blocking] = down, not down
            continue
        w[free] = x
        z = 2.0 * (S @ w) - c + nu
        mult = np.where(lo, z, np.where(hi, -z, np.inf))
        j = int(np.argmin(mult))
        if mult[j] >= -stop:
            return BoxQPSolution(w, nu, lo, hi, it + 1)
        lo[j] = hi[j] = False
    return None


def _start_vertex(
    S: FloatArray, c: FloatArray, cap: float
) -> tuple[FloatArray, BoolArray, BoolArray]:
    """A vertex: the ``⌊1/cap⌋`` best single assets at ``cap``, the next one free."""
    n = S.shape[0]
    order = np.argsort(np.diag(S) - c, kind="stable")
    full = min(int(np.floor(1.0 / cap + _FEAS_TOL)), n - 1)
    w = np.zeros(n)
    w[order[:full]] = cap
    # the free asset takes the remainder; with 1/cap an integer it is the last one at cap
    free = order[full] if 1.0 - full * cap > _FEAS_TOL else order[full - 1]
    w[free] = 0.0
    w[free] = 1.0 - w.sum()
    lo, hi = w == 0.0, w == cap
    lo[free] = hi[free] = False
    return w, lo, hi


def _equality_step(
    S: FloatArray, c: FloatArray, w: FloatArray, free: IntArray
) -> tuple[FloatArray, float] | None:
    """Minimiser ``w_F`` and budget multiplier ``ν`` with the other weights held at ``w``.

    ``None`` when ``S_FF`` is singular. LAPACK's Cholesky routines directly: the
    generic LU solve costs ten times more at these sizes.
    """
    fixed = w.copy()
    fixed[free] = 0.0
    if free.size == 1:  # the budget alone sets it; S_FF may be 0 (a riskless asset)
        x = 1.0 - fixed.sum()
        fixed[free] = x
        return np.array([x]), float(c[free[0]] - 2.0 * (S[free[0]] @ fixed))
    low = _cholesky(S[np.ix_(free, free)])
    if low is None:
        return None
    rhs = np.stack((c[free] - 2.0 * (S[free] @ fixed), np.ones(free.size)), axis=1)
    a, b = dpotrs(low, rhs, lower=1)[0].T
    nu = (a.sum() - 2.0 * (1.0 - fixed.sum())) / b.sum()
    return 0.5 * (a - nu * b), float(nu)


def _ratio_test(w: FloatArray, p: FloatArray, cap: float) -> tuple[int, float]:
    """Index and length (>= 0) of the longest step ``w + αp`` inside the box."""
    steps = np.full(p.size, np.inf)
    down, up = p < 0, p > 0
    steps[down] = w[down] / -p[down]
    steps[up] = (cap - w[up]) / p[up]
    j = int(np.argmin(steps))
    return j, max(float(steps[j]), 0.0)


def _scale(S: FloatArray, c: FloatArray) -> float:
    """``max(|S|, |c|)``: the size of the gradient ``2Sw − c`` for weights summing to 1."""
    return max(float(np.abs(S).max()), float(np.abs(c).max()))


def _cholesky(S: FloatArray) -> FloatArray | None:
    """Lower Cholesky factor of ``S``, or ``None`` if ``S`` is not numerically definite
    (a squared pivot below ``_RCOND`` times the largest diagonal entry)."""
    low, info = dpotrf(S, lower=1)
    if info != 0 or np.diag(low).min() ** 2 <= _RCOND * np.diag(S).max():
        return None
    return low


def _is_unique(S: FloatArray, c: FloatArray, sol: BoxQPSolution) -> bool:
    """Whether ``sol`` is the only minimiser when ``S`` is singular.

    Every other optimal point differs from it by a direction ``d`` with ``1ᵀd = 0``,
    ``dᵀSd = 0`` that moves only the free weights and those at a bound with a zero
    multiplier (the critical cone; Nocedal & Wright 2006, §12.5 and Theorem 16.4). If
    ``S`` restricted to ``1ᵀd = 0`` on those weights (the reduced Hessian ``ZᵀS_KK Z``)
    is definite there is no such direction.
    """
    z = 2.0 * (S @ sol.weights) - c + sol.nu
    strict = np.where(sol.at_lower, z, np.where(sol.at_upper, -z, 0.0)) > KKT_TOL * _scale(S, c)
    keep = np.flatnonzero(~strict)
    basis = np.vstack((np.eye(keep.size - 1), -np.ones(keep.size - 1)))
    return keep.size == 1 or _cholesky(basis.T @ S[np.ix_(keep, keep)] @ basis) is not None
