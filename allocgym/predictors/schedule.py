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

import warnings
from collections.abc import Callable
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from joblib.parallel import get_active_backend
from threadpoolctl import threadpool_limits

from allocgym._typing import FloatArray
from allocgym.data import MarketData

__all__ = ["Predictor", "check_n_jobs", "check_predict_range", "refit_dates", "walk_forward"]


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


def check_n_jobs(n_jobs: object) -> int:
    """``n_jobs`` as joblib reads it: a positive process count or -1 for every core.

    Raises TypeError for a non-integer and ValueError for 0 or below -1.
    """
    if not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, (bool, np.bool_)):
        raise TypeError(
            f"n_jobs={n_jobs!r} is invalid; expected an integer >= 1 (processes) or -1 (every core)"
        )
    if n_jobs == 0 or n_jobs < -1:
        raise ValueError(
            f"n_jobs={n_jobs} is invalid; expected an integer >= 1 (processes) or -1 (every core)"
        )
    return int(n_jobs)


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
    n_jobs: int = 1,
) -> FloatArray:
    """Point-in-time predictions of a predictor refit on a schedule.

    At each refit row r a new predictor from ``make()`` is fit on rows
    ``[max(0, r - train_window), r - 1]`` (all rows before r if ``train_window`` is
    None) and predicts rows ``[r, r + refit_every)``. Rows before the first refit are NaN.

    The refits are independent, so with ``n_jobs`` other than 1 they run in that many
    processes (joblib; -1: every core), each on single-threaded BLAS as the serial loop
    is, and the predictions are bit-identical. ``make`` and the predictors then travel
    between processes (pickled); ``on_refit`` still runs here, in refit order.

    Returns
    -------
    ndarray of float64
        Shape (n_dates, n_assets, n_features) for asset-level predictors,
        (n_dates, n_features) for market-level ones.
    """
    n_jobs = check_n_jobs(n_jobs)
    probe = make()
    n_features = len(probe.feature_names_for(market))
    shape: tuple[int, ...] = (market.n_dates, n_features)
    if probe.level == "asset":
        shape = (market.n_dates, market.n_assets, n_features)
    out = np.full(shape, np.nan)
    refits = refit_dates(market.n_dates, min_train, refit_every)
    spans = [(r, min(r + refit_every, market.n_dates)) for r in refits]
    lo = [0 if train_window is None else max(0, r - train_window) for r in refits]
    # The predictor never receives rows at or after `stop`. (A generator: a worker's
    # slice is pickled, a copy, only when its refit is dispatched.)
    tasks = (
        (make, market[:stop], r, stop, start) for (r, stop), start in zip(spans, lo, strict=True)
    )
    workers = min(effective_n_jobs(n_jobs), len(spans))
    if workers <= 1:
        results = ((*_refit(*task), []) for task in tasks)
    else:
        backend = get_active_backend()[0]  # joblib's Ray backend returns lists only
        lazy = "generator" if getattr(backend, "supports_return_generator", False) else "list"
        results = Parallel(n_jobs=workers, return_as=lazy)(
            delayed(_refit_recorded)(*task) for task in tasks
        )
    for (r, stop), (predictor, predictions, caught) in zip(spans, results, strict=True):
        for message, category in caught:
            warnings.warn(message, category, stacklevel=2)  # raised in a worker process
        out[r:stop] = predictions
        if on_refit is not None:
            on_refit(predictor)
    return out


def _refit(
    make: Callable[[], Predictor], visible: MarketData, r: int, stop: int, start: int
) -> tuple[Predictor, FloatArray]:
    """One refit of :func:`walk_forward`: fit on rows ``start..r - 1``, predict ``[r, stop)``."""
    # The fits solve many tiny linear systems: multi-threaded BLAS only adds overhead
    # (and stalls badly on a shared machine), so it runs single-threaded here.
    with threadpool_limits(limits=1):
        predictor = make().fit(visible, until=r - 1, start=start)
        return predictor, predictor.predict(visible, r, stop)


def _refit_recorded(
    make: Callable[[], Predictor], visible: MarketData, r: int, stop: int, start: int
) -> tuple[Predictor, FloatArray, list[tuple[str, type[Warning]]]]:
    """:func:`_refit` in a worker process, with the warnings it raised, for the parent
    to raise again (a worker's own warnings would never reach the user)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        predictor, predictions = _refit(make, visible, r, stop, start)
    return predictor, predictions, [(str(w.message), w.category) for w in caught]
