"""Baseline policies: 1/N, buy-and-hold, minimum variance and mean–variance.

All are long-only and fully invested in the assets tradable at the decision date,
rebalance every ``rebalance_every`` trading days (default 21, about monthly) and
estimate on a trailing ``lookback`` window (default 252 days) of returns dated <= t.

References
----------
DeMiguel, V., Garlappi, L. and Uppal, R. (2009). Optimal versus naive diversification:
how inefficient is the 1/N portfolio strategy? *Review of Financial Studies* 22(5).
Markowitz, H. (1952). Portfolio selection. *Journal of Finance* 7(1), 77–91.
"""

from __future__ import annotations

import numpy as np

from allocgym._typing import FloatArray
from allocgym.baselines._schedule import ScheduledPolicy, full_weights, return_window
from allocgym.baselines.covariance import CovarianceEstimator, get_covariance
from allocgym.baselines.optimizer import MeanRiskOptimizer
from allocgym.exceptions import OptimizationError
from allocgym.policy import PolicyState

__all__ = ["BuyAndHold", "EqualWeight", "MeanVariance", "MinVariance"]


class EqualWeight(ScheduledPolicy):
    """1/N over the assets tradable at t, rebalanced every ``rebalance_every`` days.

    The naive benchmark (DeMiguel et al. 2009): ``is_benchmark`` makes it the default
    benchmark of :func:`~allocgym.backtest.backtest`.
    """

    is_benchmark = True

    def _target(self, state: PolicyState) -> FloatArray:
        cols = np.flatnonzero(state.available)
        if cols.size == 0:
            raise OptimizationError(f"no asset has a price at {state.date.date()}")
        return full_weights(state.n_assets, cols, np.full(cols.size, 1.0 / cols.size))


class BuyAndHold(ScheduledPolicy):
    """Buy once at the first decision (1/N or ``weights``), then never trade.

    Parameters
    ----------
    weights : array of shape (n_assets,), optional
        Initial asset weights (renormalised over the assets tradable at the first
        decision); default equal weight.
    """

    def __init__(self, weights: FloatArray | None = None) -> None:
        super().__init__(rebalance_every=1)
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)

    def act(self, state: PolicyState) -> FloatArray:
        if self._last_t is not None:
            return np.array(state.weights, dtype=np.float64)
        return super().act(state)

    def _target(self, state: PolicyState) -> FloatArray:
        cols = np.flatnonzero(state.available)
        w = np.ones(state.n_assets) if self.weights is None else self.weights.copy()
        if w.shape != (state.n_assets,) or (w < 0).any():
            raise ValueError(f"weights has shape {w.shape}; expected ({state.n_assets},), >= 0")
        w = w[cols]
        if cols.size == 0 or not w.sum() > 0:
            raise OptimizationError(f"no tradable asset with positive weight at {state.date}")
        return full_weights(state.n_assets, cols, w / w.sum())


class MeanVariance(ScheduledPolicy):
    """Mean–variance portfolio re-optimised at every rebalance (cvxpy, DPP).

    Parameters
    ----------
    objective : str
        ``utility`` (default), ``max_sharpe``, ``target_volatility``, ``target_return``
        or ``min_variance`` (see :class:`~allocgym.baselines.MeanRiskOptimizer`).
    lookback : int
        Trailing window of daily returns for the estimates (default 252).
    rebalance_every : int
        Days between rebalances (default 21).
    covariance : str or CovarianceEstimator
        ``ledoit_wolf`` (default), ``sample``, ``ewma``, ``garch``.
    expected_returns : {"historical", "forecast"}
        Mean of the window, or the panel's ``lstm_forecast`` at t (daily, raw units).
    risk_aversion, target_volatility, target_return, max_weight, turnover_penalty,
    turnover_cap : see :class:`~allocgym.baselines.MeanRiskOptimizer`; volatility and
        return targets are annualised.
    cost_bps : float
        Transaction-cost term in the objective: ``cost_bps·1e-4·‖Δw‖₁`` amortised to
        annual units over the rebalance period (× ``periods_per_year / rebalance_every``).
    periods_per_year : int
        Annualisation factor applied to ``μ`` and ``Σ`` (252).
    solver : str
        cvxpy solver (Clarabel).

    Attributes
    ----------
    n_fallbacks_ : int
        Rebalances where the optimiser failed and the previous weights were kept.
    """

    def __init__(
        self,
        objective: str = "utility",
        *,
        lookback: int = 252,
        rebalance_every: int = 21,
        covariance: str | CovarianceEstimator = "ledoit_wolf",
        expected_returns: str = "historical",
        risk_aversion: float = 2.5,
        target_volatility: float | None = None,
        target_return: float | None = None,
        max_weight: float = 1.0,
        turnover_penalty: float = 0.0,
        turnover_cap: float | None = None,
        cost_bps: float = 0.0,
        periods_per_year: int = 252,
        solver: str = "CLARABEL",
    ) -> None:
        if not isinstance(lookback, int | np.integer) or lookback < 2:
            raise ValueError(f"lookback={lookback!r}; expected an integer >= 2")
        if expected_returns not in ("historical", "forecast"):
            raise ValueError(
                f"expected_returns={expected_returns!r}; expected 'historical' or 'forecast'"
            )
        if cost_bps < 0:
            raise ValueError(f"cost_bps={cost_bps!r}; expected >= 0")
        super().__init__(rebalance_every)
        self.objective = objective
        self.lookback = int(lookback)
        self.covariance = get_covariance(covariance)
        self.expected_returns = expected_returns
        self.periods_per_year = int(periods_per_year)
        self.cost_bps = float(cost_bps)
        self.optimizer = MeanRiskOptimizer(
            objective,
            risk_aversion=risk_aversion,
            target_volatility=target_volatility,
            target_return=target_return,
            max_weight=max_weight,
            turnover_penalty=turnover_penalty,
            turnover_cap=turnover_cap,
            cost_rate=self.cost_bps * 1e-4 * self.periods_per_year / self.rebalance_every,
            solver=solver,
        )

    @property
    def kind(self) -> str:  # type: ignore[override]
        """``"ML-enhanced"`` when forecasts or GARCH volatilities feed it, else traditional."""
        forecasts = self.expected_returns == "forecast"
        garch = getattr(self.covariance, "uses_features", False)
        return "ML-enhanced" if forecasts or garch else "traditional"

    def _estimates(self, state: PolicyState) -> tuple[np.ndarray, FloatArray, FloatArray]:
        cols, window = return_window(state, self.lookback)
        cov = self.covariance.estimate(window, state, cols) * self.periods_per_year
        if self.expected_returns == "forecast":
            mu = _forecast(state, "lstm_forecast")[cols] * self.periods_per_year
            if not np.isfinite(mu).all():
                raise OptimizationError(f"lstm_forecast missing at {state.date.date()}")
        else:
            mu = window.mean(axis=0) * self.periods_per_year
        return cols, cov, mu

    def _target(self, state: PolicyState) -> FloatArray:
        cols, cov, mu = self._estimates(state)
        prev = _prev_asset_weights(state, cols)
        w = self.optimizer.solve(cov, mu, prev)
        return full_weights(state.n_assets, cols, w)


class MinVariance(MeanVariance):
    """Long-only global minimum-variance portfolio (``MeanVariance(objective="min_variance")``)."""

    def __init__(
        self,
        *,
        lookback: int = 252,
        rebalance_every: int = 21,
        covariance: str | CovarianceEstimator = "ledoit_wolf",
        max_weight: float = 1.0,
        turnover_penalty: float = 0.0,
        turnover_cap: float | None = None,
        cost_bps: float = 0.0,
        periods_per_year: int = 252,
        solver: str = "CLARABEL",
    ) -> None:
        super().__init__(
            "min_variance",
            lookback=lookback,
            rebalance_every=rebalance_every,
            covariance=covariance,
            max_weight=max_weight,
            turnover_penalty=turnover_penalty,
            turnover_cap=turnover_cap,
            cost_bps=cost_bps,
            periods_per_year=periods_per_year,
            solver=solver,
        )


def _prev_asset_weights(state: PolicyState, cols: np.ndarray) -> FloatArray:
    """Current asset weights over ``cols`` (cash and untradable assets dropped)."""
    return np.asarray(state.weights[1:][cols], dtype=np.float64)


def _forecast(state: PolicyState, name: str) -> FloatArray:
    """The per-asset feature ``name`` at t as float64 (NaN where unknown)."""
    if state.features is None:
        raise OptimizationError(f"{name} needs a feature panel; the state has none")
    try:
        return np.asarray(state.features.feature(name)[-1], dtype=np.float64)
    except KeyError as exc:
        raise OptimizationError(str(exc)) from exc
