"""Daily 1-day value at risk and expected shortfall forecasts, point in time.

Conventions: ``r`` are daily simple returns (a policy's net returns); for a tail
probability ``a = 1 - level`` the forecast for day t is

- ``VaR_t = -q_a(R_t | r_{<t})``, the loss not exceeded with probability ``level``;
- ``ES_t = -E[R_t | R_t <= -VaR_t, r_{<t}]``, the mean loss beyond it;

both positive numbers in return units (as :func:`allocgym.backtest.metrics.cvar`).
Row t of a forecast is made at the close of t - 1 from returns at rows ``< t`` only
(rolling ``window`` or expanding), so changing a return at row t changes no forecast
at rows ``<= t``. A violation (exceedance) is a day with ``r_t < -VaR_t``.

Methods (:data:`VAR_METHODS`):

``historical``
    Empirical distribution of the window: with ``k = ceil(a n)``, VaR is minus the k-th
    smallest return and ES minus the mean of the k smallest (the convention of
    :func:`~allocgym.backtest.metrics.cvar`).
``gaussian``
    ``VaR = -(m + s z_a)``, ``ES = -m + s phi(z_a) / a`` with the window's mean ``m``
    and standard deviation ``s`` (ddof 1), ``z_a = Phi^{-1}(a)``.
``student_t``
    ``R = m + s (l + c T_nu)``: at each refit date (every ``refit_every`` days) a
    Student-t with location ``l``, scale ``c`` and degrees of freedom ``nu`` is fitted
    by maximum likelihood (scipy) to the window's returns standardised by their mean
    and standard deviation, and held; ``m`` and ``s`` roll daily as for ``gaussian``.
    ``VaR = -(m + s (l + c t_a))``, ``ES = -(m + s (l - c f_nu(t_a) (nu + t_a^2) /
    ((nu - 1) a)))`` with ``t_a`` the a-quantile of ``T_nu`` (McNeil, Frey & Embrechts
    2005, eq. 2.20).
``filtered_historical``, ``monte_carlo``
    GARCH(1,1) filtered historical simulation and its Monte Carlo version; see
    :mod:`allocgym.risk.var_garch`.

References
----------
McNeil, A. J., Frey, R., Embrechts, P. (2005). Quantitative Risk Management. Princeton.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

from allocgym._typing import FloatArray
from allocgym.risk.var_config import Simulator, VaRConfig, first_row, tail_count
from allocgym.risk.var_garch import garch_var

__all__ = ["VAR_METHODS", "VaRForecast", "as_return_series", "forecast_var"]

# what each method computes: VaR, ES (n, n_levels), volatility (n,), the 1-day sampler
_Parts = tuple[FloatArray, FloatArray, FloatArray, Simulator]


@dataclass(frozen=True, eq=False)
class VaRForecast:
    """Daily VaR and ES forecasts of one return series by one method.

    Attributes
    ----------
    method : str
    levels : tuple of float
    returns : pandas.Series, shape (n_dates,)
        The realised returns the forecasts are for.
    var, es : pandas.DataFrame, shape (n_dates, n_levels)
        Positive losses; columns are the levels; NaN before ``min_obs`` returns exist.
    scale : pandas.Series, shape (n_dates,)
        The volatility forecast behind the numbers (window standard deviation, or the
        GARCH conditional volatility).
    simulate : callable
        ``simulate(rng, n_sims)`` draws returns of shape (n_sims, n_dates) from each
        day's 1-day forecast distribution (NaN where there is no forecast), for the
        simulated p-value of the Acerbi-Szekely test.
    horizon : int
        Days the forecast covers (1 except for a ``monte_carlo`` h-day forecast, whose
        row t is about the compounded return of rows t..t+h-1).
    """

    method: str
    levels: tuple[float, ...]
    returns: pd.Series
    var: pd.DataFrame
    es: pd.DataFrame
    scale: pd.Series
    simulate: Simulator = field(repr=False)
    horizon: int = 1

    @property
    def violations(self) -> pd.DataFrame:
        """True on days with ``r_t < -VaR_t`` (False where there is no forecast)."""
        r = self.returns.to_numpy()[:, None]
        return pd.DataFrame(r < -self.var.to_numpy(), index=self.var.index, columns=self.levels)


def as_return_series(returns: pd.Series | FloatArray, name: str = "returns") -> pd.Series:
    """A 1-D float Series of finite returns (a plain array gets a RangeIndex)."""
    if isinstance(returns, pd.DataFrame):
        raise TypeError(f"{name} is a DataFrame; pass one column (one policy) at a time")
    series = returns if isinstance(returns, pd.Series) else pd.Series(np.asarray(returns))
    if series.ndim != 1:
        raise ValueError(f"{name} has shape {np.shape(returns)}; expected a 1-D series")
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} has a missing or non-finite value {series.iloc[pos]!r} at "
            f"{series.index[pos]!r}; expected finite daily returns (drop the rows before "
            "the track starts)"
        )
    return pd.Series(values, index=series.index, name=series.name)


# ----------------------------------------------------------------------- windows
def _windows(r: FloatArray, cfg: VaRConfig) -> list[tuple[int, FloatArray]]:
    """(t, past returns) for every forecast row t, in order (the plain reference)."""
    lo = cfg.min_obs
    return [(t, r[first_row(t, cfg.window) : t]) for t in range(lo, len(r))]


def _rolling_moments(r: FloatArray, cfg: VaRConfig) -> tuple[FloatArray, FloatArray]:
    """Mean and standard deviation (ddof 1) of the returns before each row; NaN early."""
    n = len(r)
    mean, std = np.full(n, np.nan), np.full(n, np.nan)
    if n <= cfg.min_obs:
        return mean, std
    if cfg.window is None:
        past = pd.Series(r).expanding(min_periods=cfg.min_obs)
        mean[1:], std[1:] = past.mean().to_numpy()[:-1], past.std().to_numpy()[:-1]
        return mean, std
    w = cfg.window
    # rows min_obs..window-1 see fewer than `window` returns (the growing first window)
    for t in range(cfg.min_obs, min(w, n)):
        mean[t], std[t] = r[:t].mean(), r[:t].std(ddof=1)
    if n > w:
        view = sliding_window_view(r[:-1], w)  # row j: r[j : j + w], the past of row j + w
        mean[w:], std[w:] = view.mean(axis=1), view.std(axis=1, ddof=1)
    return mean, std


def _historical(r: FloatArray, cfg: VaRConfig) -> tuple[FloatArray, FloatArray]:
    """Empirical VaR/ES; the sliding-window fast path (see :func:`_historical_reference`)."""
    n, levels = len(r), cfg.levels
    var, es = np.full((n, len(levels)), np.nan), np.full((n, len(levels)), np.nan)
    w = cfg.window
    if w is None or n <= w:  # expanding (or only growing windows): one partition per row
        return _historical_reference(r, cfg)
    head_var, head_es = _historical_reference(r[:w], cfg)
    var[:w], es[:w] = head_var, head_es
    view = sliding_window_view(r[:-1], w)  # (n - w, w): the past of rows w..n-1
    ks = [tail_count(level, w) for level in levels]
    part = np.partition(view, sorted(set(k - 1 for k in ks)), axis=1)
    for j, k in enumerate(ks):
        var[w:, j] = -part[:, k - 1]
        # the k smallest sit (unordered) in part[:, :k] once kth=k-1 is among the pivots
        es[w:, j] = -part[:, :k].mean(axis=1)
    return var, es


def _historical_reference(r: FloatArray, cfg: VaRConfig) -> tuple[FloatArray, FloatArray]:
    """The plain loop: sort each window, take the k smallest."""
    n, levels = len(r), cfg.levels
    var, es = np.full((n, len(levels)), np.nan), np.full((n, len(levels)), np.nan)
    for t, past in _windows(r, cfg):
        s = np.sort(past)
        for j, level in enumerate(levels):
            k = tail_count(level, len(s))
            var[t, j], es[t, j] = -s[k - 1], -s[:k].mean()
    return var, es


def _historical_method(r: FloatArray, cfg: VaRConfig) -> _Parts:
    var, es = _historical(r, cfg)
    return var, es, _rolling_moments(r, cfg)[1], _historical_sampler(r, cfg)


def _historical_sampler(r: FloatArray, cfg: VaRConfig) -> Simulator:
    """Draws uniformly from each day's window (the forecast distribution of ``historical``)."""
    n = len(r)
    t = np.arange(n)
    lo = np.zeros(n, dtype=np.int64) if cfg.window is None else np.maximum(t - cfg.window, 0)
    size = t - lo
    ok = t >= cfg.min_obs

    def simulate(rng: np.random.Generator, n_sims: int) -> FloatArray:
        u = rng.random((n_sims, n))
        idx = lo + np.minimum((u * np.maximum(size, 1)).astype(np.int64), np.maximum(size - 1, 0))
        return np.where(ok, r[idx], np.nan)

    return simulate


# ----------------------------------------------------------------------- parametric
def _gaussian(r: FloatArray, cfg: VaRConfig) -> _Parts:
    """VaR, ES, daily sd and the sampler of ``m + s Z``."""
    m, s = _rolling_moments(r, cfg)
    a = 1.0 - np.asarray(cfg.levels)
    z = stats.norm.ppf(a)
    var = -(m[:, None] + s[:, None] * z)
    es = -m[:, None] + s[:, None] * stats.norm.pdf(z) / a

    def simulate(rng: np.random.Generator, n_sims: int) -> FloatArray:
        return m + s * rng.standard_normal((n_sims, len(r)))

    return var, es, s, simulate


def _fit_t(past: FloatArray) -> tuple[float, float, float]:
    """``(nu, loc, scale)`` of a Student-t fitted by ML to the standardised window.

    ``nu`` is kept in [2.1, 1000]; a constant window gives the normal limit (1000, 0, 1).
    """
    sd = past.std(ddof=1) if len(past) > 1 else 0.0
    if not sd > 0:
        return 1000.0, 0.0, 1.0
    nu, loc, scale = stats.t.fit((past - past.mean()) / sd)
    if not np.isfinite([nu, loc, scale]).all() or scale <= 0:
        return 1000.0, 0.0, 1.0
    return float(np.clip(nu, 2.1, 1000.0)), float(loc), float(scale)


def _student_params(r: FloatArray, cfg: VaRConfig) -> FloatArray:
    """``(nu, loc, scale)`` per row (n, 3), refit every ``refit_every`` rows; NaN early."""
    n = len(r)
    params = np.full((n, 3), np.nan)
    for start in range(cfg.min_obs, n, cfg.refit_every):
        params[start : start + cfg.refit_every] = _fit_t(r[first_row(start, cfg.window) : start])
    return params


def _student_t(r: FloatArray, cfg: VaRConfig) -> _Parts:
    """VaR, ES, daily sd and the sampler of ``m + s (loc + scale T_nu)``."""
    m, s = _rolling_moments(r, cfg)
    nu, loc, scale = _student_params(r, cfg).T
    a = 1.0 - np.asarray(cfg.levels)
    with np.errstate(invalid="ignore"):
        q = stats.t.ppf(a[None, :], nu[:, None])
        tail = stats.t.pdf(q, nu[:, None]) * (nu[:, None] + q**2) / ((nu[:, None] - 1.0) * a)
    var = -(m[:, None] + s[:, None] * (loc[:, None] + scale[:, None] * q))
    es = -(m[:, None] + s[:, None] * (loc[:, None] - scale[:, None] * tail))
    df = np.where(np.isfinite(nu), nu, 1000.0)

    def simulate(rng: np.random.Generator, n_sims: int) -> FloatArray:
        return m + s * (loc + scale * rng.standard_t(df, (n_sims, len(r))))

    return var, es, s, simulate


_METHODS: dict[str, Callable[[FloatArray, VaRConfig], _Parts]] = {
    "historical": _historical_method,
    "filtered_historical": functools.partial(garch_var, monte_carlo=False),
    "gaussian": _gaussian,
    "student_t": _student_t,
    "monte_carlo": functools.partial(garch_var, monte_carlo=True),
}
VAR_METHODS: tuple[str, ...] = tuple(_METHODS)
"""Forecast methods accepted by :func:`forecast_var`."""


# ----------------------------------------------------------------------- entry point
def forecast_var(
    returns: pd.Series | FloatArray,
    method: str = "historical",
    config: VaRConfig | None = None,
) -> VaRForecast:
    """Daily point-in-time VaR and ES forecasts of a return series.

    Parameters
    ----------
    returns : pandas.Series or ndarray, shape (n_dates,)
        Daily simple returns, finite (e.g. a column of ``Results.returns``).
    method : str, default "historical"
        One of :data:`VAR_METHODS`.
    config : VaRConfig, optional
        Levels, window, refit schedule, simulation size and seed.

    Returns
    -------
    VaRForecast
        Row t uses returns at rows ``< t`` only; rows before ``config.min_obs`` are NaN.

    Examples
    --------
    >>> import numpy as np
    >>> r = np.random.default_rng(0).normal(0, 0.01, 600)
    >>> f = forecast_var(r, "gaussian", VaRConfig(window=250))
    >>> round(float(f.var[0.99].iloc[-1]), 3)
    0.023
    """
    cfg = config or VaRConfig()
    if method not in VAR_METHODS:
        raise ValueError(f"method={method!r} is not a VaR method; expected one of {VAR_METHODS}")
    if cfg.horizon != 1 and method != "monte_carlo":
        raise ValueError(
            f"horizon={cfg.horizon} with method={method!r}: only 'monte_carlo' simulates "
            "horizons longer than 1 day; the other methods forecast the next day"
        )
    series = as_return_series(returns)
    r = series.to_numpy()
    var, es, scale, simulate = _METHODS[method](r, cfg)
    columns = pd.Index(cfg.levels, name="level")
    return VaRForecast(
        method=method,
        levels=cfg.levels,
        returns=series,
        var=pd.DataFrame(var, index=series.index, columns=columns),
        es=pd.DataFrame(es, index=series.index, columns=columns),
        scale=pd.Series(scale, index=series.index, name="scale"),
        simulate=simulate,
        horizon=cfg.horizon,
    )
