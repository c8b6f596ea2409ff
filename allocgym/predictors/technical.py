"""Technical features, computed causally from each asset's own prices (and volume).

Every feature at row t uses prices (volume) at rows <= t only: rolling windows and
exponential averages run forward in time and are NaN during their warm-up and before
an asset's first price. Units are natural and scale-free:

==================  ===============================================================
name                definition (p = close price, r = daily log return)
==================  ===============================================================
``rsi_14``          Wilder's RSI(14) / 100, in [0, 1] (Wilder 1978)
``macd``            (EMA12(p) - EMA26(p)) / p_t (Appel 1979, divided by the price)
``macd_signal``     EMA9 of ``macd``
``bollinger_pb``    Bollinger %B: (p - (SMA20 - 2 sd20)) / (4 sd20); 0.5 at the mean
``ma_ratio_{n}``    p_t / SMA_n(p) - 1, n in (5, 10, 20, 50, 200)
``mom_{n}``         p_t / p_{t-n} - 1, n in (1, 5, 21, 63)
``rvol_{n}``        sample standard deviation of r over n days, daily units, n in (21, 63)
``volume_ratio``    volume_t / SMA20(volume) - 1 (only when the market has volume)
==================  ===============================================================

References
----------
Wilder, J. W. (1978). *New Concepts in Technical Trading Systems*.
Appel, G. (1979). *The Moving Average Convergence-Divergence Method*.
Bollinger, J. (2001). *Bollinger on Bollinger Bands*.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocgym._typing import FloatArray
from allocgym.data import MarketData

__all__ = ["MA_WINDOWS", "MOMENTUM_WINDOWS", "RVOL_WINDOWS", "TechnicalFeatures"]

MA_WINDOWS = (5, 10, 20, 50, 200)
MOMENTUM_WINDOWS = (1, 5, 21, 63)
RVOL_WINDOWS = (21, 63)
_RSI_WINDOW = 14


def _rolling(x: FloatArray, n: int, how: str, ddof: int = 0) -> FloatArray:
    """Mean or standard deviation of each trailing window of n rows; NaN in warm-up.

    Every window is reduced on its own (no running sums carried across rows), so a
    value at row t depends on rows t-n+1..t only, bit for bit.
    """
    out = np.full(x.shape, np.nan)
    if len(x) >= n:
        windows = np.lib.stride_tricks.sliding_window_view(x, n, axis=0)
        out[n - 1 :] = windows.mean(axis=-1) if how == "mean" else windows.std(axis=-1, ddof=ddof)
    return out


def _ema(frame: pd.DataFrame, span: int) -> pd.DataFrame:
    return frame.ewm(span=span, adjust=False, min_periods=span).mean()


def _rsi(prices: pd.DataFrame, window: int = _RSI_WINDOW) -> pd.DataFrame:
    """Wilder's RSI / 100: smoothed gains over smoothed gains plus losses."""
    delta = prices.diff()
    gain = delta.clip(lower=0.0).ewm(alpha=1.0 / window, adjust=False, min_periods=window).mean()
    loss = (-delta).clip(lower=0.0).ewm(alpha=1.0 / window, adjust=False, min_periods=window)
    loss = loss.mean()
    total = gain + loss
    rsi = gain / total.where(total > 0)
    # A flat price (no gains, no losses) is neutral, not unknown.
    return rsi.mask((total == 0) & gain.notna(), 0.5)


class TechnicalFeatures:
    """The technical features of :mod:`allocgym.predictors.technical` as a predictor.

    Nothing is estimated, so :meth:`fit` only records the cut-off; :meth:`predict`
    is causal by construction.

    Parameters
    ----------
    volume : bool
        Add ``volume_ratio`` when the market has volume.
    """

    level = "asset"

    def __init__(self, volume: bool = True) -> None:
        self.volume = volume

    def feature_names_for(self, market: MarketData) -> tuple[str, ...]:
        names = ["rsi_14", "macd", "macd_signal", "bollinger_pb"]
        names += [f"ma_ratio_{n}" for n in MA_WINDOWS]
        names += [f"mom_{n}" for n in MOMENTUM_WINDOWS]
        names += [f"rvol_{n}" for n in RVOL_WINDOWS]
        if self.volume and market.volume is not None:
            names.append("volume_ratio")
        return tuple(names)

    def fit(
        self, market: MarketData, until: int | None = None, start: int = 0
    ) -> TechnicalFeatures:
        """Record the feature names; nothing is estimated."""
        self.feature_names_ = self.feature_names_for(market)
        return self

    def predict(self, market: MarketData, start: int = 0, stop: int | None = None) -> FloatArray:
        """Features for rows ``[start, stop)``, shape (rows, n_assets, n_features)."""
        stop = market.n_dates if stop is None else stop
        return self.transform(market[:stop])[start:]

    def transform(self, market: MarketData) -> FloatArray:
        """All features on every row, shape (n_dates, n_assets, n_features), float64."""
        p = np.asarray(market.prices, dtype=np.float64)
        frame = pd.DataFrame(p)
        columns = [_rsi(frame).to_numpy(dtype=np.float64)]
        macd = (_ema(frame, 12) - _ema(frame, 26)) / frame
        columns += [macd.to_numpy(dtype=np.float64), _ema(macd, 9).to_numpy(dtype=np.float64)]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean20, sd20 = _rolling(p, 20, "mean"), _rolling(p, 20, "std")
            sd20[sd20 <= 0] = np.nan
            columns.append((p - (mean20 - 2.0 * sd20)) / (4.0 * sd20))
            columns += [p / _rolling(p, n, "mean") - 1.0 for n in MA_WINDOWS]
            for n in MOMENTUM_WINDOWS:
                lagged = np.full_like(p, np.nan)
                lagged[n:] = p[:-n]
                columns.append(p / lagged - 1.0)
            log_ret = np.asarray(market.log_returns, dtype=np.float64)
            columns += [_rolling(log_ret, n, "std", ddof=1) for n in RVOL_WINDOWS]
            if self.volume and market.volume is not None:
                vol = np.asarray(market.volume, dtype=np.float64)
                mean_vol = _rolling(vol, 20, "mean")
                mean_vol[mean_vol <= 0] = np.nan
                columns.append(vol / mean_vol - 1.0)
        out = np.stack(columns, axis=-1)
        out[~np.asarray(market.available)] = np.nan
        return out
