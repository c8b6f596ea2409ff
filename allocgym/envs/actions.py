"""Maps from an agent's action to portfolio weights (index 0 = cash), and their names.

Two maps that ignore the portfolio held, both with ``Box(-1, 1)`` action spaces, the
range every stable-baselines3 algorithm can produce (PPO/A2C clip Gaussian samples to the
bounds, SAC/TD3/DDPG squash with tanh):

* :class:`SimplexMap` (long only, default): ``w = softmax(tau * clip(a, -1, 1))`` over
  cash and the assets that trade at ``t``. The ratio of two weights is at most
  ``exp(2 tau)``, so with ``n`` assets one asset can hold at least
  ``e^{2 tau} / (e^{2 tau} + n)``: 99.9 % for 20 assets at the default ``tau = 5``.
  FinRL's softmax of actions in ``[0, 1]`` caps that ratio at ``e``, which keeps every
  policy near 1/N.
* :class:`LongShortMap`: asset weights ``w_i = L a_i / max(1, sum_j |a_j|)`` (gross
  leverage ``sum |w_i| <= L``), cash ``w_0 = 1 - sum_i w_i`` (negative cash = borrowing).

``to_weights`` validates the action (shape, finite) and writes into ``out`` so the
environment's step allocates nothing.

Maps that trade from the weights held, so that low turnover is reachable by design (a
no-trade band, partial rebalancing, a tilt around a reference portfolio), are in
:mod:`allocgym.envs.rebalancing`. :data:`ACTION_MAPS` names them all; the environments'
``action=`` and a config's ``env.action`` accept exactly these names.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

from allocgym._typing import FloatArray
from allocgym.envs._action_base import (
    ActionMap,
    bind_action_map,
    check_action,
    check_batch,
    extend_action_map,
    needs_state,
)
from allocgym.envs.rebalancing import BandMap, ResidualMap
from allocgym.registry import Registry

__all__ = [
    "ACTION_MAPS",
    "ActionMap",
    "BandMap",
    "LongShortMap",
    "ResidualMap",
    "SimplexMap",
    "bind_action_map",
    "extend_action_map",
    "list_action_maps",
    "make_action_map",
    "needs_state",
]


class SimplexMap:
    """Long-only weights on the simplex including cash: ``softmax(tau * clip(a, -1, 1))``.

    Parameters
    ----------
    temperature : float, default 5.0
        ``tau``; concentration reachable in one of ``n`` assets is
        ``e^{2 tau} / (e^{2 tau} + n)``. Must make >= 95 % reachable for the market:
        ``tau >= log(19 n) / 2``.

    The action has one entry per asset plus one for cash (index 0). Assets that do not
    trade at ``t`` get weight 0. A zero action is the equal-weight portfolio over cash and
    the tradable assets.
    """

    long_only = True
    max_leverage = 1.0

    def __init__(self, temperature: float = 5.0) -> None:
        if not (math.isfinite(temperature) and 0 < temperature <= 50):
            raise ValueError(f"temperature={temperature!r} is invalid; expected 0 < tau <= 50")
        self.temperature = float(temperature)
        self._cache: dict[int, tuple[np.ndarray, ...]] = {}

    def _constants(self, n: int) -> tuple[np.ndarray, ...]:
        """float32 arrays: -1, +1, tau and a scratch buffer, each of shape (n,)."""
        c = self._cache.get(n)
        if c is None:
            c = tuple(np.full(n, v, dtype=np.float32) for v in (-1.0, 1.0, self.temperature, 0))
            self._cache[n] = c
        return c

    def __repr__(self) -> str:
        return f"SimplexMap(temperature={self.temperature})"

    def max_concentration(self, n_assets: int) -> float:
        """Largest weight one asset can get: ``e^{2 tau} / (e^{2 tau} + n_assets)``."""
        top = math.exp(2 * self.temperature)
        return top / (top + n_assets)

    def space(self, n_assets: int) -> spaces.Box:
        if self.max_concentration(n_assets) < 0.95:
            raise ValueError(
                f"temperature={self.temperature} lets one of {n_assets} assets reach only "
                f"{self.max_concentration(n_assets):.1%}; expected >= 95 %, i.e. "
                f"temperature >= {math.log(19 * n_assets) / 2:.2f}"
            )
        return spaces.Box(-1.0, 1.0, shape=(n_assets + 1,), dtype=np.float32)

    def to_weights(self, action: FloatArray, tradable: FloatArray, out: FloatArray) -> FloatArray:
        a = np.asarray(action)
        if a.shape != out.shape or a.dtype.kind != "f" or not math.isfinite(a.dot(a)):
            a = check_action(action, out.shape)
        # exp in float32 (3x faster, the action is float32 anyway; the map is defined this
        # way so single and vectorised envs agree); clip * tau <= 50 cannot overflow.
        # Constants are arrays: numpy's scalar handling costs more than the arithmetic.
        c = self._cache.get(out.shape[0])
        lo, hi, tau, x = c if c is not None else self._constants(out.shape[0])
        np.maximum(a, lo, out=x)
        np.minimum(x, hi, out=x)
        x *= tau
        np.exp(x, out=out)
        out *= tradable
        out *= 1.0 / out.dot(tradable)
        return out

    def to_weights_batch(self, actions: FloatArray, tradable: FloatArray) -> FloatArray:
        a = check_batch(actions, tradable.shape)
        lo, hi, tau, _ = self._constants(tradable.shape[1])
        x = np.maximum(a, lo, dtype=np.float32)
        np.minimum(x, hi, out=x)
        x *= tau
        e = np.empty(x.shape)
        np.exp(x, out=e)
        e *= tradable
        e *= (1.0 / e.dot(np.ones(e.shape[1])))[:, None]
        return e


class LongShortMap:
    """Long/short asset weights with a gross-leverage cap; cash takes the rest.

    ``w_i = L * a_i / max(1, sum_j |a_j|)`` for tradable assets (0 otherwise), so
    ``sum_i |w_i| <= L``; ``w_0 = 1 - sum_i w_i``. One asset at ``a_i = 1`` and the others
    at 0 puts ``L`` in that asset.

    Parameters
    ----------
    max_leverage : float, default 1.0
        ``L``, the cap on gross exposure ``sum_i |w_i|`` (cash excluded).
    """

    long_only = False

    def __init__(self, max_leverage: float = 1.0) -> None:
        if not (math.isfinite(max_leverage) and 0 < max_leverage <= 10):
            raise ValueError(f"max_leverage={max_leverage!r} is invalid; expected 0 < L <= 10")
        self.max_leverage = float(max_leverage)

    def __repr__(self) -> str:
        return f"LongShortMap(max_leverage={self.max_leverage})"

    def space(self, n_assets: int) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, shape=(n_assets,), dtype=np.float32)

    def to_weights(self, action: FloatArray, tradable: FloatArray, out: FloatArray) -> FloatArray:
        a = check_action(action, (out.shape[0] - 1,))
        w = out[1:]
        np.maximum(a, -1.0, out=w)
        np.minimum(w, 1.0, out=w)
        w *= tradable[1:]
        w *= self.max_leverage / max(1.0, float(np.abs(w).sum()))
        out[0] = 1.0 - float(w.sum())
        return out

    def to_weights_batch(self, actions: FloatArray, tradable: FloatArray) -> FloatArray:
        b, n1 = tradable.shape
        a = check_batch(actions, (b, n1 - 1))
        out = np.empty((b, n1))
        w = out[:, 1:]
        np.clip(a, -1.0, 1.0, out=w, casting="unsafe")
        w *= tradable[:, 1:]
        w *= self.max_leverage / np.maximum(1.0, np.abs(w).sum(axis=1, keepdims=True))
        out[:, 0] = 1.0 - w.sum(axis=1)
        return out


def _band(band: float = 0.05, fraction: float = 1.0, temperature: float = 5.0) -> BandMap:
    """Simplex target; nothing trades while the turnover to it is <= band, else the excess."""
    return BandMap(SimplexMap(temperature), band=band, fraction=fraction)


def _partial(fraction: float = 0.25, band: float = 0.0, temperature: float = 5.0) -> BandMap:
    """Simplex target; each step trades a fraction of the way to it (partial rebalancing)."""
    return BandMap(SimplexMap(temperature), band=band, fraction=fraction)


def _residual(reference: Any = "equal", scale: float = 0.1) -> ResidualMap:
    """A reference portfolio plus a learnt tilt of at most scale per asset; zero action =
    the reference: "equal" (1/N), "current", a baseline name or {name, params}."""
    return ResidualMap(reference, scale)


def _residual_current(scale: float = 0.1) -> ResidualMap:
    """The weights held plus a tilt of at most scale per asset; zero action = no trade."""
    return ResidualMap("current", scale)


ACTION_MAPS = Registry("action map", default_kind="custom")
"""Action-map names (``PortfolioEnv(action=NAME)``, ``env.action`` in a config) to factories."""

for _name, _factory, _kind, _description in (
    ("simplex", SimplexMap, "long only",
     "softmax(temperature * a) over cash and the assets (the default)"),
    ("long_short", LongShortMap, "long/short",
     "asset weights L a / max(1, sum |a|), cash takes the rest"),
    ("band", _band, "low turnover",
     "simplex target; nothing trades while the turnover to it is <= band, else the excess"),
    ("partial", _partial, "low turnover",
     "simplex target; each step trades a fraction of the way to it"),
    ("residual", _residual, "low turnover",
     "reference (1/N, or a baseline such as min_variance, point in time) plus a tilt of at "
     "most scale per asset; zero action = the reference"),
    ("residual_current", _residual_current, "low turnover",
     "the weights held plus a tilt of at most scale per asset; zero action = no trade"),
):  # fmt: skip
    ACTION_MAPS.register(_name, _factory, kind=_kind, description=_description)


def list_action_maps() -> dict[str, str]:
    """Action-map names and their one-line descriptions, sorted by name."""
    return ACTION_MAPS.describe()


def make_action_map(action: str | ActionMap = "simplex", **kwargs: Any) -> ActionMap:
    """An :class:`ActionMap` from a name in :data:`ACTION_MAPS` (``kwargs`` to its factory).

    ``"simplex"`` (default), ``"long_short"``, ``"band"``, ``"partial"``, ``"residual"``,
    ``"residual_current"`` (see :func:`list_action_maps`), or an ActionMap instance,
    returned as it is.

    Raises
    ------
    ConfigError (a ValueError)
        Unknown name or parameter, with the closest known one.
    """
    if isinstance(action, str):
        return ACTION_MAPS.create(action, **kwargs)
    if isinstance(action, ActionMap):
        return action
    raise TypeError(f"action must be a str or an ActionMap; got {type(action).__name__}")
