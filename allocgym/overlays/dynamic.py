"""Dynamic rebalancing: trade to the wrapped policy's target when the predictors say so.

Instead of a fixed calendar, :class:`DynamicRebalancing` rebalances to the wrapped
policy's latest target when one of these triggers fires at the close of t (each one can
be switched off with ``None``):

``regime``
    The filtered regime (argmax of the forward-filtered HMM probabilities
    ``regime_p0..regime_p{K-1}`` of the feature panel) differs from the regime confirmed
    last, and has been the argmax on each of the last ``regime_persistence`` days
    (so that one-day flicker does not trade).
``volatility``
    The forecast volatility of the portfolio held (GARCH per-asset forecasts, a
    Ledoit–Wolf correlation on the lookback; see :func:`forecast_volatility`) crosses
    ``vol_threshold``, upwards or downwards, compared with the previous close.
``target``
    The wrapped policy's target moved away from the target last traded to by more
    than ``target_threshold`` in L1 norm (``sum_i |w_i - w_i^last|``, cash included).
``calendar``
    ``max_gap`` trading days have passed since the last rebalance.

No rebalance happens within ``min_gap`` days of the previous one: a trigger that fires
then stays pending and trades as soon as the gap allows. (In the issue's words: at
least every ``M = max_gap`` days, at most every ``N = min_gap`` days.) The first
decision always trades (``initial``). Between rebalances the drifted weights are held.

Wrap a policy that decides every day (``rebalance_every=1`` for a baseline) to let the
triggers own the schedule; a policy with its own schedule still works, the overlay then
trades to its latest target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocgym._typing import FloatArray
from allocgym.baselines import CovarianceEstimator, get_covariance
from allocgym.exceptions import ConfigError, OptimizationError
from allocgym.overlays._base import (
    Overlay,
    check_int,
    check_positive,
    forecast_features,
    hold,
)
from allocgym.overlays._risk import filtered_regimes, forecast_volatility
from allocgym.policy import Policy, PolicyState
from allocgym.predictors.panel import FeaturePanel

__all__ = ["TRIGGERS", "DynamicRebalancing"]

TRIGGERS = ("initial", "regime", "volatility", "target", "calendar")
"""Causes of a rebalance, in the order that attributes a rebalance with several causes."""


class DynamicRebalancing(Overlay):
    """Rebalance on regime changes, volatility crossings, target moves or a calendar.

    Parameters
    ----------
    policy : Policy
        The wrapped policy (any: a baseline, an RL agent, another overlay).
    regime_persistence : int or None, default 5
        ``k``: days the new filtered regime must persist before it triggers; None: off.
    vol_threshold : float or None, default 0.20
        Annualised forecast portfolio volatility whose crossing triggers; None: off.
    target_threshold : float or None, default 0.10
        L1 move of the wrapped policy's target (0.10 = 5 % of wealth one way) that
        triggers; None: off.
    min_gap : int, default 5
        Fewest trading days between two rebalances (``N`` of the issue).
    max_gap : int or None, default 63
        Most trading days between two rebalances, the calendar fallback (``M``); None: off.
    vol_feature : str, default "garch_vol"
        The per-asset daily volatility forecast of the feature panel.
    lookback : int, default 252
        Days of returns for the correlation of the volatility forecast.
    covariance : str or CovarianceEstimator, default "ledoit_wolf"
        Estimator whose correlation the volatility forecast uses.

    Attributes
    ----------
    triggers_ : dict of str to int
        Rebalances per cause (:data:`TRIGGERS`); a rebalance with several causes counts
        once, under the first in that order. ``sum(triggers_.values()) == n_rebalances_``.
    signals_ : dict of str to int
        Every firing of each trigger, including those that coincided with another or
        waited for ``min_gap``.
    events_ : list of (Timestamp, str)
        Date and cause of each rebalance.
    n_rebalances_ : int
    """

    label = "dynamic"

    def __init__(
        self,
        policy: Policy,
        *,
        regime_persistence: int | None = 5,
        vol_threshold: float | None = 0.20,
        target_threshold: float | None = 0.10,
        min_gap: int = 5,
        max_gap: int | None = 63,
        vol_feature: str = "garch_vol",
        lookback: int = 252,
        covariance: str | CovarianceEstimator = "ledoit_wolf",
    ) -> None:
        self.regime_persistence = check_int("regime_persistence", regime_persistence, 1, none=True)
        self.vol_threshold = check_positive("vol_threshold", vol_threshold, none=True)
        self.target_threshold = check_positive("target_threshold", target_threshold, none=True)
        self.min_gap = check_int("min_gap", min_gap, 1)
        self.max_gap = check_int("max_gap", max_gap, 1, none=True)
        if self.max_gap is not None and self.min_gap > self.max_gap:
            raise ValueError(
                f"min_gap={min_gap!r} > max_gap={max_gap!r}; expected min_gap <= max_gap "
                "(at most one rebalance every min_gap days, at least one every max_gap)"
            )
        if not isinstance(vol_feature, str) or not vol_feature:
            raise ValueError(f"vol_feature={vol_feature!r} is invalid; expected a feature name")
        self.vol_feature = vol_feature
        self.lookback = check_int("lookback", lookback, 2)
        self.covariance = get_covariance(covariance)
        super().__init__(policy)

    def _own_features(self) -> dict[str, tuple[str, str]]:
        if self.vol_threshold is None:
            return {}
        return forecast_features(
            self.vol_feature,
            "for the volatility trigger",
            "set vol_threshold: null to switch the volatility trigger off",
        )

    def _uses_predictors(self) -> bool:
        return self.vol_threshold is not None or self.regime_persistence is not None

    def _check_panel(self, features: FeaturePanel | None) -> None:
        """The regime trigger needs the market features ``regime_p0..`` (HMM)."""
        if self.regime_persistence is None:
            return
        have = () if features is None else features.market_feature_names
        if "regime_p0" not in have:
            gap = (
                "no feature panel was given"
                if features is None
                else (f"the feature panel has only the market features {list(have)}")
            )
            raise ConfigError(
                f"{self.name} needs the market features regime_p0.. (HMM regime "
                f"probabilities) for the regime trigger, but {gap}. Build the features with "
                "the preset 'standard' or 'full', or set regime_persistence: null"
            )

    def _reset(self) -> None:
        self.triggers_ = dict.fromkeys(TRIGGERS, 0)
        self.signals_ = dict.fromkeys(TRIGGERS, 0)
        self.events_: list[tuple[pd.Timestamp, str]] = []
        self.n_rebalances_ = 0
        self._last_t: int | None = None
        self._traded: FloatArray | None = None
        self._regime: int | None = None
        self._above: bool | None = None
        self._pending: str | None = None

    def _decide(self, state: PolicyState, latest: FloatArray, decided: bool) -> FloatArray:
        fired = self._fired(state, latest)
        for cause in fired:
            self.signals_[cause] += 1
        if self._pending is None and fired:
            self._pending = fired[0]
        since = None if self._last_t is None else state.t - self._last_t
        if self._pending is None or (since is not None and since < self.min_gap):
            return hold(state)
        cause, self._pending = self._pending, None
        self.triggers_[cause] += 1
        self.n_rebalances_ += 1
        self.events_.append((state.date, cause))
        self._last_t, self._traded = state.t, latest
        return latest.copy()

    def _fired(self, state: PolicyState, latest: FloatArray) -> list[str]:
        """The triggers that fire at t, in :data:`TRIGGERS` order (state updated)."""
        fired = []
        if self._last_t is None:
            fired.append("initial")
        if self.regime_persistence is not None and self._regime_changed(state):
            fired.append("regime")
        if self.vol_threshold is not None and self._vol_crossed(state):
            fired.append("volatility")
        if (
            self.target_threshold is not None
            and self._traded is not None
            and np.abs(latest - self._traded).sum() > self.target_threshold
        ):
            fired.append("target")
        gap = None if self._last_t is None else state.t - self._last_t
        if self.max_gap is not None and gap is not None and gap >= self.max_gap:
            fired.append("calendar")
        return fired

    def _regime_changed(self, state: PolicyState) -> bool:
        k = int(self.regime_persistence or 1)
        now = filtered_regimes(state, 1)
        if now is None:
            return False
        if self._regime is None:  # the first regime seen is confirmed, not a change
            self._regime = int(now[0])
            return False
        recent = filtered_regimes(state, k)
        if recent is None or not (recent == recent[-1]).all() or recent[-1] == self._regime:
            return False
        self._regime = int(recent[-1])
        return True

    def _vol_crossed(self, state: PolicyState) -> bool:
        try:
            vol, _ = forecast_volatility(
                state, state.weights[1:], self.vol_feature, self.lookback, self.covariance
            )
        except OptimizationError:
            return False
        above = bool(vol > float(self.vol_threshold or 0.0))
        crossed = self._above is not None and above != self._above
        self._above = above
        return crossed
