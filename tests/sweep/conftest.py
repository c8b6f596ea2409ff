"""A tiny sweep config on synthetic data: one fold, PPO with a few dozen steps."""

from __future__ import annotations

import pytest

from tests.helpers import tiny_experiment


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory, synthetic_market):
    # 500 days, train 300, test 200: one fold; validation = the last 100 training days
    return tiny_experiment(
        tmp_path_factory.mktemp("sweep"),
        synthetic_market,
        500,
        sweep={
            "space": {"agents.0.hyperparameters.learning_rate": [0.001, 0.0003]},
            "seeds": [0, 1],
            "validation": 100,
            "num_cpus": 2,
        },
    )
