"""Covariance estimators for the baselines: sample, Ledoit–Wolf, EWMA, GARCH-implied.

Each estimator maps a window of daily simple returns ``(n_obs, k)`` of the assets in
the rebalance universe to a daily covariance matrix ``(k, k)``. The GARCH-implied
estimator also reads the point-in-time feature panel at the decision date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
from sklearn.covariance import ledoit_wolf

from allocgym._typing import FloatArray, IntArray
from allocgym.policy import PolicyState

__all__ = [
    "CovarianceEstimator",
    "EWMACovariance",
    "GarchCovariance",
    "LedoitWolfCovariance",
    "SampleCovariance",
    "get_covariance",
]


@runtime_checkable
class CovarianceEstimator(Protocol):
    def estimate(self, returns: FloatArray, state: PolicyState, columns: IntArray) -> FloatArray:
        """Daily covariance of ``returns`` (n_obs, k); ``columns`` are the asset positions."""


@dataclass(frozen=True)
class SampleCovariance:
    """Unbiased sample covariance."""

    def estimate(self, returns: FloatArray, state: PolicyState, columns: IntArray) -> FloatArray:
        return np.atleast_2d(np.cov(returns, rowvar=False))


@dataclass(frozen=True)
class LedoitWolfCovariance:
    """Ledoit & Wolf (2004) shrinkage towards a scaled identity (sklearn's estimator).

    References
    ----------
    Ledoit, O. and Wolf, M. (2004). A well-conditioned estimator for large-dimensional
    covariance matrices. *Journal of Multivariate Analysis* 88(2), 365–411.
    """

    def estimate(self, returns: FloatArray, state: PolicyState, columns: IntArray) -> FloatArray:
        cov, _ = ledoit_wolf(returns, assume_centered=False)
        return cov


@dataclass(frozen=True)
class EWMACovariance:
    """RiskMetrics exponentially weighted covariance, ``Σ = Σ_s λ^{T-1-s} x_s x_sᵀ / Σ λ^…``.

    ``x_s`` are the returns demeaned by the weighted mean; ``λ = 0.5 ** (1 / halflife)``.
    """

    halflife: float = 63.0

    def __post_init__(self) -> None:
        if not self.halflife > 0:
            raise ValueError(f"halflife={self.halflife!r}; expected a positive number of days")

    def estimate(self, returns: FloatArray, state: PolicyState, columns: IntArray) -> FloatArray:
        n = returns.shape[0]
        lam = 0.5 ** (1.0 / self.halflife)
        w = lam ** np.arange(n - 1, -1, -1, dtype=np.float64)
        w /= w.sum()
        x = returns - w @ returns
        return (x * w[:, None]).T @ x


@dataclass(frozen=True)
class GarchCovariance:
    """``Σ = D C D``: correlation ``C`` from the window (Ledoit–Wolf), vols ``D`` from GARCH.

    ``D = diag(σ_t)`` with ``σ_t`` the per-asset feature ``feature`` (daily conditional
    volatility, raw units) of the point-in-time panel at the decision date. Assets whose
    GARCH vol is missing (before the first GARCH fit) fall back to their sample
    volatility over the window; a policy using this estimator refuses a feature panel
    without the feature at all (``required_features``), since it would then be a
    Ledoit–Wolf policy labelled ML-enhanced. ``uses_features`` marks an estimator that
    reads the feature panel (a policy using it is ML-enhanced); estimators without the
    attribute are taken to use prices only.
    """

    uses_features: ClassVar[bool] = True
    feature: str = "garch_vol"

    @property
    def required_features(self) -> dict[str, tuple[str, str]]:
        """The GARCH volatility feature, with what to choose instead."""
        return {
            self.feature: (
                "for covariance='garch'",
                "choose a covariance that reads prices only, such as 'ledoit_wolf'",
            )
        }

    def estimate(self, returns: FloatArray, state: PolicyState, columns: IntArray) -> FloatArray:
        base = LedoitWolfCovariance().estimate(returns, state, columns)
        sd = np.sqrt(np.diag(base))
        corr = base / np.outer(sd, sd)
        vol = sd.copy()
        if state.features is not None and self.feature in state.features.feature_names:
            g = np.asarray(state.features.feature(self.feature)[-1], dtype=np.float64)[columns]
            ok = np.isfinite(g) & (g > 0)
            vol[ok] = g[ok]
        return corr * np.outer(vol, vol)


_ESTIMATORS = {
    "sample": SampleCovariance,
    "ledoit_wolf": LedoitWolfCovariance,
    "ewma": EWMACovariance,
    "garch": GarchCovariance,
}


def get_covariance(spec: str | CovarianceEstimator) -> CovarianceEstimator:
    """An estimator from a name (``sample``, ``ledoit_wolf``, ``ewma``, ``garch``) or itself."""
    if isinstance(spec, str):
        try:
            return _ESTIMATORS[spec]()
        except KeyError:
            raise ValueError(
                f"covariance={spec!r} is not a known estimator; expected one of "
                f"{sorted(_ESTIMATORS)} or an object with estimate(returns, state, columns)"
            ) from None
    if not isinstance(spec, CovarianceEstimator):
        raise TypeError(
            f"covariance={spec!r} has no estimate(returns, state, columns) method; expected "
            f"a name in {sorted(_ESTIMATORS)} or a CovarianceEstimator"
        )
    return spec
