"""Transaction costs: the exact transaction remainder factor of Jiang, Xu & Liang (2017).

Trading at the close of ``t`` moves the portfolio from the drifted weights ``w'`` to the
target weights ``w`` (both of shape ``(n_assets + 1,)``, index 0 = cash). Costs shrink
wealth ``W -> mu * W``; ``mu`` is the *transaction remainder factor*.

Cash balance of the rebalance, per unit of pre-trade wealth, with a sell rate ``s_i``
(a sale of ``x`` yields ``(1 - s_i) x`` cash), a buy rate ``p_i`` (paying ``x`` cash buys
``(1 - p_i) x`` of the asset) and an optional market-impact charge ``I`` paid in cash::

    mu w_0 = w'_0 + sum_i (1 - s_i) (w'_i - mu w_i)^+ - sum_i (mu w_i - w'_i)^+ / (1 - p_i) - I

Using ``(mu w_i - w'_i)^+ = (w'_i - mu w_i)^+ + mu w_i - w'_i`` this is the fixed point

    mu = [A - sum_i k_i (w'_i - mu w_i)^+ - I(mu)] / D,
    A = w'_0 + sum_i w'_i / (1 - p_i),  D = w_0 + sum_i w_i / (1 - p_i),
    k_i = (s_i + p_i - s_i p_i) / (1 - p_i),

which for ``s_i = p_i = c`` (multiply through by ``1 - c``) is exactly equation (14) of
Jiang et al.: ``mu = [1 - c w'_0 - (2c - c^2) sum_i (w'_i - mu w_i)^+] / (1 - c w_0)``.
The first-order approximation for small ``c`` is ``mu ~= 1 - c sum_{i>=1} |w'_i - w_i|``.

Without market impact the right-hand side is piecewise linear and concave in ``mu``, so
:meth:`CostModel.remainder` solves it *exactly* by Newton's method on the pieces, started
at ``mu = 1`` (it converges monotonically from the right, usually in two iterations).
:meth:`CostModel.remainder_reference` is the plain fixed-point iteration of Jiang et al.
(``mu^0 = 1 - 2c + c^2``), kept as the reference the fast path is tested against.

Market impact (Boyd et al. 2017, section 2.3, without the volume term): trading a fraction
``z_i = mu w_i - w'_i`` of wealth costs ``b * sigma_i * |z_i|^{3/2}``, where ``sigma_i`` is
the asset's daily volatility known at ``t``. With impact the equation is solved by the
fixed-point iteration to ``tol``.

References
----------
Jiang, Z., Xu, D., Liang, J. (2017). A Deep Reinforcement Learning Framework for the
Financial Portfolio Management Problem. arXiv:1706.10059, section 2.3.
Boyd, S. et al. (2017). Multi-Period Trading via Convex Optimization. Foundations and
Trends in Optimization 3(1), section 2.3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from allocgym._typing import FloatArray

__all__ = ["CostModel"]

_BPS = 1e-4
MAX_BPS = 5000.0  # rates of 50 % or more per unit traded are refused


def _rates(value: float | npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array of per-asset bps; got {value!r}")
    if not np.isfinite(arr).all() or (arr < 0).any() or (arr >= MAX_BPS).any():
        raise ValueError(
            f"{name}={value!r} is out of range; expected 0 <= bps < {MAX_BPS:.0f} "
            "(realistic costs below 50 %)"
        )
    return arr * _BPS


@dataclass(frozen=True)
class _Coefficients:
    inv: FloatArray  # (n+1,): 1 for cash, 1 / (1 - p_i) for asset i
    k: FloatArray  # (n+1,): 0 for cash, k_i for asset i
    c_max: float


@dataclass(frozen=True, eq=False)
class CostModel:
    """Proportional costs (bps, scalar or per asset, buy and sell) and optional impact.

    Parameters
    ----------
    cost_bps : float or array of shape (n_assets,), default 10.0
        Buy rate in basis points per unit traded (and the sell rate unless ``sell_bps``
        is given). 10 bps = 0.1 %.
    sell_bps : float or array of shape (n_assets,), optional
        Sell rate in basis points; defaults to ``cost_bps``.
    impact : float, default 0.0
        Market-impact coefficient ``b``: trading ``z_i`` (fraction of wealth) costs
        ``b * sigma_i * |z_i|^{3/2}``. Needs ``sigma`` at call time when positive.
    tol : float, default 1e-13
        Convergence tolerance of the fixed-point iterations (impact, reference path).
    max_iter : int, default 200

    Examples
    --------
    >>> cm = CostModel(10.0)
    >>> mu, cost = cm.remainder([1.0, 0.0], [0.0, 1.0])  # all cash into one asset
    >>> round(mu, 12)   # buying with 10 bps: 1 - 0.001
    0.999
    """

    cost_bps: float | npt.ArrayLike = 10.0
    sell_bps: float | npt.ArrayLike | None = None
    impact: float = 0.0
    tol: float = 1e-13
    max_iter: int = 200
    buy_rate: FloatArray = field(init=False, repr=False)
    sell_rate: FloatArray = field(init=False, repr=False)
    _cache: dict[int, _Coefficients] = field(init=False, repr=False)
    _zero: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        buy = _rates(self.cost_bps, "cost_bps")
        sell = buy if self.sell_bps is None else _rates(self.sell_bps, "sell_bps")
        if not (np.isfinite(self.impact) and self.impact >= 0):
            raise ValueError(f"impact={self.impact!r} is invalid; expected a finite value >= 0")
        if not (0 < self.tol < 1e-3):
            raise ValueError(f"tol={self.tol!r} is invalid; expected 0 < tol < 1e-3")
        object.__setattr__(self, "buy_rate", buy)
        object.__setattr__(self, "sell_rate", sell)
        object.__setattr__(self, "_cache", {})
        object.__setattr__(self, "_zero", not (buy.any() or sell.any() or self.impact))

    @classmethod
    def coerce(cls, cost: float | npt.ArrayLike | CostModel) -> CostModel:
        """A :class:`CostModel` from bps (scalar or per asset) or an existing model."""
        return cost if isinstance(cost, CostModel) else cls(cost)

    @property
    def is_zero(self) -> bool:
        """True when every rate and the impact coefficient are zero."""
        return self._zero

    def coefficients(self, n_assets: int) -> tuple[FloatArray, FloatArray]:
        """``(inv, k)`` of shape (n_assets + 1,) for the fixed point (index 0 = cash).

        ``inv = [1, 1/(1-p_1), ...]`` and ``k = [0, k_1, ...]`` as in the module docstring.
        """
        co = self._coefficients(n_assets)
        return co.inv, co.k

    def _coefficients(self, n_assets: int) -> _Coefficients:
        co = self._cache.get(n_assets)
        if co is None:
            for name, rate in (("cost_bps", self.buy_rate), ("sell_bps", self.sell_rate)):
                if rate.ndim == 1 and rate.shape[0] != n_assets:
                    raise ValueError(
                        f"{name} has {rate.shape[0]} per-asset rates; the market has "
                        f"{n_assets} assets"
                    )
            p = np.broadcast_to(self.buy_rate, (n_assets,))
            s = np.broadcast_to(self.sell_rate, (n_assets,))
            inv = np.concatenate(([1.0], 1.0 / (1.0 - p)))
            k = np.concatenate(([0.0], (s + p - s * p) / (1.0 - p)))
            c_max = float(max(p.max(initial=0.0), s.max(initial=0.0)))
            co = _Coefficients(inv, k, c_max)
            self._cache[n_assets] = co
        return co

    # ------------------------------------------------------------------ single portfolio
    def remainder(
        self,
        w_before: npt.ArrayLike,
        w_after: npt.ArrayLike,
        sigma: FloatArray | None = None,
    ) -> tuple[float, float]:
        """Transaction remainder factor of one rebalance.

        Parameters
        ----------
        w_before : array of shape (n_assets + 1,)
            Drifted weights before the trade (index 0 = cash), summing to 1.
        w_after : array of shape (n_assets + 1,)
            Target weights after the trade, summing to 1.
        sigma : array of shape (n_assets,), optional
            Daily volatility of each asset known at the trade; needed when ``impact > 0``.

        Returns
        -------
        mu : float
            Wealth after the trade per unit of wealth before it, in ``(0, 1]``.
        cost : float
            ``1 - mu``: the cost as a fraction of pre-trade wealth.
        """
        pair = np.array((w_before, w_after), dtype=np.float64)
        if pair.ndim != 2:
            raise ValueError(
                f"w_before and w_after must be 1-D of the same length (n_assets + 1); got "
                f"shapes {np.shape(w_before)} and {np.shape(w_after)}"
            )
        mu = self.solve(pair, sigma)
        return mu, 1.0 - mu

    def solve(
        self,
        pair: FloatArray,
        sigma: FloatArray | None = None,
        trade: FloatArray | None = None,
    ) -> float | FloatArray:
        """``mu`` for ``pair = [w_before, w_after]``; float64, no checks.

        The low-level entry point the environments call on their buffers: ``pair`` has
        shape (2, n_assets + 1) for one portfolio (returns a float) or (2, B, n_assets + 1)
        for a batch (returns an array of shape (B,)); ``sigma`` has shape (n_assets,) or
        (B, n_assets). If ``trade`` (the shape of ``w_before``) is given it receives
        ``mu * w_after - w_before``, the trade as a fraction of pre-trade wealth.
        """
        n1 = pair.shape[-1]
        co = self._cache.get(n1 - 1) or self._coefficients(n1 - 1)
        diff = np.empty(pair.shape[1:]) if trade is None else trade
        single = pair.ndim == 2
        if not (self._zero or self.impact):  # the hot path first
            return _newton_row(pair, co, diff) if single else _newton_batch(pair, co, diff)
        wd, wt = pair[0], pair[1]
        if self._zero:  # exactly 1, whatever the rounding of the weights' sums
            np.subtract(wt, wd, out=diff)
            return 1.0 if single else np.ones(pair.shape[1])
        mu = self._fixed_point(wd, wt, co, self._impact_sigma(sigma, wd.shape))
        np.multiply(wt, mu if single else mu[:, None], out=diff)
        diff -= wd
        return mu

    def _impact_sigma(self, sigma: FloatArray | None, shape: tuple[int, ...]) -> FloatArray:
        """``sigma`` with a zero column for cash prepended (shape ``shape``)."""
        if sigma is None:
            raise ValueError(
                f"impact={self.impact} needs sigma (daily volatility per asset, shape "
                f"{(*shape[:-1], shape[-1] - 1)}); got None"
            )
        sig = np.zeros(shape)
        sig[..., 1:] = np.nan_to_num(np.asarray(sigma, dtype=np.float64))
        return sig

    def _fixed_point(
        self, wd: FloatArray, wt: FloatArray, co: _Coefficients, sig: FloatArray | None
    ) -> float | FloatArray:
        """The fixed-point iteration of Jiang et al., one row or a batch of rows."""
        a = wd.dot(co.inv)
        d = wt.dot(co.inv)
        mu = np.full(np.shape(a), 1.0 - 2.0 * co.c_max + co.c_max**2)
        change = np.inf
        for _ in range(self.max_iter):
            x = wd - mu[..., None] * wt  # w' - mu w: positive where the asset is sold
            new = a - np.maximum(x, 0.0).dot(co.k)
            if sig is not None:
                new = new - self.impact * (np.abs(x) ** 1.5 * sig).sum(axis=-1)
            new = new / d
            change, mu = float(np.abs(new - mu).max(initial=0.0)), new
            if change <= self.tol:
                return mu if mu.ndim else float(mu)
        raise RuntimeError(
            f"the transaction remainder factor did not converge in max_iter={self.max_iter} "
            f"iterations (last change {change:.2e}); raise max_iter or lower impact"
        )

    def remainder_reference(
        self, w_before: npt.ArrayLike, w_after: npt.ArrayLike, sigma: FloatArray | None = None
    ) -> float:
        """Plain fixed-point iteration (Jiang et al. 2017), ``mu^0 = 1 - 2c + c^2``.

        The reference :meth:`remainder` is tested against; slower, same answer.
        """
        wd = np.asarray(w_before, dtype=np.float64)
        wt = np.asarray(w_after, dtype=np.float64)
        n = wd.shape[0] - 1
        sig = self._impact_sigma(sigma, wd.shape) if self.impact else None
        return self._fixed_point(wd, wt, self._coefficients(n), sig)

    # ------------------------------------------------------------------ batch
    def remainder_batch(
        self,
        w_before: FloatArray,
        w_after: FloatArray,
        sigma: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """:meth:`remainder` for ``B`` portfolios at once.

        Parameters
        ----------
        w_before, w_after : arrays of shape (B, n_assets + 1)
        sigma : array of shape (B, n_assets), optional

        Returns
        -------
        mu, cost : arrays of shape (B,)
        """
        wd = np.asarray(w_before, dtype=np.float64)
        wt = np.asarray(w_after, dtype=np.float64)
        mu = self.solve_batch(wd, wt, sigma)
        return mu, 1.0 - mu

    def solve_batch(
        self,
        w_before: FloatArray,
        w_after: FloatArray,
        sigma: FloatArray | None = None,
        trade: FloatArray | None = None,
    ) -> FloatArray:
        """:meth:`solve` for float64 arrays of shape (B, n_assets + 1); ``mu`` of shape (B,)."""
        return self.solve(np.stack((w_before, w_after)), sigma, trade)


def _newton_row(pair: FloatArray, co: _Coefficients, diff: FloatArray) -> float:
    """Exact ``mu`` of one rebalance without impact: Newton on the piecewise-linear map.

    With the sell set ``S`` fixed, the fixed point is linear:
    ``mu = (A - sum_{i in S} k_i w'_i) / (D - sum_{i in S} k_i w_i)``. Started at
    ``mu = 1``, each step solves the current piece exactly; it stops when the sell set
    (``w'_i > mu w_i``) no longer changes (hot path of ``env.step``: ~12 tiny numpy calls).
    """
    wd, wt = pair[0], pair[1]
    a, d = pair.dot(co.inv).tolist()
    sell = wd > wt
    mu = 1.0
    for _ in range(2 * pair.shape[1] + 2):
        s_d, s_t = pair.dot(co.k * sell).tolist()
        mu = (a - s_d) / (d - s_t)
        np.multiply(wt, mu, out=diff)
        new_sell = wd > diff
        diff -= wd
        if not np.count_nonzero(new_sell != sell):
            break
        sell = new_sell
    return mu


def _newton_batch(pair: FloatArray, co: _Coefficients, diff: FloatArray) -> FloatArray:
    """:func:`_newton_row` for every portfolio of a batch, iterating only rows that changed."""
    wd, wt = pair[0], pair[1]
    ones = np.ones(pair.shape[2])
    a, d = wd.dot(co.inv), wt.dot(co.inv)  # 2-D dots: BLAS (a 3-D dot is not)
    kwd, kwt = wd * co.k, wt * co.k
    sell = wd > wt
    mu = (a - (kwd * sell).dot(ones)) / (d - (kwt * sell).dot(ones))
    np.multiply(wt, mu[:, None], out=diff)
    diff -= wd
    new_sell = diff < 0.0
    changed = new_sell != sell
    if not changed.any():  # the common case: one Newton step was exact everywhere
        return mu
    rows = np.flatnonzero(changed.any(axis=1))
    for _ in range(2 * pair.shape[2] + 2):
        if not rows.size:
            break
        s = new_sell[rows]
        m = (a[rows] - (kwd[rows] * s).dot(ones)) / (d[rows] - (kwt[rows] * s).dot(ones))
        dr = wt[rows] * m[:, None] - wd[rows]
        mu[rows], diff[rows] = m, dr
        ns = dr < 0.0
        new_sell[rows] = ns
        rows = rows[(ns != s).any(axis=1)]
    return mu
