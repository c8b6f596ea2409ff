"""The Black–Litterman baseline: equilibrium prior + views from the LSTM forecasts."""

from __future__ import annotations

import numpy as np

from allocgym._typing import FloatArray
from allocgym.baselines._schedule import ScheduledPolicy, full_weights, return_window
from allocgym.baselines.black_litterman import black_litterman, implied_returns
from allocgym.baselines.covariance import CovarianceEstimator, get_covariance
from allocgym.baselines.optimizer import MeanRiskOptimizer
from allocgym.policy import PolicyState

__all__ = ["BlackLitterman"]

_OMEGAS = ("he_litterman", "idzorek", "error")


class BlackLitterman(ScheduledPolicy):
    """Black–Litterman portfolio with views from a point-in-time forecast feature.

    At each rebalance (every ``rebalance_every`` days, ``lookback``-day window dated
    <= t, everything annualised by ``periods_per_year``):

    1. ``Σ`` from ``covariance``; prior ``Π = δ Σ w_ref`` (:func:`implied_returns`)
       with ``w_ref`` equal weight or ``reference_weights`` renormalised over the
       tradable assets.
    2. Views from the feature ``view_feature`` at t (expected next-day simple return):
       ``absolute`` — one view per asset, ``P = I``, ``Q = f``; ``relative`` — one view
       "top ``fraction`` minus bottom ``fraction`` of assets ranked by ``f``" (equal
       weights inside each leg), ``Q = P f``.
    3. ``Ω``: ``he_litterman`` ``diag(PτΣPᵀ)``; ``idzorek`` from ``confidences``;
       ``error`` the measured variance of ``P (f_{s-1} − r_s)`` over the window
       (the predictor's realised out-of-sample error, annualised).
    4. Posterior ``(μ, Σ + M)`` by :func:`black_litterman` and weights from the same
       long-only optimiser as :class:`MeanVariance` (``utility`` with risk aversion
       ``δ / (1 + τ)`` by default, so that the fully invested portfolio is the
       reference portfolio when there are no views).

    With no panel or no finite forecast at t the posterior is the prior
    (``μ = Π``, ``Σ_post = (1 + τ) Σ``) and the weights are ``w_ref``.
    """

    kind = "ML-enhanced"

    def __init__(
        self,
        *,
        lookback: int = 252,
        rebalance_every: int = 21,
        covariance: str | CovarianceEstimator = "ledoit_wolf",
        risk_aversion: float = 2.5,
        tau: float = 0.05,
        reference_weights: FloatArray | None = None,
        views: str = "absolute",
        view_feature: str = "lstm_forecast",
        fraction: float = 1.0 / 3.0,
        omega: str = "he_litterman",
        confidences: float | FloatArray = 0.5,
        objective: str = "utility",
        max_weight: float = 1.0,
        turnover_penalty: float = 0.0,
        turnover_cap: float | None = None,
        periods_per_year: int = 252,
        solver: str = "CLARABEL",
    ) -> None:
        if views not in ("absolute", "relative"):
            raise ValueError(f"views={views!r}; expected 'absolute' or 'relative'")
        if omega not in _OMEGAS:
            raise ValueError(f"omega={omega!r}; expected one of {_OMEGAS}")
        if not 0 < fraction <= 0.5:
            raise ValueError(f"fraction={fraction!r}; expected a number in (0, 0.5]")
        if not tau > 0:
            raise ValueError(f"tau={tau!r}; expected > 0")
        super().__init__(rebalance_every)
        self.lookback = int(lookback)
        self.covariance = get_covariance(covariance)
        self.risk_aversion = float(risk_aversion)
        self.tau = float(tau)
        self.reference_weights = (
            None if reference_weights is None else np.asarray(reference_weights, dtype=float)
        )
        self.views = views
        self.view_feature = view_feature
        self.fraction = float(fraction)
        self.omega = omega
        self.confidences = confidences
        self.periods_per_year = int(periods_per_year)
        # δ / (1 + τ): with no views Σ_post = (1 + τ)Σ and μ = Π = δΣw_ref, so the
        # fully invested optimum is exactly w_ref (He & Litterman's w_eq / (1 + τ)
        # rescaled to sum to one); with views it is w_ref + (1 + τ) PᵀΛ.
        self.optimizer = MeanRiskOptimizer(
            objective,
            risk_aversion=risk_aversion / (1.0 + tau),
            max_weight=max_weight,
            turnover_penalty=turnover_penalty,
            turnover_cap=turnover_cap,
            solver=solver,
        )

    # ------------------------------------------------------------------ views
    def _view_matrix(self, f: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(P, Q) over the assets with a finite forecast; empty when there are none."""
        n = f.shape[0]
        ok = np.flatnonzero(np.isfinite(f))
        if self.views == "absolute":
            P = np.eye(n)[ok]
        else:
            k = int(np.floor(self.fraction * ok.size))
            if k < 1:
                return np.zeros((0, n)), np.zeros(0)
            order = ok[np.argsort(f[ok], kind="stable")]
            P = np.zeros((1, n))
            P[0, order[-k:]] = 1.0 / k
            P[0, order[:k]] = -1.0 / k
        return P, P @ np.nan_to_num(f)

    def _omega(
        self, P: FloatArray, cov: FloatArray, state: PolicyState, cols: np.ndarray
    ) -> dict[str, FloatArray]:
        if self.omega == "he_litterman":
            return {}
        if self.omega == "idzorek":
            return {"confidences": np.broadcast_to(self.confidences, (P.shape[0],)).copy()}
        # measured error of the forecast made at s-1 for the return at s, s <= t
        feats = np.asarray(state.features.feature(self.view_feature), dtype=np.float64)
        rets = state.history.returns
        lb = min(self.lookback, rets.shape[0] - 1)
        err = feats[-lb - 1 : -1, cols] - rets[-lb:, cols]
        view_err = err @ P.T  # NaN on days without a forecast
        n_obs = np.isfinite(view_err).sum(axis=0)
        if (n_obs < 2).any():  # no track record yet: He-Litterman uncertainty
            return {}
        var = np.nanvar(view_err, axis=0, ddof=1) * self.periods_per_year
        return {"omega": np.diag(np.maximum(var, 1e-12))}

    # ------------------------------------------------------------------ target
    def posterior(self, state: PolicyState) -> tuple[np.ndarray, FloatArray, FloatArray]:
        """Tradable asset positions, posterior mean and covariance at ``state.t``."""
        cols, window = return_window(state, self.lookback)
        ppy = self.periods_per_year
        cov = self.covariance.estimate(window, state, cols) * ppy
        ref = np.ones(cols.size) if self.reference_weights is None else self.reference_weights[cols]
        ref = ref / ref.sum()
        pi = implied_returns(cov, ref, self.risk_aversion)
        f = np.full(cols.size, np.nan)
        if state.features is not None and self.view_feature in state.features.feature_names:
            f = np.asarray(state.features.feature(self.view_feature)[-1], dtype=float)[cols] * ppy
        P, Q = self._view_matrix(f)
        if P.shape[0] == 0:
            return cols, pi, (1.0 + self.tau) * cov
        mean, post = black_litterman(
            cov, pi, P, Q, tau=self.tau, **self._omega(P, cov, state, cols)
        )
        return cols, mean, post

    def _target(self, state: PolicyState) -> FloatArray:
        cols, mean, post = self.posterior(state)
        prev = np.asarray(state.weights[1:][cols], dtype=np.float64)
        return full_weights(state.n_assets, cols, self.optimizer.solve(post, mean, prev))
