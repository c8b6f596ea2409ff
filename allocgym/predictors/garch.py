"""Per-asset GARCH volatility, fitted with ``arch`` and filtered forward with fixed parameters.

For asset i with residual ``e_t = 100 r_t - mu`` (returns in percent, as ``arch``
prefers), the conditional variance of the next day's return follows

- GARCH(1,1) (Bollerslev 1986): ``s2_{t+1} = omega + alpha e_t^2 + beta s2_t``;
- GJR-GARCH(1,1,1) (Glosten, Jagannathan & Runkle 1993): adds ``gamma e_t^2 1[e_t < 0]``;
- EGARCH(1,1,1) (Nelson 1991):
  ``ln s2_{t+1} = omega + alpha (|z_t| - sqrt(2/pi)) + gamma z_t + beta ln s2_t``, z = e / s.

Features at row t (raw daily units, not annualised):

- ``garch_vol``: ``sqrt(s2_{t+1}) / 100``, the one-step-ahead conditional volatility;
- ``garch_vol_{h}d``: the square root of the average expected variance over days
  t+1..t+h, ``sbar2 + (s2_{t+1} - sbar2) (1 - phi^h) / (h (1 - phi))`` with
  persistence ``phi = alpha + beta + gamma/2`` and ``sbar2 = omega / (1 - phi)``
  (for EGARCH the same mean reversion is applied to ``ln s2`` with ``phi = beta``,
  ignoring the convexity term).

When the persistence is 1 (an integrated fit, on the boundary) the h-day average
equals the one-step variance. A fit that raises, does not converge or returns an
explosive model (persistence > 1), or a degenerate one (Student-t degrees of freedom
<= 2.1, ``|mu|`` above the sample standard deviation, last variance over 1000 times
the mean squared return; typical of stale prices) falls back to
RiskMetrics EWMA (J.P. Morgan 1996) ``s2_{t+1} = lam s2_t + (1 - lam) (100 r_t)^2``,
with a :class:`GarchFallbackWarning`; the count is ``n_fallbacks_``. Variances are
floored at ``variance_floor`` times the training window's mean squared return.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from threadpoolctl import threadpool_limits

from allocgym._typing import BoolArray, FloatArray
from allocgym.data import MarketData
from allocgym.exceptions import AllocgymWarning
from allocgym.predictors.config import GarchConfig
from allocgym.predictors.schedule import check_n_jobs, check_predict_range

__all__ = ["GarchFallbackWarning", "GarchVolatility"]

_SCALE = 100.0  # returns in percent for the optimiser
_ABS_MEAN = np.sqrt(2.0 / np.pi)  # E|z| for a standard normal, as in arch's EGARCH
# arch keeps persistence < 1 up to its optimiser's tolerance; a fit on that boundary
# (integrated GARCH) is valid, it just has no long-run level to revert to.
_TOL = 1e-6
_MIN_NU = 2.1
_MAX_VARIANCE_RATIO = 1000.0
# One asset's accepted fit: parameters (percent units), last variance, last residual.
_AssetFit = tuple[dict[str, float], float, float]


class GarchFallbackWarning(AllocgymWarning):
    """A GARCH fit failed and the EWMA(0.94) fallback was used for that asset."""


def _fit_arch(returns_pct: FloatArray, config: GarchConfig):
    """Fit one ``arch`` model; returns the result object (may raise)."""
    from arch import arch_model

    vol = "EGARCH" if config.kind == "egarch" else "GARCH"
    o = 0 if config.kind == "garch" else 1
    model = arch_model(returns_pct, mean="Constant", vol=vol, p=1, o=o, q=1, dist=config.dist)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(disp="off", show_warning=False, options={"maxiter": 500})


def _fit_one(r: FloatArray, config: GarchConfig) -> _AssetFit | None:
    """Parameters, last variance and last residual of one asset; None if the fit is rejected.

    Rejected: the optimiser raised or did not converge, or the model is explosive or
    degenerate (see the module docstring).
    """
    try:
        res = _fit_arch(r, config)
    except Exception:  # any optimiser failure triggers the documented fallback
        return None
    p = res.params
    values = {
        "mu": p.get("mu", 0.0),
        "omega": p.get("omega", np.nan),
        "alpha": p.get("alpha[1]", np.nan),
        "gamma": p.get("gamma[1]", 0.0),
        "beta": p.get("beta[1]", np.nan),
    }
    s = np.asarray(res.conditional_volatility, dtype=float)
    e = np.asarray(res.resid, dtype=float)
    ok = (
        res.convergence_flag == 0
        and all(np.isfinite(v) for v in values.values())
        and np.isfinite(s[-1])
        and s[-1] > 0
        # Degenerate optima (typically stale prices, mostly zero returns): Student-t
        # degrees of freedom on arch's lower bound, a mean far outside the data, or
        # a variance path that has left the scale of the returns.
        and p.get("nu", np.inf) > _MIN_NU
        and abs(values["mu"]) <= np.std(r)
        and s[-1] ** 2 <= _MAX_VARIANCE_RATIO * np.mean(r**2)
    )
    if ok and config.kind == "egarch":
        ok = abs(values["beta"]) <= 1 + _TOL
    elif ok:
        persistence = values["alpha"] + values["beta"] + values["gamma"] / 2
        ok = values["omega"] >= 0 and persistence <= 1 + _TOL
    if not ok:
        return None
    return values, s[-1] ** 2, e[-1]


def _fit_batch(batch: list[FloatArray], config: GarchConfig) -> list[_AssetFit | None]:
    """:func:`_fit_one` of each series with single-threaded BLAS.

    The optimum moves in the last digits with the number of BLAS threads, so every fit
    runs on one, here or in a worker process, and the results do not depend on
    ``n_jobs`` or on the machine's core count. (Many tiny linear systems: more
    threads would only add overhead.)
    """
    # threadpoolctl limits only the libraries already loaded: import arch, and with it
    # scipy's own BLAS, first (else the first fits in a process run multi-threaded).
    from arch import arch_model  # noqa: F401

    with threadpool_limits(limits=1):
        return [_fit_one(r, config) for r in batch]


def _fit_all(series: list[FloatArray], config: GarchConfig, n_jobs: int) -> list[_AssetFit | None]:
    """:func:`_fit_one` of every series, in order, serially or in ``n_jobs`` processes."""
    workers = min(effective_n_jobs(n_jobs), len(series))
    if workers <= 1:
        return _fit_batch(series, config)
    # A few batches per worker: fewer round trips than one task per asset, and still
    # balanced when some fits take longer than others.
    bounds = np.linspace(0, len(series), min(len(series), 4 * workers) + 1).astype(int)
    batches = [series[a:b] for a, b in itertools.pairwise(bounds)]
    done = Parallel(n_jobs=workers)(delayed(_fit_batch)(b, config) for b in batches)
    return [fit for batch in done for fit in batch]


def _step(
    e: FloatArray, s2: FloatArray, params: dict[str, FloatArray], egarch: BoolArray
) -> FloatArray:
    """Next-day conditional variance from today's residual and variance (vectorised)."""
    omega, alpha, gamma, beta = params["omega"], params["alpha"], params["gamma"], params["beta"]
    quad = omega + alpha * e**2 + gamma * e**2 * (e < 0) + beta * s2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = e / np.sqrt(s2)
        log_s2 = omega + alpha * (np.abs(z) - _ABS_MEAN) + gamma * z + beta * np.log(s2)
        expo = np.exp(log_s2)
    return np.where(egarch, expo, quad)


class GarchVolatility:
    """Per-asset GARCH-family conditional volatility, point in time.

    Parameters
    ----------
    config : GarchConfig, optional
    n_jobs : int, default 1
        Processes fitting the assets (joblib): 1 fits them one after the other in this
        process, -1 uses every core. The fits are independent and run single-threaded,
        so the results are bit-identical for every ``n_jobs``; it is not part of the
        config (nor of the feature cache key).

    Attributes
    ----------
    params_ : dict of str to ndarray, shape (n_assets,)
        ``mu``, ``omega``, ``alpha``, ``gamma``, ``beta`` per asset (percent units);
        NaN for an asset without enough data.
    fallback_ : ndarray of bool, shape (n_assets,)
        True where the EWMA fallback replaced a failed fit.
    n_fallbacks_ : int
    until_ : int
        Last row used by the fit.
    """

    level = "asset"

    def __init__(self, config: GarchConfig | None = None, *, n_jobs: int = 1) -> None:
        self.config = config
        self.n_jobs = n_jobs

    @property
    def _config(self) -> GarchConfig:
        return self.config or GarchConfig()

    def feature_names_for(self, market: MarketData) -> tuple[str, ...]:
        return ("garch_vol", f"garch_vol_{self._config.horizon}d")

    def fit(self, market: MarketData, until: int, start: int = 0) -> GarchVolatility:
        """Fit each asset on its finite returns at rows ``start..until``.

        The assets are fitted independently, in ``n_jobs`` processes; the result does
        not depend on ``n_jobs``.
        """
        cfg = self._config
        n_jobs = check_n_jobs(self.n_jobs)
        n = market.n_assets
        names = ("mu", "omega", "alpha", "gamma", "beta")
        params = {k: np.full(n, np.nan) for k in names}
        self.egarch_ = np.full(n, cfg.kind == "egarch")
        self.fallback_ = np.zeros(n, dtype=bool)
        self.last_var_ = np.full(n, np.nan)
        self.last_resid_ = np.full(n, np.nan)
        self.floor_ = np.full(n, np.nan)
        returns = np.asarray(market.returns[start : until + 1]) * _SCALE
        series: dict[int, FloatArray] = {}
        for i in range(n):
            r = returns[:, i]
            finite = np.isfinite(r)
            if finite.sum() < cfg.min_obs:
                continue
            # Prices never stop once they start, so the finite returns are the tail.
            series[i] = r[int(np.argmax(finite)) :]
        fits = _fit_all(list(series.values()), cfg, n_jobs)
        for (i, r), fit in zip(series.items(), fits, strict=True):
            self.floor_[i] = cfg.variance_floor * float(np.mean(r**2))
            if fit is None:
                self._ewma_asset(r, i, params)
                continue
            values, self.last_var_[i], self.last_resid_[i] = fit
            for k, v in values.items():
                params[k][i] = v
        self.params_ = params
        self.n_fallbacks_ = int(self.fallback_.sum())
        if self.n_fallbacks_:
            failed = [market.assets[i] for i in np.flatnonzero(self.fallback_)]
            warnings.warn(
                f"GARCH fit failed for {self.n_fallbacks_} asset(s) {failed} on rows "
                f"{start}..{until}; using EWMA(lambda={cfg.ewma_lambda}) instead",
                GarchFallbackWarning,
                stacklevel=2,
            )
        self.until_ = int(until)
        return self

    def _ewma_asset(self, r: FloatArray, i: int, params: dict[str, FloatArray]) -> None:
        lam = self._config.ewma_lambda
        for k, v in (("mu", 0.0), ("omega", 0.0), ("alpha", 1 - lam), ("gamma", 0.0)):
            params[k][i] = v
        params["beta"][i] = lam
        self.egarch_[i] = False
        self.fallback_[i] = True
        s2 = float(np.mean(r**2))
        for x in r[:-1]:
            s2 = lam * s2 + (1 - lam) * x * x
        self.last_var_[i] = s2
        self.last_resid_[i] = r[-1]

    def predict(self, market: MarketData, start: int, stop: int) -> FloatArray:
        """``garch_vol`` and ``garch_vol_{h}d`` for rows ``[start, stop)``.

        Shape (stop - start, n_assets, 2); NaN for assets that were not fitted.
        """
        check_predict_range(self.until_, start, stop, market.n_dates)
        p = self.params_
        returns = np.asarray(market.returns[self.until_ + 1 : stop]) * _SCALE
        s2 = self.last_var_.copy()
        e = self.last_resid_.copy()
        out = np.full((stop - start, market.n_assets, 2), np.nan)
        with np.errstate(invalid="ignore"):
            for k, t in enumerate(range(self.until_ + 1, stop)):
                s2 = np.fmax(_step(e, s2, p, self.egarch_), self.floor_)  # variance at t
                e = returns[k] - p["mu"]
                if t >= start:
                    nxt = np.fmax(_step(e, s2, p, self.egarch_), self.floor_)  # for t + 1
                    out[t - start, :, 0] = np.sqrt(nxt) / _SCALE
                    out[t - start, :, 1] = np.sqrt(self._average(nxt)) / _SCALE
        return out

    def _average(self, s2_next: FloatArray) -> FloatArray:
        """Mean expected variance over the next h days given the one-step variance."""
        h = self._config.horizon
        p = self.params_
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            phi = np.where(self.egarch_, p["beta"], p["alpha"] + p["beta"] + p["gamma"] / 2)
            decay = np.power.outer(phi, np.arange(h)).T  # (h, n): phi^(k-1), k = 1..h
            level = np.where(self.egarch_, np.log(s2_next), s2_next)
            mean_reverting = (phi < 1 - _TOL) & ~self.fallback_
            long_run = np.where(mean_reverting, p["omega"] / (1 - phi), level)
            path = long_run + decay * (level - long_run)
            path = np.where(self.egarch_, np.exp(path), path)
        return path.mean(axis=0)
