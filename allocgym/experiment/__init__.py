"""Experiments: typed YAML configs and the runner behind ``allocgym run``."""

from allocgym.experiment.config import ExperimentConfig, load_config
from allocgym.experiment.runner import (
    PreparedRun,
    build_policies,
    prepare_run,
    run_experiment,
    train_agents,
)

__all__ = [
    "ExperimentConfig",
    "PreparedRun",
    "build_policies",
    "load_config",
    "prepare_run",
    "run_experiment",
    "train_agents",
]
