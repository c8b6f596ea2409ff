"""Each policy through Monte Carlo scenarios: H-day return distribution, VaR, ES, drawdowns.

A policy enters the scenarios with the weights it held at the scenarios' date (from
``Results.weights``) and keeps them over the horizon, through the environment's
accounting (:meth:`~allocgym.envs.accounting.Accounting.settle`):

- ``"hold"`` (default): buy and hold; weights drift, nothing is traded, no cost. This
  is what a baseline does between its monthly rebalances (the default horizon, 21
  days, is one rebalance period) and what an RL agent does between decisions;
- ``"constant_mix"``: back to the date's weights every ``rebalance_every`` days, paying
  the exact cost of the run's cost model on each trade.

Policies are not re-asked along a path: re-optimising a baseline on simulated history,
or running an RL agent on observations built from simulated prices, inside every path
would cost far more than the simulation; the frozen decision is the simplification.

Risk figures are of the H-day return ``R = W_H - 1`` over the paths, losses positive:
``VaR_a = -q_{1-a}(R)`` (the empirical quantile, linear interpolation) and
``ES_a = -mean(R | R <= -VaR_a)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocgym._typing import FloatArray
from allocgym.backtest.metrics import cvar
from allocgym.envs.costs import CostModel
from allocgym.risk._paths import rebalance
from allocgym.risk.scenarios import Scenarios
from allocgym.risk.var_config import tail_count

__all__ = ["MODES", "ScenarioRisk", "evaluate_scenarios", "expected_shortfall", "value_at_risk"]

MODES = ("hold", "constant_mix")


def _check_level(level: float) -> float:
    if not (isinstance(level, int | float) and 0.0 < float(level) < 1.0):
        raise ValueError(f"confidence level {level!r} is invalid; expected 0 < level < 1")
    return float(level)


def value_at_risk(returns: FloatArray, level: float = 0.95) -> float:
    """Minus the k-th worst return, ``k = ceil((1 - level) n)`` (:func:`tail_count`): the
    loss exceeded on at most a ``1 - level`` share of paths; the rule of the historical
    VaR forecasts (:mod:`allocgym.risk.var`)."""
    r = np.sort(np.asarray(returns, dtype=np.float64))
    return float(-r[tail_count(_check_level(level), r.size) - 1])


def expected_shortfall(returns: FloatArray, level: float = 0.95) -> float:
    """Mean loss of the ``k = ceil((1 - level) n)`` worst returns, as
    :func:`allocgym.backtest.metrics.cvar` computes it."""
    return cvar(np.asarray(returns, dtype=np.float64), _check_level(level))


def _max_drawdowns(wealth: FloatArray) -> FloatArray:
    """Per path (rows of wealth from 1), the largest peak-to-trough loss (<= 0)."""
    full = np.concatenate((np.ones((len(wealth), 1)), wealth), axis=1)
    return (full / np.maximum.accumulate(full, axis=1) - 1.0).min(axis=1)


@dataclass(frozen=True, eq=False)
class ScenarioRisk:
    """Scenario outcomes of every policy.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per policy: ``mean``, ``std``, quantiles ``q01 .. q99`` of the H-day
        return, ``VaR_95``, ``ES_95``, ``VaR_99``, ``ES_99`` (losses positive),
        ``p_drawdown`` (probability that the path's maximum drawdown is worse than
        ``drawdown``), ``worst5_return`` and ``worst5_drawdown`` (means over the worst
        5 % of paths by H-day return), ``worst_return`` and ``mean_cost``.
    wealth : dict of str to ndarray, shape (n_paths, horizon + 1)
        Wealth paths from 1 at the date.
    mode : str
    drawdown : float
    """

    table: pd.DataFrame
    wealth: dict[str, FloatArray]
    mode: str
    drawdown: float
    notes: list[str] = field(default_factory=list)


def evaluate_scenarios(
    scenarios: Scenarios,
    weights: pd.DataFrame,
    *,
    mode: str = "hold",
    rebalance_every: int = 1,
    cost_model: CostModel | None = None,
    levels: Sequence[float] = (0.95, 0.99),
    drawdown: float = 0.10,
) -> ScenarioRisk:
    """Hold each policy's weights through the scenarios and summarise the outcomes.

    Parameters
    ----------
    scenarios : Scenarios
    weights : pandas.DataFrame
        Policies x (``cash``, assets of the scenarios), rows summing to 1 (e.g.
        :func:`allocgym.risk.stress.latest_weights` at the scenarios' date).
    mode : {"hold", "constant_mix"}
        See the module docstring.
    rebalance_every : int
        Days between trades of ``"constant_mix"``.
    cost_model : CostModel, optional
        Costs of ``"constant_mix"`` (default 10 bps).
    levels : sequence of float
        VaR/ES confidence levels, each in (0, 1).
    drawdown : float
        ``X`` of ``p_drawdown``, a fraction in (0, 1).
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is invalid; expected one of {MODES}")
    levels = [_check_level(a) for a in levels]
    if not (0.0 < drawdown < 1.0):
        raise ValueError(f"drawdown={drawdown!r} is invalid; expected a fraction 0 < X < 1")
    columns = ["cash", *scenarios.assets]
    missing = [c for c in columns if c not in weights.columns]
    if missing:
        raise ValueError(f"weights have no column for {missing}; expected {columns}")
    w = weights[columns].to_numpy(dtype=np.float64)
    p, h = scenarios.n_paths, scenarios.horizon
    every = h if mode == "hold" else int(rebalance_every)
    if every < 1:
        raise ValueError(f"rebalance_every={rebalance_every!r} is invalid; expected >= 1")
    growth = np.broadcast_to(scenarios.growth(), (len(w), p, h, len(columns)))
    batch_w = np.repeat(w, p, axis=0)
    costs_model = CostModel(0.0) if mode == "hold" else cost_model
    wealth, costs = rebalance(batch_w, growth.reshape(-1, h, len(columns)), every, costs_model)
    wealth = wealth.reshape(len(w), p, h)
    costs = costs.reshape(len(w), p)
    rows, paths = {}, {}
    for k, name in enumerate(weights.index):
        paths[str(name)] = np.concatenate((np.ones((p, 1)), wealth[k]), axis=1)
        rows[str(name)] = _summary(wealth[k], costs[k], levels, drawdown)
    return ScenarioRisk(pd.DataFrame(rows).T.rename_axis("policy"), paths, mode, drawdown)


def _summary(
    wealth: FloatArray, costs: FloatArray, levels: list[float], drawdown: float
) -> dict[str, float]:
    r = wealth[:, -1] - 1.0
    mdd = _max_drawdowns(wealth)
    out = {"mean": float(r.mean()), "std": float(r.std(ddof=1)) if len(r) > 1 else 0.0}
    for q in (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99):
        out[f"q{round(q * 100):02d}"] = float(np.quantile(r, q))
    for a in levels:
        tag = f"{a * 100:g}".replace(".", "_")
        out[f"VaR_{tag}"] = value_at_risk(r, a)
        out[f"ES_{tag}"] = expected_shortfall(r, a)
    out["p_drawdown"] = float((mdd < -drawdown).mean())
    worst = np.argsort(r, kind="stable")[: max(1, int(np.ceil(0.05 * len(r))))]
    out["worst5_return"] = float(r[worst].mean())
    out["worst5_drawdown"] = float(mdd[worst].mean())
    out["worst_return"] = float(r.min())
    out["mean_cost"] = float(costs.mean())
    return out
