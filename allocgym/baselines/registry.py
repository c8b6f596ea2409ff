"""The baselines by name: what ``baselines: [{name: ...}]`` and ``--policies`` accept.

``BASELINES.create("min_variance", lookback=126)`` builds one; ``allocgym list
baselines`` prints the names with their parameters and defaults. Register your own
policy class with ``BASELINES.register("my_policy", MyPolicy, label="Mine")``.
"""

from __future__ import annotations

from functools import partial

from allocgym.baselines.bl_policy import BlackLitterman
from allocgym.baselines.hierarchical import ClusterAllocation, HierarchicalRiskParity
from allocgym.baselines.policies import BuyAndHold, EqualWeight, MeanVariance, MinVariance
from allocgym.baselines.risk_parity import RiskParity
from allocgym.baselines.sparse import SparseMaxSharpe
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
BASELINES.register(
    "risk_parity",
    RiskParity,
    label="Risk parity",
    description="Equal risk contribution, or given risk_budgets (long-only; exact Newton solve "
    "of Spinu's convex problem)",
)
BASELINES.register(
    "hrp",
    HierarchicalRiskParity,
    label="HRP",
    aliases=("hierarchical_risk_parity",),
    description="Hierarchical risk parity (Lopez de Prado 2016): correlation-distance tree, "
    "quasi-diagonalisation, recursive bisection",
)
BASELINES.register(
    "cluster",
    ClusterAllocation,
    label="Cluster allocation",
    aliases=("cluster_allocation",),
    description="n_clusters clusters by correlation (hierarchical or K-means), inverse "
    "variance inside and across clusters",
)
BASELINES.register(
    "sparse_max_sharpe",
    SparseMaxSharpe,
    label="Sparse max-Sharpe",
    description="Maximum Sharpe ratio net of an L1 penalty gamma on deviations from 1/N (or "
    "reference_weights)",
)
