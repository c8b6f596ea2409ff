"""Market regimes from a Gaussian mixture: the HMM's inputs without the dynamics.

The inputs are those of :class:`~allocgym.predictors.RegimeHMM`
(:func:`~allocgym.predictors.regimes.regime_inputs`: equal-weight index return and
pooled log realised volatility, row t from rows <= t), standardised with the training
rows' mean and standard deviation. A K-component full-covariance Gaussian mixture is
fitted with EM (``sklearn.mixture.GaussianMixture``) on the training rows and its
components are sorted by their mean log realised volatility, so state 0 is the calmest
and labels cannot switch between refits. A mixture has no transition matrix: the
feature ``regime_p{k}`` at t is the posterior of the inputs at t alone,

    p(s_t = k | x_t) = w_k N(x_t; m_k, S_k) / sum_j w_j N(x_t; m_j, S_j),

which uses nothing after t (nor before, beyond the inputs' own windows). Rows with
missing inputs (the volatility warm-up) get the mixture weights ``w``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from allocgym._typing import FloatArray
from allocgym.data import MarketData
from allocgym.predictors.config import RegimeConfig
from allocgym.predictors.regimes import (
    best_restart,
    regime_inputs,
    standardised_inputs,
    volatility_quantile_means,
)
from allocgym.predictors.schedule import check_predict_range

__all__ = ["RegimeGMM"]


class RegimeGMM:
    """Gaussian-mixture regime probabilities, volatility-ordered, point in time.

    Parameters
    ----------
    config : RegimeConfig, optional
        ``n_states``, ``vol_window``, ``n_restarts`` (EM restarts: the first from
        volatility quantiles, the others from k-means with seeds ``seed + j``; the best
        log-likelihood wins) and ``n_iter`` (EM iterations); ``model`` is not read.
    seed : int

    Attributes
    ----------
    weights_ : ndarray, shape (K,)
    means_ : ndarray, shape (K, 2)
        Component means of the standardised inputs, state 0 = calmest.
    covars_ : ndarray, shape (K, 2, 2)
    input_mean_, input_scale_ : ndarray, shape (2,)
    score_ : float
        Mean log-likelihood per training row of the best restart.
    until_ : int
    """

    level = "market"

    def __init__(self, config: RegimeConfig | None = None, seed: int = 0) -> None:
        self.config = config
        self.seed = seed

    @property
    def _config(self) -> RegimeConfig:
        return self.config or RegimeConfig(model="gmm")

    def feature_names_for(self, market: MarketData) -> tuple[str, ...]:
        return tuple(f"regime_p{k}" for k in range(self._config.n_states))

    def fit(self, market: MarketData, until: int, start: int = 0) -> RegimeGMM:
        """EM on the inputs at rows ``start..until``."""
        cfg = self._config
        k = cfg.n_states
        _, z = standardised_inputs(self, market, start, until, "RegimeGMM")
        models = (
            GaussianMixture(
                n_components=k,
                covariance_type="full",
                max_iter=cfg.n_iter,
                tol=1e-4,
                reg_covar=1e-4,
                # a deterministic first start: components spread over volatility quantiles
                means_init=volatility_quantile_means(z, k) if j == 0 else None,
                random_state=self.seed + j,
            )
            for j in range(cfg.n_restarts)
        )
        best, best_score = best_restart(
            models, z, f"RegimeGMM: every EM restart failed on rows {start}..{until}"
        )
        order = np.argsort(best.means_[:, 1], kind="stable")
        self.weights_ = best.weights_[order]
        self.means_ = best.means_[order]
        self.covars_ = best.covariances_[order]
        self.score_ = float(best_score)
        self.start_, self.until_ = int(start), int(until)
        return self

    def posterior(self, x: FloatArray) -> FloatArray:
        """``p(s = k | x)`` of each row of raw inputs ``x`` (n, 2), shape (n, K).

        Rows with a missing input get the mixture weights.
        """
        z = (x - self.input_mean_) / self.input_scale_
        ok = np.isfinite(z).all(axis=1)
        log_joint = np.tile(np.log(self.weights_ + 1e-300), (len(z), 1))
        for k, (mean, cov) in enumerate(zip(self.means_, self.covars_, strict=True)):
            log_joint[ok, k] += multivariate_normal.logpdf(
                z[ok], mean=mean, cov=cov, allow_singular=True
            )
        return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))

    def predict(self, market: MarketData, start: int, stop: int) -> FloatArray:
        """Posterior probabilities for rows ``[start, stop)``, shape (stop - start, K)."""
        check_predict_range(self.until_, start, stop, market.n_dates)
        x = regime_inputs(market[:stop], self._config.vol_window)[start:]
        return self.posterior(x)
