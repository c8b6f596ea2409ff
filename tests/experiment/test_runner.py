"""`run_experiment` end to end on a tiny config: results, report, TensorBoard, resume."""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.backtest import Results
from allocgym.backtest.tensorboard import BACKTEST_TAGS, read_scalars, run_name
from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config, run_experiment, train_agents
from tests.helpers import tiny_experiment


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory, synthetic_market):
    return tiny_experiment(
        tmp_path_factory.mktemp("exp"),
        synthetic_market,
        700,
        baselines=[{"name": "equal_weight"}, {"name": "min_variance"}],
        report={"n_boot": 50},
    )


@pytest.fixture(scope="module")
def first_run(tiny_config):
    config = load_config(tiny_config)
    return config, run_experiment(config, progress=False, verbose=False)


def test_run_writes_results_report_and_models(first_run):
    config, results = first_run
    run = config.run_dir
    assert set(results.metrics.index) == {"PPO", "1/N", "Min-variance"}
    for name in ("config.yaml", "metrics.csv", "returns.parquet", "report.md"):
        assert (run / name).exists(), name
    # 700 days, train 300, test 200: folds test on [300, 500) and [500, 700)
    models = sorted(p.name for p in (run / "models" / "PPO").iterdir())
    assert len(models) == 2
    assert (run / "tensorboard" / "train").is_dir()
    loaded = Results.load(run)
    np.testing.assert_allclose(loaded.returns.to_numpy(), results.returns.to_numpy())
    assert results.returns.index[0] == results.returns.index[0]


def test_tensorboard_runs_hold_the_metrics_table(first_run):
    config, results = first_run
    for policy in results.metrics.index:
        scalars = read_scalars(config.run_dir / "tensorboard" / "backtest" / run_name(policy))
        assert set(BACKTEST_TAGS) <= set(scalars)
        r = results.returns[policy].dropna()
        wealth = scalars["backtest/wealth"]
        assert len(wealth) == len(r)
        np.testing.assert_allclose(wealth.iloc[-1], np.prod(1 + r), rtol=1e-6)
        for metric in ("sharpe", "ann_return", "max_drawdown"):
            np.testing.assert_allclose(
                scalars[f"metrics/{metric}"].iloc[0], results.metrics.loc[policy, metric],
                rtol=1e-6,
            )  # fmt: skip
        np.testing.assert_allclose(
            scalars["backtest/drawdown"].min(), results.metrics.loc[policy, "max_drawdown"],
            rtol=1e-5,
        )  # fmt: skip


def test_rerun_resumes_from_saved_models_and_reproduces(first_run):
    config, results = first_run
    again = run_experiment(config, progress=False, verbose=False)
    np.testing.assert_array_equal(again.returns.to_numpy(), results.returns.to_numpy())


def test_train_command_reuses_the_same_models(first_run):
    config, _ = first_run
    saved = train_agents(config, progress=False, verbose=False)
    assert len(saved) == 2 and all((p / "agent.json").exists() for p in saved)


def test_changed_config_is_refused_in_the_same_folder(first_run, tiny_config):
    changed = dict(tiny_config, env={**tiny_config["env"], "cost_bps": 20})
    with pytest.raises(ConfigError, match="holds an experiment with a different config"):
        run_experiment(load_config(changed), progress=False, verbose=False)
