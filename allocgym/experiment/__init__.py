"""Experiments: typed YAML configs and the runner behind ``allocgym run``."""

from allocgym.experiment.config import ExperimentConfig, load_config
from allocgym.experiment.runner import build_policies, run_experiment, train_agents

__all__ = ["ExperimentConfig", "build_policies", "load_config", "run_experiment", "train_agents"]
