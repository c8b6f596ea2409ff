"""A Markov-switching synthetic market with known ground truth.

The generating process, per day t and asset i (all quantities daily):

1. Regime ``s_t`` follows a Markov chain with ``P[s_t = s_{t-1}] = persistence`` and
   the remaining probability spread evenly over the other regimes (Hamilton 1989).
   Regime k has drift ``mu_k``, volatility multiplier ``scale_k`` and pairwise
   correlation ``rho_k``, interpolated from calm (k = 0) to crisis (k = K-1).
2. GARCH(1,1)-like clustering of the standardised shocks (Bollerslev 1986):
   ``h_t = (1 - alpha - beta) + alpha z_{t-1}^2 + beta h_{t-1}`` (unit long-run level).
3. True conditional volatility ``sigma_{t,i} = base_i * scale_{s_t} * sqrt(h_{t,i})``.
4. Correlated shocks from one market factor: ``e_t = sqrt(rho) f_t + sqrt(1 - rho) u_t``.
5. Planted predictable component: ``x_{t,i} = phi x_{t-1,i} + sqrt(1 - phi^2) e_{t,i}``
   is an AR(1) trend state built from the asset's own past shocks (so it can be
   recovered from past prices), and
   ``r_{t+1,i} = mu_{s_{t+1}} + strength * sigma_{t+1,i} * x_{t,i} + sigma_{t+1,i} e_{t+1,i}``.

``truth.expected_returns[t]`` is the exact ``E[r_{t+1} | information at t]``, which
includes the regime ``s_t`` (the regime at t+1 is averaged over the transition row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocgym._typing import FloatArray, IntArray
from allocgym.data.market import MarketData

__all__ = ["SyntheticMarket", "SyntheticTruth", "make_synthetic_market"]

_TRADING_DAYS = 252


@dataclass(frozen=True, eq=False)
class SyntheticTruth:
    """Ground truth of a synthetic market.

    Attributes
    ----------
    regimes : ndarray of int, shape (n_dates,)
        Regime in force on day t (0 = calmest, K-1 = most volatile).
    volatility : ndarray, shape (n_dates, n_assets)
        True conditional standard deviation of the return earned on day t.
    expected_returns : ndarray, shape (n_dates, n_assets)
        ``E[r_{t+1} | data and regime up to t]``; the last row is NaN.
    signal : ndarray, shape (n_dates, n_assets)
        The planted AR(1) trend state ``x_t`` (known at the close of t).
    transition : ndarray, shape (n_regimes, n_regimes)
        Regime transition matrix, rows sum to 1.
    regime_means, regime_scales, regime_correlations : ndarray, shape (n_regimes,)
        Daily drift, volatility multiplier and pairwise correlation of each regime.
    """

    regimes: IntArray
    volatility: FloatArray
    expected_returns: FloatArray
    signal: FloatArray
    transition: FloatArray
    regime_means: FloatArray
    regime_scales: FloatArray
    regime_correlations: FloatArray


@dataclass(frozen=True, eq=False)
class SyntheticMarket:
    """A synthetic :class:`MarketData` and its :class:`SyntheticTruth`."""

    market: MarketData
    truth: SyntheticTruth


def _check(name: str, value, low, high, *, integer: bool = False) -> None:
    if integer and not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if not (low <= value <= high):
        raise ValueError(f"{name}={value!r} is out of range; expected {low} <= {name} <= {high}")


def _regime_params(n_regimes: int, separation: float):
    """Drift, vol multiplier, correlation per regime, calm to crisis."""
    if n_regimes == 1:
        return np.array([0.08 / _TRADING_DAYS]), np.array([1.0]), np.array([0.3])
    u = np.linspace(0.0, 1.0, n_regimes)
    annual_drift = 0.10 - u * 0.35 * separation
    scale = 0.7 * (1.0 + 2.0 * separation) ** u
    rho = 0.2 + u * 0.5 * min(separation, 1.0)
    return annual_drift / _TRADING_DAYS, scale, rho


def make_synthetic_market(
    n_assets: int = 10,
    n_days: int = 2520,
    n_regimes: int = 3,
    seed: int = 0,
    signal_strength: float = 0.0,
    *,
    persistence: float = 0.98,
    separation: float = 1.0,
    garch_alpha: float = 0.08,
    garch_beta: float = 0.9,
    signal_persistence: float = 0.9,
    annual_vol: tuple[float, float] = (0.15, 0.35),
    start: str = "2000-01-03",
    initial_price: float = 100.0,
) -> SyntheticMarket:
    """Simulate a Markov-switching market with volatility clustering and a planted signal.

    Parameters
    ----------
    n_assets, n_days : int
        Panel size (business days from ``start``).
    n_regimes : int
        Number of regimes (1-6), ordered from calm to crisis.
    seed : int
        Seed of the generator; same arguments and seed give identical markets.
    signal_strength : float
        Size of the predictable component in units of conditional volatility; the
        correlation of the signal with the next-day standardised return is about
        ``strength / sqrt(1 + strength^2)``. 0 disables it.
    persistence : float
        Probability of staying in the same regime from one day to the next.
    separation : float
        How different the regimes are (0: identical, 1: default, larger: more).
    garch_alpha, garch_beta : float
        GARCH(1,1) reaction and persistence of the shock variance (alpha + beta < 1).
    signal_persistence : float
        AR(1) coefficient ``phi`` of the trend state.
    annual_vol : (float, float)
        Range from which each asset's base annual volatility is drawn.

    Returns
    -------
    SyntheticMarket
        ``.market`` (MarketData) and ``.truth`` (SyntheticTruth).
    """
    _check("n_assets", n_assets, 1, 10_000, integer=True)
    _check("n_days", n_days, 2, 1_000_000, integer=True)
    _check("n_regimes", n_regimes, 1, 6, integer=True)
    _check("persistence", persistence, 0.0, 1.0)
    _check("separation", separation, 0.0, 10.0)
    _check("signal_strength", signal_strength, 0.0, 5.0)
    _check("signal_persistence", signal_persistence, 0.0, 0.999)
    if garch_alpha < 0 or garch_beta < 0 or garch_alpha + garch_beta >= 1:
        raise ValueError(
            f"garch_alpha={garch_alpha} and garch_beta={garch_beta} must be >= 0 with "
            "alpha + beta < 1 (a stationary variance)"
        )
    rng = np.random.default_rng(seed)
    k = n_regimes
    means, scales, rhos = _regime_params(k, separation)
    transition = np.full((k, k), (1.0 - persistence) / max(k - 1, 1))
    np.fill_diagonal(transition, persistence if k > 1 else 1.0)

    regimes = np.empty(n_days, dtype=np.int64)
    regimes[0] = rng.integers(k)
    draws = rng.random(n_days)
    cum = np.cumsum(transition, axis=1)
    for t in range(1, n_days):
        regimes[t] = min(int(np.searchsorted(cum[regimes[t - 1]], draws[t], "right")), k - 1)

    base = rng.uniform(*annual_vol, size=n_assets) / np.sqrt(_TRADING_DAYS)
    factor = rng.standard_normal(n_days)
    idio = rng.standard_normal((n_days, n_assets))
    rho_t = rhos[regimes][:, None]
    shocks = np.sqrt(rho_t) * factor[:, None] + np.sqrt(1.0 - rho_t) * idio

    h = np.ones((n_days, n_assets))
    signal = np.zeros((n_days, n_assets))
    z = np.zeros((n_days, n_assets))
    omega = 1.0 - garch_alpha - garch_beta
    phi, gain = signal_persistence, np.sqrt(1.0 - signal_persistence**2)
    for t in range(n_days):
        if t > 0:
            h[t] = omega + garch_alpha * z[t - 1] ** 2 + garch_beta * h[t - 1]
        z[t] = np.sqrt(h[t]) * shocks[t]
        signal[t] = (phi * signal[t - 1] if t > 0 else 0.0) + gain * shocks[t]

    vol = base[None, :] * scales[regimes][:, None] * np.sqrt(h)
    predictable = np.zeros((n_days, n_assets))
    predictable[1:] = signal_strength * vol[1:] * signal[:-1]
    returns = means[regimes][:, None] + predictable + base[None, :] * scales[regimes][:, None] * z
    returns = np.maximum(returns, -0.95)
    returns[0] = 0.0
    prices = initial_price * np.cumprod(1.0 + returns, axis=0)

    # E[r_{t+1} | s_t, h_{t+1}, x_t]: average the next regime over the transition row.
    h_next = np.empty_like(h)
    h_next[:-1] = h[1:]
    h_next[-1] = np.nan
    exp_mean = transition @ means
    exp_scale = transition @ scales
    expected = exp_mean[regimes][:, None] + (
        signal_strength * base[None, :] * exp_scale[regimes][:, None] * np.sqrt(h_next) * signal
    )
    expected[-1] = np.nan

    dates = pd.bdate_range(start, periods=n_days)
    assets = tuple(f"SYN{i:02d}" for i in range(n_assets))
    market = MarketData.from_prices(
        prices,
        dates,
        assets,
        source=f"synthetic(n_assets={n_assets}, n_days={n_days}, n_regimes={k}, seed={seed})",
    )
    truth = SyntheticTruth(
        regimes=regimes,
        volatility=vol,
        expected_returns=expected,
        signal=signal,
        transition=transition,
        regime_means=means,
        regime_scales=scales,
        regime_correlations=rhos,
    )
    return SyntheticMarket(market=market, truth=truth)
