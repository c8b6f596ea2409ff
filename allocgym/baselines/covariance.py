"""Covariance estimators for the baselines: sample, Ledoit–Wolf, EWMA, GARCH-implied and
graphical lasso.

Each estimator maps a window of daily simple returns ``(n_obs, k)`` of the assets in
the rebalance universe to a daily covariance matrix ``(k, k)``. The GARCH-implied
estimator also reads the point-in-time feature panel at the decision date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
from sklearn.covariance import GraphicalLassoCV, graphical_lasso, ledoit_wolf

from allocgym._typing import FloatArray, IntArray
from allocgym.exceptions import ConfigError, OptimizationError
from allocgym.policy import PolicyState

__all__ = [
    "CovarianceEstimator",
    "EWMACovariance",
    "GarchCovariance",
    "GraphicalLassoCovariance",
    "LedoitWolfCovariance",
    "RegimeCovariance",
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
        return _ledoit_wolf(returns)


def _ledoit_wolf(x: FloatArray) -> FloatArray:
    """``sklearn.covariance.ledoit_wolf(x)[0]`` (below 1,000 assets) without its input checks.

    The same operations in the same order as sklearn 1.x's ``ledoit_wolf_shrinkage`` with
    one block, so the same numbers (tested against sklearn); sklearn's input validation
    alone takes 1–4 ms a call, most of a rebalance of the risk-based baselines.
    """
    n, p = x.shape
    if p == 1 or p >= 1000:
        return ledoit_wolf(x, assume_centered=False)[0]
    xc = x - x.mean(0)
    x2 = xc**2
    trace = np.sum(x2, axis=0) / n
    mu = np.sum(trace) / p
    beta_ = np.sum(np.dot(x2.T, x2))
    delta_ = np.sum(np.dot(xc.T, xc) ** 2) / n**2
    beta = 1.0 / (p * n) * (beta_ / n - delta_)
    delta = (delta_ - 2.0 * mu * trace.sum() + p * mu**2) / p
    beta = min(beta, delta)
    shrinkage = 0 if beta == 0 else beta / delta
    emp = np.dot(xc.T, xc) / n
    cov = (1.0 - shrinkage) * emp
    cov.flat[:: p + 1] += shrinkage * (np.sum(np.trace(emp)) / p)
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


@dataclass(frozen=True)
class GraphicalLassoCovariance:
    """Graphical lasso: a sparse precision matrix fitted to the window's correlation.

    Solves (Friedman, Hastie & Tibshirani 2008; sklearn's coordinate descent)

    ``Θ̂ = argmin_{Θ ≻ 0}  tr(R Θ) − log det Θ + α Σ_{i≠j} |Θ_ij|``

    on the sample correlation ``R`` of the window, so that ``alpha`` has the same meaning
    whatever the assets' volatilities, then scales back: ``Σ = D Θ̂⁻¹ D`` with ``D`` the
    sample standard deviations (ddof 1). The diagonal of ``Θ̂⁻¹`` is 1 (the penalty
    leaves it alone), so each asset keeps its sample variance; ``alpha → 0`` gives the
    sample covariance.

    Parameters
    ----------
    alpha : float or "cv"
        Penalty ``α >= 0`` on the correlation scale (default 0.1, set a priori, not
        tuned on data), or ``"cv"``: chosen by ``GraphicalLassoCV`` (5-fold
        cross-validation inside the window only, so still point in time; about a
        second per rebalance).
    max_iter : int
        Coordinate-descent sweeps (sklearn's ``max_iter``).
    tol : float
        Convergence tolerance on the dual gap (sklearn's ``tol``).
    enet_tol : float
        Tolerance of the inner lasso solves (sklearn's ``enet_tol``). Its sklearn default,
        1e-4, leaves the inner solves too coarse for the outer loop to reach ``tol``: on
        the embedded data it then takes 50–100 sweeps (or never converges) where 1e-7
        takes 3–6, ten times faster (about 25 ms for 20 assets, against well under a
        millisecond for Ledoit–Wolf).

    References
    ----------
    Friedman, J., Hastie, T. and Tibshirani, R. (2008). Sparse inverse covariance
    estimation with the graphical lasso. *Biostatistics* 9(3), 432–441.
    """

    alpha: float | str = 0.1
    max_iter: int = 200
    tol: float = 1e-4
    enet_tol: float = 1e-7

    def __post_init__(self) -> None:
        if isinstance(self.alpha, str):
            if self.alpha != "cv":
                raise ValueError(f"alpha={self.alpha!r}; expected a number >= 0 or 'cv'")
        elif not (isinstance(self.alpha, int | float) and np.isfinite(self.alpha)) or (
            self.alpha < 0
        ):
            raise ValueError(f"alpha={self.alpha!r}; expected a number >= 0 or 'cv'")
        if not isinstance(self.max_iter, int) or self.max_iter < 1:
            raise ValueError(f"max_iter={self.max_iter!r}; expected an integer >= 1")
        if not (self.tol > 0 and self.enet_tol > 0):
            raise ValueError(f"tol={self.tol!r}, enet_tol={self.enet_tol!r}; expected both > 0")

    def estimate(self, returns: FloatArray, state: PolicyState, columns: IntArray) -> FloatArray:
        sd = returns.std(axis=0, ddof=1)
        if not (np.isfinite(sd).all() and (sd > 0).all()):
            raise OptimizationError("graphical lasso: an asset has zero or non-finite variance")
        z = (returns - returns.mean(axis=0)) / returns.std(axis=0)
        try:
            if self.alpha == "cv":
                model = GraphicalLassoCV(
                    max_iter=self.max_iter, tol=self.tol, enet_tol=self.enet_tol
                ).fit(z)
                corr = model.covariance_
            else:
                corr, _ = graphical_lasso(
                    z.T @ z / z.shape[0],
                    float(self.alpha),
                    max_iter=self.max_iter,
                    tol=self.tol,
                    enet_tol=self.enet_tol,
                )
        except (FloatingPointError, ValueError) as exc:
            raise OptimizationError(f"graphical lasso failed: {exc}") from exc
        return corr * np.outer(sd, sd)


_ESTIMATORS = {
    "sample": SampleCovariance,
    "ledoit_wolf": LedoitWolfCovariance,
    "ewma": EWMACovariance,
    "garch": GarchCovariance,
    "graphical_lasso": GraphicalLassoCovariance,
}


def get_covariance(spec: str | CovarianceEstimator) -> CovarianceEstimator:
    """An estimator from a name (``sample``, ``ledoit_wolf``, ``ewma``, ``garch``,
    ``graphical_lasso``, ``regime``) with its default settings, or the estimator object
    itself."""
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


@dataclass(frozen=True)
class RegimeCovariance:
    """Moments per market regime, mixed with the regime probabilities at the decision date.

    On the window's returns ``x_s`` (n_obs, k) and the point-in-time regime
    probabilities ``p_{j,s}`` of the same rows (market features ``regime_p0..``, from
    the HMM's forward filter or the Gaussian mixture), each regime j gets

    ``n_j = Σ_s p_{j,s}``, ``μ_j = Σ_s p_{j,s} x_s / n_j``,
    ``S_j = Σ_s p_{j,s} (x_s − μ_j)(x_s − μ_j)ᵀ / n_j``,

    shrunk towards the window's mean ``x̄`` and Ledoit–Wolf covariance ``Σ_LW`` with
    ``prior_obs`` pseudo-observations (a regime seen on few days borrows from the
    pooled estimate): ``μ_j ← (n_j μ_j + c x̄) / (n_j + c)``,
    ``Σ_j ← (n_j S_j + c Σ_LW) / (n_j + c)``. With ``π_j`` the probabilities at t the
    mixture's moments are (law of total variance)

    ``μ_t = Σ_j π_j μ_j``,  ``Σ_t = Σ_j π_j (Σ_j + μ_j μ_jᵀ) − μ_t μ_tᵀ``.

    Everything comes from the lookback window and the panel up to t. Rows whose
    probabilities are missing (before the first regime fit) are left out; with fewer
    than ``min_rows`` such rows, or no probabilities at t, the estimate falls back to
    Ledoit–Wolf and the window mean. A panel without regime features raises
    :class:`~allocgym.exceptions.ConfigError` (build the features with a ``regime``
    predictor, e.g. the ``standard`` preset); ``required_features`` names
    ``{prefix}0``, so a policy using this estimator is refused by a feature
    configuration without a regime predictor before any feature is built. ``μ_t`` is
    what :class:`~allocgym.baselines.MeanRiskPolicy` uses for
    ``expected_returns="regime"``.

    Parameters
    ----------
    prior_obs : float
        ``c >= 0``; 0 gives the raw per-regime moments.
    min_rows : int
        Fewest window rows with regime probabilities needed to use them.
    prefix : str
        Name prefix of the probability features in ``state.features``.

    References
    ----------
    Hamilton, J. D. (1989). A new approach to the economic analysis of nonstationary
    time series and the business cycle. *Econometrica* 57(2), 357–384.
    Ang, A. and Bekaert, G. (2002). International asset allocation with regime shifts.
    *Review of Financial Studies* 15(4), 1137–1187.
    """

    uses_features: ClassVar[bool] = True
    prior_obs: float = 20.0
    min_rows: int = 20
    prefix: str = "regime_p"

    def __post_init__(self) -> None:
        if not (isinstance(self.prior_obs, int | float) and self.prior_obs >= 0):
            raise ValueError(f"prior_obs={self.prior_obs!r}; expected a number >= 0")
        if not isinstance(self.min_rows, int) or self.min_rows < 1:
            raise ValueError(f"min_rows={self.min_rows!r}; expected an integer >= 1")

    @property
    def required_features(self) -> dict[str, tuple[str, str]]:
        """The first regime probability (market feature ``{prefix}0``), with what to choose
        instead."""
        return {
            f"{self.prefix}0": (
                "for covariance='regime'",
                "choose a covariance that reads prices only, such as 'ledoit_wolf'",
            )
        }

    def _probabilities(self, state: PolicyState, n_obs: int) -> FloatArray:
        panel = state.features
        names = () if panel is None else panel.market_feature_names
        cols = [i for i, name in enumerate(names) if name.startswith(self.prefix)]
        if not cols:
            raise ConfigError(
                f"covariance='regime' needs the regime probabilities ({self.prefix}0, ...) in "
                f"the feature panel, which has market features {list(names)}; build the "
                "features with a regime predictor (preset 'standard' or 'full') or choose a "
                "covariance that reads prices only, such as 'ledoit_wolf'"
            )
        return np.asarray(panel.market_values[-n_obs:][:, cols], dtype=np.float64)

    def moments(
        self, returns: FloatArray, state: PolicyState, columns: IntArray
    ) -> tuple[FloatArray, FloatArray]:
        """Daily ``(μ_t, Σ_t)`` of shapes (k,) and (k, k) from the window ``returns`` (n_obs, k)."""
        x = np.asarray(returns, dtype=np.float64)
        probs = self._probabilities(state, x.shape[0])
        pooled_mu, pooled = x.mean(axis=0), _ledoit_wolf(x)
        ok = np.isfinite(probs).all(axis=1)
        now = probs[-1]
        if ok.sum() < self.min_rows or not np.isfinite(now).all():
            return pooled_mu, pooled
        p, xs, c = probs[ok], x[ok], float(self.prior_obs)
        mu_t = np.zeros(x.shape[1])
        second = np.zeros((x.shape[1], x.shape[1]))
        pi = now / now.sum()
        for j in range(p.shape[1]):
            n_j = p[:, j].sum()
            if n_j + c <= 0:
                mu_j, cov_j = pooled_mu, pooled
            else:
                raw_mu = p[:, j] @ xs / n_j if n_j > 0 else pooled_mu
                d = xs - raw_mu
                raw_cov = (d * p[:, j, None]).T @ d / n_j if n_j > 0 else pooled
                mu_j = (n_j * raw_mu + c * pooled_mu) / (n_j + c)
                cov_j = (n_j * raw_cov + c * pooled) / (n_j + c)
            mu_t += pi[j] * mu_j
            second += pi[j] * (cov_j + np.outer(mu_j, mu_j))
        cov_t = second - np.outer(mu_t, mu_t)
        return mu_t, (cov_t + cov_t.T) / 2

    def estimate(self, returns: FloatArray, state: PolicyState, columns: IntArray) -> FloatArray:
        return self.moments(returns, state, columns)[1]


_ESTIMATORS["regime"] = RegimeCovariance
