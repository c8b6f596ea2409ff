"""Baseline policies: 1/N, buy-and-hold, and the optimiser policy with its presets.

All are long-only and fully invested in the assets tradable at the decision date,
rebalance every ``rebalance_every`` trading days (default 21, about monthly) and
estimate on a trailing ``lookback`` window (default 252 days) of returns dated <= t.

:class:`MeanRiskPolicy` composes an optimiser object
(:class:`~allocgym.baselines.MeanRiskOptimizer`: the objective and every optimisation
setting) with a covariance estimator and a choice of expected returns, as skfolio's
``MeanRisk(prior_estimator=...)`` does. :class:`MinVariance` and :class:`MeanVariance`
are presets of it that also take the optimiser's settings as flat keywords (what a YAML
config passes): ``MinVariance(max_weight=0.3)`` is
``MeanRiskPolicy(MeanRiskOptimizer("min_variance", max_weight=0.3))``.

References
----------
DeMiguel, V., Garlappi, L. and Uppal, R. (2009). Optimal versus naive diversification:
how inefficient is the 1/N portfolio strategy? *Review of Financial Studies* 22(5).
Markowitz, H. (1952). Portfolio selection. *Journal of Finance* 7(1), 77–91.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from allocgym._typing import FloatArray, IntArray
from allocgym.baselines._presets import bind_settings, keyword_parameters, preset_signature
from allocgym.baselines._schedule import ScheduledPolicy, full_weights, return_window
from allocgym.baselines.covariance import CovarianceEstimator, RegimeCovariance, get_covariance
from allocgym.baselines.optimizer import MeanRiskOptimizer
from allocgym.exceptions import OptimizationError
from allocgym.policy import PolicyState

__all__ = ["BuyAndHold", "EqualWeight", "MeanRiskPolicy", "MeanVariance", "MinVariance"]

EXPECTED_RETURNS = ("historical", "forecast", "regime")
OPTIMIZER_SETTINGS = tuple(p.name for p in keyword_parameters(MeanRiskOptimizer))
"""The names of :class:`MeanRiskOptimizer`'s settings (``objective``, ``risk_aversion``, ...)."""


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


class MeanRiskPolicy(ScheduledPolicy):
    """Re-optimise a mean–risk optimiser on point-in-time estimates at every rebalance.

    At each rebalance: ``Σ`` from ``covariance`` and ``μ`` (window mean, the
    ``lstm_forecast`` feature at t, or the regime-weighted mean) over the last
    ``lookback`` returns dated <= t, both annualised (× ``periods_per_year``); then
    ``optimizer.solve(Σ, μ, w_prev)`` with ``w_prev`` the current drifted asset weights.

    Parameters
    ----------
    optimizer : MeanRiskOptimizer, optional
        The objective and every optimisation setting (default ``MeanRiskOptimizer()``:
        minimum variance). Volatility and return targets are annualised.
    lookback : int
        Trailing window of daily returns for the estimates (default 252).
    rebalance_every : int
        Days between rebalances (default 21).
    covariance : str or CovarianceEstimator
        ``ledoit_wolf`` (default), ``sample``, ``ewma``, ``garch``, ``graphical_lasso``,
        ``regime`` or an estimator object.
    expected_returns : {"historical", "forecast", "regime"}
        ``historical``: mean of the window. ``forecast``: the panel's ``lstm_forecast``
        at t (daily, raw units). ``regime``: the mean per market regime mixed with the
        regime probabilities at t (Ang & Bekaert 2002), ``μ_t = Σ_k p_k(t) μ_k`` with
        ``μ_k = (Σ_s p_{k,s} x_s + c x̄) / (Σ_s p_{k,s} + c)`` over the window's returns
        ``x_s`` (each day weighted by its filtered probability ``p_{k,s}`` of regime k;
        ``x̄`` the window mean, ``c`` the estimator's ``prior_obs``, default 20, 0 for
        the plain weighted mean; ``p(t)`` normalised to sum to one) — the ``μ_t`` of
        :meth:`RegimeCovariance.moments <allocgym.baselines.RegimeCovariance.moments>`,
        computed by the ``covariance`` estimator itself when it is a
        :class:`~allocgym.baselines.RegimeCovariance` (one pass, its settings), else by
        ``RegimeCovariance()``. Point in time: the window and the probabilities
        ``regime_p0..`` (HMM forward filter or Gaussian mixture) are dated <= t. Before
        the first regime fit (fewer than ``min_rows`` window days with probabilities,
        or none at t) it is the window mean. Needs the regime features (presets
        ``standard`` and ``full``).
    cost_penalty_bps : float
        A turnover penalty in the optimiser's objective, ``cost_penalty_bps·1e-4·‖Δw‖₁``
        amortised to annual units over the rebalance period (× ``periods_per_year /
        rebalance_every``); it becomes the optimiser's ``cost_rate``. Default 0: the
        textbook optimiser. It is not the environment's cost: the backtest charges that
        cost (10 bps by default) on every trade whatever this penalty is, so a 0 here
        hides no cost from the results; a non-zero value is a different, turnover-averse
        policy, and choosing its value on data is a tuning choice to make on validation
        data inside the training window and to count in the deflated Sharpe ratio (SPEC
        invariant 8). Set it to the environment's ``cost_bps`` for an optimiser that
        charges itself the cost it will pay.
    periods_per_year : int
        Annualisation factor applied to ``μ`` and ``Σ`` (252).

    Attributes
    ----------
    optimizer : MeanRiskOptimizer
        The optimiser used (``optimizer`` with the ``cost_rate`` of ``cost_penalty_bps``).
    n_fallbacks_ : int
        Rebalances where the optimiser failed and the previous weights were kept.
    """

    def __init__(
        self,
        optimizer: MeanRiskOptimizer | None = None,
        *,
        lookback: int = 252,
        rebalance_every: int = 21,
        covariance: str | CovarianceEstimator = "ledoit_wolf",
        expected_returns: str = "historical",
        cost_penalty_bps: float = 0.0,
        periods_per_year: int = 252,
    ) -> None:
        check_lookback(lookback)
        if expected_returns not in EXPECTED_RETURNS:
            raise ValueError(
                f"expected_returns={expected_returns!r}; expected one of {EXPECTED_RETURNS}"
            )
        super().__init__(rebalance_every)
        self.lookback = int(lookback)
        self.covariance = get_covariance(covariance)
        self.expected_returns = expected_returns
        # the regime moments' estimator: the covariance itself when it is one (same
        # settings, one pass for μ and Σ), else one with the default settings
        self._regime = (
            self.covariance if isinstance(self.covariance, RegimeCovariance) else RegimeCovariance()
        )
        self.periods_per_year = int(periods_per_year)
        self.cost_penalty_bps = float(cost_penalty_bps)
        self.optimizer = with_cost_penalty(
            MeanRiskOptimizer() if optimizer is None else optimizer,
            self.cost_penalty_bps,
            self.periods_per_year,
            self.rebalance_every,
        )

    @property
    def required_features(self) -> dict[str, tuple[str, str]]:
        """``lstm_forecast`` for forecast expected returns, the regime probabilities for
        regime expected returns, and the covariance's features."""
        need = dict(getattr(self.covariance, "required_features", {}))
        instead = "set expected_returns='historical' (the window mean)"
        if self.expected_returns == "forecast":
            need["lstm_forecast"] = ("for expected_returns='forecast'", instead)
        elif self.expected_returns == "regime":
            key, use = f"{self._regime.prefix}0", "for expected_returns='regime'"
            if key in need:  # covariance='regime' too: both must change
                use, instead = f"{need[key][0]} and {use}", f"{need[key][1]}, and {instead}"
            need[key] = (use, instead)
        return need

    def _estimates(self, state: PolicyState) -> tuple[IntArray, FloatArray, FloatArray]:
        cols, window = return_window(state, self.lookback)
        ppy = self.periods_per_year
        if self.expected_returns == "regime":
            mu, cov = self._regime.moments(window, state, cols)
            if self.covariance is not self._regime:
                cov = self.covariance.estimate(window, state, cols)
            return cols, cov * ppy, mu * ppy
        cov = self.covariance.estimate(window, state, cols) * ppy
        if self.expected_returns == "forecast":
            mu = _forecast(state, "lstm_forecast")[cols] * ppy
            if not np.isfinite(mu).all():
                raise OptimizationError(f"lstm_forecast missing at {state.date.date()}")
        else:
            mu = window.mean(axis=0) * ppy
        return cols, cov, mu

    def _target(self, state: PolicyState) -> FloatArray:
        cols, cov, mu = self._estimates(state)
        return optimal_weights(self.optimizer, state, cols, cov, mu)


_POLICY_SETTINGS = keyword_parameters(MeanRiskPolicy, omit=("optimizer",))


@preset_signature(
    [p for p in _POLICY_SETTINGS if p.name != "expected_returns"],
    keyword_parameters(
        MeanRiskOptimizer,
        omit=("objective", "risk_aversion", "target_volatility", "target_return", "cost_rate"),
    ),
)
class MinVariance(MeanRiskPolicy):
    """Long-only global minimum variance: ``MeanRiskPolicy(MeanRiskOptimizer("min_variance"))``.

    Keywords: the settings of :class:`MeanRiskPolicy` but ``expected_returns`` (the
    objective has no use for them) and those of :class:`MeanRiskOptimizer` that apply
    to minimum variance (``max_weight``, ``turnover_penalty``, ``turnover_cap``,
    ``solver``), with the same defaults.
    """

    def __init__(self, **settings: Any) -> None:
        args = bind_settings(MinVariance, settings)
        opt = {k: args.pop(k) for k in OPTIMIZER_SETTINGS if k in args}
        super().__init__(MeanRiskOptimizer("min_variance", **opt), **args)


@preset_signature(
    _POLICY_SETTINGS, keyword_parameters(MeanRiskOptimizer, omit=("objective", "cost_rate"))
)
class MeanVariance(MeanRiskPolicy):
    """Mean–variance portfolio: ``MeanRiskPolicy(MeanRiskOptimizer(objective))``.

    ``objective`` is ``utility`` (default; risk aversion 2.5), ``max_sharpe``,
    ``target_volatility``, ``target_return`` or ``min_variance`` (see
    :class:`~allocgym.baselines.MeanRiskOptimizer`). Keywords: the settings of
    :class:`MeanRiskPolicy` and of :class:`MeanRiskOptimizer` (but ``cost_rate``, which
    ``cost_penalty_bps`` sets), with the same defaults.
    """

    def __init__(self, objective: str = "utility", **settings: Any) -> None:
        args = bind_settings(MeanVariance, {"objective": objective, **settings})
        opt = {k: args.pop(k) for k in OPTIMIZER_SETTINGS if k in args}
        super().__init__(MeanRiskOptimizer(**opt), **args)


def check_lookback(lookback: int) -> None:
    if not isinstance(lookback, int | np.integer) or lookback < 2:
        raise ValueError(f"lookback={lookback!r}; expected an integer >= 2")


def with_cost_penalty(
    optimizer: MeanRiskOptimizer,
    cost_penalty_bps: float,
    periods_per_year: int,
    rebalance_every: int,
) -> MeanRiskOptimizer:
    """``optimizer`` charging ``cost_penalty_bps`` per unit of turnover, amortised per year.

    The penalty becomes the optimiser's ``cost_rate`` =
    ``cost_penalty_bps·1e-4·periods_per_year / rebalance_every`` (one trade per
    rebalance period, in the annual units of ``μ`` and ``Σ``); 0 returns ``optimizer``.
    """
    if not cost_penalty_bps >= 0:
        raise ValueError(f"cost_penalty_bps={cost_penalty_bps!r}; expected >= 0")
    if not callable(getattr(optimizer, "solve", None)):
        raise TypeError(
            f"optimizer={optimizer!r} has no solve(cov, mu, prev); expected a MeanRiskOptimizer"
        )
    if cost_penalty_bps == 0:
        return optimizer
    if getattr(optimizer, "cost_rate", 0.0):
        raise ValueError(
            f"cost_penalty_bps={cost_penalty_bps!r} and the optimizer's cost_rate="
            f"{optimizer.cost_rate!r} are both set; give the cost penalty once"
        )
    return optimizer.replace(cost_rate=cost_penalty_bps * 1e-4 * periods_per_year / rebalance_every)


def optimal_weights(
    optimizer: MeanRiskOptimizer,
    state: PolicyState,
    cols: IntArray,
    cov: FloatArray,
    mu: FloatArray,
) -> FloatArray:
    """The optimiser's weights over ``cols`` from the current asset weights, zero cash."""
    prev = _prev_asset_weights(state, cols)
    return full_weights(state.n_assets, cols, optimizer.solve(cov, mu, prev))


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
