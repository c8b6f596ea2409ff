"""Baseline policies (1/N, buy-and-hold, min-variance, mean-variance, Black–Litterman, risk
parity, hierarchical risk parity, cluster allocation, sparse max-Sharpe).

Every baseline follows the :class:`allocgym.policy.Policy` protocol, rebalances on its
own schedule (default every 21 trading days) from a 252-day lookback of data dated
<= t, and falls back to its previous weights (counted in ``n_fallbacks_``) when an
optimisation fails. The optimising baselines take an optimiser object
(:class:`MeanRiskOptimizer`) and a covariance estimator: :class:`MeanRiskPolicy` is the
generic one, :class:`MinVariance` and :class:`MeanVariance` are presets of it. A
baseline that needs predictor features (``required_features``) refuses features
without them (:func:`check_features`). :data:`BASELINES` holds them by name (the names
configs and the command line use). The risk-based baselines (:class:`RiskParity`,
:class:`HierarchicalRiskParity`, :class:`ClusterAllocation`) need a covariance only;
:func:`plot_dendrogram` draws the tree of the hierarchical ones.
"""

from allocgym.baselines._features import check_features
from allocgym.baselines._presets import RENAMED_PARAMETERS
from allocgym.baselines.bl_policy import BlackLitterman
from allocgym.baselines.black_litterman import (
    black_litterman,
    he_litterman_omega,
    idzorek_omega,
    implied_returns,
)
from allocgym.baselines.covariance import (
    CovarianceEstimator,
    EWMACovariance,
    GarchCovariance,
    GraphicalLassoCovariance,
    LedoitWolfCovariance,
    RegimeCovariance,
    SampleCovariance,
    get_covariance,
)
from allocgym.baselines.hierarchical import (
    ClusterAllocation,
    HierarchicalRiskParity,
    cluster_labels,
    cluster_weights,
    correlation_distance,
    hrp_weights,
)
from allocgym.baselines.optimizer import OBJECTIVES, MeanRiskOptimizer
from allocgym.baselines.plotting import plot_dendrogram
from allocgym.baselines.policies import (
    BuyAndHold,
    EqualWeight,
    MeanRiskPolicy,
    MeanVariance,
    MinVariance,
)
from allocgym.baselines.registry import BASELINES
from allocgym.baselines.risk_parity import RiskParity, risk_budgeting, risk_contributions
from allocgym.baselines.sparse import SparseMaxSharpe, SparseSharpeOptimizer

__all__ = [
    "BASELINES",
    "OBJECTIVES",
    "RENAMED_PARAMETERS",
    "BlackLitterman",
    "BuyAndHold",
    "ClusterAllocation",
    "CovarianceEstimator",
    "EWMACovariance",
    "EqualWeight",
    "GarchCovariance",
    "GraphicalLassoCovariance",
    "HierarchicalRiskParity",
    "LedoitWolfCovariance",
    "MeanRiskOptimizer",
    "MeanRiskPolicy",
    "MeanVariance",
    "MinVariance",
    "RegimeCovariance",
    "RiskParity",
    "SampleCovariance",
    "SparseMaxSharpe",
    "SparseSharpeOptimizer",
    "black_litterman",
    "check_features",
    "cluster_labels",
    "cluster_weights",
    "correlation_distance",
    "get_covariance",
    "he_litterman_omega",
    "hrp_weights",
    "idzorek_omega",
    "implied_returns",
    "plot_dendrogram",
    "risk_budgeting",
    "risk_contributions",
]
