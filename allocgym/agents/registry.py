"""Stable-baselines3 agents by name, with defaults sized for daily portfolio allocation.

``make_agent("ppo", env, learning_rate=1e-4)`` returns an untrained SB3 model. Every
hyperparameter is checked against the algorithm's constructor, so a typo is an error
that lists the accepted names instead of a ``TypeError`` deep inside SB3.

Each algorithm has two sets of defaults: for training on many portfolios at once (a
:class:`~allocgym.envs.vector.PortfolioVecEnv` of ``AgentSpec.n_envs`` portfolios, what
:class:`~allocgym.agents.RLAgent` does) and, on top of them, ``AgentSpec.single_env`` for
one environment (the defaults from before vectorised training). ``make_agent`` picks by
the number of environments it is given.
"""

from __future__ import annotations

import copy
import difflib
import inspect
from dataclasses import dataclass, field
from typing import Any

from allocgym.exceptions import ConfigError
from allocgym.registry import Registry

__all__ = ["AGENTS", "AgentSpec", "list_agents", "make_agent", "resolve_hyperparameters"]


@dataclass(frozen=True)
class AgentSpec:
    """How to build one algorithm: its name, import path, policy and default hyperparameters.

    Calling it builds an untrained model (see :func:`make_agent`).

    Attributes
    ----------
    defaults : dict
        Hyperparameters for training on a vectorised env of several portfolios.
    n_envs : int
        Portfolios stepped together in training (:class:`~allocgym.agents.RLAgent`'s
        default ``n_envs``).
    single_env : dict
        Hyperparameters that replace ``defaults`` when the model trains on one env.
    """

    name: str
    module: str
    cls: str
    policy: str
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    n_envs: int = 1
    single_env: dict[str, Any] = field(default_factory=dict)

    def load(self) -> type:
        import importlib

        return getattr(importlib.import_module(self.module), self.cls)

    def resolve(self, n_envs: int | None = None, /, **hyperparameters: Any) -> dict[str, Any]:
        """The defaults for ``n_envs`` environments updated with ``hyperparameters``.

        ``n_envs`` None: :attr:`n_envs`; 1: the defaults with :attr:`single_env` on top.
        An on-policy default ``batch_size`` larger than the rollout (``n_steps * n_envs``)
        becomes the rollout (one minibatch per update); a ``batch_size`` given is kept.
        """
        n = self.n_envs if n_envs is None else int(n_envs)
        if "n_envs" in hyperparameters:
            raise ConfigError(
                f"n_envs is not a hyperparameter of {self.cls} but the number of portfolios "
                "it trains on: set it beside the hyperparameters (RLAgent(n_envs=...), "
                "agents[i].n_envs in a config)"
            )
        accepted = set(inspect.signature(self.load().__init__).parameters) - {"self", "env"}
        unknown = sorted(set(hyperparameters) - accepted)
        if unknown:
            hints = {u: difflib.get_close_matches(u, accepted, n=1) for u in unknown}
            detail = ", ".join(
                f"{u!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for u, h in hints.items()
            )
            raise ConfigError(
                f"unknown hyperparameter {detail} for agent {self.name!r}; accepted: "
                f"{sorted(accepted)}"
            )
        defaults = {**self.defaults, **(self.single_env if n == 1 else {})}
        # deep copies: SB3 writes into policy_kwargs (e.g. use_sde), defaults must not change
        resolved = copy.deepcopy({"policy": self.policy, **defaults})
        resolved.update(copy.deepcopy(hyperparameters))
        on_policy = "n_steps" in resolved and "batch_size" in resolved
        if on_policy and "batch_size" not in hyperparameters:
            resolved["batch_size"] = min(resolved["batch_size"], resolved["n_steps"] * n)
        return resolved

    def default_n_envs(self, timesteps: int, **hyperparameters: Any) -> int:
        """:attr:`n_envs`, or fewer when ``timesteps`` cannot fill one rollout of
        ``n_steps`` per env (SB3 trains whole rollouts: 256 envs x 32 steps would train
        8,192 steps for a budget of 64); at least 1."""
        per_env = self.resolve(self.n_envs, **hyperparameters).get("n_steps", 1)
        return max(1, min(self.n_envs, int(timesteps) // int(per_env)))

    def __call__(self, env: Any, *, seed: int | None = 0, **hyperparameters: Any) -> Any:
        params = self.resolve(getattr(env, "num_envs", 1), **hyperparameters)
        if self.cls in ("TD3", "DDPG") and "action_noise" not in params:
            # SB3 adds no exploration noise to deterministic policies unless asked.
            import numpy as np
            from stable_baselines3.common.noise import NormalActionNoise

            dim = int(np.prod(env.action_space.shape))
            params["action_noise"] = NormalActionNoise(np.zeros(dim), 0.1 * np.ones(dim))
        params.setdefault("device", "cpu")
        params.setdefault("verbose", 0)
        return self.load()(env=env, seed=seed, **params)


# Defaults. Financial rewards are small and noisy and decisions matter over weeks, not
# years, so the discount is low (gamma 0.9: a horizon of about 10 decisions) and PPO's
# entropy bonus is zero (the Gaussian's own noise already explores the simplex); the
# networks are small (64x64) because the inputs are a few hundred numbers.
#
# Vectorised training (RLAgent: `n_envs` portfolios in one PortfolioVecEnv). A step of
# the env costs microseconds per portfolio and SB3's per-call overhead is paid once per
# batch, so what is left is the gradient work: the defaults buy speed with larger
# minibatches (less overhead per sample, less gradient noise) and fewer passes over the
# data, and make up for fewer updates with a larger step where that was needed.
#
# On-policy: many portfolios, short rollouts per portfolio, as in massively parallel PPO
# (Rudin et al. 2021, "Learning to walk in minutes...": thousands of envs, 24 steps each,
# 4 minibatches, 5 epochs, learning rate 1e-3) and rl-zoo's many-env settings (Atari
# PPO: 8 envs x 128 steps, 4 epochs; MountainCar PPO: 16 x 16, 4 epochs; A2C: 8-16 envs x
# 5-8 steps, learning rate 7e-4 to 9.6e-4). A rollout per env only has to cover the
# advantage horizon 1 / (1 - gamma * lambda), about 5 decisions here.
# - PPO: 256 envs x 32 steps = 8,192 steps per update in 4 minibatches of 2,048 (16x the
#   single-env minibatch), 4 epochs (rl-zoo Atari; 10 on one env). Learning rate 1e-3
#   (Rudin et al.; about 3e-4 x sqrt(16), the square-root batch rule for Adam): on the
#   learning-sanity benchmark (benchmarks/bench_learning_sanity.py, synthetic data) it
#   reached a Sharpe ratio of 1.4-1.6 in 100k steps where 3e-4 reached 0.6, and the same
#   as 3e-4 by 300k. PPO's clip (0.2) still bounds each update.
# - A2C makes one gradient step per rollout, so it needs rollouts that come often: 64 envs
#   x 8 steps (512 samples per step), learning rate 7e-4 (SB3's default, rl-zoo). With
#   256 envs it had 4x fewer updates and learnt less in 300k steps (sanity Sharpe 1.6 vs
#   2.0 with 64 envs, 2.05 with 16 at 2.3x the time).
# - RecurrentPPO: 64 envs x 64 steps (its LSTM learns from sequences of up to 64
#   decisions; rl-zoo ppo_lstm: 8-16 envs), minibatches of 1,024, 4 epochs, 3e-4.
#
# Off-policy (SAC, TD3, DDPG): a gradient step costs milliseconds (about 30 ms for SAC
# on the 2-core development machine), so speed comes from fewer, larger updates per
# transition, as in the massively parallel SAC set-ups (Raffin 2025, "Getting SAC to
# work on a massive parallel simulator"; Shukla 2025) and rl-zoo's train_freq /
# gradient_steps pairs: 32 envs, and after each vectorised step (32 transitions) 2
# gradient steps on minibatches of 1,024 (SB3's `gradient_steps` counts per call, not per
# env). That is 1 update per 16 transitions, each transition sampled 2 x 1024 / 32 = 64
# times on average, half of one env's 128 (1 update of 128 per transition): about 6x the
# single-env steps/s. Fresh transitions are cheap here and a fold's training slice has
# only a few hundred decision dates, so a lower replay ratio loses little.
#
# `single_env`: the defaults from before vectorised training, used on one env (n_envs=1
# reproduces the earlier models).
_NET = {"net_arch": [64, 64]}
_OFF_POLICY = {
    "buffer_size": 100_000,
    "learning_starts": 1_000,
    "batch_size": 1_024,
    "train_freq": 1,
    "gradient_steps": 2,
    "gamma": 0.9,
    "policy_kwargs": _NET,
}
_OFF_POLICY_SINGLE = {"batch_size": 128, "train_freq": 1, "gradient_steps": 1}
_SPECS = (
    AgentSpec(
        "ppo",
        "stable_baselines3",
        "PPO",
        "MlpPolicy",
        {
            "learning_rate": 1e-3,
            "n_steps": 32,
            "batch_size": 2_048,
            "n_epochs": 4,
            "gamma": 0.9,
            "gae_lambda": 0.9,
            "ent_coef": 0.0,
            "policy_kwargs": _NET,
        },
        "Proximal Policy Optimisation (Schulman et al. 2017); on-policy, the default",
        n_envs=256,
        single_env={"learning_rate": 3e-4, "n_steps": 512, "batch_size": 128, "n_epochs": 10},
    ),
    AgentSpec(
        "a2c",
        "stable_baselines3",
        "A2C",
        "MlpPolicy",
        {"learning_rate": 7e-4, "n_steps": 8, "gamma": 0.9, "policy_kwargs": _NET},
        "Advantage actor-critic (Mnih et al. 2016); on-policy",
        n_envs=64,
        single_env={"learning_rate": 3e-4, "n_steps": 16},
    ),
    AgentSpec(
        "sac",
        "stable_baselines3",
        "SAC",
        "MlpPolicy",
        {"learning_rate": 3e-4, **_OFF_POLICY},
        "Soft actor-critic (Haarnoja et al. 2018); off-policy, entropy-regularised",
        n_envs=32,
        single_env=_OFF_POLICY_SINGLE,
    ),
    AgentSpec(
        "td3",
        "stable_baselines3",
        "TD3",
        "MlpPolicy",
        {"learning_rate": 1e-3, **_OFF_POLICY},
        "Twin delayed DDPG (Fujimoto et al. 2018); off-policy, deterministic",
        n_envs=32,
        single_env=_OFF_POLICY_SINGLE,
    ),
    AgentSpec(
        "ddpg",
        "stable_baselines3",
        "DDPG",
        "MlpPolicy",
        {"learning_rate": 1e-3, **_OFF_POLICY},
        "Deep deterministic policy gradient (Lillicrap et al. 2016); off-policy",
        n_envs=32,
        single_env=_OFF_POLICY_SINGLE,
    ),
    AgentSpec(
        "recurrent_ppo",
        "sb3_contrib",
        "RecurrentPPO",
        "MlpLstmPolicy",
        {
            "learning_rate": 3e-4,
            "n_steps": 64,
            "batch_size": 1_024,
            "n_epochs": 4,
            "gamma": 0.9,
            "policy_kwargs": {"net_arch": [64], "lstm_hidden_size": 32},
        },
        "PPO with an LSTM policy (sb3-contrib); remembers beyond the observation window",
        n_envs=64,
        single_env={"n_steps": 256, "batch_size": 128, "n_epochs": 10},
    ),
)

AGENTS = Registry("agent", default_kind="RL")
"""Agent names to :class:`AgentSpec` (``AGENTS["ppo"](env, seed=0)`` builds a model)."""
for _spec in _SPECS:
    AGENTS.register(
        _spec.name,
        _spec,
        label=_spec.name.upper(),  # RLAgent's default name
        kind="RL",
        description=_spec.description,
        params={"policy": _spec.policy, "n_envs": _spec.n_envs, **_spec.defaults},
    )


def list_agents() -> dict[str, str]:
    """Registered agent names and one-line descriptions."""
    return AGENTS.describe()


def resolve_hyperparameters(
    name: str, n_envs: int | None = None, /, **hyperparameters: Any
) -> dict[str, Any]:
    """The defaults of agent ``name`` for ``n_envs`` environments (None: its default
    ``n_envs``) updated with ``hyperparameters``, names checked."""
    return AGENTS.entry(name).factory.resolve(n_envs, **hyperparameters)


def make_agent(name: str, env: Any, *, seed: int | None = 0, **hyperparameters: Any):
    """Build an untrained stable-baselines3 model for ``env``.

    Parameters
    ----------
    name : str
        A name in :data:`AGENTS` (``allocgym list agents``): ``"ppo"`` (default in
        configs), ``"a2c"``, ``"sac"``, ``"td3"``, ``"ddpg"``, ``"recurrent_ppo"``; case
        and ``-``/``_`` do not matter.
    env : gymnasium.Env or VecEnv
        A VecEnv of several envs (e.g. a :class:`~allocgym.envs.vector.PortfolioVecEnv`)
        gets the vectorised defaults, one env the single-env ones (see :class:`AgentSpec`).
    seed : int or None
        Seeds SB3 (networks, sampling) and the env; same seed -> same model on CPU.
    **hyperparameters
        Any constructor argument of the algorithm (``learning_rate``, ``n_steps``,
        ``policy_kwargs``, ``tensorboard_log``...); they override the defaults.

    Returns
    -------
    stable_baselines3.common.base_class.BaseAlgorithm

    Raises
    ------
    ConfigError
        Unknown agent or hyperparameter name (with the accepted names).
    """
    return AGENTS.entry(name).factory(env, seed=seed, **hyperparameters)
