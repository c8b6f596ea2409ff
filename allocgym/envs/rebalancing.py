"""Action maps that trade from the weights held, so that low turnover is reachable by design.

With :class:`~allocgym.envs.SimplexMap` an agent names a whole new portfolio every step,
and a policy whose outputs jitter trades every day. The maps here read the portfolio held
(the drifted, pre-trade weights ``h``, index 0 = cash) and make *not trading* an action
the agent can reach:

* :class:`BandMap`: a no-trade band and partial rebalancing around any inner map's target
  (names ``"band"`` and ``"partial"`` in :func:`~allocgym.envs.make_action_map`);
* :class:`ResidualMap`: a bounded tilt around a reference portfolio, so that a zero action
  is the reference: 1/N (``"residual"``), the weights held (``"residual_current"``: a zero
  action trades nothing), a baseline walked forward point in time (``"residual"`` with
  ``reference="min_variance"`` or any baseline name: :class:`PolicyReference`) or any
  point-in-time :class:`Reference`.

Both maps have ``needs_state = True``: the environments call them with the weights held
and the decision index (see :class:`~allocgym.envs.ActionMap`). Both first move the
weight of an asset that does not trade at ``t`` to cash, the environments' rule; that
forced sale is not the agent's choice and is not counted against a band.

References
----------
Davis, M. H. A., Norman, A. R. (1990). Portfolio selection with transaction costs.
Mathematics of Operations Research 15(4), 676-713 (the no-trade region).
Gârleanu, N., Pedersen, L. H. (2013). Dynamic trading with predictable returns and
transaction costs. Journal of Finance 68(6), 2309-2340 (trade partially toward the aim).
Silver, T., Allen, K., Tenenbaum, J., Kaelbling, L. (2018). Residual policy learning.
arXiv:1812.06298.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
from gymnasium import spaces

from allocgym._typing import FloatArray
from allocgym.data import MarketData
from allocgym.envs._action_base import (
    ActionMap,
    bind_action_map,
    check_action,
    check_batch,
    check_number,
    extend_action_map,
    needs_state,
    sell_untradable,
)
from allocgym.envs.reference import PolicyReference, reference_from_spec
from allocgym.exceptions import ConfigError
from allocgym.predictors.panel import FeaturePanel

__all__ = [
    "BandMap",
    "CurrentReference",
    "EqualReference",
    "PolicyReference",
    "Reference",
    "ResidualMap",
]

_TINY = 1e-300  # divisor floor; the quotient is then discarded or multiplies zeros


def _no_state(owner: object) -> TypeError:
    return TypeError(
        f"{owner!r} needs the weights held: call to_weights(action, tradable, out, current, t) "
        "or to_weights_batch(actions, tradable, current, t) (see allocgym.envs.needs_state)"
    )


def _check_current(current: Any, shape: tuple[int, ...], owner: object) -> FloatArray:
    if current is None:
        raise _no_state(owner)
    c = np.asarray(current, dtype=np.float64)  # no copy for the env's float64 weights
    if c.shape != shape:
        raise ValueError(f"current weights have shape {c.shape}; expected {shape} (index 0 = cash)")
    return c


class BandMap:
    """No-trade band and partial rebalancing around the target of an inner map.

    With ``h`` the weights held (untradable assets already sold to cash), ``g`` the inner
    map's target for the action, ``d = g - h`` and ``L1 = sum_{i>=1} |d_i|`` (the asset
    turnover the env reports; cash is excluded because trading it costs nothing), the
    executed target is::

        w = h + s d,    s = fraction * max(0, 1 - band / L1)

    Nothing is traded while ``L1 <= band``; beyond it the traded asset turnover (before
    costs) is ``fraction * (L1 - band) <= L1 - band``. As ``0 <= s <= 1``, ``w`` is a convex
    combination of ``h`` and ``g``: long-only targets stay on the simplex and long/short
    ones within the gross leverage cap. ``band = 0`` is partial rebalancing, a fixed
    fraction of the way to the target each step (Gârleanu & Pedersen 2013); ``fraction =
    1`` is the pure band, a no-trade region in the L1 norm around the target (Davis &
    Norman 1990); ``band = 0, fraction = 1`` is the inner map itself.

    Parameters
    ----------
    inner : ActionMap
        Gives the target, the action space and ``long_only`` / ``max_leverage``; e.g.
        ``SimplexMap()`` (its zero action, equal weight, then only nudges the portfolio
        toward 1/N).
    band : float, default 0.05
        Asset turnover up to which nothing trades; ``0 <= band <= inner.max_leverage``.
    fraction : float, default 1.0
        Part of the move beyond the band traded per step; ``0 < fraction <= 1``.

    Examples
    --------
    >>> from allocgym.envs import BandMap, SimplexMap
    >>> m = BandMap(SimplexMap(), band=0.1)
    >>> held = np.array([0.5, 0.5, 0.0])
    >>> m.to_weights(np.zeros(3), np.ones(3), np.empty(3), held, 0)  # L1 = 0.5: s = 0.8
    array([0.36666667, 0.36666667, 0.26666667])
    """

    needs_state = True

    def __init__(self, inner: ActionMap, band: float = 0.05, fraction: float = 1.0) -> None:
        if not isinstance(inner, ActionMap):
            raise TypeError(
                f"inner must be an ActionMap such as SimplexMap(); got {type(inner).__name__}"
            )
        self.inner = inner
        self.long_only = bool(inner.long_only)
        self.max_leverage = float(inner.max_leverage)
        self.band = check_number("band", band, 0.0, self.max_leverage, low_open=False)
        self.fraction = check_number("fraction", fraction, 0.0, 1.0, low_open=True)
        self._inner_state = needs_state(inner)
        self._cache: dict[int, tuple[FloatArray, ...]] = {}

    def __repr__(self) -> str:
        return f"BandMap({self.inner!r}, band={self.band}, fraction={self.fraction})"

    def bind(self, market: MarketData, features: FeaturePanel | None = None) -> BandMap:
        """This map around the inner map bound to the env's market (itself when the inner
        map has nothing to bind: see :func:`~allocgym.envs.bind_action_map`)."""
        inner = bind_action_map(self.inner, market, features)
        return self if inner is self.inner else BandMap(inner, self.band, self.fraction)

    def extend(self, market: MarketData, features: FeaturePanel | None = None) -> BandMap:
        """This map around the inner map extended to ``market`` (:func:`extend_action_map`)."""
        inner = extend_action_map(self.inner, market, features)
        return self if inner is self.inner else BandMap(inner, self.band, self.fraction)

    def _scratch(self, n1: int) -> tuple[FloatArray, ...]:
        """Target, held and temporary buffers, ones and the asset indicator (0 for cash)."""
        c = self._cache.get(n1)
        if c is None:
            assets = np.ones(n1)
            assets[0] = 0.0
            c = (np.empty(n1), np.empty(n1), np.empty(n1), np.ones(n1), assets)
            self._cache[n1] = c
        return c

    def space(self, n_assets: int) -> spaces.Box:
        return self.inner.space(n_assets)

    def to_weights(
        self,
        action: FloatArray,
        tradable: FloatArray,
        out: FloatArray,
        current: FloatArray | None = None,
        t: Any = None,
    ) -> FloatArray:
        """Write the executed target into ``out`` (shape (n_assets + 1,)) and return it.

        ``current``: the weights held before the trade (shape of ``out``); ``t``: the
        decision index, passed on to an inner map that needs it.
        """
        current = _check_current(current, out.shape, self)
        g, held, tmp, ones, assets = self._cache.get(out.shape[0]) or self._scratch(out.shape[0])
        if self._inner_state:
            self.inner.to_weights(action, tradable, g, current, t)
        else:
            self.inner.to_weights(action, tradable, g)
        held = sell_untradable(current, tradable, held, tmp, ones)
        g -= held
        np.abs(g, out=tmp)
        l1 = tmp.dot(assets)
        s = self.fraction * (1.0 - self.band / l1) if l1 > self.band else 0.0
        np.multiply(g, s, out=out)
        out += held  # s = 0: exactly the weights held
        return out

    def to_weights_batch(
        self,
        actions: FloatArray,
        tradable: FloatArray,
        current: FloatArray | None = None,
        t: Any = None,
    ) -> FloatArray:
        """Executed targets of shape (B, n_assets + 1); ``current`` of that shape."""
        current = _check_current(current, tradable.shape, self)
        if self._inner_state:
            d = self.inner.to_weights_batch(actions, tradable, current, t)
        else:
            d = self.inner.to_weights_batch(actions, tradable)
        *_, ones, assets = self._scratch(tradable.shape[1])
        held = np.empty(tradable.shape)
        tmp = np.empty(tradable.shape)
        held = sell_untradable(current, tradable, held, tmp, ones)
        d -= held
        np.abs(d, out=tmp)
        l1 = tmp.dot(assets)
        # equals the single map's branch: <= 0 (then 0) exactly when l1 <= band
        s = np.maximum(1.0 - self.band / np.maximum(l1, _TINY), 0.0)
        s *= self.fraction
        d *= s[:, None]
        d += held
        return d


@runtime_checkable
class Reference(Protocol):
    """The portfolio a :class:`ResidualMap` tilts around, at decision index ``t``.

    Returns long-only weights of shape (n_assets + 1,) (index 0 = cash) summing to 1;
    weight on an asset that does not trade at ``t`` is moved to cash by the map. It must
    be point in time: the weights at ``t`` may depend on data dated ``<= t`` only, e.g.
    a table of a baseline policy's targets computed walking forward, indexed by ``t``
    (the position of the decision date in the env's market). ``current`` (the weights
    held) is read-only; ``weights_batch`` may return a new array or ``current`` itself.
    """

    def weights(
        self, current: FloatArray, tradable: FloatArray, t: Any, out: FloatArray
    ) -> FloatArray:
        """Write the reference for one portfolio into ``out`` and return it."""
        ...

    def weights_batch(self, current: FloatArray, tradable: FloatArray, t: Any) -> FloatArray:
        """References of shape (B, n_assets + 1); ``t`` an int array of shape (B,)."""
        ...


class EqualReference:
    """1/N over the assets that trade at ``t``, no cash (all cash if none trades)."""

    def __repr__(self) -> str:
        return "EqualReference()"

    def weights(
        self, current: FloatArray, tradable: FloatArray, t: Any, out: FloatArray
    ) -> FloatArray:
        out[...] = tradable
        out[0] = 0.0
        n = out.dot(out)  # entries are 0 or 1: the number of tradable assets (dot: fast)
        if n > 0.0:
            out *= 1.0 / n
        else:
            out[0] = 1.0
        return out

    def weights_batch(self, current: FloatArray, tradable: FloatArray, t: Any) -> FloatArray:
        out = np.array(tradable, dtype=np.float64)
        out[:, 0] = 0.0
        n = out.sum(axis=1)
        out *= (1.0 / np.maximum(n, 1.0))[:, None]  # n is a count: >= 1 or 0
        out[:, 0] = n == 0.0
        return out


class CurrentReference:
    """The weights held (drifted, before the trade): a zero action trades nothing."""

    def __repr__(self) -> str:
        return "CurrentReference()"

    def weights(
        self, current: FloatArray, tradable: FloatArray, t: Any, out: FloatArray
    ) -> FloatArray:
        out[...] = current
        return out

    def weights_batch(self, current: FloatArray, tradable: FloatArray, t: Any) -> FloatArray:
        return current


_REFERENCES = {"equal": EqualReference, "current": CurrentReference}


class ResidualMap:
    """A bounded tilt around a reference portfolio: a zero action is the reference.

    The action has one entry per asset, ``Box(-1, 1, (n_assets,))``; cash is the
    balancing item. With ``r`` the reference at ``t`` (untradable assets sold to cash)
    and the tilt ``x_i = scale * clip(a_i, -1, 1)`` on the assets that trade at ``t``
    (0 on the others), for the assets ``i >= 1``::

        b_i = max(0, r_i + min(x_i, 0))        sales: never below zero
        u_i = max(x_i, 0)                      purchases
        R   = max(0, 1 - sum_j b_j)            the reference's cash plus the sales
        w_i = b_i + k u_i,   k = min(1, R / sum_j u_j)
        w_0 = max(0, 1 - sum_{i>=1} w_i)

    Purchases are scaled down together to what ``R`` pays for. Each asset weight stays
    in ``[max(0, r_i - scale), r_i + scale]``, so the asset turnover of a step is at most
    ``scale * sum_i |a_i|``; an asset whose action is 0 keeps its reference weight
    exactly, and ``a = 0`` gives ``w = r`` (assets exactly, cash to rounding). Any
    long-only portfolio ``p`` with ``|p_i - r_i| <= scale`` is reachable in one step
    (``a_i = (p_i - r_i) / scale``). With the weights held as the reference a zero action
    trades nothing; with 1/N the agent learns bounded deviations from the baseline
    (residual policy learning, Silver et al. 2018).

    Parameters
    ----------
    reference : str, mapping or Reference, default "equal"
        ``"equal"``: 1/N over the tradable assets (:class:`EqualReference`);
        ``"current"``: the weights held (:class:`CurrentReference`); a baseline name of
        :data:`~allocgym.baselines.BASELINES` (``"min_variance"``, ``"risk_parity"``,
        ...) or ``{"name": ..., "params": {...}}``: that baseline's portfolio walked
        forward point in time (:class:`PolicyReference`, built when the env binds the
        map to its market: :meth:`bind`); or any point-in-time :class:`Reference`.
    scale : float, default 0.1
        Largest change of one asset's weight; ``0 < scale <= 1``.
    """

    long_only = True
    max_leverage = 1.0
    needs_state = True

    def __init__(
        self, reference: str | Mapping[str, Any] | Reference = "equal", scale: float = 0.1
    ) -> None:
        if isinstance(reference, str) and reference in _REFERENCES:
            reference = _REFERENCES[reference]()
        elif isinstance(reference, str | Mapping):
            try:
                reference = reference_from_spec(reference)
            except (ValueError, TypeError) as exc:
                raise ConfigError(
                    f"reference={reference!r} is invalid: {exc}; expected 'equal', 'current', "
                    "a baseline name, {name: baseline, params: {...}} or a Reference"
                ) from None
        elif not isinstance(reference, Reference):
            raise TypeError(
                "reference must be 'equal', 'current', a baseline name or a Reference (an "
                f"object with weights and weights_batch); got {type(reference).__name__}"
            )
        self.reference = reference
        self.scale = check_number("scale", scale, 0.0, 1.0, low_open=True)
        # a user's reference is checked on every call; the built-in ones are right by
        # design, and a reference with a true ``checked`` checks its own weights
        self._trusted = isinstance(reference, EqualReference | CurrentReference) or bool(
            getattr(reference, "checked", False)
        )
        self._cache: dict[int, tuple[FloatArray, ...]] = {}

    def bind(self, market: MarketData, features: FeaturePanel | None = None) -> ResidualMap:
        """This map with its reference bound to the env's market and features (a
        reference with a ``bind`` method, e.g. :class:`PolicyReference`), else itself."""
        bind = getattr(self.reference, "bind", None)
        return self if not callable(bind) else ResidualMap(bind(market, features), self.scale)

    def extend(self, market: MarketData, features: FeaturePanel | None = None) -> ResidualMap:
        """:meth:`bind`, reusing the rows already computed when ``market`` extends them
        (:meth:`PolicyReference.extend`, in place: then this map itself)."""
        reference = extend_action_map(self.reference, market, features)
        return self if reference is self.reference else ResidualMap(reference, self.scale)

    def __repr__(self) -> str:
        return f"ResidualMap({self.reference!r}, scale={self.scale})"

    def _scratch(self, n1: int) -> tuple[FloatArray, ...]:
        """Buffers: reference and scratch (n1,), tilt and purchases (n1 - 1,); constants:
        ones (n1,) and (n1 - 1,), the bounds of the tilt and the scale (n1 - 1,)."""
        c = self._cache.get(n1)
        if c is None:
            n = n1 - 1
            c = (np.empty(n1), np.empty(n1), np.empty(n), np.empty(n), np.ones(n1),
                 *(np.full(n, v) for v in (1.0, -self.scale, self.scale, self.scale)))  # fmt: skip
            self._cache[n1] = c
        return c

    def space(self, n_assets: int) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, shape=(n_assets,), dtype=np.float32)

    def to_weights(
        self,
        action: FloatArray,
        tradable: FloatArray,
        out: FloatArray,
        current: FloatArray | None = None,
        t: Any = None,
    ) -> FloatArray:
        """Write the weights into ``out`` (shape (n_assets + 1,)) and return it.

        ``current``: the weights held before the trade (shape of ``out``), ``t``: the
        decision index; both are passed to the reference.
        """
        n1 = out.shape[0]
        a = np.asarray(action)
        if a.shape != (n1 - 1,) or a.dtype.kind != "f" or not math.isfinite(a.dot(a)):
            a = check_action(action, (n1 - 1,))
        if current is not None or not isinstance(self.reference, EqualReference):
            current = _check_current(current, out.shape, self)
        c = self._cache.get(n1) or self._scratch(n1)
        raw, ref, x, u, ones, ones_n, lo, hi, scale = c
        self.reference.weights(current, tradable, t, raw)
        if not self._trusted:
            _check_reference(raw, self.reference)
        ref = sell_untradable(raw, tradable, ref, out, ones)
        # x = scale * clip(a, -1, 1) = clip(scale * a, -scale, scale), in float64; array
        # constants and maximum/minimum, not np.clip: 5x faster on a small array
        x[...] = a
        x *= scale
        np.maximum(x, lo, out=x)
        np.minimum(x, hi, out=x)
        x *= tradable[1:]
        np.maximum(x, 0.0, out=u)
        np.minimum(x, 0.0, out=x)
        w = out[1:]
        np.add(ref[1:], x, out=w)
        np.maximum(w, 0.0, out=w)
        room = max(1.0 - w.dot(ones_n), 0.0)
        total = u.dot(ones_n)
        if total > room:
            u *= room / total
        w += u
        out[0] = max(1.0 - w.dot(ones_n), 0.0)
        return out

    def to_weights_batch(
        self,
        actions: FloatArray,
        tradable: FloatArray,
        current: FloatArray | None = None,
        t: Any = None,
    ) -> FloatArray:
        """Weights of shape (B, n_assets + 1); ``current`` of that shape, ``t`` of (B,)."""
        b, n1 = tradable.shape
        a = check_batch(actions, (b, n1 - 1))
        if current is not None or not isinstance(self.reference, EqualReference):
            current = _check_current(current, tradable.shape, self)
        raw = self.reference.weights_batch(current, tradable, t)
        if not self._trusted:
            _check_reference(raw, self.reference)
        *_, ones, ones_n, lo, hi, scale = self._scratch(n1)
        ref = np.empty((b, n1))
        out = np.empty((b, n1))
        ref = sell_untradable(raw, tradable, ref, out, ones)
        x = np.array(a, dtype=np.float64)  # the single map's operations, in the same order
        x *= scale
        np.maximum(x, lo, out=x)
        np.minimum(x, hi, out=x)
        x *= tradable[:, 1:]
        u = np.maximum(x, 0.0)
        np.minimum(x, 0.0, out=x)
        w = out[:, 1:]
        np.add(ref[:, 1:], x, out=w)
        np.maximum(w, 0.0, out=w)
        room = np.maximum(1.0 - w.dot(ones_n), 0.0)
        total = u.dot(ones_n)
        u *= np.where(total > room, room / np.maximum(total, _TINY), 1.0)[:, None]
        w += u
        out[:, 0] = np.maximum(1.0 - w.dot(ones_n), 0.0)
        return out


def _check_reference(weights: FloatArray, reference: object) -> None:
    """A user's reference must give finite long-only weights summing to 1."""
    w = np.asarray(weights)
    total = w.sum(axis=-1)
    if not (np.isfinite(w).all() and w.min() >= -1e-12 and np.abs(total - 1.0).max() <= 1e-9):
        raise ValueError(
            f"reference {reference!r} returned weights {w.tolist()} (sums {total.tolist()}); "
            "expected finite, non-negative weights summing to 1 (index 0 = cash)"
        )
