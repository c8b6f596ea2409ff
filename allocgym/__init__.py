"""allocgym: learn portfolio allocation with reinforcement learning, honestly.

Public entry points (see SPEC.md): :func:`load_market`, :func:`make_synthetic_market`,
:func:`build_features`, :class:`MarketData`, :class:`FeaturePanel`,
:class:`EnvSettings` (the environment settings training and backtests share); the
subpackages :mod:`allocgym.envs` (importing allocgym registers ``allocgym/Portfolio-v0``
with Gymnasium), :mod:`allocgym.agents`, :mod:`allocgym.baselines` and
:mod:`allocgym.backtest`. Torch and stable-baselines3 load only when an agent or the
LSTM is used.
"""

import allocgym.envs  # noqa: F401  (registers allocgym/Portfolio-v0 with gymnasium)
from allocgym.data import MarketData, load_market, make_synthetic_market
from allocgym.envs import EnvSettings
from allocgym.exceptions import ConfigError, DataError, OptimizationError
from allocgym.predictors import FeaturePanel, build_features

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "EnvSettings",
    "FeaturePanel",
    "MarketData",
    "OptimizationError",
    "__version__",
    "build_features",
    "load_market",
    "make_synthetic_market",
]
