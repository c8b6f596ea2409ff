"""Baseline policies (1/N, buy-and-hold, min-variance, mean-variance, Black–Litterman).

Every baseline follows the :class:`allocgym.policy.Policy` protocol, rebalances on its
own schedule (default every 21 trading days) from a 252-day lookback of data dated
<= t, and falls back to its previous weights (counted in ``n_fallbacks_``) when an
optimisation fails. :data:`BASELINES` holds them by name (the names configs and the
command line use).
"""

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
from allocgym.baselines.policies import BuyAndHold, EqualWeight, MeanVariance, MinVariance
from allocgym.baselines.registry import BASELINES

__all__ = [
    "BASELINES",
    "OBJECTIVES",
    "BlackLitterman",
    "BuyAndHold",
    "CovarianceEstimator",
    "EWMACovariance",
    "EqualWeight",
    "GarchCovariance",
    "LedoitWolfCovariance",
    "MeanRiskOptimizer",
    "MeanVariance",
    "MinVariance",
    "SampleCovariance",
    "black_litterman",
    "get_covariance",
    "he_litterman_omega",
    "idzorek_omega",
    "implied_returns",
]
