"""Point-in-time observations: causal standardisation and a precomputed observation table.

Every part of the observation at decision date ``t`` that does not depend on the agent
(features, regime probabilities, the window of past log returns, the availability mask,
calendar features) is computed once, in ``__init__``, as row ``t`` of a float32 table; the
step then copies that row and appends the current drifted weights. Nothing in a row
uses data dated after ``t``:

* Feature standardisation is causal: ``z_t = (x_t - m_t) / s_t`` with the mean ``m_t``
  and standard deviation ``s_t`` of the last ``norm_window`` finite values up to and
  including ``t`` (all values up to ``t`` when ``norm_window`` is None), 0 until
  ``min_periods`` values exist, clipped to ``[-clip, clip]``.
* Log returns are scaled (not demeaned) by their causal root mean square.
* NaN (unknown) becomes 0; the availability mask tells the agent which zeros are
  unknowns.

Flat layout (``ObservationLayout.slices``), asset-major::

    features (n_assets * n_features) | market (n_market) | returns (n_assets * window)
    | mask (n_assets) | time (4, optional) | weights (n_assets + 1, index 0 = cash)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from allocgym._typing import BoolArray, Float32Array, FloatArray
from allocgym.data import MarketData
from allocgym.predictors.panel import FeaturePanel

__all__ = ["ObservationLayout", "ObservationTable", "causal_standardise"]

_MIN_PERIODS = 20


def causal_standardise(
    x: FloatArray,
    window: int | None = 252,
    *,
    demean: bool = True,
    min_periods: int = _MIN_PERIODS,
    clip: float = 5.0,
) -> FloatArray:
    """Standardise each column of ``x`` with statistics from rows ``<= t`` only.

    Parameters
    ----------
    x : array of shape (n_dates, n_columns)
        NaN where unknown.
    window : int or None, default 252
        Rolling window of the mean and standard deviation; None = expanding.
    demean : bool, default True
        False scales by the root mean square instead (for returns).
    min_periods : int, default 20
        Rows with fewer finite values in the window are 0.
    clip : float, default 5.0

    Returns
    -------
    ndarray of float64, shape (n_dates, n_columns)
        Finite everywhere (NaN and warm-up -> 0).
    """
    x = np.asarray(x, dtype=np.float64)
    valid = np.isfinite(x)
    # Shift each column by its first finite value (a value from the past of every row
    # that has statistics) so the running sums do not lose precision.
    first = valid.argmax(axis=0)
    ref = np.where(valid.any(axis=0), x[first, np.arange(x.shape[1])], 0.0) if demean else 0.0
    y = np.where(valid, x - ref, 0.0)
    sums = [np.cumsum(a, axis=0) for a in (valid.astype(np.float64), y, y * y)]
    if window is not None:
        for s in sums:
            s[window:] = s[window:] - s[:-window].copy()
    n, s1, s2 = sums
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n if demean else 0.0
        var = s2 / n - mean * mean
        std = np.sqrt(np.maximum(var, 0.0))
        z = (y - mean) / std
    ok = valid & (n >= min_periods) & (std > 1e-12 * (1.0 + np.abs(mean)))
    return np.clip(np.where(ok, z, 0.0), -clip, clip)


@dataclass(frozen=True)
class ObservationLayout:
    """Sizes and positions of the observation parts.

    Attributes
    ----------
    n_assets, n_features, n_market, window : int
    time_features : bool
    slices : dict of str to slice
        Position of each part in the flat observation.
    shapes : dict of str to tuple
        Shape of each part in the Dict observation.
    """

    n_assets: int
    n_features: int
    n_market: int
    window: int
    time_features: bool
    slices: dict[str, slice]
    shapes: dict[str, tuple[int, ...]]

    @classmethod
    def build(
        cls, n_assets: int, n_features: int, n_market: int, window: int, time_features: bool
    ) -> ObservationLayout:
        shapes = {
            "features": (n_assets, n_features),
            "market": (n_market,),
            "returns": (n_assets, window),
            "mask": (n_assets,),
            "time": (4 if time_features else 0,),
            "weights": (n_assets + 1,),
        }
        shapes = {k: v for k, v in shapes.items() if int(np.prod(v)) > 0}
        slices, pos = {}, 0
        for key, shape in shapes.items():
            size = int(np.prod(shape))
            slices[key] = slice(pos, pos + size)
            pos += size
        return cls(n_assets, n_features, n_market, window, time_features, slices, shapes)

    @property
    def size(self) -> int:
        return self.slices["weights"].stop

    @property
    def static_size(self) -> int:
        """Size of everything but the weights."""
        return self.slices["weights"].start


def _time_features(dates: np.ndarray) -> FloatArray:
    """sin/cos of the weekday and of the day of the year (known in advance)."""
    days = dates.astype("datetime64[D]").astype(np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    year_start = dates.astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    doy = days - year_start
    a, b = 2 * np.pi * weekday / 5.0, 2 * np.pi * doy / 365.25
    return np.stack([np.sin(a), np.cos(a), np.sin(b), np.cos(b)], axis=1)


class ObservationTable:
    """The precomputed, agent-independent part of every observation in ``[lo, hi]``.

    Parameters
    ----------
    market : MarketData
    panel : FeaturePanel or None
        Aligned with ``market`` (same dates and assets).
    window : int
        Number of past daily log returns per asset.
    lo, hi : int
        First and last decision index for which rows are built.
    norm_window : int or None
        See :func:`causal_standardise`.
    time_features : bool
    long_only : bool
        Sets the bounds of the weights part of the space: ``[0, 1]`` long only, else
        ``+-10 (1 + max_leverage)`` (drifted weights are observed clipped to that).
    max_leverage : float
    clip : float

    Attributes
    ----------
    layout : ObservationLayout
    table : ndarray of float32, shape (hi - lo + 1, layout.size)
        Row ``t - lo`` is the observation at ``t`` with zero weights.
    available : ndarray of bool, shape (n_dates, n_assets)
        The mask in the observation: the asset trades and its features are known.
    """

    def __init__(
        self,
        market: MarketData,
        panel: FeaturePanel | None,
        window: int,
        lo: int,
        hi: int,
        norm_window: int | None = 252,
        time_features: bool = False,
        long_only: bool = True,
        max_leverage: float = 1.0,
        clip: float = 5.0,
    ) -> None:
        n_dates, n_assets = market.n_dates, market.n_assets
        n_feat = 0 if panel is None else panel.n_features
        n_mkt = 0 if panel is None else len(panel.market_feature_names)
        self.layout = ObservationLayout.build(n_assets, n_feat, n_mkt, window, time_features)
        self.lo, self.hi, self.clip, self.long_only = lo, hi, clip, long_only
        self.weight_bound = 1.0 if long_only else 10.0 * (1.0 + max_leverage)
        available: BoolArray = np.asarray(market.available)
        if panel is not None:
            available = available & np.asarray(panel.available)
        self.available = available
        rows = slice(lo, hi + 1)
        table = np.zeros((hi - lo + 1, self.layout.size), dtype=np.float32)
        sl = self.layout.slices
        if n_feat:
            vals = np.asarray(panel.values, dtype=np.float64).reshape(n_dates, -1)
            z = causal_standardise(vals, norm_window, clip=clip)
            table[:, sl["features"]] = z[rows]
        if n_mkt:
            z = causal_standardise(np.asarray(panel.market_values), norm_window, clip=clip)
            table[:, sl["market"]] = z[rows]
        zr = causal_standardise(market.log_returns, norm_window, demean=False, clip=clip)
        padded = np.concatenate([np.zeros((window, n_assets)), zr])
        # row t of the window view holds zr[t - window + 1 .. t] per asset: (n_assets, window)
        view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)[1:]
        table[:, sl["returns"]] = view[rows].reshape(hi - lo + 1, -1)
        table[:, sl["mask"]] = available[rows]
        if time_features:
            table[:, sl["time"]] = _time_features(market.dates.values[rows])
        self.table: Float32Array = table

    def flat_space(self) -> spaces.Box:
        low = np.full(self.layout.size, -self.clip, dtype=np.float32)
        high = np.full(self.layout.size, self.clip, dtype=np.float32)
        sl = self.layout.slices
        low[sl["mask"]], high[sl["mask"]] = 0.0, 1.0
        if "time" in sl:
            low[sl["time"]], high[sl["time"]] = -1.0, 1.0
        if self.long_only:
            low[sl["weights"]], high[sl["weights"]] = 0.0, 1.0
        else:  # drifted long/short weights are observed clipped to +-weight_bound
            low[sl["weights"]], high[sl["weights"]] = -self.weight_bound, self.weight_bound
        return spaces.Box(low, high, dtype=np.float32)

    def dict_space(self) -> spaces.Dict:
        flat = self.flat_space()
        return spaces.Dict(
            {
                key: spaces.Box(
                    flat.low[sl].reshape(self.layout.shapes[key]),
                    flat.high[sl].reshape(self.layout.shapes[key]),
                    dtype=np.float32,
                )
                for key, sl in self.layout.slices.items()
            }
        )

    def to_dict(self, flat: Float32Array) -> dict[str, Float32Array]:
        """Split a flat observation (or a batch, shape (B, size)) into the Dict parts."""
        lead = flat.shape[:-1]
        return {
            key: flat[..., sl].reshape(lead + self.layout.shapes[key])
            for key, sl in self.layout.slices.items()
        }
