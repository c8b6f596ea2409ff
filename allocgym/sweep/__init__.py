"""Hyperparameter, reward and seed sweeps of an experiment, on Ray Tune or sequentially."""

from allocgym.experiment.sweep_config import Dimension, SweepConfig
from allocgym.sweep.driver import ray_available, run_sweep, start_ray
from allocgym.sweep.space import Trial, apply_params, expand, make_trials
from allocgym.sweep.summary import SweepResults
from allocgym.sweep.trial import run_trial, validation_pass

__all__ = [
    "Dimension",
    "SweepConfig",
    "SweepResults",
    "Trial",
    "apply_params",
    "expand",
    "make_trials",
    "ray_available",
    "run_sweep",
    "run_trial",
    "start_ray",
    "validation_pass",
]
