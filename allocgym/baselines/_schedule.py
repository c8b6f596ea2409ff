"""The rebalancing schedule and failure fallback shared by the baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocgym._typing import FloatArray, IntArray
from allocgym.baselines._features import check_features
from allocgym.exceptions import OptimizationError
from allocgym.policy import PolicyState
from allocgym.predictors.panel import FeaturePanel

MIN_OBSERVATIONS = 20


class ScheduledPolicy:
    """Rebalance every ``rebalance_every`` decisions; hold (drift) in between.

    Subclasses implement ``_target(state) -> (n_assets + 1,)`` weights. Between
    rebalances :meth:`act` returns ``state.weights`` (no trade, no cost). When
    ``_target`` raises :class:`~allocgym.exceptions.OptimizationError` (infeasible
    problem, solver error, non-finite solution, too little history) the policy keeps
    the previous weights, counts the failure in ``n_fallbacks_`` and records
    ``(date, reason)`` in ``fallbacks_``; a backtest never stops on it.

    ``required_features`` maps the features (per-asset, or market features such as
    ``regime_p0``) the policy cannot run without to ``(what for, what to set
    instead)``; :meth:`fit` and every rebalance raise
    :class:`~allocgym.exceptions.ConfigError` when the features lack one (a missing
    feature is a configuration error, not an optimiser failure to fall back from).
    ``kind`` is the policy's category in result tables: ``"ML-enhanced"`` when it
    requires predictor features or its ``covariance`` estimator (if it has one) reads
    the feature panel (``uses_features``), ``"traditional"`` (prices only) otherwise.
    """

    def __init__(self, rebalance_every: int = 21) -> None:
        if not isinstance(rebalance_every, int | np.integer) or rebalance_every < 1:
            raise ValueError(f"rebalance_every={rebalance_every!r}; expected an integer >= 1")
        self.rebalance_every = int(rebalance_every)
        self.reset()

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def required_features(self) -> dict[str, tuple[str, str]]:
        """Feature name -> (what it is used for, what to set instead); none by default."""
        return {}

    @property
    def kind(self) -> str:
        """``"ML-enhanced"`` when predictor features feed the policy, else ``"traditional"``.

        Predictor features feed it when it requires some (``required_features``) or when
        its ``covariance`` estimator says it reads the panel (``uses_features``), so that
        every baseline taking a covariance (Black-Litterman included) is labelled alike.
        """
        reads_panel = getattr(getattr(self, "covariance", None), "uses_features", False)
        return "ML-enhanced" if self.required_features or reads_panel else "traditional"

    def reset(self) -> None:
        self._last_t: int | None = None
        self.n_fallbacks_ = 0
        self.fallbacks_: list[tuple[pd.Timestamp, str]] = []

    def fit(self, market: object, features: FeaturePanel | None = None) -> ScheduledPolicy:
        """Check that ``features`` hold the required features; baselines estimate at each
        rebalance from the point-in-time state, so there is nothing else to fit."""
        check_features(self, features)
        return self

    def act(self, state: PolicyState) -> FloatArray:
        if self._last_t is not None and state.t - self._last_t < self.rebalance_every:
            return np.array(state.weights, dtype=np.float64)
        check_features(self, state.features)
        self._last_t = state.t
        try:
            target = self._target(state)
            if not np.isfinite(target).all():
                raise OptimizationError("non-finite target weights")
        except OptimizationError as exc:
            self.n_fallbacks_ += 1
            self.fallbacks_.append((state.date, str(exc)))
            return np.array(state.weights, dtype=np.float64)
        return target

    def _target(self, state: PolicyState) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError


def full_weights(n_assets: int, columns: IntArray, asset_weights: FloatArray) -> FloatArray:
    """Embed weights over ``columns`` into a (n_assets + 1,) vector with zero cash."""
    w = np.zeros(n_assets + 1)
    w[1 + np.asarray(columns)] = asset_weights
    return w


def return_window(state: PolicyState, lookback: int) -> tuple[IntArray, FloatArray]:
    """Assets tradable at ``t`` with a full return history over the last ``lookback`` days.

    Returns the asset positions and their returns ``(n_obs, k)``, all dated <= t.
    Raises OptimizationError when fewer than 20 observations or no asset qualify.
    """
    window = state.history.returns[1:][-lookback:]  # row 0 has no return
    if window.shape[0] < MIN_OBSERVATIONS:
        raise OptimizationError(
            f"only {window.shape[0]} return observations before {state.date.date()}; "
            f"need at least {MIN_OBSERVATIONS}"
        )
    ok = state.available & np.isfinite(window).all(axis=0)
    columns = np.flatnonzero(ok)
    if columns.size == 0:
        raise OptimizationError(f"no asset has a full {lookback}-day history at {state.date}")
    return columns, np.ascontiguousarray(window[:, columns])
