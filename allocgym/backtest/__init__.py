"""Walk-forward backtesting: splitter, backtester, metrics, statistics, reports.

``backtest(policies, market, ...)`` steps every policy through the same
:class:`~allocgym.envs.PortfolioEnv` over consecutive out-of-sample windows and
returns :class:`Results` (metrics, daily returns, weights, costs, fallbacks, config).
"""

from allocgym.backtest import metrics, stats
from allocgym.backtest.engine import backtest
from allocgym.backtest.report import write_report
from allocgym.backtest.results import Results
from allocgym.backtest.splitter import WalkForward

__all__ = ["Results", "WalkForward", "backtest", "metrics", "stats", "write_report"]
