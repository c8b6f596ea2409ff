"""Out-of-sample quality of the predictors against naive references.

Every forecast in a :class:`FeaturePanel` at row t was made by a model fitted on rows
strictly before the last refit <= t, so scoring the panel's rows against what
happened after t is an out-of-sample evaluation; rows before the first refit are NaN
and drop out. The references are computed causally as well.

Return forecasts (``lstm_forecast``), against the zero forecast, the historical mean
(expanding mean of the asset's daily returns up to t, times h) and the momentum sign
(``mom_21 / 21 * h``):

- directional accuracy: share of ``sign(forecast) == sign(realised)`` over non-zero
  pairs, with a one-sided binomial test against 1/2 (the pairs are cross-sectionally
  correlated, so the p-value is optimistic);
- information coefficient: Spearman rank correlation across assets per date, averaged
  over dates, with its t-statistic (Grinold & Kahn 2000);
- mean absolute error.

Variance forecasts (``garch_vol ** 2``), against EWMA(0.94) (RiskMetrics 1996) and the
21-day realised variance, scored on the squared next-day return ``r^2`` (Patton 2011):
``QLIKE = r^2 / h + log h`` and ``MSE = (r^2 - h)^2``, both robust to the noise of the
proxy; lower is better. QLIKE punishes a too-low forecast before a large move
heavily, so one asset can dominate the pooled mean; ``qlike_median_asset`` (median
over assets of each asset's mean QLIKE) is the robust summary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest, rankdata

from allocgym._typing import FloatArray, IntArray
from allocgym.data import MarketData
from allocgym.predictors.panel import FeaturePanel

__all__ = [
    "ewma_variance",
    "forward_return",
    "panel_quality",
    "regime_accuracy",
    "return_forecast_quality",
    "volatility_forecast_quality",
]


def forward_return(market: MarketData, horizon: int = 1) -> FloatArray:
    """``p_{t+h} / p_t - 1`` at row t (NaN for the last h rows), shape (n_dates, n_assets)."""
    p = np.asarray(market.prices)
    out = np.full(p.shape, np.nan)
    out[:-horizon] = p[horizon:] / p[:-horizon] - 1.0
    return out


def ewma_variance(returns: FloatArray, lam: float = 0.94, warmup: int = 21) -> FloatArray:
    """RiskMetrics forecast of ``r_{t+1}^2`` made at t: ``s2 = lam s2 + (1 - lam) r_t^2``.

    Each asset starts at the mean square of its first ``warmup`` returns (NaN before).
    """
    r = np.asarray(returns, dtype=float)
    out = np.full(r.shape, np.nan)
    for i in range(r.shape[1]):
        finite = np.flatnonzero(np.isfinite(r[:, i]))
        if len(finite) <= warmup:
            continue
        first = finite[0]
        s2 = float(np.mean(r[first : first + warmup, i] ** 2))
        for t in range(first + warmup, r.shape[0]):
            s2 = lam * s2 + (1 - lam) * r[t, i] ** 2
            out[t, i] = s2
    return out


def _information_coefficient(forecast: FloatArray, realised: FloatArray) -> tuple[float, float]:
    """Mean cross-sectional Spearman correlation and its t-statistic."""
    ics = []
    for f, y in zip(forecast, realised, strict=True):
        ok = np.isfinite(f) & np.isfinite(y)
        if ok.sum() < 3 or np.ptp(f[ok]) == 0 or np.ptp(y[ok]) == 0:
            continue
        ics.append(np.corrcoef(rankdata(f[ok]), rankdata(y[ok]))[0, 1])
    if len(ics) < 2:
        return float("nan"), float("nan")
    ic = np.asarray(ics)
    spread = ic.std(ddof=1)
    t_stat = ic.mean() / spread * np.sqrt(len(ic)) if spread > 0 else np.inf * np.sign(ic.mean())
    return float(ic.mean()), float(t_stat)


def return_forecast_quality(forecasts: dict[str, FloatArray], realised: FloatArray) -> pd.DataFrame:
    """Directional accuracy, binomial p-value, IC, MAE of each forecast (rows: models).

    All forecasts are scored on the same (date, asset) pairs: those where every
    forecast and the realised return are finite.
    """
    common = np.isfinite(realised)
    for f in forecasts.values():
        common &= np.isfinite(f)
    rows = {}
    for name, f in forecasts.items():
        f = np.where(common, f, np.nan)
        y = np.where(common, realised, np.nan)
        pairs = common & (np.sign(f) != 0) & (np.sign(y) != 0)
        hits = int((np.sign(f[pairs]) == np.sign(y[pairs])).sum())
        n = int(pairs.sum())
        ic, ic_t = _information_coefficient(f, y)
        rows[name] = {
            "n": int(common.sum()),
            "hit_rate": hits / n if n else float("nan"),
            "binom_p": binomtest(hits, n, 0.5, alternative="greater").pvalue if n else float("nan"),
            "ic": ic,
            "ic_t": ic_t,
            "mae": float(np.nanmean(np.abs(f - y))),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def volatility_forecast_quality(
    variances: dict[str, FloatArray], realised_sq: FloatArray
) -> pd.DataFrame:
    """Mean QLIKE, median-over-assets QLIKE and MSE of variance forecasts (rows: models).

    Arrays have shape (n_dates, n_assets); all models are scored on the same pairs.
    """
    common = np.isfinite(realised_sq)
    for v in variances.values():
        common &= np.isfinite(v) & (v > 0)
    rows = {}
    for name, v in variances.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = np.where(common, realised_sq / v + np.log(v), np.nan)
        per_asset = np.nanmean(loss, axis=0) if loss.ndim == 2 else np.nanmean(loss)
        h, r2 = v[common], realised_sq[common]
        rows[name] = {
            "n": int(common.sum()),
            "qlike": float(np.mean(r2 / h + np.log(h))),
            "qlike_median_asset": float(np.nanmedian(per_asset)),
            "mse": float(np.mean((r2 - h) ** 2)),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def regime_accuracy(probabilities: FloatArray, truth: IntArray) -> float:
    """Share of rows where the most probable state equals the true regime (NaN rows dropped)."""
    ok = np.isfinite(probabilities).all(axis=1)
    return float((probabilities[ok].argmax(axis=1) == np.asarray(truth)[ok]).mean())


def panel_quality(
    panel: FeaturePanel, market: MarketData, horizon: int = 1
) -> dict[str, pd.DataFrame]:
    """The return and volatility tables for a panel built from ``market``."""
    tables: dict[str, pd.DataFrame] = {}
    returns = np.asarray(market.returns)
    if "lstm_forecast" in panel.feature_names:
        r0 = np.where(np.isfinite(returns), returns, 0.0)
        count = np.cumsum(np.isfinite(returns), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            hist_mean = np.cumsum(r0, axis=0) / np.where(count > 0, count, np.nan) * horizon
        tables["returns"] = return_forecast_quality(
            {
                "lstm": np.asarray(panel.feature("lstm_forecast"), dtype=float),
                "zero": np.zeros(returns.shape),
                "historical_mean": hist_mean,
                "momentum_sign": np.asarray(panel.feature("mom_21"), dtype=float) / 21 * horizon,
            },
            forward_return(market, horizon),
        )
    if "garch_vol" in panel.feature_names:
        realised_sq = np.full(returns.shape, np.nan)
        realised_sq[:-1] = returns[1:] ** 2
        tables["volatility"] = volatility_forecast_quality(
            {
                "garch": np.asarray(panel.feature("garch_vol"), dtype=float) ** 2,
                "ewma_0.94": ewma_variance(returns),
                "realised_21d": np.asarray(panel.feature("rvol_21"), dtype=float) ** 2,
            },
            realised_sq,
        )
    return tables
