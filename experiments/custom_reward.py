"""A user-defined reward, plugged in without touching allocgym.

Use it from a config or the API by ``"module:function"`` (from the repository root,
where ``experiments`` is importable) or by file path::

    env:
      reward: "experiments.custom_reward:calm_growth"      # or
      reward: "experiments/custom_reward.py:calm_growth"

    gymnasium.make("allocgym/Portfolio-v0", reward="experiments.custom_reward:calm_growth")

A reward is any callable ``f(record) -> float`` taking the environment's
:class:`allocgym.envs.StepRecord` (net/gross return, cost, turnover, weights before
and after the trade, wealth, peak, drawdown). A class with ``__call__`` and
``reset()`` can keep state across steps (see allocgym.envs.rewards for examples).
"""

from __future__ import annotations

import math

DRAWDOWN_PENALTY = 0.5
CONCENTRATION_PENALTY = 0.0005


def calm_growth(record) -> float:
    """Log growth net of costs, minus a penalty on new drawdown and on concentration.

    ``r = log(1 + net) - 0.5 * drawdown * max(-net, 0) - 0.0005 * sum_i w_i^2``: losses
    taken while already under water hurt more, and piling into one asset costs a little.
    """
    if record.net_return <= -1.0:
        return -10.0
    log_growth = math.log1p(record.net_return)
    deepening = record.drawdown * max(-record.net_return, 0.0)
    assets = record.weights[1:]
    concentration = float((assets * assets).sum())
    return log_growth - DRAWDOWN_PENALTY * deepening - CONCENTRATION_PENALTY * concentration
