"""The portfolio environment: accounting, transaction costs, rewards, registration.

``import allocgym.envs`` registers ``allocgym/Portfolio-v0`` with Gymnasium, so
``gymnasium.make("allocgym/Portfolio-v0", **kwargs)`` builds a :class:`PortfolioEnv`.
"""

import gymnasium

from allocgym.envs import rewards
from allocgym.envs.actions import (
    ACTION_MAPS,
    ActionMap,
    LongShortMap,
    SimplexMap,
    bind_action_map,
    list_action_maps,
    make_action_map,
    needs_state,
)
from allocgym.envs.costs import CostModel
from allocgym.envs.observation import ObservationLayout, causal_standardise
from allocgym.envs.portfolio import PortfolioEnv, validate_target_weights
from allocgym.envs.rebalancing import (
    BandMap,
    CurrentReference,
    EqualReference,
    Reference,
    ResidualMap,
)
from allocgym.envs.reference import PolicyReference
from allocgym.envs.rewards import RewardFn, StepRecord, get_reward, list_rewards, register_reward
from allocgym.envs.settings import EnvSettings
from allocgym.envs.track import Track

ENV_ID = "allocgym/Portfolio-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=ENV_ID,
        entry_point="allocgym.envs.portfolio:PortfolioEnv",
        disable_env_checker=False,
    )

__all__ = [
    "ACTION_MAPS",
    "ENV_ID",
    "ActionMap",
    "BandMap",
    "CostModel",
    "CurrentReference",
    "EnvSettings",
    "EqualReference",
    "LongShortMap",
    "ObservationLayout",
    "PolicyReference",
    "PortfolioEnv",
    "Reference",
    "ResidualMap",
    "RewardFn",
    "SimplexMap",
    "StepRecord",
    "Track",
    "bind_action_map",
    "causal_standardise",
    "get_reward",
    "list_action_maps",
    "list_rewards",
    "make_action_map",
    "needs_state",
    "register_reward",
    "rewards",
    "validate_target_weights",
]
