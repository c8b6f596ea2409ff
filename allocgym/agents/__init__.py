"""Stable-baselines3 agents by name, an asset-equivariant encoder, callbacks, and policies.

``make_agent(name, env, **hyperparameters)`` builds PPO (default), A2C, SAC, TD3, DDPG
or RecurrentPPO; :class:`RLAgent` trains one on each walk-forward fold inside the
backtester; :class:`AgentPolicy` runs a trained model as a backtester policy;
:class:`SeedEnsemble` holds the average target weights of an agent's seeds.
"""

from allocgym.agents.callbacks import FinancialMetricsCallback, episode_metrics
from allocgym.agents.ensemble import SeedEnsemble
from allocgym.agents.networks import (
    AssetEncoder,
    EquivariantActorCriticPolicy,
    asset_encoder_kwargs,
    equivariant_hyperparameters,
)
from allocgym.agents.policy import AgentPolicy, RLAgent
from allocgym.agents.registry import AGENTS, list_agents, make_agent, resolve_hyperparameters

__all__ = [
    "AGENTS",
    "AgentPolicy",
    "AssetEncoder",
    "EquivariantActorCriticPolicy",
    "FinancialMetricsCallback",
    "RLAgent",
    "SeedEnsemble",
    "asset_encoder_kwargs",
    "episode_metrics",
    "equivariant_hyperparameters",
    "list_agents",
    "make_agent",
    "resolve_hyperparameters",
]
