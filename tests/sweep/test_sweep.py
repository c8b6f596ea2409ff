"""run_sweep end to end: sequential fallback, resume, a crashing trial, on Ray Tune."""

from __future__ import annotations

import copy
import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from allocgym.backtest.tensorboard import read_scalars, run_name
from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config
from allocgym.sweep import run_sweep
from allocgym.sweep.driver import ray_available
from tests.helpers import tiny_experiment

TRIALS = ["c000-s0", "c000-s1", "c001-s0", "c001-s1"]


def _check_trial_folders(results):
    for tid in TRIALS:
        folder = results.root / "trials" / tid
        record = json.loads((folder / "trial.json").read_text())
        assert record["status"] == "ok", record.get("error")
        assert np.isfinite(record["val_sharpe"])
        # the out-of-sample run is an `allocgym run` folder for this variant
        metrics = pd.read_csv(folder / "metrics.csv", index_col="policy")
        np.testing.assert_allclose(metrics.loc["PPO", "sharpe"], record["oos"]["sharpe"])
        exp = load_config(folder / "experiment.yaml")
        assert exp.agents[0].seeds == (record["seed"],)
        assert (
            exp.agents[0].hyperparameters["learning_rate"]
            == record["params"]["agents.0.hyperparameters.learning_rate"]
        )
        scalars = read_scalars(folder / "tensorboard" / "backtest" / run_name("PPO"))
        np.testing.assert_allclose(scalars["metrics/sharpe"].iloc[0], record["oos"]["sharpe"])
        assert any((folder / "tensorboard" / "train").glob("PPO_fold*/events.out.tfevents*"))
        assert any((folder / "validation" / "tensorboard").rglob("events.out.tfevents*"))


@pytest.fixture(scope="module")
def sequential(tiny_sweep):
    return run_sweep(load_config(tiny_sweep), backend="sequential", verbose=False)


def test_sequential_sweep_writes_every_trial_and_the_summary(sequential):
    results = sequential
    assert list(results.trials.index) == TRIALS
    assert results.n_configurations == 2 and results.n_failed == 0
    _check_trial_folders(results)
    best = results.configs["val_sharpe"].idxmax()
    assert results.selected == best
    assert 0.0 <= results.selected_dsr <= 1.0
    report = (results.root / "sweep.md").read_text()
    assert "configurations tried: 2" in report and "n_trials = 2" in report
    table = pd.read_csv(results.root / "sweep.csv", index_col="trial_id")
    assert list(table.index) == TRIALS and "agents.0.hyperparameters.learning_rate" in table


@pytest.fixture
def validation_calls(monkeypatch) -> list[dict]:
    """Every backtest from here on: its name, the dates of the market it was given, of
    each training slice its agent was fitted on and of its returns, and the policies'
    mean daily return."""
    import allocgym.backtest as backtest_module
    from allocgym.agents import RLAgent

    calls, backtest, fit = [], backtest_module.backtest, RLAgent.fit

    def recorded_fit(self, market, features=None):
        calls[-1]["fits"].append((market.dates[0], market.dates[-1]))
        return fit(self, market, features)

    def recorded_backtest(policies, market, *args, name="", **kwargs):
        calls.append({"name": name, "market": market.dates, "fits": []})
        res = backtest(policies, market, *args, name=name, **kwargs)
        calls[-1]["returns"] = res.returns.index
        calls[-1]["mean_return"] = res.returns.mean(axis=1).to_numpy()
        calls[-1]["turnover"] = res.metrics["turnover"].to_numpy()
        return res

    monkeypatch.setattr(RLAgent, "fit", recorded_fit)
    monkeypatch.setattr(backtest_module, "backtest", recorded_backtest)
    return calls


def _validation_trial(root, market, n_days, test, calls):
    """Trial c000-s0 of the tiny sweep on ``n_days`` with ``test``-day test windows:
    its record and its validation backtests."""
    from allocgym.sweep.space import Trial
    from allocgym.sweep.trial import run_trial

    calls.clear()
    root.mkdir()
    cfg = tiny_experiment(root, market, n_days, walk_forward={"train": 300, "test": test})
    trial = Trial("c000", {"agents.0.hyperparameters.learning_rate": 0.001}, 0)
    record = run_trial(load_config(cfg), trial, root / "sweep", 100, threads=1)
    assert record["status"] == "ok", record.get("error")
    return record, [c for c in calls if "validation" in c["name"]]


def test_validation_metric_ignores_the_test_window(
    sequential, synthetic_market, tmp_path, validation_calls
):
    """The validation Sharpe depends on training-part days only: same with a longer test."""
    dates = synthetic_market.dates
    # 500 days, train 300, test 200: the validation window is days [200, 300) of the
    # training part [0, 300); the agent trains on [0, 200); the test is [300, 500)
    short, short_calls = _validation_trial(
        tmp_path / "a", synthetic_market, 500, 200, validation_calls
    )
    # 600 days, test 300: a longer test window, the same training part and validation
    long, long_calls = _validation_trial(
        tmp_path / "b", synthetic_market, 600, 300, validation_calls
    )
    for calls in (short_calls, long_calls):
        assert len(calls) == 1
        (call,) = calls
        assert call["market"].equals(dates[:300])  # the training part, nothing after it
        assert call["fits"] == [(dates[0], dates[199])]
        # validation decisions at days 200..298, returns dated 201..299: strictly inside
        # the training window, after the agent's training data, before the test window
        assert call["returns"].equals(dates[201:300])
        assert call["returns"][-1] < dates[300]
        assert call["fits"][0][1] < call["returns"][0]
    assert short["val_sharpe_folds"] == [short["val_sharpe"]]
    assert np.isfinite(short["val_sharpe"])
    assert long["val_sharpe"] == short["val_sharpe"]
    assert short["val_turnover_folds"] == [short["val_turnover"]]  # one fold
    assert short["val_turnover"] > 0 and long["val_turnover"] == short["val_turnover"]
    assert long["oos"]["sharpe"] != short["oos"]["sharpe"]  # the test windows did differ
    # the same trial in the sweep (same data, seed and threads) validated the same way
    record = json.loads((sequential.root / "trials" / "c000-s0" / "trial.json").read_text())
    assert record["val_sharpe"] == short["val_sharpe"]
    assert record["oos"]["sharpe"] != record["val_sharpe"]


def test_validation_windows_end_each_training_part_after_the_purge_gap(
    synthetic_market, tmp_path, validation_calls
):
    from allocgym.backtest.metrics import sharpe_ratio
    from allocgym.experiment import prepare_run
    from allocgym.sweep.trial import validation_pass

    dates = synthetic_market.dates
    cfg = tiny_experiment(
        tmp_path, synthetic_market, 520, walk_forward={"train": 300, "test": 200, "purge": 10}
    )
    config, market, features, _, folds = prepare_run(
        load_config(cfg), progress=False, verbose=False
    )
    # folds: train [0, 300) test [310, 510); train [200, 500) test [510, 520)
    assert [(f[0], f[-1], t[0]) for f, t in folds] == [(0, 299, 310), (200, 499, 510)]
    reported: list[dict] = []
    val = validation_pass(config, market, features, folds, 100, reported.append)
    running = val.sharpe
    # the metric after fold k is the Sharpe ratio of the validation days of folds <= k
    first, second = (c["mean_return"] for c in validation_calls)
    assert running == [sharpe_ratio(first), sharpe_ratio(np.concatenate([first, second]))]
    # each fold's validation turnover is that backtest's (one agent) turnover per year
    assert [c["turnover"].tolist() for c in validation_calls] == [[t] for t in val.turnover]
    assert all(t > 0 for t in val.turnover)
    assert val.mean_turnover == pytest.approx(np.mean(val.turnover), rel=1e-15)
    assert np.isfinite(running).all()
    assert reported == [{"val_sharpe": running[0], "fold": 1}]  # the last is the record's
    # each training part [a, b): the agent trains on [a, b - 110), the 10 purge days are
    # skipped, and the last 100 days [b - 100, b) are validated (returns dated the day
    # after each decision, the last decision having no next day inside the part)
    assert [(c["market"][0], c["market"][-1]) for c in validation_calls] == [
        (dates[0], dates[299]), (dates[200], dates[499]),
    ]  # fmt: skip
    assert [c["fits"] for c in validation_calls] == [
        [(dates[0], dates[189])], [(dates[200], dates[389])],
    ]  # fmt: skip
    assert validation_calls[0]["returns"].equals(dates[201:300])
    assert validation_calls[1]["returns"].equals(dates[401:500])
    for call, (train, test) in zip(validation_calls, folds, strict=True):
        assert dates[train[0]] <= call["returns"][0] and call["returns"][-1] < dates[test[0]]


def test_rerun_resumes_finished_trials(sequential, tiny_sweep):
    before = {t: (sequential.root / "trials" / t / "trial.json").stat().st_mtime_ns
              for t in TRIALS}  # fmt: skip
    again = run_sweep(load_config(tiny_sweep), backend="sequential", verbose=False)
    after = {t: (again.root / "trials" / t / "trial.json").stat().st_mtime_ns for t in TRIALS}
    assert before == after
    pd.testing.assert_frame_equal(again.trials, sequential.trials)


def test_changed_sweep_is_refused_in_the_same_folder(sequential, tiny_sweep):
    changed = copy.deepcopy(tiny_sweep)
    changed["sweep"]["seeds"] = [5]
    with pytest.raises(ConfigError, match="holds a sweep with a different config"):
        run_sweep(load_config(changed), backend="sequential", verbose=False)


def test_crashing_trial_is_recorded_and_the_sweep_goes_on(tiny_sweep, tmp_path):
    cfg = copy.deepcopy(tiny_sweep)
    cfg["output_dir"] = str(tmp_path)
    cfg["agents"][0]["timesteps"] = 32
    # a negative learning rate passes the config check; torch's optimiser refuses it
    cfg["sweep"] = {"space": {"agents.0.hyperparameters.learning_rate": [0.001, -1.0]},
                    "validation": 100}  # fmt: skip
    results = run_sweep(load_config(cfg), backend="sequential", verbose=False)
    status = results.trials["status"].to_dict()
    assert status == {"c000-s0": "ok", "c001-s0": "error"}
    assert "learning rate" in results.trials.loc["c001-s0", "error"]
    assert results.n_configurations == 2 and results.selected == "c000"
    assert "c001-s0" in (tmp_path / "tiny" / "sweep.md").read_text().split("Failed trials")[1]


def test_invalid_substituted_value_fails_before_any_trial(tiny_sweep, tmp_path):
    cfg = copy.deepcopy(tiny_sweep)
    cfg["output_dir"] = str(tmp_path)
    cfg["sweep"] = {"space": {"env.cost_bps": [10, -1]}}
    with pytest.raises(ConfigError, match=r"trial c001-s0 .*env\.cost_bps: -1 is invalid"):
        run_sweep(load_config(cfg), backend="sequential", verbose=False)
    assert not (tmp_path / "tiny" / "trials").exists()


@pytest.mark.slow
@pytest.mark.skipif(not ray_available(), reason='Ray is not installed: pip install "allocgym[ray]"')
def test_ray_sweep_on_local_loopback_instance(tiny_sweep, tmp_path, sequential):
    import ray

    cfg = copy.deepcopy(tiny_sweep)
    cfg["output_dir"] = str(tmp_path)
    try:
        results = run_sweep(load_config(cfg), backend="ray", verbose=False)
        node = ray.nodes()[0]
        assert node["NodeManagerAddress"] == "127.0.0.1"
        assert ray.cluster_resources()["CPU"] == 2
    finally:
        ray.shutdown()
    assert list(results.trials.index) == TRIALS and results.n_failed == 0
    _check_trial_folders(results)
    assert (tmp_path / "tiny" / "ray" / "tune").is_dir()
    # One code path: the same trials give the same results as the sequential run. Both
    # backends cap torch at the trial's CPUs, so training is the same computation; the
    # tolerance only absorbs last-bit differences from numpy's BLAS, whose thread count
    # Ray sets per worker (OMP_NUM_THREADS). A different model (another seed, learning
    # rate or training window) moves a validation Sharpe by far more than 1e-6.
    np.testing.assert_allclose(
        results.trials["val_sharpe"], sequential.trials["val_sharpe"], rtol=1e-6
    )


def test_without_ray_auto_falls_back_to_sequential_with_a_message(
    sequential, tiny_sweep, monkeypatch, capsys
):
    from allocgym.sweep import driver

    monkeypatch.setattr(driver, "ray_available", lambda: False)
    again = run_sweep(load_config(tiny_sweep), backend="auto", verbose=True)  # all resumed
    captured = capsys.readouterr()
    assert "Ray is not installed: running the trials sequentially" in captured.err
    assert 'pip install "allocgym[ray]"' in captured.err
    assert "backend sequential" in captured.out
    assert list(again.trials.index) == TRIALS
    asha = copy.deepcopy(tiny_sweep)
    asha["sweep"]["scheduler"] = "asha"
    with pytest.raises(ConfigError, match=r"need Ray Tune.*allocgym\[ray\]"):
        run_sweep(load_config(asha), backend="auto", verbose=False)


@pytest.mark.skipif(ray_available() and importlib.util.find_spec("optuna") is not None,
                    reason="Ray and Optuna are installed: nothing to refuse")  # fmt: skip
def test_optuna_without_its_packages_is_refused_with_the_install_command(tiny_sweep, tmp_path):
    cfg = copy.deepcopy(tiny_sweep)
    cfg["output_dir"] = str(tmp_path)
    cfg["sweep"] = {"search": "optuna", "space": {"env.cost_bps": {"uniform": [1, 20]}}}
    with pytest.raises(ConfigError, match=r"pip install"):
        run_sweep(load_config(cfg), verbose=False)


def test_a_trial_reports_each_fold_but_the_last_then_its_final_metrics(synthetic_market, tmp_path):
    """What Ray Tune receives: the running validation Sharpe after fold 1 of 2 (with the
    record saved so far), then the final record's metrics with the out-of-sample ones."""
    from allocgym.sweep.space import Trial
    from allocgym.sweep.trial import OOS_METRICS, read_record, run_trial

    walk = {"train": 300, "test": 200, "purge": 10}  # 2 folds
    cfg = tiny_experiment(tmp_path, synthetic_market, 520, walk_forward=walk)
    cfg["agents"][0]["timesteps"] = 32
    trial_dir = tmp_path / "sweep" / "trials" / "c000-s0"
    reported, saved = [], []

    def report(metrics):
        reported.append(metrics)
        saved.append(read_record(trial_dir))

    trial = Trial("c000", {"agents.0.hyperparameters.learning_rate": 0.001}, 0)
    record = run_trial(load_config(cfg), trial, tmp_path / "sweep", 100, report, threads=1)
    assert record["status"] == "ok", record.get("error")
    first = {"val_sharpe": record["val_sharpe_folds"][0], "fold": 1}
    oos = {f"oos_{k}": v for k, v in record["oos"].items()}
    assert set(record["oos"]) == set(OOS_METRICS)
    final = {"val_sharpe": record["val_sharpe"], "fold": 2, "status": "ok", **oos}
    assert reported == [first, final]
    # the provisional record was on disk when fold 1 was reported, and it stays in the record
    assert saved[0]["status"] == "running" and saved[0]["val_sharpe"] == first["val_sharpe"]
    assert record["fold"] == 1 and saved[1] == record
