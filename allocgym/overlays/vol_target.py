"""Volatility targeting and risk profiles: scale the risky weights to a target volatility.

When the wrapped policy decides a target ``w*`` (index 0 = cash), the overlay forecasts
the annualised volatility of its risky part,

    sigma_f = sqrt(P * r' D C D r),   r = w*[1:],

with ``D`` the diagonal of the GARCH per-asset volatility forecasts at t (``vol_feature``,
by default the 21-day average forecast ``garch_vol_21d``, matching a monthly holding
period), ``C`` a point-in-time correlation (Ledoit–Wolf on the last ``lookback`` returns)
and ``P`` the trading days per year. It then trades to

    w[1:] = s r,   w[0] = 1 - s sum(r),
    s = min(tau / sigma_f, L / sum_i |r_i|),

so that the forecast volatility of the portfolio is the target ``tau`` whenever the cap
allows. ``L = max_leverage`` (1 by default) caps gross exposure: with the default
long-only action map of the environment, cash is a real position (index 0 of every
weight vector, earning the market's risk-free rate) and cannot be negative, so the
overlay only moves weight between the assets and cash, never borrows. A target above
the policy's own volatility therefore leaves it fully invested (``s`` capped), it does
not lever it up; ``max_leverage > 1`` needs an environment whose action map allows it
(``action: long_short`` with that ``max_leverage``), otherwise the backtest refuses the
weights.

Regime-dependent target (the case study): ``tau = target * high_scale`` when the
forecast ``sigma_f >= high_vol``, ``target * low_scale`` when ``sigma_f <= low_vol``,
``target`` otherwise (defaults: x0.8 above 25 %, x1.2 below 12 %). Without leverage the
x1.2 binds only when ``target < sigma_f <= low_vol``, i.e. for targets below
``low_vol``: the risk profiles below are such targets.

Between the wrapped policy's decisions the overlay holds (drift, no cost); wrap a
policy that decides daily (``rebalance_every=1``) for daily targeting, or combine with
:class:`~allocgym.overlays.DynamicRebalancing` or the cost-aware overlay.

Risk profiles (:data:`RISK_PROFILES`) are presets of the target: ``conservative``
6 %, ``balanced`` 10 %, ``aggressive`` 15 % (the case study's base), with the same
regime scaling.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from allocgym._typing import FloatArray
from allocgym.baselines import CovarianceEstimator, get_covariance
from allocgym.exceptions import OptimizationError
from allocgym.overlays._base import (
    Overlay,
    check_int,
    check_positive,
    forecast_features,
    hold,
)
from allocgym.overlays._risk import forecast_volatility
from allocgym.policy import Policy, PolicyState

__all__ = ["RISK_PROFILES", "VolatilityTarget", "risk_profile"]

RISK_PROFILES: dict[str, float] = {"conservative": 0.06, "balanced": 0.10, "aggressive": 0.15}
"""Annualised target volatility of each risk profile."""


class VolatilityTarget(Overlay):
    """Scale the wrapped policy's risky weights to a forecast volatility target; rest in cash.

    Parameters
    ----------
    policy : Policy
        The wrapped policy.
    target : float, default 0.15
        Annualised target volatility (0.15 = 15 %), > 0.
    high_vol, low_vol : float or None, default 0.25 and 0.12
        Forecast volatilities at or above (below) which the target is multiplied by
        ``high_scale`` (``low_scale``); None: that regime is off. ``low_vol < high_vol``.
    high_scale, low_scale : float, default 0.8 and 1.2
    max_leverage : float, default 1.0
        Cap on gross risky exposure ``sum_i |w_i|``; above 1 only with an action map that
        allows leverage.
    vol_feature : str, default "garch_vol_21d"
        Per-asset daily volatility forecast of the feature panel (``garch_vol`` is the
        one-day forecast; ``garch_vol_{h}d`` the h-day average, h = the GARCH horizon).
    lookback : int, default 252
        Days of returns for the correlation (and for an asset's sample volatility when
        its forecast is missing, e.g. before the first GARCH refit).
    covariance : str or CovarianceEstimator, default "ledoit_wolf"
        The estimator whose correlation is used.
    periods_per_year : int, default 252

    Attributes
    ----------
    scales_ : list of (Timestamp, forecast, target, scale)
        Every rescaling: the forecast volatility of the wrapped target, the (regime)
        target used and the scale ``s``.
    regimes_ : dict of str to int
        Rescalings per regime (``"high"``, ``"normal"``, ``"low"``).
    n_vol_fallbacks_ : int
        Asset forecasts replaced by the sample volatility (no GARCH forecast at t).
    """

    label = "vol target"

    def __init__(
        self,
        policy: Policy,
        *,
        target: float = 0.15,
        high_vol: float | None = 0.25,
        low_vol: float | None = 0.12,
        high_scale: float = 0.8,
        low_scale: float = 1.2,
        max_leverage: float = 1.0,
        vol_feature: str = "garch_vol_21d",
        lookback: int = 252,
        covariance: str | CovarianceEstimator = "ledoit_wolf",
        periods_per_year: int = 252,
    ) -> None:
        self.target = check_positive("target", target)
        self.high_vol = check_positive("high_vol", high_vol, none=True)
        self.low_vol = check_positive("low_vol", low_vol, none=True)
        if self.high_vol is not None and self.low_vol is not None and self.low_vol >= self.high_vol:
            raise ValueError(
                f"low_vol={low_vol!r} >= high_vol={high_vol!r}; expected low_vol < high_vol"
            )
        self.high_scale = check_positive("high_scale", high_scale)
        self.low_scale = check_positive("low_scale", low_scale)
        self.max_leverage = check_positive("max_leverage", max_leverage)
        if not isinstance(vol_feature, str) or not vol_feature:
            raise ValueError(f"vol_feature={vol_feature!r} is invalid; expected a feature name")
        self.vol_feature = vol_feature
        self.lookback = check_int("lookback", lookback, 2)
        self.covariance = get_covariance(covariance)
        self.periods_per_year = check_int("periods_per_year", periods_per_year, 1)
        super().__init__(policy)

    def _own_features(self) -> dict[str, tuple[str, str]]:
        return forecast_features(
            self.vol_feature,
            "for the volatility forecast of volatility targeting",
            "name another per-asset daily volatility forecast in vol_feature",
        )

    def _reset(self) -> None:
        self.scales_: list[tuple[pd.Timestamp, float, float, float]] = []
        self.regimes_ = {"high": 0, "normal": 0, "low": 0}
        self.n_vol_fallbacks_ = 0

    def regime_target(self, forecast: float) -> tuple[str, float]:
        """``(regime, target)`` for an annualised forecast volatility."""
        if self.high_vol is not None and forecast >= self.high_vol:
            return "high", self.target * self.high_scale
        if self.low_vol is not None and forecast <= self.low_vol:
            return "low", self.target * self.low_scale
        return "normal", self.target

    def _decide(self, state: PolicyState, latest: FloatArray, decided: bool) -> FloatArray:
        if not decided:
            return hold(state)
        risky = latest[1:]
        try:
            forecast, fallbacks = forecast_volatility(
                state, risky, self.vol_feature, self.lookback, self.covariance,
                self.periods_per_year,
            )  # fmt: skip
        except OptimizationError as exc:
            return self._fallback(state, str(exc))
        self.n_vol_fallbacks_ += fallbacks
        regime, tau = self.regime_target(forecast)
        gross = float(np.abs(risky).sum())
        cap = self.max_leverage / gross if gross > 0 else 1.0
        scale = min(tau / forecast, cap) if forecast > 0 else cap
        self.regimes_[regime] += 1
        self.scales_.append((state.date, forecast, tau, scale))
        out = latest.copy()
        out[1:] = scale * risky
        out[0] = 1.0 - out[1:].sum()
        return out


def risk_profile(policy: Policy, profile: str = "balanced", **settings: Any) -> VolatilityTarget:
    """:class:`VolatilityTarget` with the target of a risk profile (:data:`RISK_PROFILES`).

    ``settings`` are the other parameters of VolatilityTarget; ``target`` is the
    profile's and cannot be given.
    """
    if profile not in RISK_PROFILES:
        raise ValueError(f"profile={profile!r} is invalid; expected one of {list(RISK_PROFILES)}")
    if "target" in settings:
        raise ValueError(
            f"target={settings['target']!r} cannot be given to the risk profile {profile!r} "
            f"(its target is {RISK_PROFILES[profile]:.0%}); use vol_target for another target"
        )
    return VolatilityTarget(policy, target=RISK_PROFILES[profile], **settings)


def profile_factory(profile: str) -> Callable[..., VolatilityTarget]:
    """A factory ``(policy, **settings)`` for one risk profile, with VolatilityTarget's
    signature less ``target`` (so that a registry checks its parameter names)."""

    def make(policy: Policy, **settings: Any) -> VolatilityTarget:
        return risk_profile(policy, profile, **settings)

    sig = inspect.signature(VolatilityTarget)
    make.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[p for p in sig.parameters.values() if p.name != "target"]
    )
    make.__name__ = make.__qualname__ = profile
    make.__doc__ = (
        f"Risk profile {profile!r}: volatility target {RISK_PROFILES[profile]:.0%} with the "
        "regime scaling of vol_target"
    )
    return make
