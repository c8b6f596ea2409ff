"""Walk-forward backtesting: splitter, backtester, metrics, statistics, reports.

``backtest(policies, market, ...)`` steps every policy through the same
:class:`~allocgym.envs.PortfolioEnv` over consecutive out-of-sample windows and
returns :class:`Results` (metrics, daily returns, weights, costs, fallbacks, config).
A saved run folder carries ``manifest.json`` (:func:`write_manifest`,
:func:`verify_manifest`): sizes and SHA-256 of its files, so a damaged file is refused.
"""

from allocgym.backtest import metrics, stats
from allocgym.backtest.engine import backtest
from allocgym.backtest.manifest import read_manifest, verify_manifest, write_manifest
from allocgym.backtest.purged import CombinatorialPurgedKFold, PurgedKFold
from allocgym.backtest.report import write_report
from allocgym.backtest.results import Results
from allocgym.backtest.splitter import WalkForward

__all__ = [
    "CombinatorialPurgedKFold",
    "PurgedKFold",
    "Results",
    "WalkForward",
    "backtest",
    "metrics",
    "read_manifest",
    "stats",
    "verify_manifest",
    "write_manifest",
    "write_report",
]
