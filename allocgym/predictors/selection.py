"""Predictor hyperparameters chosen by purged cross-validation inside the training data.

:func:`select_by_purged_cv` scores every candidate of a grid on every fold of a purged
splitter (:class:`~allocgym.backtest.PurgedKFold` or
:class:`~allocgym.backtest.CombinatorialPurgedKFold`) over the rows of the market it is
given, and picks the lowest mean loss. It sees only that market: pass the training
slice (``market[:until + 1]``) and nothing later is used, so the choice is point in time
and can be counted as one more configuration tried (SPEC invariant 8).

A candidate is what a fold needs, not a predictor: ``fit(market, train_rows)`` learns
from the samples at ``train_rows`` only and ``score(market, test_rows)`` returns a loss
(lower is better) on the samples at ``test_rows``; ``horizon`` is its label length,
which the splitter's purge must cover. Two candidates come with the package:

- :class:`GarchCandidate`: the GARCH family of
  :class:`~allocgym.predictors.GarchVolatility` (``kind``: GARCH, GJR, EGARCH;
  ``dist``), scored by QLIKE of the 1-day variance forecast (Patton 2011);
- :class:`LSTMCandidate`: :class:`~allocgym.predictors.LSTMForecaster` settings
  (``hidden``, ``window``, ``horizon``, ...), scored by the MSE of its h-day return
  forecast relative to the zero forecast's, which is comparable across horizons.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from allocgym._typing import FloatArray, IntArray
from allocgym.data import MarketData
from allocgym.predictors.config import GarchConfig, LSTMConfig

# The candidates fit exactly the predictors' models: the same arch specification and
# variance recursion as GarchVolatility (its private helpers, not a copy of them).
from allocgym.predictors.garch import _SCALE, _fit_arch, _step
from allocgym.predictors.lstm import LSTMForecaster

__all__ = [
    "CVCandidate",
    "GarchCandidate",
    "LSTMCandidate",
    "SelectionResult",
    "select_by_purged_cv",
]


@runtime_checkable
class CVCandidate(Protocol):
    """One hyperparameter setting, fitted and scored on index sets of one market."""

    horizon: int

    def fit(self, market: MarketData, rows: IntArray) -> CVCandidate: ...

    def score(self, market: MarketData, rows: IntArray) -> float: ...


class _Splitter(Protocol):
    def split(self, n_samples: int) -> Iterator[tuple[IntArray, IntArray]]: ...


@dataclass(frozen=True)
class SelectionResult:
    """What :func:`select_by_purged_cv` found.

    Attributes
    ----------
    best_params : dict
        The candidate with the lowest mean loss over the folds (the first on ties).
    best_score : float
    table : pandas.DataFrame
        One row per candidate (its parameters as a label), one column per fold
        (``fold_0`` ...), and ``mean`` and ``se`` (standard error over folds).
    n_candidates : int
        Configurations tried: count them in the deflated Sharpe ratio.
    """

    best_params: dict[str, Any]
    best_score: float
    table: pd.DataFrame
    n_candidates: int


def _candidates(grid: Mapping[str, Sequence[Any]] | Iterable[Mapping[str, Any]]) -> list[dict]:
    if isinstance(grid, Mapping):
        keys = list(grid)
        for key in keys:
            if isinstance(grid[key], str) or not isinstance(grid[key], Sequence):
                raise TypeError(f"grid[{key!r}]={grid[key]!r}; expected a list of values to try")
        products = itertools.product(*(grid[k] for k in keys))
        return [dict(zip(keys, values, strict=True)) for values in products]
    out = [dict(c) for c in grid]
    if not all(isinstance(c, Mapping) for c in grid):
        raise TypeError("grid must be a dict of lists or a list of dicts of parameters")
    return out


def select_by_purged_cv(
    make: Callable[..., CVCandidate],
    grid: Mapping[str, Sequence[Any]] | Iterable[Mapping[str, Any]],
    market: MarketData,
    *,
    cv: _Splitter,
) -> SelectionResult:
    """The grid point with the lowest mean cross-validated loss on ``market``.

    Parameters
    ----------
    make : callable
        ``make(**params)`` -> a fresh :class:`CVCandidate` (e.g. :class:`GarchCandidate`).
    grid : dict of lists, or list of dicts
        The parameters to try: the product of a dict's lists, or the listed dicts.
    market : MarketData
        The training data, and all that is used: the sample rows are its rows.
    cv : splitter
        ``cv.split(market.n_dates)`` yields ``(train_rows, test_rows)``; a
        :class:`~allocgym.backtest.PurgedKFold` whose ``horizon`` is at least every
        candidate's label horizon (checked when the splitter has a ``horizon``).

    Returns
    -------
    SelectionResult
    """
    candidates = _candidates(grid)
    if not candidates:
        raise ValueError("grid is empty; expected at least one set of parameters")
    folds = list(cv.split(market.n_dates))
    scores = np.full((len(candidates), len(folds)), np.nan)
    for i, params in enumerate(candidates):
        for j, (train, test) in enumerate(folds):
            candidate = make(**params)
            purge = getattr(cv, "horizon", None)
            if purge is not None and purge < candidate.horizon:
                raise ValueError(
                    f"cv.horizon={purge} is shorter than the label horizon {candidate.horizon} "
                    f"of {params}: training labels would overlap the test fold; use a "
                    f"splitter with horizon >= {candidate.horizon}"
                )
            scores[i, j] = candidate.fit(market, train).score(market, test)
    mean = np.nanmean(scores, axis=1)
    se = np.nanstd(scores, axis=1, ddof=1) / np.sqrt(np.isfinite(scores).sum(axis=1))
    labels = [", ".join(f"{k}={v!r}" for k, v in c.items()) for c in candidates]
    table = pd.DataFrame(scores, index=labels, columns=[f"fold_{j}" for j in range(len(folds))])
    table["mean"], table["se"] = mean, se
    if not np.isfinite(mean).any():
        raise ValueError(f"no candidate of {labels} could be scored on any fold")
    best = int(np.nanargmin(mean))
    return SelectionResult(candidates[best], float(mean[best]), table, len(candidates))


# ---------------------------------------------------------------------- GARCH family
class GarchCandidate:
    """A GARCH-family model scored by the QLIKE of its 1-day variance forecasts.

    ``fit`` estimates each asset's model (``arch``, as
    :class:`~allocgym.predictors.GarchVolatility` does) on the training samples'
    labels, the next-day returns ``r_{t+1}`` of the training rows t, concatenated
    across the gaps the test fold and the purge leave (the recursion restarts nowhere;
    a seam costs a few days of filter error). A fit that fails or does not converge
    is replaced by RiskMetrics EWMA, as in the predictor (``n_fallbacks_``).
    ``score`` filters every asset's returns from the first row of ``market`` with the
    fitted parameters (starting from the training mean square) and averages

        QLIKE_t = r_{t+1}^2 / h_{t+1|t} + log h_{t+1|t}

    over the test rows t, per asset; the loss is the median over assets of those
    means (one asset with stale prices cannot decide). Parameters are those of
    :class:`~allocgym.predictors.GarchConfig`.
    """

    horizon = 1

    def __init__(self, **params: Any) -> None:
        self.config = GarchConfig(**params)

    def fit(self, market: MarketData, rows: IntArray) -> GarchCandidate:
        cfg = self.config
        r = np.asarray(market.returns, dtype=np.float64) * _SCALE
        rows = np.asarray(rows)
        labels = r[rows[rows + 1 < len(r)] + 1]
        n = r.shape[1]
        self.params_ = {k: np.full(n, np.nan) for k in ("mu", "omega", "alpha", "gamma", "beta")}
        self.mean_square_ = np.full(n, np.nan)
        self.egarch_ = np.full(n, cfg.kind == "egarch")
        self.n_fallbacks_ = 0
        for i in range(n):
            y = labels[np.isfinite(labels[:, i]), i]
            if len(y) < cfg.min_obs:
                continue
            self.mean_square_[i] = float(np.mean(y**2))
            try:
                res = _fit_arch(y, cfg)
                p = res.params
                names = ("mu", "omega", "alpha[1]", "gamma[1]", "beta[1]")
                values = tuple(float(p.get(name, 0.0)) for name in names)
                ok = res.convergence_flag == 0 and np.isfinite(values).all()
            except Exception:  # any optimiser failure: the predictor's EWMA fallback
                ok = False
            if not ok:
                lam = cfg.ewma_lambda
                values = (0.0, 0.0, 1 - lam, 0.0, lam)
                self.egarch_[i] = False
                self.n_fallbacks_ += 1
            for key, v in zip(self.params_, values, strict=True):
                self.params_[key][i] = v
        return self

    def variance_forecasts(self, market: MarketData) -> FloatArray:
        """``h_{t+1|t}`` at every row t (percent² units), shape (n_dates, n_assets)."""
        r = np.asarray(market.returns, dtype=np.float64) * _SCALE
        p = self.params_
        floor = self.config.variance_floor * self.mean_square_
        s2 = self.mean_square_.copy()
        out = np.full(r.shape, np.nan)
        with np.errstate(invalid="ignore"):
            for t in range(len(r)):
                # before an asset's first return: keep the training level, no update
                e = np.where(np.isfinite(r[t]), r[t] - p["mu"], np.nan)
                nxt = np.fmax(_step(e, s2, p, self.egarch_), floor)
                s2 = np.where(np.isfinite(e), nxt, s2)
                out[t] = np.where(np.isfinite(e), s2, np.nan)
        return out

    def score(self, market: MarketData, rows: IntArray) -> float:
        rows = np.asarray(rows)
        rows = rows[rows + 1 < market.n_dates]
        h = self.variance_forecasts(market)[rows]
        r2 = (np.asarray(market.returns, dtype=np.float64)[rows + 1] * _SCALE) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = np.where(np.isfinite(h) & (h > 0) & np.isfinite(r2), r2 / h + np.log(h), np.nan)
        per_asset = loss[:, np.isfinite(loss).any(axis=0)]
        if per_asset.size == 0:
            return float("nan")
        return float(np.median(np.nanmean(per_asset, axis=0)))


# ---------------------------------------------------------------------- LSTM
class LSTMCandidate:
    """An :class:`~allocgym.predictors.LSTMForecaster` setting, scored out of fold.

    ``fit`` trains on the samples at the training rows only (the forecaster's own
    early-stopping tail is the latest of them); ``score`` is

        sum (f_t - y_t)^2 / sum y_t^2

    over the test rows' (date, asset) pairs, ``y_t = p_{t+h} / p_t - 1`` and ``f_t``
    the forecast from the window ending at t: the MSE relative to the zero forecast
    (1: no skill; lower is better), comparable across horizons. Parameters are those
    of :class:`~allocgym.predictors.LSTMConfig`, plus ``seed`` and ``volume``.
    """

    def __init__(self, *, seed: int = 0, volume: bool = True, **params: Any) -> None:
        self.config = replace(LSTMConfig(), **params)
        self.seed, self.volume = seed, volume

    @property
    def horizon(self) -> int:
        return self.config.horizon

    def fit(self, market: MarketData, rows: IntArray) -> LSTMCandidate:
        self.model_ = LSTMForecaster(self.config, seed=self.seed, volume=self.volume)
        self.model_.fit(market, until=market.n_dates - 1, rows=rows)
        return self

    def score(self, market: MarketData, rows: IntArray) -> float:
        h = self.config.horizon
        rows = np.asarray(rows)
        rows = rows[rows + h < market.n_dates]
        prices = np.asarray(market.prices, dtype=np.float64)
        y = prices[rows + h] / prices[rows] - 1.0
        f = self.model_.forecast_at(market, rows)
        ok = np.isfinite(y) & np.isfinite(f)
        if not ok.any() or not (y[ok] ** 2).sum() > 0:
            return float("nan")
        return float(((f[ok] - y[ok]) ** 2).sum() / (y[ok] ** 2).sum())
