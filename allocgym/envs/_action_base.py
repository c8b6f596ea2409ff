"""The :class:`ActionMap` protocol and the helpers every action-map module shares.

Kept apart from :mod:`allocgym.envs.actions` (which re-exports ``ActionMap`` and owns the
name table) so that :mod:`allocgym.envs.rebalancing` can use them without an import cycle.
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import numpy as np
from gymnasium import spaces

from allocgym._typing import FloatArray


@runtime_checkable
class ActionMap(Protocol):
    """How actions become target weights of shape (n_assets + 1,), index 0 = cash.

    A map whose target depends on the portfolio held (a no-trade band, a tilt around the
    current weights) sets ``needs_state = True`` and takes two more arguments: the
    drifted, pre-trade weights ``current`` (the shape of ``out``, or (B, n_assets + 1))
    and the decision index ``t`` (an int, or an int array of shape (B,)): see
    :func:`needs_state`. The environments pass them only to such maps.

    A map that reads the env's market or features (a reference portfolio computed from
    prices) also has ``bind(market, features) -> ActionMap``; the environments call it
    once when they are built (:func:`bind_action_map`).
    """

    long_only: bool
    max_leverage: float

    def space(self, n_assets: int) -> spaces.Box:
        """The action space for ``n_assets`` assets."""
        ...

    def to_weights(self, action: FloatArray, tradable: FloatArray, out: FloatArray) -> FloatArray:
        """Write the weights for ``action`` into ``out`` (shape (n_assets + 1,)) and return it.

        ``tradable`` is 1.0 for cash and for each asset that trades at ``t``, else 0.0.
        """
        ...

    def to_weights_batch(self, actions: FloatArray, tradable: FloatArray) -> FloatArray:
        """Weights of shape (B, n_assets + 1) for actions of shape (B, action_dim)."""
        ...


def check_action(action: object, shape: tuple[int, ...]) -> FloatArray:
    """``action`` as an array of ``shape``; ValueError for another shape, dtype or NaN/inf."""
    a = np.asarray(action)
    if a.shape != shape or a.dtype.kind not in "fiu":
        raise ValueError(
            f"action has shape {a.shape} and dtype {a.dtype}; expected a numeric array of "
            f"shape {shape} (the action space)"
        )
    if not math.isfinite(a.dot(a)) and not np.isfinite(a).all():
        bad = np.flatnonzero(~np.isfinite(a))
        raise ValueError(
            f"action contains non-finite values at positions {bad.tolist()} "
            f"({a[bad].tolist()}); expected finite numbers in [-1, 1]"
        )
    return a


def check_batch(actions: object, shape: tuple[int, int]) -> FloatArray:
    """:func:`check_action` for a batch of shape (n_envs, action_dim)."""
    a = np.asarray(actions)
    if a.shape != shape or a.dtype.kind not in "fiu":
        raise ValueError(
            f"actions have shape {a.shape} and dtype {a.dtype}; expected a numeric array of "
            f"shape {shape} (n_envs, action_dim)"
        )
    if not np.isfinite(a).all():
        rows = np.flatnonzero(~np.isfinite(a).all(axis=1))
        raise ValueError(
            f"actions contain non-finite values in rows {rows.tolist()}; expected finite numbers"
        )
    return a


def needs_state(action_map: Any) -> bool:
    """Whether ``action_map`` reads the weights held and the decision index.

    Such a map has a true ``needs_state`` attribute and takes them as two more arguments:
    ``to_weights(action, tradable, out, current, t)`` and
    ``to_weights_batch(actions, tradable, current, t)``. Maps without the attribute are
    called with the three- and two-argument forms, as before.
    """
    return bool(getattr(action_map, "needs_state", False))


def bind_action_map(action_map: Any, market: Any, features: Any = None) -> Any:
    """``action_map.bind(market, features)`` for a map that reads the env's data, else the map.

    The environments call it once, when they are built, with their market and feature
    panel; a map whose target depends on them (a :class:`~allocgym.envs.ResidualMap`
    around a baseline policy) returns a new map bound to them, with its decision index
    ``t`` a row of ``market``, and leaves itself unchanged (one map may serve several
    envs). Maps without ``bind`` are returned as they are.
    """
    bind = getattr(action_map, "bind", None)
    return bind(market, features) if callable(bind) else action_map


def extend_action_map(action_map: Any, market: Any, features: Any = None) -> Any:
    """``action_map.extend(market, features)`` where the map has it, else
    :func:`bind_action_map`: for a caller whose market grows a day at a time (an agent
    in a backtest sees ``market[: t + 1]``), so that rows already computed are reused.
    Maps apply it to what they wrap (an inner map, a reference) in the same way.
    """
    extend = getattr(action_map, "extend", None)
    return (
        extend(market, features)
        if callable(extend)
        else bind_action_map(action_map, market, features)
    )


def check_number(name: str, value: Any, low: float, high: float, *, low_open: bool) -> float:
    """``value`` as a float in ``(low, high]`` (``low_open``) or ``[low, high]``."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = math.isfinite(v) and (v > low if low_open else v >= low) and v <= high
    if not ok:
        bound = "<" if low_open else "<="
        raise ValueError(
            f"{name}={value!r} is invalid; expected a number with "
            f"{low:g} {bound} {name} <= {high:g}"
        )
    return float(value)


def sell_untradable(
    current: FloatArray,
    tradable: FloatArray,
    out: FloatArray,
    scratch: FloatArray,
    ones: FloatArray,
) -> FloatArray:
    """``current`` with the weight of assets that do not trade at ``t`` moved to cash.

    The env's rule for untradable assets (see ``validate_target_weights``): their weight
    goes to cash. Shapes (n_assets + 1,) or (B, n_assets + 1), ``ones`` of shape
    (n_assets + 1,). Returns ``current`` itself when every asset trades (the usual case,
    no copy), else ``out`` (``scratch`` is overwritten; neither may be ``current``).
    """
    if tradable.dot(ones).min() == ones.shape[0]:  # entries are 0 or 1: an exact count
        return current
    np.multiply(current, tradable, out=out)
    # current - out is exactly 0 where the asset trades: cash changes by the sold part only
    np.subtract(current, out, out=scratch)
    if out.ndim == 1:
        out[0] += scratch.dot(ones)
    else:
        out[:, 0] += scratch.dot(ones)
    return out
