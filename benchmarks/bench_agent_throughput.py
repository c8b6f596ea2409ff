"""PPO training throughput on PortfolioEnv versus a trivial constant env, in one run.

The constant env has the same observation and action spaces and returns a fixed
observation and zero reward, so the difference in steps/s is what our environment
costs inside SB3 training. Target: the env is <= 10% of training time.

    python benchmarks/bench_agent_throughput.py [--timesteps 8192] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

import allocgym
from allocgym.agents import make_agent
from allocgym.envs import PortfolioEnv
from allocgym.predictors import build_features


class ConstantEnv(gym.Env):
    """Same spaces as ``like``; constant observation, zero reward, fixed-length episodes."""

    def __init__(self, like: gym.Env, length: int) -> None:
        self.observation_space = like.observation_space
        self.action_space = like.action_space
        self._obs = like.observation_space.sample() * 0
        self._length, self._t = length, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._obs, {}

    def step(self, action):
        self._t += 1
        return self._obs, 0.0, False, self._t >= self._length, {}


def steps_per_second(env: gym.Env, timesteps: int, seed: int) -> float:
    model = make_agent("ppo", env, seed=seed)
    model.learn(256)  # warm-up: first rollout, torch kernels
    start = time.perf_counter()
    model.learn(timesteps, reset_num_timesteps=False)
    return timesteps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    market = allocgym.load_market().between("2010-01-01", None)
    features = build_features(market, "technical", progress=False)
    env = PortfolioEnv(market, features, window=20, random_start=True, episode_length=252)
    const = ConstantEnv(env, 252)
    print(f"observation size {env.observation_space.shape[0]}, 20 assets, PPO MlpPolicy 64x64")
    ours, trivial = [], []
    for r in range(args.repeats):
        ours.append(steps_per_second(env, args.timesteps, r))
        trivial.append(steps_per_second(const, args.timesteps, r))
        print(f"  repeat {r}: PortfolioEnv {ours[-1]:8.0f} steps/s   constant {trivial[-1]:8.0f}")
    a, b = statistics.median(ours), statistics.median(trivial)
    share = max(0.0, 1.0 - a / b)
    print(f"median PPO steps/s: PortfolioEnv {a:.0f}, constant env {b:.0f}")
    print(f"ratio {a / b:.3f}: the environment takes {100 * share:.1f}% of training time")
    env_alone = timeit_env(env)
    print(f"PortfolioEnv alone (random actions): {env_alone:,.0f} steps/s")


def timeit_env(env: PortfolioEnv, n: int = 20_000) -> float:
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(n, env.action_space.shape[0])).astype(np.float32)
    env.reset(seed=0)
    start = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    return n / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
