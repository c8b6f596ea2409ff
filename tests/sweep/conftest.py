"""A tiny sweep config on synthetic data: one fold, PPO with a few dozen steps."""

from __future__ import annotations

import pytest

from allocgym.experiment import load_config, prepare_run
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


@pytest.fixture(scope="module")
def two_folds(tmp_path_factory, synthetic_market):
    """A prepared run of 520 days, train 300, test 200, purge 10: folds train [0, 300)
    test [310, 510) and train [200, 500) test [510, 520); window 5, rebalance_every 5
    (the purged and combinatorial purged validation tests)."""
    root = tmp_path_factory.mktemp("two_folds")
    cfg = tiny_experiment(
        root, synthetic_market, 520, walk_forward={"train": 300, "test": 200, "purge": 10}
    )
    return prepare_run(load_config(cfg), progress=False, verbose=False)
