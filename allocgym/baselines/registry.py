"""The baselines by name: what ``baselines: [{name: ...}]`` and ``--policies`` accept.

``BASELINES.create("min_variance", lookback=126)`` builds one; ``allocgym list
baselines`` prints the names with their parameters and defaults. Register your own
policy class with ``BASELINES.register("my_policy", MyPolicy, label="Mine")``.
"""

from __future__ import annotations

from functools import partial

from allocgym.baselines.bl_policy import BlackLitterman
from allocgym.baselines.policies import BuyAndHold, EqualWeight, MeanVariance, MinVariance
from allocgym.registry import Registry

__all__ = ["BASELINES"]

BASELINES = Registry("baseline", default_kind="traditional")
BASELINES.register(
    "equal_weight",
    EqualWeight,
    label="1/N",
    aliases=("1/N",),
    description="1/N over the tradable assets, rebalanced on a schedule; the benchmark",
)
BASELINES.register(
    "buy_and_hold",
    BuyAndHold,
    label="Buy & hold",
    description="1/N (or given weights) bought at the first decision, never traded",
)
BASELINES.register(
    "min_variance",
    MinVariance,
    label="Min-variance",
    description="Long-only global minimum variance (Ledoit-Wolf covariance by default; a "
    "preset of MeanRiskPolicy)",
)
BASELINES.register(
    "mean_variance",
    MeanVariance,
    label="Mean-variance",
    description="Markowitz utility, or another objective of MeanRiskOptimizer (a preset of "
    "MeanRiskPolicy)",
)
BASELINES.register(
    "max_sharpe",
    partial(MeanVariance, "max_sharpe"),
    label="Max-Sharpe",
    description="Maximum Sharpe ratio portfolio: mean_variance with objective max_sharpe",
)
BASELINES.register(
    "black_litterman",
    BlackLitterman,
    label="Black-Litterman",
    kind="ML-enhanced",
    description="Equilibrium prior with views from the LSTM forecast feature (features preset "
    "full); views='none' is the prior alone",
)
