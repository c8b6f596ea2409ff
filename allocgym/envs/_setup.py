"""Argument resolution and array preparation shared by the single and vectorised envs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from allocgym._typing import FloatArray
from allocgym.data import MarketData, load_market
from allocgym.envs.accounting import Accounting
from allocgym.envs.actions import ActionMap, bind_action_map, make_action_map
from allocgym.envs.costs import CostModel
from allocgym.envs.observation import ObservationTable
from allocgym.exceptions import DataError
from allocgym.predictors.panel import FeaturePanel

MarketLike = MarketData | str | os.PathLike | pd.DataFrame | None
FeaturesLike = FeaturePanel | str | None

_IMPACT_VOL_WINDOW = 21


def resolve_market(market: MarketLike) -> MarketData:
    if isinstance(market, MarketData):
        return market
    return load_market(market)


def resolve_features(features: FeaturesLike, market: MarketData) -> FeaturePanel | None:
    """None -> no panel, a preset name -> ``build_features(market, name)``, or a panel.

    ``None`` means "no features" here as everywhere in allocgym; a preset is named.
    """
    if features is None:
        return None
    if isinstance(features, str):
        from allocgym.predictors import build_features

        return build_features(market, features, progress=False)
    if not isinstance(features, FeaturePanel):
        raise TypeError(
            f"features={features!r} is invalid; expected None (no features), a preset name "
            f"('technical', 'standard', 'full') or a FeaturePanel"
        )
    if tuple(features.assets) != tuple(market.assets):
        raise DataError(
            f"features cover assets {list(features.assets)}; the market has "
            f"{list(market.assets)} (same names in the same order expected)"
        )
    if len(features.dates) != len(market.dates) or not features.dates.equals(market.dates):
        features = features.align(market.dates)
    return features


def _index(market: MarketData, date: Any, name: str, side: str) -> int:
    if isinstance(date, int | np.integer):
        return int(date) if date >= 0 else market.n_dates + int(date)
    try:
        ts = pd.Timestamp(date)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={date!r} is not a date or an integer index") from exc
    if side == "left":  # first trading day on or after
        return int(market.dates.searchsorted(ts, "left"))
    return int(market.dates.searchsorted(ts, "right")) - 1  # last trading day on or before


def _check_int(name: str, value: Any, low: int) -> int:
    if not _is_int(value) or value < low:
        raise ValueError(f"{name}={value!r} is invalid; expected an integer >= {low}")
    return int(value)


@dataclass(frozen=True, eq=False)
class EnvData:
    """Everything the environments precompute from their arguments (read-only).

    Attributes
    ----------
    lo, hi : int
        First decision index and last index of the date range.
    growth : ndarray, shape (n_dates + 1, n_assets + 1)
        ``1 + return`` earned on each day (column 0: ``1 + rf``; unavailable assets: 1);
        the extra last row is all ones (padding for the vectorised holding period).
    tradable : ndarray, shape (n_dates, n_assets + 1)
        1.0 for cash and for assets with a price at t, else 0.0.
    sigma : ndarray, shape (n_dates, n_assets) or None
        Causal daily volatility for market impact (None without impact).
    accounting : Accounting
        The rebalance-and-hold step both environments call.
    """

    market: MarketData
    panel: FeaturePanel | None
    cost_model: CostModel
    action_map: ActionMap
    window: int
    rebalance_every: int
    lo: int
    hi: int
    growth: FloatArray
    tradable: FloatArray
    sigma: FloatArray | None
    obs: ObservationTable
    accounting: Accounting


def prepare(
    market: MarketLike,
    features: FeaturesLike,
    cost_bps: Any,
    start: Any,
    end: Any,
    window: int,
    rebalance_every: int,
    action: str | ActionMap,
    norm_window: int | None,
    time_features: bool,
) -> EnvData:
    """Validate the environment arguments and build the arrays the step reads."""
    window = _check_int("window", window, 1)
    rebalance_every = _check_int("rebalance_every", rebalance_every, 1)
    if norm_window is not None:
        norm_window = _check_int("norm_window", norm_window, 2)
    mkt = resolve_market(market)
    panel = resolve_features(features, mkt)
    cost_model = CostModel.coerce(cost_bps)
    cost_model.coefficients(mkt.n_assets)  # validates per-asset rates against the market
    # a map that reads the data (a baseline reference) is bound to this market and panel
    action_map = bind_action_map(make_action_map(action), mkt, panel)
    n = mkt.n_dates
    if start is None and window > n - 2:
        raise DataError(
            f"window={window} days of history leave no decision in the {n} days of "
            f"{mkt.dates[0].date()} to {mkt.dates[-1].date()}; expected window <= {n - 2} "
            "(or a start date)"
        )
    lo = window if start is None else _index(mkt, start, "start", "left")
    hi = n - 1 if end is None else _index(mkt, end, "end", "right")
    if not (0 <= lo < hi <= n - 1):
        raise DataError(
            f"start={start!s}, end={end!s} leave no step to take: the decision range must "
            f"hold at least two trading days of {mkt.dates[0].date()} to "
            f"{mkt.dates[-1].date()} ({n} days)"
        )
    growth = np.ones((n + 1, mkt.n_assets + 1))
    growth[:n, 0] += np.nan_to_num(np.asarray(mkt.rf, dtype=np.float64))
    growth[:n, 1:] += np.nan_to_num(np.asarray(mkt.returns))
    tradable = np.ones((n, mkt.n_assets + 1))
    tradable[:, 1:] = mkt.available
    sigma = None
    if cost_model.impact:
        r = np.nan_to_num(np.asarray(mkt.returns))
        sigma = np.sqrt(_rolling_mean(r * r, _IMPACT_VOL_WINDOW))
    obs = ObservationTable(
        mkt,
        panel,
        window,
        lo,
        hi,
        norm_window=norm_window,
        time_features=time_features,
        long_only=action_map.long_only,
        max_leverage=action_map.max_leverage,
    )
    accounting = Accounting(cost_model, growth, sigma, rebalance_every)
    return EnvData(
        mkt, panel, cost_model, action_map, window, rebalance_every, lo, hi, growth, tradable,
        sigma, obs, accounting,
    )  # fmt: skip


def episode_span(episode_length: Any, data: EnvData) -> int | None:
    """Trading days spanned by ``episode_length`` decisions (None: until ``end``)."""
    if episode_length is None:
        return None
    k = data.rebalance_every
    span = episode_length * k if _is_int(episode_length) and episode_length >= 1 else 0
    if span < 1 or data.lo + span > data.hi:
        raise DataError(
            f"episode_length={episode_length!r} decisions of {k} days do not fit in the "
            f"range of {data.hi - data.lo} days; expected an integer with "
            "1 <= episode_length * rebalance_every <= days in the range"
        )
    return span


def draw_starts(
    rng: np.random.Generator, data: EnvData, span: int | None, size: int | None = None
) -> Any:
    """First decision indices drawn uniformly so that an episode of ``span`` days fits.

    Uniform on ``lo .. hi - span`` (``hi - 1`` without an episode length): an int, or an
    array of ``size`` ints.
    """
    return rng.integers(data.lo, data.hi - (span or 1) + 1, size=size)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _rolling_mean(x: FloatArray, window: int) -> FloatArray:
    """Trailing mean over ``window`` rows (fewer at the start), rows <= t only."""
    c = np.cumsum(x, axis=0)
    c[window:] = c[window:] - c[:-window]
    counts = np.minimum(np.arange(1, len(x) + 1), window)[:, None]
    return c / counts
