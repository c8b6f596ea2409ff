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


def test_run_writes_results_report_and_models(first_run, synthetic_market):
    config, results = first_run
    run = config.run_dir
    assert set(results.metrics.index) == {"PPO", "1/N", "Min-variance"}
    for name in ("config.yaml", "metrics.csv", "returns.parquet", "report.md"):
        assert (run / name).exists(), name
    # 700 days, train 300, test 200: folds train on [0, 300) and [200, 500) and test on
    # [300, 500) and [500, 700); one saved model per fold, named by its training dates
    models = sorted(p.name for p in (run / "models" / "PPO").iterdir())
    assert models == ["20000103-20010223", "20001009-20011130"]
    assert (run / "tensorboard" / "train").is_dir()
    loaded = Results.load(run)
    np.testing.assert_allclose(loaded.returns.to_numpy(), results.returns.to_numpy())
    # returns are dated the day after each decision: days 301 to 699 (the last date)
    assert results.returns.index[0] == synthetic_market.dates[301]
    assert results.returns.index[-1] == synthetic_market.dates[699]
    assert len(results.returns) == 399


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


@pytest.fixture
def no_training(monkeypatch):
    """Make building an agent to train an error: a resumed run must load every model."""
    from allocgym.agents import registry

    def refuse(*args, **kwargs):
        raise AssertionError("a saved model was retrained instead of loaded")

    monkeypatch.setattr(registry, "make_agent", refuse)


def _model_files(config) -> dict:
    return {p: p.stat().st_mtime_ns for p in (config.run_dir / "models").rglob("*")}


def test_rerun_loads_every_saved_model_and_reproduces(first_run, monkeypatch, no_training):
    config, results = first_run
    from allocgym.experiment import runner

    built: dict = {}
    build = runner.build_policies

    def keep(*args, **kwargs):
        built.update(build(*args, **kwargs))
        return built

    monkeypatch.setattr(runner, "build_policies", keep)
    files = _model_files(config)
    again = run_experiment(config, progress=False, verbose=False)
    agent = built["PPO"]
    assert (agent.n_folds_loaded_, agent.n_folds_trained_) == (2, 0)
    assert _model_files(config) == files  # nothing rewritten
    np.testing.assert_array_equal(again.returns.to_numpy(), results.returns.to_numpy())


def test_train_command_reuses_the_same_models(first_run, no_training):
    config, _ = first_run
    files = _model_files(config)
    saved = train_agents(config, progress=False, verbose=False)
    assert saved == sorted((config.run_dir / "models" / "PPO").iterdir())
    assert all((p / "agent.json").exists() for p in saved)
    assert _model_files(config) == files


def test_changed_config_is_refused_in_the_same_folder(first_run, tiny_config):
    changed = dict(tiny_config, env={**tiny_config["env"], "cost_bps": 20})
    with pytest.raises(ConfigError, match="holds an experiment with a different config"):
        run_experiment(load_config(changed), progress=False, verbose=False)
