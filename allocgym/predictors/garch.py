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

import warnings

import numpy as np

from allocgym._typing import BoolArray, FloatArray
from allocgym.data import MarketData
from allocgym.exceptions import AllocgymWarning
from allocgym.predictors.config import GarchConfig
from allocgym.predictors.schedule import check_predict_range

__all__ = ["GarchFallbackWarning", "GarchVolatility"]

_SCALE = 100.0  # returns in percent for the optimiser
_ABS_MEAN = np.sqrt(2.0 / np.pi)  # E|z| for a standard normal, as in arch's EGARCH
# arch keeps persistence < 1 up to its optimiser's tolerance; a fit on that boundary
# (integrated GARCH) is valid, it just has no long-run level to revert to.
_TOL = 1e-6
_MIN_NU = 2.1
_MAX_VARIANCE_RATIO = 1000.0


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

    def __init__(self, config: GarchConfig | None = None) -> None:
        self.config = config

    @property
    def _config(self) -> GarchConfig:
        return self.config or GarchConfig()

    def feature_names_for(self, market: MarketData) -> tuple[str, ...]:
        return ("garch_vol", f"garch_vol_{self._config.horizon}d")

    def fit(self, market: MarketData, until: int, start: int = 0) -> GarchVolatility:
        """Fit each asset on its finite returns at rows ``start..until``."""
        cfg = self._config
        n = market.n_assets
        names = ("mu", "omega", "alpha", "gamma", "beta")
        params = {k: np.full(n, np.nan) for k in names}
        self.egarch_ = np.full(n, cfg.kind == "egarch")
        self.fallback_ = np.zeros(n, dtype=bool)
        self.last_var_ = np.full(n, np.nan)
        self.last_resid_ = np.full(n, np.nan)
        self.floor_ = np.full(n, np.nan)
        returns = np.asarray(market.returns[start : until + 1]) * _SCALE
        for i in range(n):
            r = returns[:, i]
            finite = np.isfinite(r)
            if finite.sum() < cfg.min_obs:
                continue
            # Prices never stop once they start, so the finite returns are the tail.
            r = r[int(np.argmax(finite)) :]
            self.floor_[i] = cfg.variance_floor * float(np.mean(r**2))
            fitted = self._fit_asset(r, i, params)
            if not fitted:
                self._ewma_asset(r, i, params)
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

    def _fit_asset(self, r: FloatArray, i: int, params: dict[str, FloatArray]) -> bool:
        try:
            res = _fit_arch(r, self._config)
        except Exception:  # any optimiser failure triggers the documented fallback
            return False
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
        if ok and self._config.kind == "egarch":
            ok = abs(values["beta"]) <= 1 + _TOL
        elif ok:
            persistence = values["alpha"] + values["beta"] + values["gamma"] / 2
            ok = values["omega"] >= 0 and persistence <= 1 + _TOL
        if not ok:
            return False
        for k, v in values.items():
            params[k][i] = v
        self.last_var_[i] = s[-1] ** 2
        self.last_resid_[i] = e[-1]
        return True

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
