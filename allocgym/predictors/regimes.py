"""Market regimes: a Gaussian HMM fitted with Baum-Welch, read with the forward filter only.

Inputs (market level, row t uses rows <= t):

1. the equal-weight index return ``m_t`` (mean of the available assets' returns), and
2. ``v_t = log sqrt(mean over the last w days and the available assets of r_{s,i}^2)``,
   a log realised volatility that pools the cross-section (w = ``vol_window``).

The HMM (Hamilton 1989; Rabiner 1989) is fitted with ``hmmlearn`` on the training rows
(standardised with the training mean and standard deviation). Its states are then
sorted by their mean log realised volatility, so state 0 is always the calmest and
labels cannot switch between refits. The features ``regime_p{k}`` are the
forward-filtered probabilities

    alpha_t(k) = p(s_t = k | x_1..x_t) ∝ b_k(x_t) sum_j alpha_{t-1}(j) A[j, k],

never the smoothed ``p(s_t | x_1..x_T)`` that ``hmmlearn``'s ``predict`` and
``predict_proba`` return (they use observations after t). Missing inputs (warm-up)
only apply the transition step.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from threadpoolctl import threadpool_limits

from allocgym._typing import FloatArray
from allocgym.data import MarketData
from allocgym.exceptions import DataError
from allocgym.predictors.config import RegimeConfig
from allocgym.predictors.schedule import check_predict_range

__all__ = ["RegimeHMM", "forward_filter", "regime_inputs"]


class _quiet:
    """Silence a library's logger inside a block (hmmlearn logs EM non-monotonicity)."""

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)

    def __enter__(self) -> None:
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)


def regime_inputs(market: MarketData, vol_window: int = 5) -> FloatArray:
    """The HMM's inputs, shape (n_dates, 2): index return and log realised volatility.

    Rows with no available asset (and the volatility warm-up) are NaN.
    """
    r = np.asarray(market.returns, dtype=np.float64)
    finite = np.isfinite(r)
    count = finite.sum(axis=1)
    r0 = np.where(finite, r, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        index = np.where(count > 0, r0.sum(axis=1) / np.maximum(count, 1), np.nan)
        cross_sq = np.where(count > 0, (r0**2).sum(axis=1) / np.maximum(count, 1), np.nan)
        vol = np.full(len(r), np.nan)
        if len(r) >= vol_window:
            windows = np.lib.stride_tricks.sliding_window_view(cross_sq, vol_window)
            vol[vol_window - 1 :] = 0.5 * np.log(windows.mean(axis=-1))
    vol[~np.isfinite(vol)] = np.nan
    return np.column_stack([index, vol])


def forward_filter(
    log_emission: FloatArray, log_transition: FloatArray, log_prior: FloatArray
) -> FloatArray:
    """Forward-filtered state probabilities p(s_t | x_1..x_t), shape (n, K).

    Parameters
    ----------
    log_emission : ndarray, shape (n, K)
        ``log b_k(x_t)``; a row of zeros means "no observation" (prediction step only).
    log_transition : ndarray, shape (K, K)
        ``log A[j, k] = log p(s_t = k | s_{t-1} = j)``.
    log_prior : ndarray, shape (K,)
        Log probabilities of the state before the first row.
    """
    # Scaled recursion in probability space: each row's likelihoods are divided by
    # their maximum (it cancels in the normalisation), which keeps exp() in range.
    likelihood = np.exp(log_emission - log_emission.max(axis=1, keepdims=True))
    transition = np.exp(log_transition)
    alpha = np.exp(log_prior - logsumexp(log_prior))
    out = np.empty(log_emission.shape)
    for t in range(len(out)):
        joint = (alpha @ transition) * likelihood[t]
        alpha = joint / joint.sum()
        out[t] = alpha
    return out


def standardised_inputs(
    owner: Any, market: MarketData, start: int, until: int, name: str
) -> tuple[FloatArray, FloatArray]:
    """The regime inputs of rows ``start..until`` and their standardised finite rows.

    Sets ``owner.input_mean_`` and ``owner.input_scale_`` (from those rows only); fails
    with fewer than 10 finite rows per state.
    """
    k = owner._config.n_states
    x = regime_inputs(market[: until + 1], owner._config.vol_window)[start:]
    ok = np.isfinite(x).all(axis=1)
    if ok.sum() < 10 * k:
        raise DataError(
            f"{name} needs at least {10 * k} rows of finite inputs to fit {k} states; "
            f"rows {start}..{until} have {int(ok.sum())}"
        )
    owner.input_mean_ = x[ok].mean(axis=0)
    owner.input_scale_ = x[ok].std(axis=0) + 1e-12
    return x, (x[ok] - owner.input_mean_) / owner.input_scale_


def volatility_quantile_means(z: FloatArray, k: int) -> FloatArray:
    """Starting means of ``k`` states: zero return, volatility at its quantiles."""
    q = (np.arange(k) + 0.5) / k
    return np.column_stack([np.zeros(k), np.quantile(z[:, 1], q)])


def best_restart(models: Iterable[Any], z: FloatArray, failed: str) -> tuple[Any, float]:
    """The model (of an EM restart each) with the highest log likelihood on ``z``.

    A restart that fails (singular covariance, bad start) is skipped; convergence
    warnings are silenced: the best restart wins. ``failed``: the message when all do.
    """
    best, best_score = None, -np.inf
    for model in models:
        with warnings.catch_warnings(), _quiet("hmmlearn"), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            try:
                model.fit(z)
                score = model.score(z)
            except (ValueError, np.linalg.LinAlgError):
                continue
        if np.isfinite(score) and score > best_score:
            best, best_score = model, score
    if best is None:
        raise DataError(failed)
    return best, float(best_score)


class RegimeHMM:
    """Gaussian-HMM regime probabilities, forward-filtered and volatility-ordered.

    Parameters
    ----------
    config : RegimeConfig, optional
    seed : int
        Seed of the Baum-Welch restarts (restart j uses ``seed + j``).

    Attributes
    ----------
    means_ : ndarray, shape (K, 2)
        State means of the standardised inputs, state 0 = calmest.
    covars_ : ndarray, shape (K, 2, 2)
    transmat_ : ndarray, shape (K, K)
    startprob_ : ndarray, shape (K,)
    input_mean_, input_scale_ : ndarray, shape (2,)
        Standardisation of the inputs, from the training rows.
    log_alpha_ : ndarray, shape (K,)
        Filtered log probabilities at the last fitted row (where ``predict`` resumes).
    until_ : int
    """

    level = "market"

    def __init__(self, config: RegimeConfig | None = None, seed: int = 0) -> None:
        self.config = config
        self.seed = seed

    @property
    def _config(self) -> RegimeConfig:
        return self.config or RegimeConfig()

    def feature_names_for(self, market: MarketData) -> tuple[str, ...]:
        return tuple(f"regime_p{k}" for k in range(self._config.n_states))

    def fit(self, market: MarketData, until: int, start: int = 0) -> RegimeHMM:
        """Baum-Welch on the inputs at rows ``start..until``, then filter to ``until``."""
        from hmmlearn.hmm import GaussianHMM

        cfg = self._config
        x, z = standardised_inputs(self, market, start, until, "RegimeHMM")

        def restarts():
            for j in range(cfg.n_restarts):
                model = GaussianHMM(
                    n_components=cfg.n_states,
                    covariance_type="full",
                    n_iter=cfg.n_iter,
                    tol=1e-4,
                    random_state=self.seed + j,
                    min_covar=1e-4,
                    init_params="stmc" if j else "stc",
                )
                if j == 0:  # a deterministic start: states spread over volatility quantiles
                    model.means_ = volatility_quantile_means(z, cfg.n_states)
                yield model

        best, best_score = best_restart(restarts(), z, f"RegimeHMM: every Baum-Welch restart "
                                        f"failed on rows {start}..{until}")  # fmt: skip
        # Volatility of a state = its mean log realised volatility input.
        order = np.argsort(best.means_[:, 1], kind="stable")
        self.means_ = best.means_[order]
        self.covars_ = best.covars_[order]
        self.transmat_ = best.transmat_[np.ix_(order, order)]
        self.startprob_ = best.startprob_[order]
        self.score_ = float(best_score)
        # The filter starts one step "before" the window from the stationary-ish start
        # distribution and runs over the training rows (all <= until).
        probs = self._filter(x, np.log(self.startprob_ + 1e-300))
        self.log_alpha_ = np.log(probs[-1] + 1e-300)
        self.train_probs_ = probs
        self.start_, self.until_ = int(start), int(until)
        return self

    def _log_emission(self, x: FloatArray) -> FloatArray:
        z = (x - self.input_mean_) / self.input_scale_
        ok = np.isfinite(z).all(axis=1)
        out = np.zeros((len(z), len(self.means_)))
        for k, (mean, cov) in enumerate(zip(self.means_, self.covars_, strict=True)):
            out[ok, k] = multivariate_normal.logpdf(z[ok], mean=mean, cov=cov, allow_singular=True)
        return out

    def _filter(self, x: FloatArray, log_prior: FloatArray) -> FloatArray:
        log_a = np.log(self.transmat_ + 1e-300)
        return forward_filter(self._log_emission(x), log_a, log_prior)

    def predict(self, market: MarketData, start: int, stop: int) -> FloatArray:
        """Filtered probabilities for rows ``[start, stop)``, shape (stop - start, K)."""
        check_predict_range(self.until_, start, stop, market.n_dates)
        x = regime_inputs(market[:stop], self._config.vol_window)[self.until_ + 1 :]
        probs = self._filter(x, self.log_alpha_)
        return probs[start - self.until_ - 1 :]
