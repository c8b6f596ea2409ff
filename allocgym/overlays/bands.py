"""Tolerance bands: rebalance only what has drifted out of its band around the target.

With drifted weights ``w`` and the wrapped policy's latest target ``w*`` (index 0 =
cash, which is a position like any other), entry ``i`` is out of its band when

    |w_i - w*_i| > band            (absolute band, in weight points), or
    |w_i - w*_i| > relative * w*_i (relative band, a fraction of the target weight).

``scope="book"``: when any entry is out, the whole book trades to ``w*``.
``scope="asset"``: the entries out of band ``B`` trade to their target; the others keep
their drifted weights scaled by one common factor so that the weights sum to 1,
``w_j <- w_j (1 - sum_{i in B} w*_i) / sum_{j not in B} w_j``: they absorb the cash the
trades free or need in proportion to their size (the smallest trades that keep the
portfolio fully allocated and long only). Nothing out of band: hold, no cost.

Bands are the classical alternative to cost-aware rebalancing (Masters 2003; Leland
1999): the no-trade region is a fixed box instead of one derived from the cost and the
utility.

References
----------
Leland, H. E. (1999). Optimal portfolio management with transactions costs and capital
gains taxes. Haas School of Business working paper.
Masters, S. J. (2003). Rebalancing. *Journal of Portfolio Management* 29(3).
"""

from __future__ import annotations

import numpy as np

from allocgym._typing import BoolArray, FloatArray
from allocgym.overlays._base import Overlay, check_unit, hold
from allocgym.policy import Policy, PolicyState

__all__ = ["SCOPES", "ToleranceBands", "band_trade"]

SCOPES = ("asset", "book")


def band_trade(
    weights: FloatArray,
    target: FloatArray,
    band: float | None,
    relative: float | None,
    scope: str = "asset",
) -> tuple[FloatArray, BoolArray]:
    """The weights after applying the bands, and which entries were out of band.

    Parameters
    ----------
    weights, target : arrays of shape (n_assets + 1,)
        Drifted and target weights (index 0 = cash), each summing to 1.

    Returns
    -------
    new : ndarray of shape (n_assets + 1,)
        ``weights`` itself (a copy) when nothing is out of band.
    out : ndarray of bool, shape (n_assets + 1,)
    """
    drift = np.abs(weights - target)
    out = np.zeros(weights.shape, dtype=bool)
    if band is not None:
        out |= drift > band
    if relative is not None:
        out |= drift > relative * np.abs(target)
    if not out.any():
        return weights.copy(), out
    rest = weights[~out].sum()
    if scope == "book" or out.all() or not rest > 0:
        return target.copy(), out
    new = weights.copy()
    new[out] = target[out]
    new[~out] *= (1.0 - target[out].sum()) / rest
    return new, out


class ToleranceBands(Overlay):
    """Rebalance an asset (or the whole book) only when it drifts out of its band.

    Parameters
    ----------
    policy : Policy
        The wrapped policy.
    band : float or None, default 0.05
        Absolute band in weight points, in (0, 1) (0.05: five points); None: off.
    relative : float or None, default None
        Relative band as a fraction of the target weight, in (0, 1); None: off.
        At least one of ``band`` and ``relative`` must be set.
    scope : {"asset", "book"}, default "asset"
        Trade the entries out of band, or the whole book when any entry is out.
    monitor : bool, default True
        Check the bands at every close against the latest target; False: only when the
        wrapped policy decides.

    Attributes
    ----------
    n_rebalances_ : int
        Closes with a trade.
    n_entries_traded_ : int
        Entries (cash or assets) traded because they were out of band, over all trades.
    """

    label = "bands"

    def __init__(
        self,
        policy: Policy,
        *,
        band: float | None = 0.05,
        relative: float | None = None,
        scope: str = "asset",
        monitor: bool = True,
    ) -> None:
        self.band = check_unit("band", band, none=True)
        self.relative = check_unit("relative", relative, none=True)
        if self.band is None and self.relative is None:
            raise ValueError(
                "band=None and relative=None switch every band off; expected at least one "
                "of them in (0, 1)"
            )
        if scope not in SCOPES:
            raise ValueError(f"scope={scope!r} is invalid; expected one of {list(SCOPES)}")
        if not isinstance(monitor, bool | np.bool_):
            raise ValueError(f"monitor={monitor!r} is invalid; expected True or False")
        self.scope = scope
        self.monitor = bool(monitor)
        super().__init__(policy)

    def _reset(self) -> None:
        self.n_rebalances_ = 0
        self.n_entries_traded_ = 0

    def _decide(self, state: PolicyState, latest: FloatArray, decided: bool) -> FloatArray:
        if not (decided or self.monitor):
            return hold(state)
        weights = np.asarray(state.weights, dtype=np.float64)
        new, out = band_trade(weights, latest, self.band, self.relative, self.scope)
        if out.any():
            self.n_rebalances_ += 1
            self.n_entries_traded_ += int(out.sum())
        return new
