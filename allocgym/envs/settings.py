"""`EnvSettings`: the environment settings that training, backtests and configs share.

One frozen value holds every :class:`~allocgym.envs.PortfolioEnv` setting that is not
data or a date range: costs, reward, observation window and normalisation, decision
period, action map and the training episode length. It is validated once, when it is
made, by building the objects it names (the cost model, the action map, the reward),
so a bad value fails, naming the field, before any feature is built or agent trained.

The ``env:`` section of an experiment config is an EnvSettings;
:func:`~allocgym.backtest.backtest` and :class:`~allocgym.agents.RLAgent` take one;
:meth:`EnvSettings.env_kwargs` gives the environment's keyword arguments.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from allocgym.envs._setup import FeaturesLike, MarketLike
from allocgym.envs.actions import ACTION_MAPS, ActionMap, make_action_map
from allocgym.envs.costs import MAX_BPS, CostModel
from allocgym.envs.portfolio import PortfolioEnv
from allocgym.envs.rewards import get_reward
from allocgym.exceptions import ConfigError, SettingError

__all__ = ["AGENT_FIELDS", "EnvSettings"]

OBSERVATIONS = ("flat", "dict")

AGENT_FIELDS = ("window", "norm_window", "time_features", "observation", "action", "action_kwargs")
"""Fields that decide what an agent observes and how its action becomes weights: an
agent must be backtested with the values it was trained with."""

_REWARD_ERRORS = (KeyError, ValueError, TypeError, ImportError, AttributeError)


@dataclass(frozen=True)
class EnvSettings:
    """The settings of a :class:`~allocgym.envs.PortfolioEnv` other than data and range.

    The defaults are those of an experiment config's ``env:`` section: 10 bps, log
    return, a 20-day window, weekly decisions.

    Parameters
    ----------
    cost_bps : float, sequence of floats (one per asset) or CostModel, default 10.0
        Proportional cost per unit traded, in basis points (or a full cost model).
    reward : str, mapping, callable or class, default "log_return"
        See :func:`~allocgym.envs.rewards.get_reward`; ``reward_kwargs`` go to it.
    reward_kwargs : dict
    window : int, default 20
        Days of past log returns per asset in the observation.
    rebalance_every : int, default 5
        Trading days between an RL agent's decisions: the training environment's step,
        and the trained agent's decision period in a backtest. The backtester itself
        asks every policy at every close, so each keeps its own schedule (an
        :class:`~allocgym.agents.RLAgent` this one, a baseline its own
        ``rebalance_every``, 21 days by default).
    action : str or ActionMap, default "simplex"
        A name in :data:`~allocgym.envs.ACTION_MAPS` (``action_kwargs`` go to its
        factory) or an ActionMap instance.
    action_kwargs : dict
    episode_length : int or None, default 50
        Decisions per training episode, from random starts (50 weekly decisions: about
        a year); None: to the end of the training slice. Only training uses it.
    norm_window : int or None, default 252
        Rolling window of the causal feature standardisation (None: expanding).
    time_features : bool, default False
        Add sin/cos of the weekday and day of year to the observation.
    observation : {"flat", "dict"}, default "flat"

    Raises
    ------
    SettingError
        A :class:`~allocgym.exceptions.ConfigError` (a ValueError) naming the field,
        the value and what was expected.

    Examples
    --------
    >>> settings = EnvSettings(cost_bps=5, reward="differential_sharpe")
    >>> env = settings.make_env(start="2020-01-02")  # a PortfolioEnv on the default data
    >>> training = RLAgent("ppo", 20_000, env=settings)  # from allocgym.agents
    """

    cost_bps: float | tuple[float, ...] | CostModel = 10.0
    reward: str | dict[str, float] | Callable[..., Any] = "log_return"
    reward_kwargs: dict[str, Any] = field(default_factory=dict)
    window: int = 20
    rebalance_every: int = 5
    action: str | ActionMap = "simplex"
    action_kwargs: dict[str, Any] = field(default_factory=dict)
    episode_length: int | None = 50
    norm_window: int | None = 252
    time_features: bool = False
    observation: str = "flat"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "cost_bps", _check_cost(self.cost_bps))
        set_(self, "reward_kwargs", _check_mapping("reward_kwargs", self.reward_kwargs))
        set_(self, "action_kwargs", _check_mapping("action_kwargs", self.action_kwargs))
        _check_int("window", self.window, 1)
        _check_int("rebalance_every", self.rebalance_every, 1)
        _check_int("episode_length", self.episode_length, 2, none=True)
        _check_int("norm_window", self.norm_window, 2, none=True)
        if not isinstance(self.time_features, bool | np.bool_):
            raise SettingError("time_features", self.time_features, "True or False")
        set_(self, "time_features", bool(self.time_features))
        if self.observation not in OBSERVATIONS:
            raise SettingError("observation", self.observation, "'flat' or 'dict'")
        set_(self, "action", _check_action(self.action, self.action_kwargs))
        _check_reward(self.reward, self.reward_kwargs)

    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~allocgym.envs.PortfolioEnv` (no data, no range).

        ``episode_length`` is left out: it belongs to training envs only (see
        :meth:`make_env`). Each call builds a fresh action map when ``action_kwargs``
        are given.
        """
        action = self.action
        if self.action_kwargs:
            action = make_action_map(action, **self.action_kwargs)
        return {
            "cost_bps": self.cost_bps,
            "reward": self.reward,
            "reward_kwargs": dict(self.reward_kwargs),
            "window": self.window,
            "rebalance_every": self.rebalance_every,
            "action": action,
            "norm_window": self.norm_window,
            "time_features": self.time_features,
            "observation": self.observation,
        }

    def make_env(
        self, market: MarketLike = None, features: FeaturesLike = None, **options: Any
    ) -> PortfolioEnv:
        """A :class:`~allocgym.envs.PortfolioEnv` with these settings.

        ``options`` are the other environment arguments (``start``, ``end``,
        ``random_start``, ``episode_length``, ``record``, ...) and may override a setting.
        """
        return PortfolioEnv(market, features, **{**self.env_kwargs(), **options})

    def differences(
        self, other: EnvSettings, fields: tuple[str, ...] = AGENT_FIELDS
    ) -> dict[str, tuple[Any, Any]]:
        """``{field: (self's value, other's value)}`` for each of ``fields`` that differ."""
        a, b = self.to_dict(), other.to_dict()
        return {f: (a[f], b[f]) for f in fields if a[f] != b[f]}

    def to_dict(self) -> dict[str, Any]:
        """Plain values (YAML/JSON safe): objects (a callable reward, an ActionMap, a
        CostModel) appear as their ``repr``."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict):
                value = {str(k): _plain(v) for k, v in value.items()}
            out[name] = _plain(value)
        return out


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float | list | dict):
        return value
    return repr(value)


def _check_int(name: str, value: Any, low: int, *, none: bool = False) -> None:
    if none and value is None:
        return
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
        raise SettingError(name, value, f"an integer >= {low}" + (" or None" if none else ""))


def _check_mapping(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise SettingError(name, value, "a mapping of parameter names to values")
    return dict(value)


def _check_cost(value: Any) -> float | tuple[float, ...] | CostModel:
    """The cost setting as a float, a tuple of per-asset floats or the CostModel given."""
    expected = (
        f"a number of basis points in [0, {MAX_BPS:.0f}), a list of per-asset rates or a CostModel"
    )
    if isinstance(value, CostModel):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        plain: float | tuple[float, ...] = float(value)
    elif isinstance(value, list | tuple | np.ndarray) and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value
    ):
        plain = tuple(float(v) for v in value)
    else:
        raise SettingError("cost_bps", value, expected)
    try:
        CostModel(plain)  # the environment's own check, before any work
    except ValueError:
        raise SettingError("cost_bps", value, expected) from None
    return plain


def _check_action(action: Any, kwargs: dict[str, Any]) -> str | ActionMap:
    """The canonical action-map name (or the ActionMap given), built once to check it."""
    if isinstance(action, ActionMap) and not isinstance(action, str):
        if kwargs:
            raise SettingError(
                "action_kwargs", kwargs, "{} with an ActionMap instance (its constructor "
                "takes the parameters)",
            )  # fmt: skip
        return action
    name = ACTION_MAPS.find(action) if isinstance(action, str) else None
    if name is None:
        raise SettingError(
            "action", action,
            f"one of {ACTION_MAPS.names()}{ACTION_MAPS.did_you_mean(action)} or an ActionMap",
        )  # fmt: skip
    try:
        make_action_map(name, **kwargs)
    except (ConfigError, ValueError, TypeError) as exc:
        raise SettingError(
            "action_kwargs", kwargs, f"parameters of action {name!r}: {exc}"
        ) from None
    return name


def _check_reward(reward: Any, kwargs: dict[str, Any]) -> None:
    """Build the reward once; a failure names ``reward_kwargs`` when the reward alone builds."""
    try:
        get_reward(reward, **kwargs)
        return
    except _REWARD_ERRORS as exc:
        error = exc
    if kwargs:
        try:
            get_reward(reward)
        except _REWARD_ERRORS:
            pass
        else:
            raise SettingError(
                "reward_kwargs", kwargs, f"parameters of reward {reward!r}: {error}"
            ) from None
    raise SettingError(
        "reward", reward,
        f"a registered reward name, 'module:function', a mapping or a callable ({error})",
    ) from None  # fmt: skip
