"""Stable-baselines3 agents by name, with defaults sized for daily portfolio allocation.

``make_agent("ppo", env, learning_rate=1e-4)`` returns an untrained SB3 model. Every
hyperparameter is checked against the algorithm's constructor, so a typo is an error
that lists the accepted names instead of a ``TypeError`` deep inside SB3.
"""

from __future__ import annotations

import copy
import difflib
import inspect
from dataclasses import dataclass, field
from typing import Any

from allocgym.exceptions import ConfigError

__all__ = ["AGENTS", "AgentSpec", "list_agents", "make_agent"]


@dataclass(frozen=True)
class AgentSpec:
    """How to build one algorithm: its import path, policy and default hyperparameters."""

    module: str
    cls: str
    policy: str
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def load(self) -> type:
        import importlib

        return getattr(importlib.import_module(self.module), self.cls)


# Defaults: small networks and short rollouts that learn within the quickstart budget
# (a few 10k steps on one CPU core). Financial rewards are small and noisy, so the
# discount is low (decisions matter over days, not years) and PPO's entropy bonus is
# zero (the Gaussian's own noise already explores the simplex).
_NET = {"net_arch": [64, 64]}
_OFF_POLICY = {
    "buffer_size": 100_000,
    "learning_starts": 1_000,
    "batch_size": 128,
    "gamma": 0.9,
    "policy_kwargs": _NET,
}
AGENTS: dict[str, AgentSpec] = {
    "ppo": AgentSpec(
        "stable_baselines3",
        "PPO",
        "MlpPolicy",
        {
            "learning_rate": 3e-4,
            "n_steps": 512,
            "batch_size": 128,
            "n_epochs": 10,
            "gamma": 0.9,
            "gae_lambda": 0.9,
            "ent_coef": 0.0,
            "policy_kwargs": _NET,
        },
        "Proximal Policy Optimisation (Schulman et al. 2017); on-policy, the default",
    ),
    "a2c": AgentSpec(
        "stable_baselines3",
        "A2C",
        "MlpPolicy",
        {"learning_rate": 3e-4, "n_steps": 16, "gamma": 0.9, "policy_kwargs": _NET},
        "Advantage actor-critic (Mnih et al. 2016); on-policy",
    ),
    "sac": AgentSpec(
        "stable_baselines3",
        "SAC",
        "MlpPolicy",
        {"learning_rate": 3e-4, **_OFF_POLICY},
        "Soft actor-critic (Haarnoja et al. 2018); off-policy, entropy-regularised",
    ),
    "td3": AgentSpec(
        "stable_baselines3",
        "TD3",
        "MlpPolicy",
        {"learning_rate": 1e-3, **_OFF_POLICY},
        "Twin delayed DDPG (Fujimoto et al. 2018); off-policy, deterministic",
    ),
    "ddpg": AgentSpec(
        "stable_baselines3",
        "DDPG",
        "MlpPolicy",
        {"learning_rate": 1e-3, **_OFF_POLICY},
        "Deep deterministic policy gradient (Lillicrap et al. 2016); off-policy",
    ),
    "recurrent_ppo": AgentSpec(
        "sb3_contrib",
        "RecurrentPPO",
        "MlpLstmPolicy",
        {
            "learning_rate": 3e-4,
            "n_steps": 256,
            "batch_size": 128,
            "n_epochs": 10,
            "gamma": 0.9,
            "policy_kwargs": {"net_arch": [64], "lstm_hidden_size": 32},
        },
        "PPO with an LSTM policy (sb3-contrib); remembers beyond the observation window",
    ),
}


def list_agents() -> dict[str, str]:
    """Registered agent names and one-line descriptions."""
    return {name: spec.description for name, spec in AGENTS.items()}


def _spec(name: str) -> AgentSpec:
    key = str(name).lower().replace("-", "_")
    if key not in AGENTS:
        close = difflib.get_close_matches(key, AGENTS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown agent {name!r}{hint}; expected one of {sorted(AGENTS)}")
    return AGENTS[key]


def resolve_hyperparameters(name: str, **hyperparameters: Any) -> dict[str, Any]:
    """The defaults of agent ``name`` updated with ``hyperparameters``, names checked."""
    spec = _spec(name)
    accepted = set(inspect.signature(spec.load().__init__).parameters) - {"self", "env"}
    unknown = sorted(set(hyperparameters) - accepted)
    if unknown:
        hints = {u: difflib.get_close_matches(u, accepted, n=1) for u in unknown}
        detail = ", ".join(
            f"{u!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for u, h in hints.items()
        )
        raise ConfigError(
            f"unknown hyperparameter {detail} for agent {name!r}; accepted: {sorted(accepted)}"
        )
    # deep copies: SB3 writes into policy_kwargs (e.g. use_sde), defaults must not change
    resolved = copy.deepcopy({"policy": spec.policy, **spec.defaults})
    resolved.update(copy.deepcopy(hyperparameters))
    return resolved


def make_agent(name: str, env: Any, *, seed: int | None = 0, **hyperparameters: Any):
    """Build an untrained stable-baselines3 model for ``env``.

    Parameters
    ----------
    name : str
        One of :data:`AGENTS`: ``"ppo"`` (default in configs), ``"a2c"``, ``"sac"``,
        ``"td3"``, ``"ddpg"``, ``"recurrent_ppo"``.
    env : gymnasium.Env or VecEnv
    seed : int or None
        Seeds SB3 (networks, sampling) and the env; same seed -> same model on CPU.
    **hyperparameters
        Any constructor argument of the algorithm (``learning_rate``, ``n_steps``,
        ``policy_kwargs``, ``tensorboard_log``...); they override the defaults.

    Returns
    -------
    stable_baselines3.common.base_class.BaseAlgorithm
    """
    spec = _spec(name)
    params = resolve_hyperparameters(name, **hyperparameters)
    if spec.cls in ("TD3", "DDPG") and "action_noise" not in params:
        # SB3 adds no exploration noise to deterministic policies unless asked.
        import numpy as np
        from stable_baselines3.common.noise import NormalActionNoise

        dim = int(np.prod(env.action_space.shape))
        params["action_noise"] = NormalActionNoise(np.zeros(dim), 0.1 * np.ones(dim))
    params.setdefault("device", "cpu")
    params.setdefault("verbose", 0)
    return spec.load()(env=env, seed=seed, **params)
