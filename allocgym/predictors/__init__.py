"""Point-in-time predictors and the cached feature panel.

``build_features(market, config)`` returns a :class:`FeaturePanel` of technical
features, GARCH volatility, HMM regime probabilities and an LSTM return forecast,
each computed at row t from data at rows <= t on a walk-forward refit schedule.
"""

from typing import Any

from allocgym.predictors.build import build_features
from allocgym.predictors.cache import CACHE_ENV_VAR, cache_key, default_cache_dir
from allocgym.predictors.config import (
    DEFAULT_PRESET,
    PRESETS,
    FeatureConfig,
    GarchConfig,
    LSTMConfig,
    RegimeConfig,
    resolve_config,
)
from allocgym.predictors.groups import FEATURE_GROUPS, feature_groups, select_features
from allocgym.predictors.panel import FeaturePanel
from allocgym.predictors.schedule import Predictor, refit_dates, walk_forward
from allocgym.predictors.technical import TechnicalFeatures

# The model classes import arch, hmmlearn and torch; load them on first use so that
# `build_features(market, "technical")` and the environment stay light to import.
_LAZY = {
    "GarchFallbackWarning": "allocgym.predictors.garch",
    "GarchVolatility": "allocgym.predictors.garch",
    "LSTMForecaster": "allocgym.predictors.lstm",
    "LSTMVolatility": "allocgym.predictors.lstm_vol",
    "RegimeGMM": "allocgym.predictors.regime_gmm",
    "RegimeHMM": "allocgym.predictors.regimes",
    "forward_filter": "allocgym.predictors.regimes",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'allocgym.predictors' has no attribute {name!r}")


__all__ = [
    "CACHE_ENV_VAR",
    "DEFAULT_PRESET",
    "FEATURE_GROUPS",
    "PRESETS",
    "FeatureConfig",
    "FeaturePanel",
    "GarchConfig",
    "GarchFallbackWarning",
    "GarchVolatility",
    "LSTMConfig",
    "LSTMForecaster",
    "LSTMVolatility",
    "Predictor",
    "RegimeConfig",
    "RegimeGMM",
    "RegimeHMM",
    "TechnicalFeatures",
    "build_features",
    "cache_key",
    "default_cache_dir",
    "feature_groups",
    "forward_filter",
    "refit_dates",
    "resolve_config",
    "select_features",
    "walk_forward",
]
