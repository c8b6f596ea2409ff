"""The accounting step shared by :class:`PortfolioEnv` and :class:`PortfolioVecEnv`.

One rebalance-and-hold period (SPEC invariant 2), for one portfolio or a batch of ``B``:

1. at the close of ``t`` the portfolio moves from the drifted weights ``w'_t`` to the
   target ``w_t``; costs take wealth to ``mu W_t`` (exact transaction remainder factor
   ``mu`` of :class:`~allocgym.envs.CostModel`, market impact with the volatility known
   at ``t``);
2. it is held to ``t1 <= t + k``: asset ``i`` earns ``1 + r_{d,i}`` on each day ``d`` in
   ``t + 1 .. t1`` (cash earns ``1 + rf_d``), so the values per unit of post-trade wealth
   are ``V_d = w_t * prod_{u=t+1}^{d} (1 + r_u)``;
3. the gross return of the period is ``g = sum_i V_{t1,i}``, wealth becomes
   ``W_{t1} = mu g W_t`` and the new drifted weights are ``w'_{t1} = V_{t1} / g``
   (``w'_{t1} = w_t`` when ``g <= 0``: a wiped-out portfolio has nothing to drift).

Days after ``t1`` (a period cut short by the end of the episode) read the all-ones padding
row at the end of ``growth``, so they change nothing and never read returns past ``t1``.

The step is rank-polymorphic: weights of shape ``(n_assets + 1,)`` with integer dates
(the single env) or ``(B, n_assets + 1)`` with integer arrays of shape ``(B,)`` (the
vectorised env). Both envs call the same :meth:`Accounting.settle`, so portfolio ``b`` of
a batch follows exactly the path of a single env with the same dates and targets.

References
----------
Jiang, Z., Xu, D., Liang, J. (2017). A Deep Reinforcement Learning Framework for the
Financial Portfolio Management Problem. arXiv:1706.10059, section 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from allocgym._typing import FloatArray
from allocgym.envs.costs import CostModel

__all__ = ["Accounting"]

_TINY = 1e-300  # divisor floor for a wiped-out batch row (its weights are then replaced)


@dataclass(frozen=True, eq=False)
class Accounting:
    """Costs, returns and drift of a rebalance-and-hold period (see the module docstring).

    Parameters
    ----------
    cost_model : CostModel
    growth : ndarray, shape (n_dates + 1, n_assets + 1)
        ``1 + return`` of each day (column 0: ``1 + rf``; unavailable assets: 1); the last
        row is all ones (the padding of a period cut short).
    sigma : ndarray of shape (n_dates, n_assets) or None
        Causal daily volatility for market impact (row ``t`` uses data dated ``<= t``).
    k : int
        Trading days between decisions (``rebalance_every``).
    """

    cost_model: CostModel
    growth: FloatArray
    sigma: FloatArray | None
    k: int
    _ones: FloatArray = field(init=False, repr=False)
    _asset_ones: FloatArray = field(init=False, repr=False)
    _offsets: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n1 = self.growth.shape[1]
        asset_ones = np.ones(n1)
        asset_ones[0] = 0.0
        object.__setattr__(self, "_ones", np.ones(n1))
        object.__setattr__(self, "_asset_ones", asset_ones)
        object.__setattr__(self, "_offsets", np.arange(1, self.k + 1))

    def settle(
        self,
        pair: FloatArray,
        t: Any,
        t1: Any,
        out: FloatArray,
        trade: FloatArray,
        paths: bool = False,
    ) -> tuple[Any, Any, Any, FloatArray | None]:
        """Trade ``pair[0] -> pair[1]`` at the close of ``t`` and hold it to ``t1``.

        Parameters
        ----------
        pair : ndarray of shape (2, n_assets + 1) or (2, B, n_assets + 1)
            ``pair[0]``: the drifted weights held at ``t``; ``pair[1]``: the validated
            target weights (index 0 = cash).
        t, t1 : int or ndarray of int, shape (B,)
            Decision index and end of the holding period, ``t < t1 <= t + k``.
        out : ndarray, the shape of ``pair[0]``
            Receives the drifted weights at ``t1`` (may be ``pair[0]`` itself).
        trade : ndarray, the shape of ``pair[0]``
            Receives ``|mu w_t - w'_t|``, the traded amounts per unit of pre-trade wealth.
        paths : bool, default False
            Also return the daily values ``V_d`` (with ``k > 1``).

        Returns
        -------
        mu : float or ndarray (B,)
            Transaction remainder factor; the cost is ``1 - mu``.
        gross : float or ndarray (B,)
            ``g``: growth of the post-trade wealth over the period.
        turnover : float or ndarray (B,)
            ``sum_{i>=1} |mu w_{t,i} - w'_{t,i}|``.
        values : ndarray of shape (k, n_assets + 1) or (B, k, n_assets + 1), or None
            ``V_d`` for ``d = t + 1 .. t + k`` (rows after ``t1`` repeat row ``t1``);
            None unless ``paths`` and ``k > 1``.
        """
        sigma = None if self.sigma is None else self.sigma[t]
        mu = self.cost_model.solve(pair, sigma, trade)
        target = pair[1]
        np.abs(trade, out=trade)
        turnover = trade.dot(self._asset_ones)
        values = None
        batch = out.ndim == 2
        if self.k == 1:  # np.take: 2x faster than fancy indexing of a batch
            np.multiply(
                target, np.take(self.growth, t1, axis=0) if batch else self.growth[t1], out=out
            )
        else:
            days = np.add.outer(t, self._offsets)  # (k,) or (B, k)
            past = days > np.expand_dims(t1, -1)
            days[past] = len(self.growth) - 1  # the all-ones padding row
            factors = np.take(self.growth, days, axis=0)  # (k, n + 1) or (B, k, n + 1)
            if paths:
                values = np.expand_dims(target, -2) * np.cumprod(factors, axis=-2)
                out[...] = values[..., -1, :]
            else:
                np.multiply(target, factors.prod(axis=-2), out=out)
        gross = out.dot(self._ones)
        # a wiped-out portfolio (gross <= 0) has no weights to drift to: it keeps its
        # target weights (finite, summing to 1) rather than 0/0
        if batch:
            out *= (1.0 / np.maximum(gross, _TINY))[:, None]
            ruined = gross <= 0.0
            if ruined.any():
                out[ruined] = target[ruined]
        elif gross > 0.0:
            out *= 1.0 / gross
        else:
            out[...] = target
        return mu, gross, turnover, values
