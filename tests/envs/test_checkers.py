"""Every env configuration and every built-in reward through Gymnasium's and SB3's checkers."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import allocgym.envs
from allocgym.envs import PortfolioEnv, list_rewards

REWARD_KWARGS = {"combination": {"terms": {"log_return": 1.0, "differential_sharpe": 0.1}}}

CONFIGS = {
    "default": {},
    "dict": {"observation": "dict"},
    "long_short": {"action": "long_short"},
    "long_short_dict": {"action": "long_short", "observation": "dict", "time_features": True},
    "weekly_no_panel": {"features": None, "rebalance_every": 5},
    "impact_per_asset": {"cost_bps": allocgym.envs.CostModel([5, 10, 15, 20, 25], impact=0.1)},
    "training": {"random_start": True, "episode_length": 30},
}


def _check(env: gym.Env) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure, except SB3's advice
        # on 2-D Dict parts: (n_assets, n_features) is deliberate, for per-asset networks
        warnings.filterwarnings("ignore", message=".*unconventional shape", category=UserWarning)
        gym_check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=True)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_configurations_pass_both_checkers(small_market, small_panel, name):
    kwargs = {"features": small_panel, "start": 40, **CONFIGS[name]}
    _check(PortfolioEnv(small_market, **kwargs))


@pytest.mark.parametrize("reward", sorted(list_rewards()))
def test_every_builtin_reward_passes_both_checkers(small_market, small_panel, reward):
    env = PortfolioEnv(
        small_market, small_panel, start=40, reward=reward, reward_kwargs=REWARD_KWARGS.get(reward)
    )
    _check(env)
    env.reset(seed=0)
    rewards = [env.step(env.action_space.sample())[1] for _ in range(40)]
    assert np.isfinite(rewards).all() and np.std(rewards) > 0


def test_gymnasium_make_without_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLOCGYM_CACHE_DIR", str(tmp_path))
    env = gym.make("allocgym/Portfolio-v0")
    inner = env.unwrapped
    assert isinstance(inner, PortfolioEnv)
    assert inner.market.n_assets == 20 and inner.features is None  # None: no features
    assert inner.cost_model.cost_bps == 10.0
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    obs, reward, terminated, truncated, _info = env.step(env.action_space.sample())
    assert np.isfinite(reward) and not terminated and not truncated
    _check(inner)


def test_registration_is_idempotent():
    import importlib

    importlib.reload(allocgym.envs)
    assert gym.spec("allocgym/Portfolio-v0").entry_point == "allocgym.envs.portfolio:PortfolioEnv"
