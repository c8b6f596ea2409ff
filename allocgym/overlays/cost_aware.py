"""Cost-aware rebalancing: trade only when the expected utility gain exceeds the exact cost.

At the close of t the portfolio holds the drifted weights ``w_d``; the wrapped policy's
latest target is ``w_t`` (both of shape (n_assets + 1,), index 0 = cash). Moving a
fraction ``alpha`` of the way, to ``w(alpha) = (1 - alpha) w_d + alpha w_t``, is worth

    J(alpha) = (h / P) [U(w(alpha)) - U(w_d)] - c(alpha),
    U(w) = mu' w - (lambda / 2) w' Sigma w,

where ``mu`` and ``Sigma`` are annualised point-in-time estimates (cash: zero mean, zero
variance), ``h`` the horizon in trading days over which the gain accrues (the holding
period), ``P`` the trading days per year, and ``c(alpha) = 1 - mu_tr`` the *exact* cost of
the move as a fraction of wealth: ``mu_tr`` is the transaction remainder factor of the
environment's :class:`~allocgym.envs.costs.CostModel` (Jiang, Xu & Liang 2017), the very
function the environment charges, not a linear approximation.

The overlay trades to ``w(alpha*)`` when ``J(alpha*) > 0`` and holds otherwise, with
``alpha* = 1`` (all the way or nothing) or, with ``partial=True``, the best fraction in
[0, 1] (a bounded 1-D search plus both end points; ``J`` is concave up to the small
curvature of the exact cost, and a grid test checks the search).

``mu`` and ``Sigma`` come from the wrapped policy when it has a public
``estimates(state) -> (columns, cov, mu)`` (annualised, over the asset positions
``columns``). Otherwise ``Sigma`` is the covariance estimator (Ledoit–Wolf by default) on
the last ``lookback`` returns dated <= t, and ``mu`` is, by ``expected_returns``:

``"implied"`` (default)
    ``mu = lambda Sigma x*`` with ``x*`` the target's asset weights: the expected returns
    that make the wrapped policy's target the optimum of ``U`` (reverse optimisation, as
    the equilibrium returns of Black–Litterman). Then
    ``U(w) = U(w*) - (lambda / 2) (x - x*)' Sigma (x - x*)``: the gain of a move is the
    reduction of the tracking variance to the target, never negative, largest at the
    target; the overlay keeps the policy's target and only decides whether the move pays.
``"historical"``
    The window mean. The utility then judges the target too: with noisy means it can
    prefer the drifted weights to the target for long stretches (a momentum tilt).
``"zero"``
    Risk only: from all cash, no risky target is ever worth its cost.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize_scalar

from allocgym._typing import FloatArray, IntArray
from allocgym.baselines import CovarianceEstimator, get_covariance
from allocgym.envs.costs import CostModel
from allocgym.exceptions import OptimizationError
from allocgym.overlays._base import Overlay, check_int, check_positive, hold
from allocgym.overlays._risk import estimate_moments
from allocgym.policy import Policy, PolicyState

__all__ = ["CostAwareRebalancing", "best_fraction", "move_value"]

EXPECTED_RETURNS = ("implied", "historical", "zero")


def move_value(
    alpha: float,
    w_from: FloatArray,
    w_to: FloatArray,
    columns: IntArray,
    mu: FloatArray,
    cov: FloatArray,
    risk_aversion: float,
    years: float,
    cost_model: CostModel,
    sigma: FloatArray | None = None,
) -> tuple[float, float]:
    """``(gain, cost)`` of moving ``alpha`` of the way from ``w_from`` to ``w_to``.

    ``gain = years * [U(w(alpha)) - U(w_from)]`` over the assets ``columns`` (positions
    among the assets, cash excluded); ``cost = 1 - mu_tr`` from ``cost_model.remainder``.
    ``sigma`` (daily volatility per asset) is passed on for a market-impact cost.
    """
    w = (1.0 - alpha) * w_from + alpha * w_to
    x, x0 = w[1:][columns], w_from[1:][columns]
    gain = years * ((mu @ x - 0.5 * risk_aversion * x @ cov @ x)
                    - (mu @ x0 - 0.5 * risk_aversion * x0 @ cov @ x0))  # fmt: skip
    _, cost = cost_model.remainder(w_from, w, sigma)
    return float(gain), float(cost)


def best_fraction(value: Callable[[float], float], xatol: float = 1e-7) -> tuple[float, float]:
    """``(alpha*, J(alpha*))`` maximising ``J = value(alpha)`` over [0, 1].

    ``J`` is concave (a concave quadratic utility minus a cost that is linear in
    ``alpha`` up to terms of order ``c^2``), so when it does not rise on ``[0, 1e-6]`` the
    optimum is 0 (the common case, checked first); otherwise a bounded scalar search
    (Brent's method) and the two end points, the best of the three.
    """
    j0 = value(0.0)
    if value(1e-6) <= j0:
        return 0.0, j0
    j1 = value(1.0)
    res = minimize_scalar(lambda a: -value(a), bounds=(0.0, 1.0), method="bounded",
                          options={"xatol": xatol})  # fmt: skip
    candidates = [(0.0, j0), (1.0, j1), (float(res.x), float(-res.fun))]
    return max(candidates, key=lambda c: c[1])


class CostAwareRebalancing(Overlay):
    """Trade to the wrapped policy's target only when the utility gain beats the exact cost.

    Parameters
    ----------
    policy : Policy
        The wrapped policy.
    cost_bps : float, sequence of floats or CostModel, default 10.0
        The environment's cost model (``env.cost_bps``: the same value, or the same
        :class:`~allocgym.envs.costs.CostModel`); the overlay charges itself the exact
        cost the environment will charge. Keep the two equal.
    risk_aversion : float, default 2.5
        ``lambda`` of the mean–variance utility (annual units).
    horizon : int, default 21
        Trading days over which a trade's utility gain accrues (the expected holding
        period; 21 = a month).
    partial : bool, default False
        Trade the best fraction of the way instead of all or nothing.
    monitor : bool, default True
        Re-examine the latest target at every close (a no-trade region around it);
        False: only when the wrapped policy decides (on its schedule).
    lookback : int, default 252
    covariance : str or CovarianceEstimator, default "ledoit_wolf"
    expected_returns : {"implied", "historical", "zero"}, default "implied"
        ``mu`` of the own estimate (see the module docstring; unused when the wrapped
        policy exposes ``estimates``).
    periods_per_year : int, default 252

    Attributes
    ----------
    n_trades_, n_holds_ : int
        Closes where the overlay traded, or held although the target differed.
    n_partial_ : int
        Trades with ``0 < alpha* < 1``.
    decisions_ : list of (Timestamp, alpha, gain, cost)
        Every examination: ``alpha`` traded (0: held) and the gain and exact cost of the
        move traded, or of the full move when held.
    """

    label = "cost-aware"

    def __init__(
        self,
        policy: Policy,
        *,
        cost_bps: float | tuple[float, ...] | CostModel = 10.0,
        risk_aversion: float = 2.5,
        horizon: int = 21,
        partial: bool = False,
        monitor: bool = True,
        lookback: int = 252,
        covariance: str | CovarianceEstimator = "ledoit_wolf",
        expected_returns: str = "implied",
        periods_per_year: int = 252,
    ) -> None:
        try:
            self.cost_model = CostModel.coerce(
                tuple(cost_bps) if isinstance(cost_bps, list) else cost_bps
            )
        except (ValueError, TypeError) as exc:
            raise ValueError(f"cost_bps={cost_bps!r} is invalid: {exc}") from None
        self.risk_aversion = check_positive("risk_aversion", risk_aversion)
        self.horizon = check_int("horizon", horizon, 1)
        for name, flag in (("partial", partial), ("monitor", monitor)):
            if not isinstance(flag, bool | np.bool_):
                raise ValueError(f"{name}={flag!r} is invalid; expected True or False")
        self.partial, self.monitor = bool(partial), bool(monitor)
        self.lookback = check_int("lookback", lookback, 2)
        self.covariance = get_covariance(covariance)
        if expected_returns not in EXPECTED_RETURNS:
            raise ValueError(
                f"expected_returns={expected_returns!r} is invalid; expected one of "
                f"{list(EXPECTED_RETURNS)}"
            )
        self.expected_returns = expected_returns
        self.periods_per_year = check_int("periods_per_year", periods_per_year, 1)
        super().__init__(policy)

    def _reset(self) -> None:
        self.n_trades_ = 0
        self.n_holds_ = 0
        self.n_partial_ = 0
        self.decisions_: list[tuple[object, float, float, float]] = []

    def _moments(
        self, state: PolicyState, target: FloatArray
    ) -> tuple[IntArray, FloatArray, FloatArray]:
        own = getattr(self.policy, "estimates", None)
        if callable(own):
            cols, cov, mu = own(state)
            as_float = np.asarray(cov, dtype=np.float64), np.asarray(mu, dtype=np.float64)
            return np.asarray(cols), *as_float
        cols, cov, mu = estimate_moments(
            state, self.lookback, self.covariance, self.expected_returns, self.periods_per_year
        )
        if self.expected_returns == "implied":
            mu = self.risk_aversion * cov @ target[1:][cols]
        return cols, cov, mu

    def _decide(self, state: PolicyState, latest: FloatArray, decided: bool) -> FloatArray:
        w_from = np.asarray(state.weights, dtype=np.float64)
        if not (decided or self.monitor) or np.array_equal(latest, w_from):
            return hold(state)
        try:
            cols, cov, mu = self._moments(state, latest)
        except OptimizationError as exc:
            return self._fallback(state, str(exc))
        sigma = None
        if self.cost_model.impact:
            sigma = np.nanstd(state.history.returns[1:][-self.lookback :], axis=0, ddof=1)
        years = self.horizon / self.periods_per_year

        def value(alpha: float) -> float:
            gain, cost = move_value(alpha, w_from, latest, cols, mu, cov, self.risk_aversion,
                                    years, self.cost_model, sigma)  # fmt: skip
            return gain - cost

        alpha, net = best_fraction(value) if self.partial else (1.0, value(1.0))
        shown = alpha if alpha > 0.0 else 1.0  # a hold records the full move it refused
        gain, cost = move_value(shown, w_from, latest, cols, mu, cov, self.risk_aversion,
                                years, self.cost_model, sigma)  # fmt: skip
        if not (net > 0.0 and alpha > 0.0):
            self.n_holds_ += 1
            self.decisions_.append((state.date, 0.0, gain, cost))
            return hold(state)
        self.n_trades_ += 1
        self.n_partial_ += int(alpha < 1.0)
        self.decisions_.append((state.date, alpha, gain, cost))
        return (1.0 - alpha) * w_from + alpha * latest
