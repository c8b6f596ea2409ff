"""Black–Litterman math as plain functions: the equilibrium prior and the posterior.

Notation (He & Litterman 1999): ``Σ`` covariance of returns, ``w`` reference
(equilibrium) weights, ``δ`` risk aversion, ``Π = δ Σ w`` implied returns, ``P``
(k × n) view portfolios, ``Q`` (k,) view returns, ``Ω`` (k × k) view uncertainty,
``τ`` the uncertainty of the prior mean.

References
----------
Black, F. and Litterman, R. (1992). Global portfolio optimization. *FAJ* 48(5), 28–43.
He, G. and Litterman, R. (1999). The intuition behind Black–Litterman model
portfolios. Goldman Sachs Investment Management Research.
Idzorek, T. (2005). A step-by-step guide to the Black–Litterman model, incorporating
user-specified confidence levels. Working paper, Ibbotson Associates.
Walters, J. (2014). The Black–Litterman model in detail. SSRN 1314585.
"""

from __future__ import annotations

import numpy as np

from allocgym._typing import FloatArray

__all__ = ["black_litterman", "he_litterman_omega", "idzorek_omega", "implied_returns"]


def implied_returns(cov: FloatArray, weights: FloatArray, risk_aversion: float = 2.5) -> FloatArray:
    """Reverse optimisation: the returns that make ``weights`` mean–variance optimal.

    ``Π = δ Σ w`` (He & Litterman 1999, eq. 1).

    Parameters
    ----------
    cov : ndarray, shape (n, n)
    weights : ndarray, shape (n,)
        Reference weights (market capitalisation, or equal weight).
    risk_aversion : float
        ``δ`` > 0.

    Returns
    -------
    ndarray, shape (n,)
    """
    cov = np.asarray(cov, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or weights.shape != (cov.shape[0],):
        raise ValueError(
            f"cov has shape {cov.shape} and weights {weights.shape}; expected (n, n) and (n,)"
        )
    if not risk_aversion > 0:
        raise ValueError(f"risk_aversion={risk_aversion!r}; expected > 0")
    return risk_aversion * cov @ weights


def he_litterman_omega(cov: FloatArray, P: FloatArray, tau: float = 0.05) -> FloatArray:
    """``Ω = diag(P τΣ Pᵀ)``: each view as uncertain as its view portfolio's prior."""
    return np.diag(np.diag(P @ (tau * cov) @ P.T))


def idzorek_omega(
    cov: FloatArray, P: FloatArray, confidences: FloatArray, tau: float = 0.05
) -> FloatArray:
    """Idzorek (2005) view uncertainty from confidences ``c_k`` in (0, 1].

    ``ω_k = (1 − c_k) / c_k · p_k τΣ p_kᵀ``, the closed form (Walters 2014, §5.2) of
    Idzorek's calibration: with this ``ω_k`` alone, the weights move from the
    equilibrium towards the 100 %-confidence weights by exactly the fraction ``c_k``.
    """
    c = np.asarray(confidences, dtype=np.float64)
    if c.shape != (P.shape[0],) or not ((c > 0) & (c <= 1)).all():
        raise ValueError(
            f"confidences={c.tolist()}; expected {P.shape[0]} numbers in (0, 1], one per view"
        )
    return np.diag((1.0 - c) / c * np.diag(P @ (tau * cov) @ P.T))


def black_litterman(
    cov: FloatArray,
    pi: FloatArray,
    P: FloatArray,
    Q: FloatArray,
    tau: float = 0.05,
    omega: FloatArray | None = None,
    confidences: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Posterior mean and covariance of returns given the prior ``Π`` and views ``(P, Q)``.

    ``μ = Π + τΣPᵀ (PτΣPᵀ + Ω)⁻¹ (Q − PΠ)``,
    ``M = τΣ − τΣPᵀ (PτΣPᵀ + Ω)⁻¹ PτΣ`` and the posterior covariance of returns
    ``Σ_post = Σ + M`` (He & Litterman 1999, eqs. 6–9). This form allows ``Ω = 0``
    (views held with certainty, Idzorek confidence 1).

    Parameters
    ----------
    cov : ndarray, shape (n, n)
    pi : ndarray, shape (n,)
        Prior (equilibrium) expected returns.
    P : ndarray, shape (k, n)
        View portfolios (a row of one 1: absolute view; +/− rows: relative view).
    Q : ndarray, shape (k,)
        Expected returns of the view portfolios.
    tau : float
        Scale of the prior mean's uncertainty, ``τΣ``.
    omega : ndarray, shape (k, k), optional
        View uncertainty. Default: :func:`he_litterman_omega`, or
        :func:`idzorek_omega` when ``confidences`` is given.
    confidences : ndarray, shape (k,), optional
        Idzorek confidences in (0, 1]; not together with ``omega``.

    Returns
    -------
    mean : ndarray, shape (n,)
    covariance : ndarray, shape (n, n)
        ``Σ + M``.
    """
    cov = np.asarray(cov, dtype=np.float64)
    pi = np.asarray(pi, dtype=np.float64)
    P = np.atleast_2d(np.asarray(P, dtype=np.float64))
    Q = np.atleast_1d(np.asarray(Q, dtype=np.float64))
    n = cov.shape[0]
    if cov.shape != (n, n) or pi.shape != (n,) or P.shape[1:] != (n,) or Q.shape != P.shape[:1]:
        raise ValueError(
            f"shapes cov {cov.shape}, pi {pi.shape}, P {P.shape}, Q {Q.shape}; expected "
            f"(n, n), (n,), (k, n), (k,)"
        )
    if not tau > 0:
        raise ValueError(f"tau={tau!r}; expected > 0")
    if omega is not None and confidences is not None:
        raise ValueError("give omega or confidences, not both")
    if omega is None:
        omega = (
            he_litterman_omega(cov, P, tau)
            if confidences is None
            else idzorek_omega(cov, P, confidences, tau)
        )
    omega = np.atleast_2d(np.asarray(omega, dtype=np.float64))
    if omega.shape != (P.shape[0], P.shape[0]):
        raise ValueError(f"omega has shape {omega.shape}; expected ({P.shape[0]}, {P.shape[0]})")
    ts = tau * cov
    tsp = ts @ P.T
    gain = np.linalg.solve(P @ tsp + omega, np.eye(P.shape[0]))
    mean = pi + tsp @ gain @ (Q - P @ pi)
    m = ts - tsp @ gain @ tsp.T
    post = cov + 0.5 * (m + m.T)
    return mean, post
