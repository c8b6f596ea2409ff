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
from allocgym.registry import Registry

__all__ = ["AGENTS", "AgentSpec", "list_agents", "make_agent", "resolve_hyperparameters"]


@dataclass(frozen=True)
class AgentSpec:
    """How to build one algorithm: its name, import path, policy and default hyperparameters.

    Calling it builds an untrained model (see :func:`make_agent`).
    """

    name: str
    module: str
    cls: str
    policy: str
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def load(self) -> type:
        import importlib

        return getattr(importlib.import_module(self.module), self.cls)

    def resolve(self, **hyperparameters: Any) -> dict[str, Any]:
        """The defaults updated with ``hyperparameters``, names checked."""
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
        # deep copies: SB3 writes into policy_kwargs (e.g. use_sde), defaults must not change
        resolved = copy.deepcopy({"policy": self.policy, **self.defaults})
        resolved.update(copy.deepcopy(hyperparameters))
        return resolved

    def __call__(self, env: Any, *, seed: int | None = 0, **hyperparameters: Any) -> Any:
        params = self.resolve(**hyperparameters)
        if self.cls in ("TD3", "DDPG") and "action_noise" not in params:
            # SB3 adds no exploration noise to deterministic policies unless asked.
            import numpy as np
            from stable_baselines3.common.noise import NormalActionNoise

            dim = int(np.prod(env.action_space.shape))
            params["action_noise"] = NormalActionNoise(np.zeros(dim), 0.1 * np.ones(dim))
        params.setdefault("device", "cpu")
        params.setdefault("verbose", 0)
        return self.load()(env=env, seed=seed, **params)


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
_SPECS = (
    AgentSpec(
        "ppo",
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
    AgentSpec(
        "a2c",
        "stable_baselines3",
        "A2C",
        "MlpPolicy",
        {"learning_rate": 3e-4, "n_steps": 16, "gamma": 0.9, "policy_kwargs": _NET},
        "Advantage actor-critic (Mnih et al. 2016); on-policy",
    ),
    AgentSpec(
        "sac",
        "stable_baselines3",
        "SAC",
        "MlpPolicy",
        {"learning_rate": 3e-4, **_OFF_POLICY},
        "Soft actor-critic (Haarnoja et al. 2018); off-policy, entropy-regularised",
    ),
    AgentSpec(
        "td3",
        "stable_baselines3",
        "TD3",
        "MlpPolicy",
        {"learning_rate": 1e-3, **_OFF_POLICY},
        "Twin delayed DDPG (Fujimoto et al. 2018); off-policy, deterministic",
    ),
    AgentSpec(
        "ddpg",
        "stable_baselines3",
        "DDPG",
        "MlpPolicy",
        {"learning_rate": 1e-3, **_OFF_POLICY},
        "Deep deterministic policy gradient (Lillicrap et al. 2016); off-policy",
    ),
    AgentSpec(
        "recurrent_ppo",
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
        params={"policy": _spec.policy, **_spec.defaults},
    )


def list_agents() -> dict[str, str]:
    """Registered agent names and one-line descriptions."""
    return AGENTS.describe()


def resolve_hyperparameters(name: str, **hyperparameters: Any) -> dict[str, Any]:
    """The defaults of agent ``name`` updated with ``hyperparameters``, names checked."""
    return AGENTS.entry(name).factory.resolve(**hyperparameters)


def make_agent(name: str, env: Any, *, seed: int | None = 0, **hyperparameters: Any):
    """Build an untrained stable-baselines3 model for ``env``.

    Parameters
    ----------
    name : str
        A name in :data:`AGENTS` (``allocgym list agents``): ``"ppo"`` (default in
        configs), ``"a2c"``, ``"sac"``, ``"td3"``, ``"ddpg"``, ``"recurrent_ppo"``; case
        and ``-``/``_`` do not matter.
    env : gymnasium.Env or VecEnv
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
