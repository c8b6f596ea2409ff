"""A plain, slow reference of the Ledoit & Wolf (2008) HAC Sharpe-difference test.

Written from the papers, independently of :mod:`allocgym.backtest.stats`, so that the
tests can compare the fast implementation with it:

- Ledoit & Wolf (2008), §3.1: ``v = (μ_a, μ_b, γ_a, γ_b)`` (means and uncentred second
  moments), ``Δ = f(v) = μ_a/√(γ_a − μ_a²) − μ_b/√(γ_b − μ_b²)``,
  ``se(Δ̂) = √(∇f(v̂)ᵀ Ψ̂ ∇f(v̂) / T)`` with
  ``Ψ̂ = T/(T − 4) · Σ_{j=−T+1}^{T−1} k(j/S_T) Γ̂(j)``,
  ``Γ̂(j) = T⁻¹ Σ_{t=j+1}^{T} ŷ_t ŷ_{t−j}ᵀ`` for ``j ≥ 0``, ``Γ̂(−j) = Γ̂(j)ᵀ`` and
  ``ŷ_t = (r_at − μ̂_a, r_bt − μ̂_b, r_at² − γ̂_a, r_bt² − γ̂_b)``.
- Andrews (1991), p. 821: the Parzen kernel; §6, eqs. (6.2) and (6.4): the AR(1)
  plug-in bandwidth ``S_T = 2.6614 (α̂(2) T)^{1/5}`` with
  ``α̂(2) = Σ_a 4ρ̂_a²σ̂_a⁴/(1 − ρ̂_a)⁸ / Σ_a σ̂_a⁴/(1 − ρ̂_a)⁴`` (unit weights ``w_a``),
  ``ρ̂_a, σ̂_a²`` from a least-squares AR(1) fit to each column of ``ŷ``. The columns
  are already demeaned, so the fit has no intercept (as in allocgym).

Deliberate differences from the fast path: the gradient comes from complex-step
differentiation of ``f`` (no hand-derived formula), the kernel is a scalar function
with the textbook branches, the sum runs over negative and positive lags, the AR(1)
fits use ``numpy.linalg.lstsq``, the p-value uses ``math.erfc``. Unlike allocgym the
reference does not clip ``ρ̂`` to ``[−0.97, 0.97]``; tests use series well inside it.

References
----------
Andrews, D. W. K. (1991). Heteroskedasticity and autocorrelation consistent covariance
matrix estimation. *Econometrica* 59(3), 817–858.
Ledoit, O. and Wolf, M. (2008). Robust performance hypothesis testing with the Sharpe
ratio. *Journal of Empirical Finance* 15(5), 850–859.
Squire, W. and Trapp, G. (1998). Using complex variables to estimate derivatives of
real functions. *SIAM Review* 40(1), 110–112.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ANDREWS_PARZEN_CONSTANT = 2.6614  # Andrews (1991), eq. (6.2), Parzen kernel


@dataclass(frozen=True)
class Reference:
    difference: float
    std_error: float
    statistic: float
    p_value: float
    bandwidth: float


def parzen(x: float) -> float:
    """Parzen kernel, Andrews (1991) p. 821."""
    a = abs(x)
    if a <= 0.5:
        return 1.0 - 6.0 * a**2 + 6.0 * a**3
    if a <= 1.0:
        return 2.0 * (1.0 - a) ** 3
    return 0.0


def sharpe_difference(v: np.ndarray) -> complex:
    """``f(μ_a, μ_b, γ_a, γ_b)`` of Ledoit & Wolf (2008), eq. (3.1); complex-safe."""
    mu_a, mu_b, g_a, g_b = v
    return mu_a / np.sqrt(g_a - mu_a**2) - mu_b / np.sqrt(g_b - mu_b**2)


def gradient(v: np.ndarray, h: float = 1e-30) -> np.ndarray:
    """``∇f(v)`` by complex-step differentiation (exact to rounding, no cancellation)."""
    out = np.empty(4)
    for k in range(4):
        step = np.zeros(4, dtype=complex)
        step[k] = 1j * h
        out[k] = sharpe_difference(v.astype(complex) + step).imag / h
    return out


def moments_and_y(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``v̂`` and the ``(T, 4)`` matrix of ``ŷ_t`` (rows t = 1..T)."""
    v = np.array([a.mean(), b.mean(), np.mean(a**2), np.mean(b**2)])
    y = np.column_stack([a - v[0], b - v[1], a**2 - v[2], b**2 - v[3]])
    return v, y


def autocovariance(y: np.ndarray, j: int) -> np.ndarray:
    """``Γ̂(j) = T⁻¹ Σ_{t=j+1}^{T} ŷ_t ŷ_{t−j}ᵀ`` (and ``Γ̂(j) = Γ̂(−j)ᵀ`` for ``j < 0``)."""
    t = y.shape[0]
    if j < 0:
        return autocovariance(y, -j).T
    g = np.zeros((y.shape[1], y.shape[1]))
    for s in range(j, t):  # 0-based s is the paper's t = s + 1
        g += np.outer(y[s], y[s - j])
    return g / t


def andrews_bandwidth(y: np.ndarray) -> float:
    """Andrews (1991) AR(1) plug-in bandwidth for the Parzen kernel, unit weights."""
    t = y.shape[0]
    num = den = 0.0
    for a in range(y.shape[1]):
        lagged, current = y[:-1, a : a + 1], y[1:, a]
        coef = np.linalg.lstsq(lagged, current, rcond=None)[0]
        rho = float(coef[0])
        resid = current - rho * lagged[:, 0]
        sigma2 = float(resid @ resid) / (t - 1)
        num += 4.0 * rho**2 * sigma2**2 / (1.0 - rho) ** 8
        den += sigma2**2 / (1.0 - rho) ** 4
    return ANDREWS_PARZEN_CONSTANT * (num / den * t) ** (1.0 / 5.0)


def ar1_coefficients(y: np.ndarray) -> np.ndarray:
    """The least-squares AR(1) coefficient of every column (to check the data's range)."""
    return np.array(
        [np.linalg.lstsq(y[:-1, a : a + 1], y[1:, a], rcond=None)[0][0] for a in range(y.shape[1])]
    )


def long_run_covariance(y: np.ndarray, bandwidth: float) -> np.ndarray:
    """``Ψ̂ = T/(T − 4) Σ_j k(j/S_T) Γ̂(j)``, Ledoit & Wolf (2008) §3.1."""
    t = y.shape[0]
    psi = np.zeros((y.shape[1], y.shape[1]))
    for j in range(-(t - 1), t):
        k = parzen(j / bandwidth) if bandwidth > 0 else float(j == 0)
        if k != 0.0:
            psi += k * autocovariance(y, j)
    return t / (t - 4) * psi


def ledoit_wolf(a: np.ndarray, b: np.ndarray, bandwidth: float | None = None) -> Reference:
    """The whole test: ``Δ̂``, ``se(Δ̂)``, ``z = Δ̂/se``, two-sided N(0, 1) p-value, ``S_T``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    v, y = moments_and_y(a, b)
    s = andrews_bandwidth(y) if bandwidth is None else float(bandwidth)
    grad = gradient(v)
    se = math.sqrt(grad @ long_run_covariance(y, s) @ grad / y.shape[0])
    diff = float(sharpe_difference(v).real)
    z = diff / se
    return Reference(diff, se, z, math.erfc(abs(z) / math.sqrt(2.0)), s)
