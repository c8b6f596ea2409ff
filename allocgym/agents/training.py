"""The environment an RL agent trains on: many portfolios stepped in one numpy call.

:func:`training_env` builds it from an agent's :class:`~allocgym.envs.EnvSettings` on a
fold's training slice: a :class:`~allocgym.envs.vector.PortfolioVecEnv` of ``n_envs``
portfolios (a stable-baselines3 ``VecEnv``), each episode from a random start of the
slice, ``settings.episode_length`` decisions long, starts seeded with ``seed``, auto-reset.
With ``n_envs=1`` it is the plain :class:`~allocgym.envs.PortfolioEnv`, reset with
``seed``, as before vectorised training (so ``n_envs=1`` reproduces earlier models).

:func:`monitored` adds SB3's episode bookkeeping (``rollout/ep_rew_mean`` and
``ep_len_mean`` in TensorBoard): ``VecMonitor`` on the batch, ``Monitor`` on one env.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

from allocgym.data import MarketData
from allocgym.envs.rewards import get_reward
from allocgym.envs.settings import EnvSettings
from allocgym.envs.vector import PerPortfolioReward, PortfolioVecEnv, takes_batches
from allocgym.exceptions import DataError
from allocgym.predictors.panel import FeaturePanel

__all__ = ["env_attribute", "episode_length", "monitored", "training_env"]


def episode_length(settings: EnvSettings, market: MarketData) -> int | None:
    """``settings.episode_length``, shortened to what fits in ``market`` after the window."""
    k = settings.rebalance_every
    span = market.n_dates - settings.window - 1
    if span < k:
        raise DataError(
            f"window={settings.window} leaves no training decision in {market.n_dates} days: "
            f"an episode needs window days of history plus rebalance_every={k} days; "
            f"expected window <= {market.n_dates - 1 - k}"
        )
    length = settings.episode_length
    if length is not None and length * k > span:
        length = max(span // k, 1)
    return length


def training_env(
    settings: EnvSettings,
    market: MarketData,
    features: FeaturePanel | None,
    *,
    n_envs: int,
    seed: int,
) -> Any:
    """The training environment of ``n_envs`` portfolios on ``market`` (random starts).

    Parameters
    ----------
    settings : EnvSettings
        Costs, reward, observation, action map, decision period and episode length.
    market : MarketData
        The fold's training slice; ``features`` its feature panel (None: no features).
    n_envs : int
        Portfolios stepped together; 1 gives a single :class:`~allocgym.envs.PortfolioEnv`.
    seed : int
        Seeds the random episode starts.

    Returns
    -------
    PortfolioVecEnv, or PortfolioEnv when ``n_envs == 1``

    Notes
    -----
    A reward written for one portfolio at a time (see
    :func:`~allocgym.envs.vector.takes_batches`) runs once per portfolio through
    :class:`~allocgym.envs.vector.PerPortfolioReward`: same rewards, slower steps.
    """
    length = episode_length(settings, market)
    if n_envs == 1:
        env = settings.make_env(market, features, random_start=True, episode_length=length)
        env.reset(seed=seed)
        return env
    kwargs = settings.env_kwargs()
    make = partial(get_reward, kwargs["reward"], **kwargs["reward_kwargs"])
    if not takes_batches(make(), market.n_assets):
        kwargs["reward"], kwargs["reward_kwargs"] = PerPortfolioReward(make, n_envs), None
    return PortfolioVecEnv(
        market, features, n_envs=n_envs, random_start=True, episode_length=length, seed=seed,
        **kwargs,
    )  # fmt: skip


def monitored(env: Any) -> Any:
    """``env`` with SB3's episode statistics: VecMonitor for a VecEnv, else Monitor."""
    return VecMonitor(env) if isinstance(env, VecEnv) else Monitor(env)


def env_attribute(env: Any, name: str) -> Any:
    """Attribute ``name`` of a portfolio env, through wrappers and SB3 VecEnvs (whose
    first env answers: a DummyVecEnv of PortfolioEnvs has no ``action_map`` itself)."""
    base = getattr(env, "unwrapped", env)  # VecEnv.unwrapped: the innermost VecEnv
    if hasattr(base, name) or not hasattr(env, "get_attr"):
        return getattr(base, name)
    return env.get_attr(name, indices=0)[0]
