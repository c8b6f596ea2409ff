"""The features a baseline cannot run without, and the error when they are missing.

A policy lists them in ``required_features`` (feature name -> what it is used for and
what to do instead). :func:`check_features` compares that list with a feature panel
(what ``fit`` and ``act`` see) or with a feature configuration (what a YAML config
validates before any feature is built), so that a policy never runs silently as
something other than what its name says (a Black-Litterman without views is 1/N).
A required feature is per-asset (``lstm_forecast``, ``garch_vol``) or a market feature
(``regime_p0``: the regime probabilities that ``covariance="regime"`` and
``expected_returns="regime"`` read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from allocgym.exceptions import ConfigError
from allocgym.predictors.config import PRESETS, FeatureConfig
from allocgym.predictors.panel import FeaturePanel

__all__ = ["FEATURE_PREDICTORS", "check_features"]

FEATURE_PREDICTORS: dict[str, tuple[str, str]] = {
    "lstm_forecast": ("lstm", "LSTM return forecast"),
    "garch_vol": ("garch", "GARCH volatility"),
    "garch_vol_21d": ("garch", "GARCH 21-day volatility forecast"),
    "regime_p0": ("regime", "regime probabilities"),
}
"""Feature name -> (the :class:`FeatureConfig` field of the predictor making it, what it is)."""

_MARKET_FEATURES = frozenset({"regime_p0"})
"""The known features that are market features (one value per date, not per asset)."""


def _presets_with(field: str) -> list[str]:
    return [name for name, cfg in PRESETS.items() if getattr(cfg, field) is not None]


def _missing(feature: str, features: FeaturePanel | FeatureConfig | None) -> bool:
    if features is None:
        return True
    if isinstance(features, FeatureConfig):  # unknown (custom) features: cannot tell
        field = FEATURE_PREDICTORS.get(feature, (None, ""))[0]
        return field is not None and getattr(features, field) is None
    return feature not in features.feature_names + features.market_feature_names


def check_features(
    policy: Any,
    features: FeaturePanel | FeatureConfig | None,
    *,
    source: str | None = None,
) -> None:
    """Raise :class:`ConfigError` when ``features`` lack a feature ``policy`` needs.

    Parameters
    ----------
    policy : object
        Any policy; its ``required_features`` mapping (feature name -> ``(use,
        instead)``) is read, and a policy without one needs nothing.
    features : FeaturePanel, FeatureConfig or None
        A panel (the feature must be one of its per-asset or market features), a
        feature configuration (the predictor making the feature must be configured)
        or None (no features).
    source : str, optional
        Where ``features`` come from, for the message (``"--features standard"``).

    Raises
    ------
    ConfigError
        Naming the policy, the feature, what it is used for, the feature presets that
        make it and what to set instead.
    """
    required: Mapping[str, tuple[str, str]] = getattr(policy, "required_features", {}) or {}
    name = getattr(policy, "name", type(policy).__name__)
    for feature, (use, instead) in required.items():
        if not _missing(feature, features):
            continue
        field, what = FEATURE_PREDICTORS.get(feature, (None, "a custom feature"))
        scope = "market" if feature in _MARKET_FEATURES else "per-asset"
        if features is None:
            gap = f"{source} gives no feature panel" if source else "no feature panel was given"
        elif isinstance(features, FeatureConfig):
            gap = f"{source or 'the feature configuration'} has no {field} predictor"
        elif scope == "market":
            has = list(features.market_feature_names)
            gap = f"{source or 'the feature panel'} has only the market features {has}"
        else:
            gap = f"{source or 'the feature panel'} has only {list(features.feature_names)}"
        presets = [] if field is None else _presets_with(field)
        make = (
            f"Build the features with the preset {' or '.join(map(repr, presets))} "
            f"(features: {{preset: {presets[0]}}} in a config, --features {presets[0]} on "
            f"the command line, build_features(market, {presets[0]!r}) in Python), or "
            if presets
            else "Add it to the feature panel, or "
        )
        raise ConfigError(
            f"{name} needs the {scope} feature {feature!r} ({what}) {use}, but {gap}. "
            f"{make}{instead}."
        )
