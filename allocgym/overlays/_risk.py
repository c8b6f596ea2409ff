"""Point-in-time risk inputs of the overlays: forecast portfolio volatility, (mu, Sigma).

Everything here reads a :class:`~allocgym.policy.PolicyState`, so only data dated <= t.
"""

from __future__ import annotations

import numpy as np

from allocgym._typing import FloatArray, IntArray
from allocgym.baselines import CovarianceEstimator
from allocgym.exceptions import OptimizationError
from allocgym.policy import PolicyState

MIN_OBSERVATIONS = 20
"""Fewest complete return rows for a correlation or a moment estimate."""


def feature_at(state: PolicyState, name: str) -> FloatArray:
    """The per-asset feature ``name`` at t, float64, shape (n_assets,); NaN when unknown."""
    if state.features is None or name not in state.features.feature_names:
        return np.full(state.n_assets, np.nan)
    return np.asarray(state.features.feature(name)[-1], dtype=np.float64)


def regime_columns(state: PolicyState) -> list[int]:
    """Positions of ``regime_p0..regime_p{K-1}`` among the market features, in state order."""
    if state.features is None:
        return []
    names = state.features.market_feature_names
    found = {n: i for i, n in enumerate(names) if n.startswith("regime_p") and n[8:].isdigit()}
    return [found[n] for n in sorted(found, key=lambda n: int(n[8:]))]


def filtered_regimes(state: PolicyState, rows: int) -> IntArray | None:
    """Argmax of the forward-filtered regime probabilities on the last ``rows`` dates.

    None when the panel has no regime features or a probability is missing (warm-up).
    """
    cols = regime_columns(state)
    if not cols or state.features is None or state.features.n_dates < rows:
        return None
    probs = np.asarray(state.features.market_values[-rows:, cols], dtype=np.float64)
    if not np.isfinite(probs).all():
        return None
    return probs.argmax(axis=1)


def forecast_volatility(
    state: PolicyState,
    asset_weights: FloatArray,
    vol_feature: str,
    lookback: int,
    covariance: CovarianceEstimator,
    periods_per_year: int = 252,
) -> tuple[float, int]:
    """Annualised forecast volatility of ``asset_weights`` at t, and the fallbacks used.

    ``sigma_p = sqrt(periods_per_year * w' D C D w)`` with ``D = diag(vol_feature at t)``
    (the GARCH forecast, daily) and ``C`` the correlation of ``covariance`` on the last
    ``lookback`` returns dated <= t. An asset without a forecast at t (warm-up before the
    first GARCH refit, no feature panel) uses its sample volatility on the window instead;
    the second value counts those assets. With fewer than 20 complete rows the
    correlation is taken as 1 (the largest volatility the forecasts allow).

    Parameters
    ----------
    asset_weights : array of shape (n_assets,)
        Risky weights (cash excluded; cash has no volatility).

    Raises
    ------
    OptimizationError
        A held asset has neither a forecast nor 2 returns in the window.
    """
    w = np.asarray(asset_weights, dtype=np.float64)
    held = np.flatnonzero(w != 0)
    if held.size == 0:
        return 0.0, 0
    window = state.history.returns[1:][-lookback:, held]
    sigma = feature_at(state, vol_feature)[held]
    missing = ~(np.isfinite(sigma) & (sigma > 0))
    if missing.any():
        sample = np.array([np.nanstd(window[:, j], ddof=1) if np.isfinite(window[:, j]).sum() > 1
                           else np.nan for j in np.flatnonzero(missing)])  # fmt: skip
        if not np.isfinite(sample).all():
            raise OptimizationError(
                f"no volatility forecast or return history at {state.date.date()} for a held asset"
            )
        sigma = sigma.copy()
        sigma[missing] = sample
    complete = window[np.isfinite(window).all(axis=1)]
    if held.size == 1 or complete.shape[0] < MIN_OBSERVATIONS:
        corr = np.ones((held.size, held.size))
    else:
        cov = np.atleast_2d(covariance.estimate(complete, state, held))
        sd = np.sqrt(np.diag(cov))
        corr = cov / np.outer(sd, sd) if (sd > 0).all() else np.ones_like(cov)
    x = w[held] * sigma
    return float(np.sqrt(max(x @ corr @ x, 0.0) * periods_per_year)), int(missing.sum())


def estimate_moments(
    state: PolicyState,
    lookback: int,
    covariance: CovarianceEstimator,
    expected_returns: str,
    periods_per_year: int = 252,
) -> tuple[IntArray, FloatArray, FloatArray]:
    """``(columns, cov, mu)`` annualised, on the last ``lookback`` returns dated <= t.

    ``columns`` are the assets tradable at t with a full window; ``mu`` is the window mean
    (``expected_returns="historical"``) or zeros (``"zero"``: risk only).

    Raises
    ------
    OptimizationError
        Fewer than 20 observations or no asset with a full window.
    """
    window = state.history.returns[1:][-lookback:]
    if window.shape[0] < MIN_OBSERVATIONS:
        raise OptimizationError(
            f"only {window.shape[0]} return observations before {state.date.date()}; need "
            f"at least {MIN_OBSERVATIONS}"
        )
    cols = np.flatnonzero(state.available & np.isfinite(window).all(axis=0))
    if cols.size == 0:
        raise OptimizationError(f"no asset has a full {lookback}-day history at {state.date}")
    x = np.ascontiguousarray(window[:, cols])
    cov = np.atleast_2d(covariance.estimate(x, state, cols)) * periods_per_year
    historical = expected_returns == "historical"
    mu = x.mean(axis=0) * periods_per_year if historical else np.zeros(cols.size)
    return cols, cov, mu
