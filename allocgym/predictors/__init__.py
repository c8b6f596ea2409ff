"""Point-in-time predictors and the cached feature panel.

``build_features(market, config)`` returns a :class:`FeaturePanel` of technical
features, GARCH volatility, HMM regime probabilities and an LSTM return forecast,
each computed at row t from data at rows <= t on a walk-forward refit schedule.
"""

from allocgym.predictors.build import build_features
from allocgym.predictors.cache import CACHE_ENV_VAR, cache_key, default_cache_dir
from allocgym.predictors.config import (
    PRESETS,
    FeatureConfig,
    GarchConfig,
    LSTMConfig,
    RegimeConfig,
    resolve_config,
)
from allocgym.predictors.panel import FeaturePanel
from allocgym.predictors.schedule import Predictor, refit_dates, walk_forward
from allocgym.predictors.technical import TechnicalFeatures

__all__ = [
    "CACHE_ENV_VAR",
    "PRESETS",
    "FeatureConfig",
    "FeaturePanel",
    "GarchConfig",
    "LSTMConfig",
    "Predictor",
    "RegimeConfig",
    "TechnicalFeatures",
    "build_features",
    "cache_key",
    "default_cache_dir",
    "refit_dates",
    "resolve_config",
    "walk_forward",
]
