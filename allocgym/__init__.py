"""allocgym: learn portfolio allocation with reinforcement learning, honestly.

Public entry points (see SPEC.md): :func:`load_market`, :func:`make_synthetic_market`,
:class:`MarketData`; the subpackages :mod:`allocgym.predictors`, :mod:`allocgym.envs`,
:mod:`allocgym.agents`, :mod:`allocgym.baselines` and :mod:`allocgym.backtest`.
"""

from allocgym.data import MarketData, load_market, make_synthetic_market
from allocgym.exceptions import ConfigError, DataError, OptimizationError

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "MarketData",
    "OptimizationError",
    "__version__",
    "load_market",
    "make_synthetic_market",
]
