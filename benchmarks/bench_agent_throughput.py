"""PPO training throughput: the default (vectorised) training path versus one env, in one run.

Three contenders, interleaved in every repeat, each timing ``RLAgent.fit`` or SB3's
``learn`` on the embedded data from 2010 (20 assets, technical features, the default
``EnvSettings``: weekly decisions, 50-decision episodes):

- vectorised: ``RLAgent("ppo").fit`` as an experiment runs it, i.e. a PortfolioVecEnv of
  the default 256 portfolios with the vectorised defaults (end to end: env, model, the
  metrics callback);
- single env: SB3 PPO (``make_agent``) on one PortfolioEnv with the single-env
  defaults (n_steps 512, batch 128, 10 epochs), i.e. the training path before
  vectorising, without RLAgent's env construction and callback;
- constant env: the same on a trivial env with the same spaces, a fixed observation and
  zero reward, so the difference to the single env is what our environment costs
  inside SB3 training (target: <= 10 %).

Targets: vectorised >= 10x the single env and >= 15,000 steps/s on an idle machine.

    python benchmarks/bench_agent_throughput.py [--timesteps 8192] [--vec-timesteps 65536]
        [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

import allocgym
from allocgym.agents import RLAgent, make_agent
from allocgym.envs import EnvSettings, PortfolioEnv
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


def fit_steps_per_second(agent: RLAgent, market, features) -> float:
    """Steps per second of ``agent.fit`` end to end (SB3 trains whole rollouts)."""
    start = time.perf_counter()
    agent.fit(market, features)
    return agent.policy_.model.num_timesteps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=8192, help="single and constant env")
    parser.add_argument("--vec-timesteps", type=int, default=65_536, help="vectorised path")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    market = allocgym.load_market().between("2010-01-01", None)
    features = build_features(market, "technical", progress=False)
    settings = EnvSettings()
    env = settings.make_env(
        market, features, random_start=True, episode_length=settings.episode_length
    )
    const = ConstantEnv(env, settings.episode_length)
    vec_agent = RLAgent("ppo", args.vec_timesteps, env=settings)
    print(
        f"observation size {env.observation_space.shape[0]}, 20 assets, PPO MlpPolicy 64x64; "
        f"vectorised: {vec_agent.n_envs} portfolios"
    )
    RLAgent("ppo", 8192, env=settings).fit(market, features)  # warm-up: torch kernels
    vec, ours, trivial = [], [], []
    for r in range(args.repeats):
        agent = RLAgent("ppo", args.vec_timesteps, seed=r, env=settings)
        vec.append(fit_steps_per_second(agent, market, features))
        ours.append(steps_per_second(env, args.timesteps, r))
        trivial.append(steps_per_second(const, args.timesteps, r))
        print(
            f"  repeat {r}: vectorised {vec[-1]:8.0f} steps/s   single env {ours[-1]:8.0f}   "
            f"constant {trivial[-1]:8.0f}"
        )
    v, a, b = statistics.median(vec), statistics.median(ours), statistics.median(trivial)
    print(f"median PPO steps/s: vectorised {v:.0f}, single env {a:.0f}, constant env {b:.0f}")
    print(f"vectorised / single env: {v / a:.1f}x (target >= 10x; >= 15,000 steps/s idle)")
    share = max(0.0, 1.0 - a / b)
    print(f"single / constant {a / b:.3f}: the environment takes {100 * share:.1f}% of training")
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
