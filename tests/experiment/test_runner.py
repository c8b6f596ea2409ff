"""`run_experiment` end to end on a tiny config: results, report, TensorBoard, resume."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from allocgym.backtest import Results
from allocgym.backtest.tensorboard import BACKTEST_TAGS, read_scalars, run_name
from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config, run_experiment, train_agents
from tests.helpers import record_built_policies, tiny_experiment


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
    """Make training an error: a resumed run must load every model (it still builds an
    untrained one, the template that a saved model is loaded against)."""
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    def refuse(*args, **kwargs):
        raise AssertionError("a saved model was retrained instead of loaded")

    monkeypatch.setattr(OnPolicyAlgorithm, "learn", refuse)
    monkeypatch.setattr(OffPolicyAlgorithm, "learn", refuse)


def _model_files(config) -> dict:
    return {p: p.stat().st_mtime_ns for p in (config.run_dir / "models").rglob("*")}


def test_rerun_loads_every_saved_model_and_reproduces(first_run, monkeypatch, no_training):
    config, results = first_run
    built = record_built_policies(monkeypatch)
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


# ---------------------------------------------------------------- several seeds
SEEDS = ["PPO s0", "PPO s1", "PPO s2"]


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory, synthetic_market):
    """A run with three PPO seeds; records the policies built, every training and the
    first target weights each backtest env was given (in the order policies run)."""
    from stable_baselines3 import PPO

    from allocgym.backtest import engine

    agent = {"name": "ppo", "label": "PPO", "timesteps": 32, "seeds": [0, 1, 2], "n_envs": 1,
             "hyperparameters": {"n_steps": 16, "batch_size": 16, "n_epochs": 1}}  # fmt: skip
    config = load_config(
        tiny_experiment(tmp_path_factory.mktemp("seeds"), synthetic_market, 700, agents=[agent])
    )
    learned, first_targets = [], []
    learn, real_env = PPO.learn, engine._env_class()

    class Recorded(real_env):
        def step_weights(self, target_weights):
            if not getattr(self, "_recorded", False):
                self._recorded = True
                first_targets.append(np.array(target_weights, dtype=np.float64))
            return super().step_weights(target_weights)

    def counted(self, *args, **kwargs):
        learned.append(self)
        return learn(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        built = record_built_policies(mp)
        mp.setattr(PPO, "learn", counted)
        mp.setattr(engine, "_env_class", lambda: Recorded)
        results = run_experiment(config, progress=False, verbose=False)
    return config, results, built, learned, first_targets


def test_seeds_are_rows_with_an_ensemble_trained_once(seeds_run):
    config, results, built, learned, firsts = seeds_run
    assert list(results.metrics.index) == [*SEEDS, "PPO ensemble", "1/N"]
    assert results.metrics.loc["PPO ensemble", "kind"] == "RL"
    # 3 seeds x 2 folds trained once each; the ensemble took every fold from memory
    assert len(learned) == 6
    for name in SEEDS:
        agent = built[name]
        assert (agent.n_folds_trained_, agent.n_folds_loaded_, agent.n_folds_reused_) == (2, 0, 2)
        assert len(list((config.run_dir / "models" / name.replace(" ", "_")).iterdir())) == 2
    assert sorted(p.name for p in (config.run_dir / "models").iterdir()) == [
        "PPO_s0", "PPO_s1", "PPO_s2"
    ]  # fmt: skip
    # on the first test day every policy sees the same state: the ensemble's target is
    # the mean of the three seeds' targets (later days differ: it holds other weights)
    members, ensemble = firsts[:3], firsts[3]
    assert not np.array_equal(members[0], members[1])
    np.testing.assert_allclose(ensemble, np.mean(members, axis=0), rtol=0, atol=1e-15)


def test_seed_groups_report_and_terminal_table_show_the_distribution(seeds_run):
    from allocgym.backtest.stats import seed_summary
    from allocgym.experiment.runner import summary_table

    config, results, *_ = seeds_run
    assert results.config["seed_groups"] == {"PPO": SEEDS}
    assert results.config["seed_ensembles"] == {"PPO": "PPO ensemble"}
    loaded = Results.load(config.run_dir)  # `allocgym report` regroups from the folder
    assert loaded.config["seed_groups"] == {"PPO": SEEDS}
    summary = seed_summary(results.metrics, {"PPO": SEEDS}).loc["PPO"]
    report = (config.run_dir / "report.md").read_text()
    section = report.split("## Across seeds")[1].split("\n## ")[0]
    assert all(f"| {name} | " in section for name in SEEDS)
    assert f"| **PPO: mean of 3 seeds** | **{summary['sharpe_mean']:.2f}** | " in section
    assert f"[{summary['sharpe_ci_low']:.2f}, {summary['sharpe_ci_high']:.2f}]" in section
    assert "| PPO ensemble (average weights) | " in section
    text = summary_table(results)
    assert "across seeds" in text and f"{summary['sharpe_ci_high']:.4f}" in text


def test_deflated_sharpe_counts_every_seed_ensemble_and_baseline(seeds_run):
    from allocgym.backtest.stats import sharpe_tests

    config, results, *_ = seeds_run
    assert results.config["n_trials"] == 5  # 3 seeds + 1 ensemble + 1/N
    report = (config.run_dir / "report.md").read_text()
    assert "Configurations tried (deflated Sharpe ratio, Bailey & López de Prado 2014): 5" in report
    expected = sharpe_tests(results.returns, "1/N", n_trials=5, n_boot=10)["dsr"]
    np.testing.assert_allclose(results.metrics["dsr"], expected[results.metrics.index])
    fewer = sharpe_tests(results.returns, "1/N", n_trials=2, n_boot=10)["dsr"]
    assert not np.allclose(fewer.dropna(), expected.dropna())  # the count matters


def test_a_synthetic_market_and_an_agent_that_observes_one_feature(tmp_path, synthetic_market):
    from allocgym.data import make_synthetic_market
    from allocgym.envs.observation import ObservationLayout

    synthetic = {"n_assets": 3, "n_days": 520, "seed": 5}
    data = tiny_experiment(tmp_path, synthetic_market, 520)
    data["data"] = {"synthetic": synthetic}
    data["agents"][0]["observe"] = ["mom_5"]
    config = load_config(data)
    run_experiment(config, progress=False, verbose=False)
    results = Results.load(config.run_dir)
    market = make_synthetic_market(**synthetic).market
    assert list(results.returns.columns) == ["PPO", "1/N"]
    assert results.returns.index[0] in market.dates and results.returns.index[-1] in market.dates
    assert results.config["policies"]["PPO"]["params"]["observe"] == ["mom_5"]
    assert results.config["experiment"]["data"]["synthetic"] == synthetic
    # the saved model reads one per-asset feature (mom_5) and no market feature
    folds = sorted((config.run_dir / "models" / "PPO").iterdir())
    assert folds
    size = ObservationLayout.build(3, 1, 0, 5, False).size
    for saved in folds:
        with zipfile.ZipFile(saved / "model.zip") as z:
            space = json.loads(z.read("data"))["observation_space"]
        assert space["_shape"] == [size]


def test_an_observe_name_the_panel_lacks_fails_before_any_training(tmp_path, synthetic_market):
    data = tiny_experiment(tmp_path, synthetic_market, 520)
    data["agents"][0]["observe"] = ["technical", "mom_500"]
    config = load_config(data)  # a feature name is checked on the built panel
    with pytest.raises(ConfigError, match=r"agents\[0\]\.observe: observe names 'mom_500'"):
        run_experiment(config, progress=False, verbose=False)
    assert not (config.run_dir / "models").exists()
    assert not (config.run_dir / ".allocgym-lock").exists()  # the lock was given back


def test_deflated_sharpe_counts_the_configurations_tried_before_the_run(tmp_path, synthetic_market):
    """report.prior_trials: the selection sweeps' configurations join the run's policies
    in the deflated Sharpe ratio's count of trials."""
    from allocgym.backtest.stats import sharpe_tests

    cfg = tiny_experiment(
        tmp_path, synthetic_market, 500, agents=[],
        baselines=[{"name": "equal_weight"}, {"name": "min_variance"}],
        report={"n_boot": 0, "prior_trials": 5},
    )  # fmt: skip
    results = run_experiment(load_config(cfg), progress=False, verbose=False)
    assert results.config["n_trials"] == 7  # 2 baselines + 5 tried before
    expected = sharpe_tests(results.returns, "1/N", n_trials=7, n_boot=0)["dsr"]
    np.testing.assert_allclose(results.metrics["dsr"], expected[results.metrics.index])
    alone = sharpe_tests(results.returns, "1/N", n_trials=2, n_boot=0)["dsr"]
    assert (expected < alone).all()  # more trials tried: a higher bar for each Sharpe
