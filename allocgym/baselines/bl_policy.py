"""The Black–Litterman baseline: equilibrium prior + views from the LSTM forecasts."""

from __future__ import annotations

from typing import Any

import numpy as np

from allocgym._typing import FloatArray
from allocgym.baselines._features import check_features
from allocgym.baselines._presets import bind_settings, keyword_parameters, preset_signature
from allocgym.baselines._schedule import ScheduledPolicy, return_window
from allocgym.baselines.black_litterman import black_litterman, implied_returns
from allocgym.baselines.covariance import CovarianceEstimator, get_covariance
from allocgym.baselines.optimizer import MeanRiskOptimizer
from allocgym.baselines.policies import (
    OPTIMIZER_SETTINGS,
    check_lookback,
    optimal_weights,
    with_cost_penalty,
)
from allocgym.policy import PolicyState

__all__ = ["BlackLitterman"]

_VIEWS = ("absolute", "relative", "none")
_OMEGAS = ("he_litterman", "idzorek", "error")
# The optimiser's settings as keywords: its risk aversion follows from δ and τ (below)
# and its cost rate from cost_penalty_bps; the utility objective is the default.
_BL_OPTIMIZER_SETTINGS = keyword_parameters(
    MeanRiskOptimizer, omit=("risk_aversion", "cost_rate"), defaults={"objective": "utility"}
)


@preset_signature(_BL_OPTIMIZER_SETTINGS)
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
       weights inside each leg), ``Q = P f``; ``none`` — no views (see below).
    3. ``Ω``: ``he_litterman`` ``diag(PτΣPᵀ)``; ``idzorek`` from ``confidences``;
       ``error`` the measured variance of ``P (f_{s-1} − r_s)`` over the window
       (the predictor's realised out-of-sample error, annualised).
    4. Posterior ``(μ, Σ + M)`` by :func:`black_litterman` and weights from the
       optimiser: by default a :class:`~allocgym.baselines.MeanRiskOptimizer` with the
       ``utility`` objective and risk aversion ``δ / (1 + τ)``, so that the fully
       invested portfolio is the reference portfolio when there are no views. The
       optimiser's other settings (``objective``, ``max_weight``, ``turnover_penalty``,
       ``turnover_cap``, ``target_volatility``, ``target_return``, ``solver``) are
       keywords too, or pass a whole ``optimizer`` (used as it is) instead of them.
       ``cost_penalty_bps`` is the turnover penalty of
       :class:`~allocgym.baselines.MeanRiskPolicy` (default 0).

    The views are what makes the policy ML-enhanced, so a feature panel without
    ``view_feature`` (no panel, or a preset without the LSTM forecaster) is an error at
    :meth:`fit` and at every rebalance, not a silent 1/N: the equilibrium prior alone
    is ``views="none"``, a traditional policy labelled "Black-Litterman prior (no
    views)" (ML-enhanced all the same with a covariance that reads the panel, such as
    ``garch`` or ``regime``). Dates where the feature is NaN (before the forecaster's
    first fit) have no views: the posterior is the prior (``μ = Π``,
    ``Σ_post = (1 + τ) Σ``) and the weights are ``w_ref``.

    Regime-aware moments: ``covariance="regime"`` makes ``Σ``, and so the prior
    ``Π = δ Σ w_ref`` and the posterior, regime aware. The regime-weighted mean
    (``expected_returns="regime"`` of :class:`~allocgym.baselines.MeanRiskPolicy`) is
    deliberately not a prior or views source here: the prior is the equilibrium by
    construction (no views give exactly ``w_ref``), and views come from a per-asset
    forecast feature whose history ``omega="error"`` measures; a regime mean in either
    place would be a mean-variance portfolio under another name.
    """

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
        periods_per_year: int = 252,
        cost_penalty_bps: float = 0.0,
        optimizer: MeanRiskOptimizer | None = None,
        **optimizer_settings: Any,
    ) -> None:
        if views not in _VIEWS:
            raise ValueError(f"views={views!r}; expected one of {_VIEWS}")
        if omega not in _OMEGAS:
            raise ValueError(f"omega={omega!r}; expected one of {_OMEGAS}")
        if not 0 < fraction <= 0.5:
            raise ValueError(f"fraction={fraction!r}; expected a number in (0, 0.5]")
        if not tau > 0:
            raise ValueError(f"tau={tau!r}; expected > 0")
        check_lookback(lookback)
        settings = bind_settings(BlackLitterman, optimizer_settings, only=OPTIMIZER_SETTINGS)
        if optimizer is not None and optimizer_settings:
            raise ValueError(
                f"optimizer={optimizer!r} and the optimiser settings "
                f"{sorted(optimizer_settings)} are both given; pass one or the other"
            )
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
        self.cost_penalty_bps = float(cost_penalty_bps)
        if optimizer is None:
            # δ / (1 + τ): with no views Σ_post = (1 + τ)Σ and μ = Π = δΣw_ref, so the
            # fully invested optimum is exactly w_ref (He & Litterman's w_eq / (1 + τ)
            # rescaled to sum to one); with views it is w_ref + (1 + τ) PᵀΛ.
            settings["risk_aversion"] = risk_aversion / (1.0 + tau)
            optimizer = MeanRiskOptimizer(**settings)
        self.optimizer = with_cost_penalty(
            optimizer, self.cost_penalty_bps, self.periods_per_year, self.rebalance_every
        )

    @property
    def required_features(self) -> dict[str, tuple[str, str]]:
        """``view_feature`` (unless ``views="none"``) and the covariance's features."""
        need = dict(getattr(self.covariance, "required_features", {}))
        if self.views != "none":
            need[self.view_feature] = (
                f"for its views (views={self.views!r})",
                "pass views='none' to hold the equilibrium prior alone (a traditional "
                "policy, not ML-enhanced)",
            )
        return need

    @property
    def label(self) -> str:
        """Display label; says "prior (no views)" for ``views="none"``."""
        return "Black-Litterman prior (no views)" if self.views == "none" else "Black-Litterman"

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
        if self.views == "none":
            return cols, pi, (1.0 + self.tau) * cov
        check_features(self, state.features)  # no views is an error, never a silent 1/N
        forecast = state.features.feature(self.view_feature)[-1]  # type: ignore[union-attr]
        f = np.asarray(forecast, dtype=float)[cols] * ppy
        P, Q = self._view_matrix(f)
        if P.shape[0] == 0:
            return cols, pi, (1.0 + self.tau) * cov
        mean, post = black_litterman(
            cov, pi, P, Q, tau=self.tau, **self._omega(P, cov, state, cols)
        )
        return cols, mean, post

    def _target(self, state: PolicyState) -> FloatArray:
        cols, mean, post = self.posterior(state)
        return optimal_weights(self.optimizer, state, cols, post, mean)
