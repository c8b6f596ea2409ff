"""The predictor interface and the walk-forward refit schedule.

A predictor follows fit/predict (STYLE.md):

- ``fit(market, until, start=0)`` estimates from rows ``start..until`` (inclusive)
  and nothing later;
- ``predict(market, start, stop)`` returns the features of rows ``[start, stop)``,
  each row t computed from data at rows <= t with the fitted parameters (GARCH
  filtered with fixed parameters, HMM forward filter, LSTM on the window ending
  at t). ``start`` must be after ``until``: in-sample rows are never predicted.

:func:`walk_forward` refits a fresh predictor at each date of :func:`refit_dates` on
the data strictly before it and predicts until the next refit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from threadpoolctl import threadpool_limits

from allocgym._typing import FloatArray
from allocgym.data import MarketData

__all__ = ["Predictor", "check_predict_range", "refit_dates", "walk_forward"]


@runtime_checkable
class Predictor(Protocol):
    """What :func:`walk_forward` needs from a predictor."""

    level: Literal["asset", "market"]

    def feature_names_for(self, market: MarketData) -> tuple[str, ...]: ...

    def fit(self, market: MarketData, until: int, start: int = 0) -> Predictor: ...

    def predict(self, market: MarketData, start: int, stop: int) -> FloatArray: ...


def check_predict_range(until: int, start: int, stop: int, n_dates: int) -> None:
    """Raise ValueError unless ``until < start < stop <= n_dates``."""
    if not until < start:
        raise ValueError(
            f"start={start} must be after the last fitted row until={until}: predictions "
            "are out of sample only"
        )
    if not start < stop <= n_dates:
        raise ValueError(f"stop={stop} is invalid; expected start={start} < stop <= {n_dates}")


def refit_dates(n_dates: int, min_train: int, refit_every: int) -> list[int]:
    """Row positions of the refits: ``min_train, min_train + refit_every, ...`` (< n_dates)."""
    return list(range(min_train, n_dates, refit_every))


def walk_forward(
    make: Callable[[], Predictor],
    market: MarketData,
    *,
    min_train: int,
    refit_every: int,
    train_window: int | None,
    on_refit: Callable[[Predictor], None] | None = None,
) -> FloatArray:
    """Point-in-time predictions of a predictor refit on a schedule.

    At each refit row r a new predictor from ``make()`` is fit on rows
    ``[max(0, r - train_window), r - 1]`` (all rows before r if ``train_window`` is
    None) and predicts rows ``[r, r + refit_every)``. Rows before the first refit are NaN.

    Returns
    -------
    ndarray of float64
        Shape (n_dates, n_assets, n_features) for asset-level predictors,
        (n_dates, n_features) for market-level ones.
    """
    probe = make()
    n_features = len(probe.feature_names_for(market))
    shape: tuple[int, ...] = (market.n_dates, n_features)
    if probe.level == "asset":
        shape = (market.n_dates, market.n_assets, n_features)
    out = np.full(shape, np.nan)
    # The fits solve many tiny linear systems: multi-threaded BLAS only adds overhead
    # (and stalls badly on a shared machine), so it runs single-threaded here.
    with threadpool_limits(limits=1):
        for r in refit_dates(market.n_dates, min_train, refit_every):
            stop = min(r + refit_every, market.n_dates)
            lo = 0 if train_window is None else max(0, r - train_window)
            # The predictor never receives rows at or after `stop`.
            visible = market[:stop]
            predictor = make().fit(visible, until=r - 1, start=lo)
            out[r:stop] = predictor.predict(visible, r, stop)
            if on_refit is not None:
                on_refit(predictor)
    return out
