"""`PortfolioEnv`: the Gymnasium portfolio-allocation environment (``allocgym/Portfolio-v0``).

Timing and accounting (SPEC invariant 2), one step = one decision:

1. At the close of decision date ``t`` the portfolio holds the drifted weights ``w'_t``
   (index 0 = cash) and wealth ``W_t``. The action becomes target weights ``w_t``.
2. Trading costs are taken out of wealth: ``W -> mu W`` with the exact transaction
   remainder factor ``mu`` of :class:`~allocgym.envs.CostModel`.
3. The portfolio is held for ``k = rebalance_every`` trading days (fewer at the end of the
   range): on day ``d`` asset ``i`` earns ``returns[d, i]`` and cash earns ``rf[d]``, the
   weights drift with prices, ``V_d = w_t * prod_{u=t+1}^{d} (1 + r_u)``, so after the
   period ``W_{t+k} = mu W_t sum_i V_{t+k,i}`` and ``w'_{t+k} = V_{t+k} / sum_i V_{t+k,i}``.
4. The reward covers the whole period (default: ``log(W_{t+k} / W_t)``, net of costs), and
   the next observation is taken at the close of ``t + k``.

The step is pure numpy on arrays prepared in ``__init__``; observations at ``t`` use data
dated ``<= t`` only (see :mod:`allocgym.envs.observation`).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from allocgym._typing import FloatArray
from allocgym.envs._setup import (
    EnvData,
    FeaturesLike,
    MarketLike,
    draw_starts,
    episode_span,
    prepare,
)
from allocgym.envs.actions import ActionMap, needs_state
from allocgym.envs.costs import CostModel
from allocgym.envs.observation import ObservationLayout
from allocgym.envs.rewards import RewardFn, StepRecord, get_reward
from allocgym.envs.track import Track, _Recorder

__all__ = ["PortfolioEnv", "validate_target_weights"]

# StepRecord without the Python-level NamedTuple.__new__ (it is built on every step)
_new_record = functools.partial(tuple.__new__, StepRecord)


def validate_target_weights(
    weights: npt.ArrayLike,
    tradable: FloatArray,
    *,
    long_only: bool = True,
    max_leverage: float = 1.0,
    out: FloatArray | None = None,
) -> FloatArray:
    """Check target weights and move the weight of untradable assets to cash.

    The one validation of target weights: :meth:`PortfolioEnv.step_weights` (and so the
    backtester) and :meth:`PortfolioVecEnv.step_weights` call it.

    Parameters
    ----------
    weights : array of shape (n_assets + 1,) or (B, n_assets + 1)
        Index 0 = cash; must be finite and sum to 1 (within 1e-6; cash absorbs the
        rounding). Long only: entries >= 0 (down to -1e-8, clipped). Long/short: gross
        asset exposure ``sum_{i>=1} |w_i| <= max_leverage`` (within 1e-6).
    tradable : array of the same shape
        1.0 for cash and assets that trade at ``t``, else 0.0.

    Returns
    -------
    ndarray of float64, the shape of ``weights``
    """
    a = np.asarray(weights, dtype=np.float64)
    if a.shape != tradable.shape:
        raise ValueError(
            f"target_weights has shape {a.shape}; expected {tradable.shape} "
            "(n_assets + 1, index 0 = cash)"
        )
    w = a.copy() if out is None else out
    if out is not None:
        w[...] = a
    if not np.isfinite(w).all():
        raise ValueError(f"target_weights contains non-finite values{_where(~np.isfinite(w))}")
    if long_only:
        if w.min() < -1e-8:
            neg = w < -1e-8
            raise ValueError(
                f"target_weights has negative entries {w[neg].tolist()}{_where(neg)}; "
                "expected long-only weights >= 0 (use action='long_short' for short positions)"
            )
        np.maximum(w, 0.0, out=w)
    total = w.sum(axis=-1)
    off = np.abs(total - 1.0)
    if (off > 1e-6).any():
        bad = np.atleast_1d(off > 1e-6)
        sums = np.atleast_1d(total)[bad].tolist()
        rows = f" in rows {np.flatnonzero(bad).tolist()}" if w.ndim == 2 else ""
        raise ValueError(
            f"target_weights sum to {sums[0] if w.ndim == 1 else sums!r}{rows}; "
            "expected 1 (cash included)"
        )
    blocked = tradable == 0.0
    if blocked.any():
        w[..., 0] += np.where(blocked, w, 0.0).sum(axis=-1)
        w[blocked] = 0.0
    if (off > 1e-12).any():  # rounding from an optimiser: cash absorbs it
        w[..., 0] += np.where(off > 1e-12, 1.0 - total, 0.0)
    if not long_only:
        gross = np.abs(w[..., 1:]).sum(axis=-1)
        if (gross > max_leverage + 1e-6).any():
            raise ValueError(
                f"target_weights have gross exposure {np.max(gross):.6g}; expected <= "
                f"max_leverage={max_leverage}"
            )
    return w


def _where(mask: npt.NDArray[np.bool_]) -> str:
    """`` at positions [..]`` (1-D) or `` at (row, position) [..]`` (a batch)."""
    if mask.ndim == 1:
        return f" at positions {np.flatnonzero(mask).tolist()}"
    return f" at (row, position) {[tuple(ix) for ix in np.argwhere(mask).tolist()]}"


class PortfolioEnv(gym.Env):
    """Allocate wealth over cash and ``n_assets`` assets, net of exact transaction costs.

    Parameters
    ----------
    market : MarketData, path, DataFrame or None
        Prices; ``None`` = the embedded S&P 500 data (:func:`allocgym.load_market`).
    features : None, str or FeaturePanel
        ``None``: no features (returns window, mask and weights only); a preset name for
        :func:`~allocgym.build_features` (``"technical"``, ``"standard"``, ``"full"``);
        or a FeaturePanel aligned with ``market`` (raw values, NaN where unknown).
    cost_bps : float, array of shape (n_assets,) or CostModel, default 10.0
        Proportional cost per unit traded, in basis points (or a full cost model).
    reward : str, callable, class or mapping, default "log_return"
        See :func:`allocgym.envs.rewards.get_reward`; ``reward_kwargs`` go to its class.
    start, end : date, int or None
        First decision date and last date of the range (inclusive). The look-back
        window may use data before ``start``. Default: the whole market after ``window``.
    window : int, default 30
        Days of past log returns per asset in the observation.
    rebalance_every : int, default 1
        Trading days held between decisions; the reward covers the period.
    action : str or ActionMap, default "simplex"
        A name in :data:`~allocgym.envs.ACTION_MAPS`: ``"simplex"`` (long-only softmax,
        temperature 5), ``"long_short"`` (gross leverage 1), or a low-turnover map that
        trades from the weights held: ``"band"``, ``"partial"``, ``"residual"``,
        ``"residual_current"`` (:mod:`allocgym.envs.rebalancing`); or an instance for
        other parameters.
    observation : "flat" or "dict", default "flat"
    time_features : bool, default False
        Add sin/cos of the weekday and day of year.
    norm_window : int or None, default 252
        Rolling window of the causal feature standardisation (None: expanding).
    random_start : bool, default False
        Training mode: ``reset`` draws the first decision date uniformly (seeded by
        ``reset(seed=...)``); evaluation mode (False) always starts at ``start``.
    episode_length : int, optional
        Number of decisions per episode (default: until ``end``).
    initial_wealth : float, default 1.0
    record : bool, default True
        Fill the daily arrays behind :meth:`track`.

    Attributes
    ----------
    market, features, cost_model, action_map, reward_fn
    t : int
        Index in ``market.dates`` of the current decision date.
    wealth : float
    weights : ndarray, shape (n_assets + 1,)
        Current drifted weights (a copy).

    Examples
    --------
    >>> import gymnasium as gym, allocgym.envs
    >>> env = gym.make("allocgym/Portfolio-v0", start="2020-01-02")
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (gymnasium convention)

    def __init__(
        self,
        market: MarketLike = None,
        features: FeaturesLike = None,
        cost_bps: float | npt.ArrayLike | CostModel = 10.0,
        reward: Any = "log_return",
        start: Any = None,
        end: Any = None,
        window: int = 30,
        rebalance_every: int = 1,
        *,
        action: str | ActionMap = "simplex",
        observation: str = "flat",
        time_features: bool = False,
        norm_window: int | None = 252,
        random_start: bool = False,
        episode_length: int | None = None,
        initial_wealth: float = 1.0,
        reward_kwargs: dict[str, Any] | None = None,
        record: bool = True,
        render_mode: str | None = None,
    ) -> None:
        if observation not in ("flat", "dict"):
            raise ValueError(f"observation={observation!r} is invalid; expected 'flat' or 'dict'")
        if not (math.isfinite(initial_wealth) and initial_wealth > 0):
            raise ValueError(f"initial_wealth={initial_wealth!r} is invalid; expected > 0")
        if render_mode is not None:
            raise ValueError(f"render_mode={render_mode!r}: PortfolioEnv does not render")
        data = prepare(
            market, features, cost_bps, start, end, window, rebalance_every, action,
            norm_window, time_features,
        )  # fmt: skip
        self._data: EnvData = data
        self.market, self.features = data.market, data.panel
        self.cost_model, self.action_map = data.cost_model, data.action_map
        self.reward_fn: RewardFn = get_reward(reward, **(reward_kwargs or {}))
        self._reward_key = str(getattr(self.reward_fn, "name", "reward"))
        self.rebalance_every = data.rebalance_every
        self.random_start = bool(random_start)
        self.episode_length = episode_length
        self.initial_wealth = float(initial_wealth)
        self.dict_obs = observation == "dict"
        n_assets = data.market.n_assets
        self.n_assets = n_assets
        self._span = episode_span(episode_length, data)
        self.action_space = data.action_map.space(n_assets)
        flat_space = data.obs.flat_space()
        self.observation_space = data.obs.dict_space() if self.dict_obs else flat_space
        self._bind_step(data, record)
        self.t = data.lo
        self.wealth = self.initial_wealth
        self._peak = self.wealth
        self._end = data.hi

    def _bind_step(self, data: EnvData, record: bool) -> None:
        """The arrays and bound methods the step reads, prepared once."""
        n_assets = data.market.n_assets
        self._dates64 = data.market.dates.values
        self._date_list = list(self._dates64)  # indexing a list is 30x cheaper
        self._table = data.obs.table
        self._w_slice = data.obs.layout.slices["weights"]
        # row 0: drifted weights held now; row 1: target buffer
        self._pair = np.zeros((2, n_assets + 1))
        self._pair[0, 0] = 1.0
        self._trade = np.zeros(n_assets + 1)
        self._wd, self._wt = self._pair[0], self._pair[1]
        self._growth, self._tradable = data.growth, data.tradable
        self._settle = data.accounting.settle
        self._keep_paths = record and data.rebalance_every > 1
        self._to_weights = data.action_map.to_weights
        self._map_state = needs_state(data.action_map)  # pass the weights held and t
        self._lo = data.lo
        self._plain_obs = data.action_map.long_only and not self.dict_obs
        self._recorder = _Recorder(n_assets) if record else None

    # ------------------------------------------------------------------ public state
    @property
    def weights(self) -> FloatArray:
        """Current drifted weights (index 0 = cash), shape (n_assets + 1,); a copy."""
        return self._pair[0].copy()

    @property
    def date(self) -> np.datetime64:
        """The current decision date."""
        return self._dates64[self.t]

    @property
    def tradable(self) -> FloatArray:
        """1.0 for cash and for assets that trade at the current date, else 0.0."""
        return self._data.tradable[self.t].copy()

    @property
    def observation_layout(self) -> ObservationLayout:
        """Positions (``slices``) and shapes of the observation parts."""
        return self._data.obs.layout

    def observation(self) -> Any:
        """The observation at the current decision date (what reset/step returned)."""
        return self._observation(self.t)

    def action_to_weights(self, action: npt.ArrayLike) -> FloatArray:
        """Target weights (shape (n_assets + 1,), index 0 = cash) the env would trade to."""
        out = np.empty(self.n_assets + 1)
        tradable = self._data.tradable[self.t]
        if self._map_state:
            return self.action_map.to_weights(action, tradable, out, self._pair[0], self.t)
        return self.action_map.to_weights(action, tradable, out)

    def track(self) -> Track:
        """The daily record of the episode so far (needs ``record=True``)."""
        if self._recorder is None:
            raise RuntimeError("track() needs PortfolioEnv(record=True)")
        return self._recorder.track(self.market.dates, self.market.assets, self._growth)

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode.

        Options: ``start`` (date or index of the first decision, overrides
        ``random_start``), ``weights`` (initial weights, default all cash) and ``wealth``.
        """
        super().reset(seed=seed)
        options = options or {}
        data, span = self._data, self._span
        if "start" in options:
            t0 = _start_index(data, options["start"])
        elif self.random_start:
            t0 = int(draw_starts(self.np_random, data, span))
        else:
            t0 = data.lo
        self.t = t0
        self._end = data.hi if span is None else min(t0 + span, data.hi)
        self.wealth = float(options.get("wealth", self.initial_wealth))
        if not (math.isfinite(self.wealth) and self.wealth > 0):
            raise ValueError(f"options['wealth']={self.wealth!r} is invalid; expected > 0")
        self._peak = self.wealth
        if "weights" in options:
            validate_target_weights(
                options["weights"],
                data.tradable[t0],
                long_only=self.action_map.long_only,
                max_leverage=self.action_map.max_leverage,
                out=self._pair[0],
            )
        else:
            self._pair[0] = 0.0
            self._pair[0, 0] = 1.0
        self.reward_fn.reset()
        if self._recorder is not None:
            self._recorder.clear(self.wealth)
        info = {"date": self._dates64[t0], "wealth": self.wealth, "weights": self.weights}
        return self._observation(t0), info

    def step(self, action: npt.ArrayLike) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Trade to the weights of ``action`` at the close of ``t``, hold, observe."""
        t = self.t
        if t >= self._end:
            self._check_running()
        if self._map_state:
            self._to_weights(action, self._tradable[t], self._wt, self._wd, t)
        else:
            self._to_weights(action, self._tradable[t], self._wt)
        return self._advance()

    def step_weights(
        self, target_weights: npt.ArrayLike
    ) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """:meth:`step` with target weights instead of an action (same accounting).

        ``target_weights`` (shape (n_assets + 1,), index 0 = cash) are validated by
        :func:`validate_target_weights`; untradable assets' weight moves to cash.
        """
        self._check_running()
        validate_target_weights(
            target_weights,
            self._data.tradable[self.t],
            long_only=self.action_map.long_only,
            max_leverage=self.action_map.max_leverage,
            out=self._pair[1],
        )
        return self._advance()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._wd, self._wt = self._pair[0], self._pair[1]  # views, not pickled copies

    # ------------------------------------------------------------------ internals
    def _check_running(self) -> None:
        if self.t >= self._end:
            raise RuntimeError("the episode is over (truncated or terminated); call reset()")

    def _advance(self) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        # the hot path: attributes are bound in __init__, numpy only on small arrays
        pair, t, wd = self._pair, self.t, self._wd
        snapshot = pair.copy()  # one copy for the weights before and after the trade
        before, after = snapshot[0], snapshot[1]
        t1 = min(t + self.rebalance_every, self._end)
        mu, g, turnover, paths = self._settle(pair, t, t1, wd, self._trade, self._keep_paths)
        g, turnover = float(g), float(turnover)
        w0 = self.wealth
        growth = mu * g
        self.wealth = wealth = w0 * growth
        if wealth > self._peak:
            self._peak = wealth
        if self._recorder is not None:
            if paths is None:  # one day held
                rec = self._recorder  # the day's weights are derived from `after` on demand
                rec.sources.append(after)
                rec.drift.append(True)
                rec.rows.append((t1, g - 1.0, growth - 1.0, 1.0 - mu, turnover, wealth, 1.0))
            else:
                self._record_period(t, t1, mu, turnover, paths[: t1 - t], w0)
        self.t = t1
        terminated = not wealth > 0.0
        # the log is floored at 1e-300 (finite even if wealth is wiped out), as in the vec env
        record = _new_record((
            t, t1 - t, g - 1.0, growth - 1.0, math.log(max(growth, 1e-300)),
            1.0 - mu, turnover, before, after, wealth, self._peak, 1.0 - wealth / self._peak,
        ))  # fmt: skip
        reward = float(self.reward_fn(record))
        components = getattr(self.reward_fn, "components", None)
        info = {
            "date": self._date_list[t],
            "wealth": wealth,
            "weights_before": before,
            "weights_after": record.weights,
            "turnover": turnover,
            "cost": 1.0 - mu,
            "gross_return": g - 1.0,
            "net_return": growth - 1.0,
            "reward_components": dict(components) if components else {self._reward_key: reward},
        }
        truncated = t1 >= self._end and not terminated
        if terminated:
            self._end = t1
        if self._plain_obs:
            obs = self._table[t1 - self._lo].copy()
            obs[self._w_slice] = wd
        else:
            obs = self._observation(t1)
        return obs, reward, terminated, truncated, info

    def _record_period(
        self, t: int, t1: int, mu: float, turnover: float, paths: FloatArray, w0: float
    ) -> None:
        rec = self._recorder
        n = t1 - t
        values = paths.sum(axis=1)
        ratio = values.copy()
        ratio[1:] /= values[:-1]
        net = ratio.copy()
        net[0] *= mu
        wealth = (w0 * mu) * values
        rec.sources.extend(paths / values[:, None])
        rec.drift.extend([False] * n)
        for j in range(n):
            first = j == 0
            rec.rows.append(
                (
                    t + 1 + j,
                    ratio[j] - 1.0,
                    net[j] - 1.0,
                    1.0 - mu if first else 0.0,
                    turnover if first else 0.0,
                    wealth[j],
                    1.0 if first else 0.0,
                )
            )

    def _observation(self, t: int) -> Any:
        obs = self._table[t - self._data.lo].copy()
        obs[self._w_slice] = self._pair[0]
        if not self.action_map.long_only:
            bound = self._data.obs.weight_bound
            np.clip(obs[self._w_slice], -bound, bound, out=obs[self._w_slice])
        if self.dict_obs:
            return self._data.obs.to_dict(obs)
        return obs

    def __repr__(self) -> str:
        d = self._data
        return (
            f"PortfolioEnv({self.n_assets} assets, {d.market.dates[d.lo].date()} to "
            f"{d.market.dates[d.hi].date()}, cost={self.cost_model.cost_bps!r} bps, "
            f"reward={self.reward_fn!r}, rebalance_every={self.rebalance_every})"
        )


def _start_index(data: EnvData, start: Any) -> int:
    if isinstance(start, int | np.integer):
        t0 = int(start)
    else:
        import pandas as pd

        t0 = int(data.market.dates.searchsorted(pd.Timestamp(start), "left"))
    if not (data.lo <= t0 < data.hi):
        raise ValueError(
            f"options['start']={start!r} is outside the decision range "
            f"[{data.market.dates[data.lo].date()}, {data.market.dates[data.hi - 1].date()}]"
        )
    return t0
