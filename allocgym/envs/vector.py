"""`PortfolioVecEnv`: B portfolios stepped together in one set of numpy calls.

A stable-baselines3 ``VecEnv`` (usable directly as ``PPO("MlpPolicy", venv)``) with the
same data, observation, action map, cost model and accounting as
:class:`~allocgym.envs.PortfolioEnv`: portfolio ``b`` of the batch follows exactly the
path a single env would follow with the same start and actions (a test pins this).
Rewards are called once per step with a :class:`~allocgym.envs.StepRecord` of arrays of
shape (B,); the built-in rewards support that.

Differences from B single envs, for speed: ``infos`` carry only SB3's keys on episode
ends (``terminal_observation``, ``TimeLimit.truncated``, ``episode_wealth``); the batch
of per-step figures (wealth, cost, turnover, gross and net return, target weights) is in
:attr:`PortfolioVecEnv.last` instead. No daily track is recorded.

A reward written for one portfolio at a time (floats in, a float out) runs in the batch
through :class:`PerPortfolioReward`; :func:`takes_batches` tells which kind a reward is.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from allocgym._typing import BoolArray, FloatArray
from allocgym.envs._setup import (
    EnvData,
    FeaturesLike,
    MarketLike,
    _check_int,
    draw_starts,
    episode_span,
    prepare,
)
from allocgym.envs.actions import ActionMap, needs_state
from allocgym.envs.costs import CostModel
from allocgym.envs.observation import ObservationLayout
from allocgym.envs.portfolio import validate_target_weights
from allocgym.envs.rewards import RewardFn, StepRecord, get_reward

__all__ = ["PerPortfolioReward", "PortfolioVecEnv", "takes_batches"]


class PortfolioVecEnv(VecEnv):
    """``n_envs`` portfolios on one market, stepped in one vectorised call.

    Parameters
    ----------
    market, features, cost_bps, reward, start, end, window, rebalance_every, action,
    observation, time_features, norm_window, random_start, episode_length, initial_wealth,
    reward_kwargs
        As for :class:`~allocgym.envs.PortfolioEnv`.
    n_envs : int, default 8
        Number of portfolios ``B``.
    seed : int, optional
        Seeds the random starts (also settable with ``seed()`` before ``reset()``).

    Attributes
    ----------
    t : ndarray of int, shape (B,)
        Current decision index of each portfolio.
    weights : ndarray, shape (B, n_assets + 1)
        Current drifted weights (index 0 = cash).
    wealth : ndarray, shape (B,)
    last : dict of str to ndarray
        Per-step figures of the last step, each of shape (B,): ``wealth``, ``cost``,
        ``turnover``, ``gross_return``, ``net_return``; and ``weights_after``, the
        target weights of the trade, shape (B, n_assets + 1).
    """

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
        n_envs: int = 8,
        action: str | ActionMap = "simplex",
        observation: str = "flat",
        time_features: bool = False,
        norm_window: int | None = 252,
        random_start: bool = False,
        episode_length: int | None = None,
        initial_wealth: float = 1.0,
        reward_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        n_envs = _check_int("n_envs", n_envs, 1)
        if observation not in ("flat", "dict"):
            raise ValueError(f"observation={observation!r} is invalid; expected 'flat' or 'dict'")
        data = prepare(
            market, features, cost_bps, start, end, window, rebalance_every, action,
            norm_window, time_features,
        )  # fmt: skip
        self._data: EnvData = data
        self.market, self.features = data.market, data.panel
        self.cost_model, self.action_map = data.cost_model, data.action_map
        self.reward_fn: RewardFn = get_reward(reward, **(reward_kwargs or {}))
        self.rebalance_every = data.rebalance_every
        self.random_start, self.episode_length = bool(random_start), episode_length
        self.initial_wealth = float(initial_wealth)
        self.dict_obs = observation == "dict"
        self.n_assets = data.market.n_assets
        self._span = episode_span(episode_length, data)
        space = data.obs.dict_space() if self.dict_obs else data.obs.flat_space()
        self.render_mode = None
        super().__init__(n_envs, space, data.action_map.space(self.n_assets))
        self._w_slice = data.obs.layout.slices["weights"]
        self._rng = np.random.default_rng(seed)
        b, n1 = n_envs, self.n_assets + 1
        self.t = np.full(b, data.lo, dtype=np.int64)
        self._end = np.full(b, data.hi, dtype=np.int64)
        self.weights = np.zeros((b, n1))
        self.weights[:, 0] = 1.0
        self.wealth = np.full(b, self.initial_wealth)
        self._peak = self.wealth.copy()
        self._actions: FloatArray | None = None
        self._map_state = needs_state(data.action_map)  # pass the weights held and t
        self.last: dict[str, FloatArray] = {}

    @property
    def observation_layout(self) -> ObservationLayout:
        """Positions (``slices``) and shapes of the observation parts."""
        return self._data.obs.layout

    # ------------------------------------------------------------------ SB3 VecEnv API
    def reset(self) -> VecEnvObs:
        if self._seeds[0] is not None:
            self._rng = np.random.default_rng(self._seeds[0])
        self._reset_seeds()
        self._restart(np.ones(self.num_envs, dtype=bool))
        return self._observations()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async(actions)")
        actions, self._actions = self._actions, None
        rewards, terminated, truncated = self._advance(actions)
        obs = self._observations()
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = self._index_obs(obs, int(i))
                infos[i]["TimeLimit.truncated"] = bool(truncated[i])
                infos[i]["episode_wealth"] = float(self.wealth[i])
            self._restart(dones)
            fresh = self._observations()
            if self.dict_obs:
                for key in obs:
                    obs[key][dones] = fresh[key][dones]
            else:
                obs[dones] = fresh[dones]
        return obs, rewards.astype(np.float32), dones, infos

    def step_weights(
        self, target_weights: FloatArray
    ) -> tuple[VecEnvObs, FloatArray, BoolArray, BoolArray]:
        """Trade all portfolios to ``target_weights`` (B, n_assets + 1); no auto-reset.

        The weights are validated like :meth:`PortfolioEnv.step_weights` does
        (:func:`~allocgym.envs.validate_target_weights`): untradable assets' weight moves
        to cash. Returns ``(obs, rewards, terminated, truncated)``; for tests and custom
        loops.
        """
        self._check_running()
        target = validate_target_weights(
            target_weights,
            np.take(self._data.tradable, self.t, axis=0),
            long_only=self.action_map.long_only,
            max_leverage=self.action_map.max_leverage,
        )
        rewards, terminated, truncated = self._advance(None, target)
        return self._observations(), rewards, terminated, truncated

    def close(self) -> None:
        """Nothing to release."""

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        method = getattr(self, method_name)
        return [method(*method_args, **kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]

    # ------------------------------------------------------------------ internals
    def _check_running(self) -> None:
        if (self.t >= self._end).any():
            raise RuntimeError("a portfolio's episode is over; call reset()")

    def _restart(self, mask: BoolArray) -> None:
        data, span = self._data, self._span
        n = int(mask.sum())
        t0 = draw_starts(self._rng, data, span, n) if self.random_start else np.full(n, data.lo)
        self.t[mask] = t0
        self._end[mask] = data.hi if span is None else np.minimum(t0 + span, data.hi)
        self.weights[mask] = 0.0
        self.weights[mask, 0] = 1.0
        self.wealth[mask] = self.initial_wealth
        self._peak[mask] = self.initial_wealth
        self.reward_fn.reset(None if mask.all() else mask)

    def _advance(
        self, actions: FloatArray | None, target: FloatArray | None = None
    ) -> tuple[FloatArray, BoolArray, BoolArray]:
        data, t = self._data, self.t
        self._check_running()
        if target is None:
            tradable = np.take(data.tradable, t, axis=0)  # np.take: 2x faster than indexing
            if self._map_state:
                target = self.action_map.to_weights_batch(actions, tradable, self.weights, t)
            else:
                target = self.action_map.to_weights_batch(actions, tradable)
        pair = np.stack((self.weights, target))
        before, target = pair[0], pair[1]
        t1 = t + 1 if self.rebalance_every == 1 else np.minimum(t + self.rebalance_every, self._end)
        held = np.empty_like(target)
        trade = np.empty_like(target)
        mu, g, turnover, _ = data.accounting.settle(pair, t, t1, held, trade)
        cost = 1.0 - mu
        self.weights = held
        growth = mu * g
        self.wealth = wealth = self.wealth * growth
        self._peak = peak = np.maximum(self._peak, wealth)
        log_ret = np.log(np.maximum(growth, 1e-300))  # finite even if wealth is wiped out
        record = StepRecord(
            t, t1 - t, g - 1.0, growth - 1.0, log_ret, cost, turnover, before, target,
            wealth, peak, 1.0 - wealth / peak,
        )  # fmt: skip
        rewards = np.asarray(self.reward_fn(record), dtype=np.float64)
        if rewards.shape != (self.num_envs,):
            raise TypeError(
                f"reward {self.reward_fn!r} returned shape {rewards.shape} for a batch of "
                f"{self.num_envs}; PortfolioVecEnv needs rewards written with numpy "
                "operations (see allocgym.envs.rewards) - use DummyVecEnv otherwise"
            )
        self.t = t1
        self.last = {
            "wealth": wealth.copy(),  # self.wealth is reset in place on an episode's end
            "cost": cost,
            "turnover": turnover,
            "gross_return": g - 1.0,
            "net_return": growth - 1.0,
            "weights_after": target,
        }
        terminated = ~(wealth > 0.0)
        truncated = (t1 >= self._end) & ~terminated
        return rewards, terminated, truncated

    def _observations(self) -> VecEnvObs:
        obs = np.take(self._data.obs.table, self.t - self._data.lo, axis=0)
        obs[:, self._w_slice] = self.weights
        if not self.action_map.long_only:
            bound = self._data.obs.weight_bound
            np.clip(obs[:, self._w_slice], -bound, bound, out=obs[:, self._w_slice])
        return self._data.obs.to_dict(obs) if self.dict_obs else obs

    def _index_obs(self, obs: VecEnvObs, i: int) -> Any:
        if isinstance(obs, dict):
            return {key: value[i].copy() for key, value in obs.items()}
        return obs[i].copy()


class PerPortfolioReward:
    """A reward written for one portfolio, run once per portfolio of a batch.

    The vectorised env calls its reward with a :class:`~allocgym.envs.StepRecord` of
    arrays; a reward that takes floats (``math.log``, ``if record.net_return < 0``)
    cannot take them. This one keeps one instance per portfolio (``make()``, so stateful
    rewards keep separate state), calls each with its portfolio's row of the record and
    returns the array of rewards. Python calls per portfolio: slower than a reward
    written with numpy operations, still one env step for the batch.

    Parameters
    ----------
    make : callable
        ``make() -> RewardFn``, e.g. ``functools.partial(get_reward, spec, **kwargs)``.
    n_envs : int
        Portfolios in the batch.
    """

    def __init__(self, make: Callable[[], RewardFn], n_envs: int) -> None:
        self.rewards = [make() for _ in range(int(n_envs))]
        self.name = getattr(self.rewards[0], "name", type(self.rewards[0]).__name__)

    def __call__(self, record: StepRecord) -> FloatArray:
        return np.array([fn(_row(record, i)) for i, fn in enumerate(self.rewards)], dtype=float)

    def reset(self, mask: BoolArray | None = None) -> None:
        rows = range(len(self.rewards)) if mask is None else np.flatnonzero(mask)
        for i in rows:
            self.rewards[i].reset()

    def __repr__(self) -> str:
        return f"PerPortfolioReward({self.rewards[0]!r}, n_envs={len(self.rewards)})"


def _row(record: StepRecord, i: int) -> StepRecord:
    """Portfolio ``i``'s record with plain ints and floats, as the single env makes it."""
    t, days, *floats = (field[i] for field in record[:7])
    before, after, *tail = (field[i] for field in record[7:])
    return StepRecord(
        int(t), int(days), *(float(x) for x in floats), before, after, *(float(x) for x in tail)
    )


def takes_batches(reward: RewardFn, n_assets: int) -> bool:
    """Whether ``reward`` returns one value per portfolio for a batch of records.

    Calls it once on a batch of two all-cash portfolios with zero returns and resets it
    (pass a fresh instance). A reward that fails on arrays or returns one number for the
    batch is written for one portfolio at a time: run it through
    :class:`PerPortfolioReward` (a reward that is broken outright then raises its own
    error on the first single-portfolio step).
    """
    b, zeros, ones = 2, np.zeros(2), np.ones(2)
    cash = np.zeros((b, n_assets + 1))
    cash[:, 0] = 1.0
    record = StepRecord(
        np.zeros(b, dtype=np.int64), np.ones(b, dtype=np.int64), zeros, zeros, zeros, zeros,
        zeros, cash, cash.copy(), ones, ones, zeros,
    )  # fmt: skip
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.shape(reward(record))
    except Exception:  # any failure on arrays means "one portfolio at a time"
        out = None
    finally:
        reward.reset()
    return out == (b,)
