"""Wealth paths of fixed-weight portfolios through the environment's accounting step.

Both the crisis replay and the Monte Carlo scenarios hold a policy's weights over a
path of daily returns; each path is one row of a batch for
:meth:`allocgym.envs.accounting.Accounting.settle`, the function the environment and the
backtester step with, so drift and costs are exactly theirs.
"""

from __future__ import annotations

import numpy as np

from allocgym._typing import FloatArray
from allocgym.envs.accounting import Accounting
from allocgym.envs.costs import CostModel

__all__ = ["daily_returns", "hold", "rebalance"]


def _flat_table(growth: FloatArray) -> FloatArray:
    """Growth of B paths as one table for ``Accounting``: shape (B (H + 1) + 1, n + 1).

    Path b's day h (1..H) is row ``b (H + 1) + h``; row ``b (H + 1)`` (its decision day)
    and the last row (the padding of a period cut short) are ones.
    """
    b, h, n1 = growth.shape
    table = np.ones((b, h + 1, n1))
    table[:, 1:] = growth
    return np.concatenate((table.reshape(b * (h + 1), n1), np.ones((1, n1))))


def rebalance(
    weights: FloatArray,
    growth: FloatArray,
    every: int,
    cost_model: CostModel | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Wealth of portfolios that hold ``weights`` and trade back to them every ``every`` days.

    The portfolios hold ``weights`` at the start (no trade on day 0); at the close of
    days ``every, 2 every, ... < H`` they trade from the drifted weights back to
    ``weights``, paying the exact cost of ``cost_model``. ``every >= H`` is buy and hold.

    Parameters
    ----------
    weights : ndarray, shape (B, n_assets + 1)
        Target weights (index 0 = cash), summing to 1.
    growth : ndarray, shape (B, H, n_assets + 1)
        ``1 + return`` of each day of each path (column 0: cash).
    every : int
        Days between trades.
    cost_model : CostModel, optional
        Default: 10 bps.

    Returns
    -------
    wealth : ndarray, shape (B, H)
        Wealth after each day, from 1 at the start.
    costs : ndarray, shape (B,)
        Total cost paid along each path, as a fraction of the initial wealth.
    """
    b, h, _ = growth.shape
    k = max(1, min(int(every), h))
    acc = Accounting(
        CostModel(10.0) if cost_model is None else cost_model, _flat_table(growth), None, k
    )
    base = np.arange(b) * (h + 1)
    target = np.asarray(weights, dtype=np.float64)
    held = target.copy()
    trade = np.empty_like(target)
    wealth = np.empty((b, h))
    level = np.ones(b)
    costs = np.zeros(b)
    for start in range(0, h, k):
        stop = min(start + k, h)
        pair = np.stack((held, target))
        mu, gross, _, values = acc.settle(pair, base + start, base + stop, held, trade, paths=k > 1)
        costs += level * (1.0 - mu)
        if values is None:
            wealth[:, start] = level * mu * gross
        else:
            wealth[:, start:stop] = (level * mu)[:, None] * values[:, : stop - start].sum(axis=-1)
        level = wealth[:, stop - 1]
    return wealth, costs


def hold(weights: FloatArray, growth: FloatArray) -> FloatArray:
    """Wealth paths, shape (B, H), of ``weights`` bought and held (no trade, no cost).

    :func:`rebalance` with one period: the trade from ``weights`` to themselves has a
    remainder factor of exactly 1.
    """
    wealth, _ = rebalance(weights, growth, growth.shape[1], CostModel(0.0))
    return wealth


def daily_returns(wealth: FloatArray) -> FloatArray:
    """Daily returns of wealth paths of shape (B, H) that start from 1."""
    prev = np.concatenate((np.ones((len(wealth), 1)), wealth[:, :-1]), axis=1)
    return wealth / prev - 1.0
