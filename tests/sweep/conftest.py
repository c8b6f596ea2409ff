"""A tiny sweep config on synthetic data: one fold, PPO with a few dozen steps."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory, synthetic_market):
    root = tmp_path_factory.mktemp("sweep")
    data = root / "prices.csv"
    # 500 days, train 300, test 200: one fold; validation = the last 100 training days
    synthetic_market[:500].to_frame().rename_axis("date").to_csv(data)
    return {
        "name": "tiny",
        "output_dir": str(root / "runs"),
        "data": {"source": str(data)},
        "features": {"preset": "technical", "cache": False},
        "env": {"window": 5, "rebalance_every": 5, "episode_length": 10},
        "walk_forward": {"train": 300, "test": 200},
        "agents": [
            {"name": "ppo", "label": "PPO", "timesteps": 64,
             "hyperparameters": {"n_steps": 32, "batch_size": 16, "n_epochs": 1}},
        ],
        "baselines": [{"name": "equal_weight"}],
        "report": {"n_boot": 20},
        "sweep": {
            "space": {"agents.0.hyperparameters.learning_rate": [0.001, 0.0003]},
            "seeds": [0, 1],
            "validation": 100,
            "num_cpus": 2,
        },
    }  # fmt: skip
