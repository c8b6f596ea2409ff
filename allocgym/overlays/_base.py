"""What every overlay shares: the wrapped policy, its latest target, checks of parameters.

An overlay is a :class:`~allocgym.policy.Policy` that holds another one (composition:
the overlay sees the wrapped policy through the protocol only). At every close it asks
the wrapped policy for its target, so the wrapped policy keeps its own schedule and
state, and then decides whether, when and how far to trade towards it.

A policy that does not trade returns the drifted weights ``state.weights`` (the
protocol's convention for holding). An overlay therefore reads a returned vector that
equals ``state.weights`` as "no new decision" and keeps the wrapped policy's *latest
target*: the last vector it returned that was not a hold.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from allocgym._typing import FloatArray
from allocgym.baselines import check_features
from allocgym.data import MarketData
from allocgym.policy import Policy, PolicyState
from allocgym.predictors.panel import FeaturePanel

__all__ = ["Overlay"]


class Overlay:
    """Base of the overlays: wraps ``policy`` and keeps its latest target.

    Subclasses implement ``_decide(state, latest, decided) -> weights`` (``latest`` is the
    wrapped policy's latest target, ``decided`` whether it was set at this close) and may
    extend ``_reset`` and ``_own_features``.

    Parameters
    ----------
    policy : Policy
        Any object with ``act(state)`` and ``reset()`` (a baseline, an RL agent, another
        overlay).
    """

    label = "overlay"
    """Suffix of the display label (``"1/N + vol target"``)."""

    is_benchmark = False  # a wrapped 1/N is not the naive benchmark

    def __init__(self, policy: Policy) -> None:
        if not all(callable(getattr(policy, m, None)) for m in ("act", "reset")):
            raise TypeError(
                f"policy={policy!r} has no act(state)/reset(); expected an allocgym Policy "
                "(a baseline, an RL agent or another overlay)"
            )
        self._policy = policy
        self.wraps = f"{type(policy).__module__}.{type(policy).__qualname__}"
        self._clear()

    # ------------------------------------------------------------ protocol
    @property
    def policy(self) -> Policy:
        """The wrapped policy."""
        return self._policy

    @property
    def name(self) -> str:
        inner = getattr(self._policy, "name", type(self._policy).__name__)
        return f"{inner} + {self.label}"

    @property
    def required_features(self) -> dict[str, tuple[str, str]]:
        """The wrapped policy's required features and the overlay's own."""
        inner = getattr(self._policy, "required_features", {}) or {}
        return {**dict(inner), **self._own_features()}

    @property
    def kind(self) -> str:
        """``"ML-enhanced"`` when the overlay reads predictor features, else the wrapped kind."""
        if self._uses_predictors():
            return "ML-enhanced"
        return str(getattr(self._policy, "kind", None) or "custom")

    @property
    def env(self) -> Any:
        """The wrapped policy's environment settings (an RL agent's), or None.

        The backtester compares them with its own and refuses an agent trained on other
        observations; an overlay must not hide them.
        """
        return getattr(self._policy, "env", None)

    @property
    def n_fallbacks_(self) -> int:
        """The wrapped policy's fallbacks plus the overlay's own."""
        return int(getattr(self._policy, "n_fallbacks_", 0)) + len(self.overlay_fallbacks_)

    @property
    def fallbacks_(self) -> list[tuple[pd.Timestamp, str]]:
        return [*getattr(self._policy, "fallbacks_", []), *self.overlay_fallbacks_]

    def reset(self) -> None:
        """Reset the wrapped policy and every fitted attribute of the overlay."""
        self._policy.reset()
        self._clear()

    def _clear(self) -> None:
        """Forget the overlay's own state (not the wrapped policy's)."""
        self._latest: FloatArray | None = None
        self._checked = False
        self.overlay_fallbacks_: list[tuple[pd.Timestamp, str]] = []
        self._reset()

    def fit(self, market: MarketData, features: FeaturePanel | None = None) -> Overlay:
        """Fit the wrapped policy (if it can be fitted) and check the features."""
        fit = getattr(self._policy, "fit", None)
        if callable(fit):
            fit(market, features)
        check_features(self, features)
        self._check_panel(features)
        self._checked = True
        return self

    def act(self, state: PolicyState) -> FloatArray:
        if not self._checked:  # used outside a backtest, without fit
            check_features(self, state.features)
            self._check_panel(state.features)
            self._checked = True
        target = np.asarray(self._policy.act(state), dtype=np.float64)
        if target.shape != state.weights.shape:
            raise ValueError(
                f"{self.wraps} returned weights of shape {target.shape}; expected "
                f"{state.weights.shape} (n_assets + 1, index 0 = cash)"
            )
        decided = not np.array_equal(target, state.weights)
        if decided:
            self._latest = target
        if self._latest is None:
            return hold(state)
        return self._decide(state, self._latest, decided)

    # ------------------------------------------------------------ for subclasses
    def _reset(self) -> None:
        """Reset the subclass's fitted attributes."""

    def _own_features(self) -> dict[str, tuple[str, str]]:
        """Per-asset features the overlay reads: name -> (what for, what to set instead)."""
        return {}

    def _uses_predictors(self) -> bool:
        """Whether predictor features (GARCH, HMM) feed the overlay's decisions."""
        return bool(self._own_features())

    def _check_panel(self, features: FeaturePanel | None) -> None:
        """Raise ConfigError when ``features`` lack something beyond per-asset features."""

    def _decide(self, state: PolicyState, latest: FloatArray, decided: bool) -> FloatArray:
        raise NotImplementedError  # pragma: no cover - abstract

    def _fallback(self, state: PolicyState, reason: str) -> FloatArray:
        """Hold the drifted weights and record why (a backtest never stops on it)."""
        self.overlay_fallbacks_.append((state.date, reason))
        return hold(state)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({self.wraps}, {params})"

    def _params(self) -> dict[str, Any]:
        return {
            k: v for k, v in vars(self).items()
            if not k.startswith("_") and not k.endswith("_") and k != "wraps"
        }  # fmt: skip


def forecast_features(vol_feature: str, use: str, instead: str) -> dict[str, tuple[str, str]]:
    """``vol_feature`` as a required feature, plus ``garch_vol`` when it is a GARCH
    forecast (so that a feature configuration without GARCH is refused before any work)."""
    need = {vol_feature: (use, instead)}
    if vol_feature.startswith("garch_vol"):
        need["garch_vol"] = (use, instead)
    return need


def hold(state: PolicyState) -> FloatArray:
    """The drifted weights (no trade, no cost)."""
    return np.array(state.weights, dtype=np.float64)


# ---------------------------------------------------------------------- parameter checks
def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive(name: str, value: Any, *, none: bool = False) -> float | None:
    """``value`` as a float > 0 (or None when ``none``); else ValueError naming ``name``."""
    if none and value is None:
        return None
    if not (_is_real(value) and math.isfinite(value) and value > 0):
        extra = " or None (off)" if none else ""
        raise ValueError(f"{name}={value!r} is invalid; expected a number > 0{extra}")
    return float(value)


def check_unit(name: str, value: Any, *, none: bool = False) -> float | None:
    """``value`` as a float in the open interval (0, 1) (or None when ``none``)."""
    if none and value is None:
        return None
    if not (_is_real(value) and 0 < value < 1):
        extra = " or None (off)" if none else ""
        raise ValueError(f"{name}={value!r} is invalid; expected a number in (0, 1){extra}")
    return float(value)


def check_int(name: str, value: Any, low: int, *, none: bool = False) -> int | None:
    """``value`` as an int >= ``low`` (or None when ``none``)."""
    if none and value is None:
        return None
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
        extra = " or None (off)" if none else ""
        raise ValueError(f"{name}={value!r} is invalid; expected an integer >= {low}{extra}")
    return int(value)
