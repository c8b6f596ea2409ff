"""Baseline policies (1/N, buy-and-hold, min-variance, mean-variance, Black–Litterman).

Every baseline follows the :class:`allocgym.policy.Policy` protocol, rebalances on its
own schedule (default every 21 trading days) from a 252-day lookback of data dated
<= t, and falls back to its previous weights (counted in ``n_fallbacks_``) when an
optimisation fails. The optimising baselines take an optimiser object
(:class:`MeanRiskOptimizer`) and a covariance estimator: :class:`MeanRiskPolicy` is the
generic one, :class:`MinVariance` and :class:`MeanVariance` are presets of it. A
baseline that needs predictor features (``required_features``) refuses features
without them (:func:`check_features`). :data:`BASELINES` holds them by name (the names
configs and the command line use).
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
    LedoitWolfCovariance,
    SampleCovariance,
    get_covariance,
)
from allocgym.baselines.optimizer import OBJECTIVES, MeanRiskOptimizer
from allocgym.baselines.policies import (
    BuyAndHold,
    EqualWeight,
    MeanRiskPolicy,
    MeanVariance,
    MinVariance,
)
from allocgym.baselines.registry import BASELINES

__all__ = [
    "BASELINES",
    "OBJECTIVES",
    "RENAMED_PARAMETERS",
    "BlackLitterman",
    "BuyAndHold",
    "CovarianceEstimator",
    "EWMACovariance",
    "EqualWeight",
    "GarchCovariance",
    "LedoitWolfCovariance",
    "MeanRiskOptimizer",
    "MeanRiskPolicy",
    "MeanVariance",
    "MinVariance",
    "SampleCovariance",
    "black_litterman",
    "check_features",
    "get_covariance",
    "he_litterman_omega",
    "idzorek_omega",
    "implied_returns",
]
