"""Monte Carlo scenarios from the point-in-time predictors, as they stand at a date.

:class:`ScenarioModel` is fitted on the data dated ``<= date`` only (the market is cut
at the date before any model sees it), over the last ``train_window`` days:

- per asset, allocgym's :class:`~allocgym.predictors.GarchVolatility` (GARCH(1,1) with
  Student-t innovations by default; EWMA where a fit fails), and the standardised
  residual vectors ``z_t = (100 r_t - mu) / sigma_t`` of the training days, with
  ``sigma_t`` the GARCH filter run with the fitted parameters;
- allocgym's market :class:`~allocgym.predictors.RegimeHMM` (volatility-ordered states,
  forward filter only): its transition matrix ``A`` and the filtered state probabilities
  at the date; each training day is labelled with its filtered most likely state.

:meth:`ScenarioModel.simulate` draws ``n_paths`` paths of ``horizon`` days:

1. regimes: ``s_0 ~ p(s_d | x_<=d)``, then ``s_h ~ A[s_{h-1}, :]`` (a Markov chain);
2. residual vectors: a stationary block bootstrap (Politis & Romano 1994) *within the
   current regime's training days*: on day h a path starts a new block, at a uniformly
   drawn day of the regime's pool, with probability ``1 / block_length`` or when the
   regime changed; otherwise it takes the pool's next day (circularly). Whole
   cross-sections are drawn, so correlations and fat tails are kept, and the
   regime-specific means, volatility surprises and co-movements come with them;
3. returns: ``r_{h,i} = (mu_i + sigma_{h,i} z_{h,i}) / 100`` with the GARCH recursion
   ``sigma_{h+1}^2 = omega + alpha e_h^2 + gamma e_h^2 1[e_h < 0] + beta sigma_h^2``
   (``e_h = sigma_h z_h``; the model's own recursion, EGARCH included), started from
   the one-day-ahead variance at the date and floored like the predictor's.

References
----------
Politis, D. N., Romano, J. P. (1994). The Stationary Bootstrap. JASA 89(428), 1303-1313.
Hamilton, J. D. (1989). A New Approach to the Economic Analysis of Nonstationary Time
Series and the Business Cycle. Econometrica 57(2), 357-384.
Barone-Adesi, G., Giannopoulos, K., Vosper, L. (1999). VaR without correlations for
portfolios of derivative securities. Journal of Futures Markets 19(5) (filtered
historical simulation).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from allocgym._typing import BoolArray, FloatArray, IntArray
from allocgym.data import MarketData
from allocgym.data.validation import as_date
from allocgym.exceptions import DataError
from allocgym.predictors.config import GarchConfig, RegimeConfig

# _step is the predictor's own variance update: the in-sample filter and the simulation
# call it rather than a copy, so they cannot drift from the model that was fitted.
from allocgym.predictors.garch import GarchVolatility, _step
from allocgym.predictors.regimes import RegimeHMM

__all__ = ["ScenarioModel", "Scenarios", "bootstrap_indices", "date_row", "regime_paths"]

_SCALE = 100.0  # the GARCH models work in percent returns
MIN_POOL = 20
"""A regime labelled on fewer training days draws its residuals from all days."""


@dataclass(frozen=True, eq=False)
class Scenarios:
    """Simulated daily asset returns after a date.

    Attributes
    ----------
    returns : ndarray, shape (n_paths, horizon, n_assets)
        Simple daily returns of days ``d + 1 .. d + horizon``.
    volatility : ndarray, shape (n_paths, horizon, n_assets)
        The GARCH conditional volatility of each simulated day (daily, not annualised).
    regimes : ndarray of int, shape (n_paths, horizon)
        The regime of each day (0 = calmest).
    rows : ndarray of int, shape (n_paths, horizon)
        Which training day's residual vector each day drew (positions in
        ``ScenarioModel.residuals_``).
    date : pandas.Timestamp
        The date the model stands at (the last day of data it saw).
    assets : tuple of str
    risk_free : float
        Daily cash return used for the horizon (the last known one; 0 without).
    seed : int or None
    """

    returns: FloatArray
    volatility: FloatArray
    regimes: IntArray
    rows: IntArray
    date: pd.Timestamp
    assets: tuple[str, ...]
    risk_free: float
    seed: int | None

    @property
    def n_paths(self) -> int:
        return self.returns.shape[0]

    @property
    def horizon(self) -> int:
        return self.returns.shape[1]

    def growth(self) -> FloatArray:
        """``1 + return`` with cash first, shape (n_paths, horizon, n_assets + 1)."""
        cash = np.full((*self.returns.shape[:2], 1), 1.0 + self.risk_free)
        return np.concatenate((cash, 1.0 + self.returns), axis=-1)


def date_row(market: MarketData, date: Any = None) -> int:
    """Row of the last trading day on or before ``date`` (None: the last row).

    Raises
    ------
    DataError
        ``date`` is before the first or after the last date of ``market``.
    """
    if date is None:
        return market.n_dates - 1
    ts = as_date(date, "date")
    first, last = market.dates[0], market.dates[-1]
    if not first <= ts <= last:
        raise DataError(
            f"date {ts.date()} is outside the data ({first.date()} to {last.date()}); "
            "expected a date inside it"
        )
    return market.index_of(ts)


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name}={value!r} is invalid; expected an integer >= 1")
    return int(value)


def regime_paths(start_prob: FloatArray, transmat: FloatArray, u: FloatArray) -> IntArray:
    """Markov-chain paths from uniforms; shape (n_paths, horizon) of ``u``'s shape minus one column.

    ``u`` has shape (n_paths, horizon + 1): column 0 draws the state at the date from
    ``start_prob``, column h the state of day h from row ``s_{h-1}`` of ``transmat``
    (inverse-CDF sampling). The state at the date itself is not returned.
    """
    cum_start = np.cumsum(start_prob)
    cum_start[-1] = 1.0
    cum = np.cumsum(transmat, axis=1)
    cum[:, -1] = 1.0
    k = len(start_prob)
    state = np.minimum(np.searchsorted(cum_start, u[:, 0], side="right"), k - 1)
    out = np.empty((u.shape[0], u.shape[1] - 1), dtype=np.int64)
    for h in range(1, u.shape[1]):
        state = np.minimum((cum[state] <= u[:, h, None]).sum(axis=1), k - 1)
        out[:, h - 1] = state
    return out


def bootstrap_indices(
    regimes: IntArray,
    pools: list[IntArray],
    block_length: float,
    u_restart: FloatArray,
    u_pick: FloatArray,
) -> IntArray:
    """Stationary-bootstrap rows within each day's regime pool, shape of ``regimes``.

    A path starts a new block on day 0, when its regime changes, or when
    ``u_restart < 1 / block_length``; the block starts at position
    ``floor(u_pick * len(pool))`` of the regime's pool, and continues with the pool's
    next position (circularly).
    """
    sizes = np.array([len(p) for p in pools])
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    flat = np.concatenate(pools)
    n_paths, horizon = regimes.shape
    pos = np.zeros(n_paths, dtype=np.int64)
    out = np.empty((n_paths, horizon), dtype=np.int64)
    p = 1.0 / block_length
    for h in range(horizon):
        k = regimes[:, h]
        new = u_restart[:, h] < p
        if h == 0:
            new[:] = True
        else:
            new |= k != regimes[:, h - 1]
        size = sizes[k]
        pos = np.where(new, (u_pick[:, h] * size).astype(np.int64), (pos + 1) % size)
        out[:, h] = flat[offsets[k] + pos]
    return out


class ScenarioModel:
    """Regime-switching, GARCH-filtered bootstrap scenarios (see the module docstring).

    Parameters
    ----------
    train_window : int, default 1260
        Days (ending at the date) the GARCH and HMM models are fitted on, as the
        predictors' default ``train_window``.
    block_length : float, default 5.0
        Mean block length of the stationary bootstrap (days).
    garch : GarchConfig, optional
    regime : RegimeConfig, optional
    seed : int, default 0
        Seed of the HMM's Baum-Welch restarts (the scenarios' seed goes to
        :meth:`simulate`).

    Attributes
    ----------
    date_ : pandas.Timestamp
        The last date the model saw.
    residuals_ : ndarray, shape (n_days, n_assets)
        Standardised residual vectors of the training days with every fitted asset
        finite (0 for assets without a fit).
    residual_regime_ : ndarray of int, shape (n_days,)
        Filtered most likely regime of each of those days.
    pools_ : list of ndarray of int
        Per regime, the rows of ``residuals_`` its days draw from.
    transmat_ : ndarray, shape (K, K)
    start_prob_ : ndarray, shape (K,)
        Filtered regime probabilities at the date.
    regime_means_, regime_covs_ : ndarray, shapes (K, n_assets) and (K, n_assets, n_assets)
        Per-regime mean and covariance of the daily asset returns of the training days,
        weighted by the filtered probabilities (reported; the simulation draws the
        regimes' own residuals instead of assuming normality).
    garch_ : GarchVolatility
        The fitted volatility model.
    next_var_ : ndarray, shape (n_assets,)
        Conditional variance (percent squared) of the day after the date.
    fitted_ : ndarray of bool, shape (n_assets,)
    risk_free_ : float
    notes_ : list of str
    """

    def __init__(
        self,
        train_window: int = 1260,
        block_length: float = 5.0,
        garch: GarchConfig | None = None,
        regime: RegimeConfig | None = None,
        seed: int = 0,
    ) -> None:
        self.train_window = train_window
        self.block_length = block_length
        self.garch = garch
        self.regime = regime
        self.seed = seed

    def fit(self, market: MarketData, date: Any = None) -> ScenarioModel:
        """Fit on the rows of ``market`` dated ``<= date`` (default: its last date).

        Raises
        ------
        DataError
            ``date`` is outside the data, or too little data before it.
        """
        window = _check_positive("train_window", self.train_window)
        if not (np.isfinite(self.block_length) and self.block_length >= 1.0):
            raise ValueError(
                f"block_length={self.block_length!r} is invalid; expected a number >= 1 (days)"
            )
        t = date_row(market, date)
        visible = market[: t + 1]  # no model sees a row after the date
        start = max(0, t + 1 - window)
        self.notes_: list[str] = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.garch_ = GarchVolatility(self.garch).fit(visible, until=t, start=start)
        self.notes_ += [str(w.message) for w in caught]
        hmm = RegimeHMM(self.regime, seed=self.seed).fit(visible, until=t, start=start)
        self.transmat_ = hmm.transmat_
        alpha = np.exp(hmm.log_alpha_ - hmm.log_alpha_.max())
        self.start_prob_ = alpha / alpha.sum()
        r = np.ascontiguousarray(visible.returns[start:], dtype=np.float64)  # layout-free sums
        sigma2 = self._in_sample_variance(r)
        self.fitted_ = np.isfinite(self.garch_.params_["mu"])
        if not self.fitted_.any():
            raise DataError(
                f"no asset has the {self.garch_._config.min_obs} returns a GARCH fit needs in "
                f"rows {start}..{t} (dates up to {visible.dates[-1].date()})"
            )
        unfitted = [market.assets[i] for i in np.flatnonzero(~self.fitted_)]
        if unfitted:
            self.notes_.append(f"{unfitted}: too little data for a GARCH fit; simulated flat (0)")
        with np.errstate(invalid="ignore"):
            z = (_SCALE * r - self.garch_.params_["mu"]) / np.sqrt(sigma2)
        ok = np.isfinite(z[:, self.fitted_]).all(axis=1)
        probs = hmm.train_probs_
        self.residuals_ = np.where(self.fitted_, z, 0.0)[ok]
        self.residual_regime_ = probs.argmax(axis=1)[ok]
        self.pools_ = self._pools(self.residual_regime_, len(self.start_prob_))
        self.regime_means_, self.regime_covs_ = _weighted_moments(r[ok], probs[ok], self.fitted_)
        self.next_var_ = self._next_variance()
        rf = visible.risk_free
        self.risk_free_ = float(np.nan_to_num(rf[-1])) if rf is not None else 0.0
        self.date_ = visible.dates[-1]
        self.assets_ = tuple(market.assets)
        return self

    def _in_sample_variance(self, r: FloatArray) -> FloatArray:
        """The GARCH filter over the training rows with the fitted parameters (percent^2).

        Starts each asset at the mean squared return of its finite rows (as ``arch``'s
        backcast does, roughly); NaN before an asset's first return.
        """
        g = self.garch_
        x = _SCALE * r
        finite = np.isfinite(x)
        with np.errstate(invalid="ignore"):
            s2 = np.nanmean(np.where(finite, x, np.nan) ** 2, axis=0)
        out = np.full(x.shape, np.nan)
        for t in range(len(x)):
            out[t] = np.where(finite[t], s2, np.nan)
            e = x[t] - g.params_["mu"]
            with np.errstate(invalid="ignore", over="ignore"):
                nxt = np.fmax(_step(e, s2, g.params_, g.egarch_), g.floor_)
            s2 = np.where(finite[t] & np.isfinite(nxt), nxt, s2)
        return out

    def _next_variance(self) -> FloatArray:
        g = self.garch_
        with np.errstate(invalid="ignore", over="ignore"):
            nxt = np.fmax(_step(g.last_resid_, g.last_var_, g.params_, g.egarch_), g.floor_)
        return np.where(self.fitted_, nxt, 0.0)

    def _pools(self, labels: IntArray, k: int) -> list[IntArray]:
        everything = np.arange(len(labels))
        pools = []
        for state in range(k):
            pool = np.flatnonzero(labels == state)
            if len(pool) < MIN_POOL:
                self.notes_.append(
                    f"regime {state} is the most likely one on {len(pool)} training days "
                    f"(< {MIN_POOL}): it draws residuals from all {len(labels)} days"
                )
                pool = everything
            pools.append(pool)
        return pools

    def simulate(self, n_paths: int = 1000, horizon: int = 21, seed: int | None = 0) -> Scenarios:
        """Draw ``n_paths`` paths of ``horizon`` days; the same seed gives the same arrays.

        Parameters
        ----------
        n_paths : int, default 1000
        horizon : int, default 21
        seed : int, optional
            Seed of the ``numpy.random.Generator`` (None: fresh entropy).
        """
        if not hasattr(self, "residuals_"):
            raise RuntimeError("ScenarioModel.simulate needs fit(market, date) first")
        n_paths = _check_positive("paths", n_paths)
        horizon = _check_positive("horizon", horizon)
        rng = np.random.default_rng(seed)
        regimes = regime_paths(self.start_prob_, self.transmat_, rng.random((n_paths, horizon + 1)))
        u_restart, u_pick = rng.random((2, n_paths, horizon))
        rows = bootstrap_indices(regimes, self.pools_, self.block_length, u_restart, u_pick)
        z = self.residuals_[rows]  # (n_paths, horizon, n_assets)
        returns, vol = self._garch_paths(z)
        return Scenarios(
            returns=returns, volatility=vol, regimes=regimes, rows=rows, date=self.date_,
            assets=self.assets_, risk_free=self.risk_free_, seed=seed,
        )  # fmt: skip

    def _garch_paths(self, z: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Returns and volatilities of residual paths ``z`` through the GARCH recursion."""
        g = self.garch_
        mu = np.where(self.fitted_, g.params_["mu"], 0.0)
        params = {k: np.where(self.fitted_, v, 0.0) for k, v in g.params_.items()}
        floor = np.where(self.fitted_, g.floor_, 0.0)
        s2 = np.broadcast_to(self.next_var_, z.shape[::2]).copy()
        returns = np.empty(z.shape)
        vol = np.empty(z.shape)
        for h in range(z.shape[1]):
            sd = np.sqrt(s2)
            e = sd * z[:, h]
            vol[:, h] = sd / _SCALE
            returns[:, h] = (mu + e) / _SCALE
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                s2 = np.fmax(_step(e, s2, params, g.egarch_), floor)
            s2 = np.where(self.fitted_, s2, 0.0)
        return returns, vol


def _weighted_moments(
    r: FloatArray, probs: FloatArray, fitted: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Probability-weighted mean (K, n) and covariance (K, n, n) of returns ``r``."""
    x = np.where(fitted, np.nan_to_num(r), 0.0)
    w = probs / np.maximum(probs.sum(axis=0), 1e-300)  # (T, K), columns sum to 1
    means = w.T @ x
    centred = x[None] - means[:, None]  # (K, T, n)
    covs = np.einsum("tk,kti,ktj->kij", w, centred, centred)
    return means, covs
