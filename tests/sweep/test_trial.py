"""One trial on its own: its config, the validation boundary, torch threads, its record."""

from __future__ import annotations

import json
import time
import types

import numpy as np
import pandas as pd
import pytest
import torch

import allocgym.backtest as backtest_module
from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config, prepare_run
from allocgym.sweep import trial as trial_module
from allocgym.sweep.space import Trial
from allocgym.sweep.trial import read_record, run_trial, trial_config, validation_pass
from tests.helpers import tiny_experiment

# trial_config refuses a negative cost: the trial fails at once, before any data is read
BAD_COST = Trial("c000", {"env.cost_bps": -1}, 0)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, synthetic_market):
    """A tiny experiment's (config, market, features, splitter, folds); window 5, purge 0."""
    cfg = tiny_experiment(tmp_path_factory.mktemp("prepared"), synthetic_market, 500)
    return prepare_run(load_config(cfg), progress=False, verbose=False)


@pytest.fixture
def backtest_calls(monkeypatch) -> list[dict]:
    """validation_pass's backtests, recorded and answered with 0.1% daily returns."""
    calls: list[dict] = []

    def fake_backtest(policies, market, features, **kwargs):
        calls.append({"market": market, "features": features, **kwargs})
        n = kwargs["splitter"].test
        days = np.linspace(0.0005, 0.0015, n)
        metrics = pd.DataFrame({"turnover": [1.0]}, index=["PPO"])
        return types.SimpleNamespace(returns=pd.DataFrame({"PPO": days}), metrics=metrics)

    monkeypatch.setattr(backtest_module, "backtest", fake_backtest)
    return calls


def test_trial_config_is_a_plain_experiment_without_the_sweep_section(tiny_sweep, tmp_path):
    """The trial runs (and saves) the variant as an experiment: no nested sweep."""
    base = load_config(tiny_sweep)
    assert base.sweep is not None
    trial = Trial("c001", {"agents.0.hyperparameters.learning_rate": 0.0003}, 1)
    config = trial_config(base, trial, tmp_path)
    assert config.sweep is None
    assert config.to_dict()["sweep"] is None
    assert config.agents[0].seeds == (1,) and config.name == "c001-s1"
    assert config.agents[0].hyperparameters["learning_rate"] == 0.0003


@pytest.mark.parametrize(("extra", "refused"), [(0, True), (1, True), (2, False), (3, False)])
def test_validation_needs_more_than_window_plus_one_training_days(
    prepared, backtest_calls, extra, refused
):
    """fit_days = len(train) - validation - purge must exceed window + 1 (here 5 + 1)."""
    config, market, _, _, _ = prepared
    window, purge = config.env.window, config.walk_forward.purge
    fit_days = window + extra
    folds = [(np.arange(200), np.arange(200, 300))]
    validation = 200 - purge - fit_days
    if refused:
        with pytest.raises(ConfigError, match=rf"leaves {fit_days} days to train on"):
            validation_pass(config, market, None, folds, validation)
        assert backtest_calls == []
    else:
        validation_pass(config, market, None, folds, validation)
        (call,) = backtest_calls
        assert call["splitter"].train == fit_days and call["splitter"].test == validation


def test_validation_backtests_on_the_training_part_of_the_feature_panel(prepared, backtest_calls):
    """Each fold's validation sees the features of its training part, or none if none."""
    config, market, features, _, _ = prepared
    folds = [(np.arange(50, 250), np.arange(250, 300))]
    validation_pass(config, market, features, folds, 100)
    validation_pass(config, market, None, folds, 100)
    with_features, without = backtest_calls
    assert with_features["features"] is not None
    assert with_features["features"].dates.equals(market.dates[50:250])
    assert with_features["market"].dates.equals(market.dates[50:250])
    assert without["features"] is None


@pytest.fixture
def torch_threads():
    """torch at 3 threads during the test (so 1, 2 and 'unchanged' differ); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)


@pytest.mark.parametrize(("threads", "inside"), [(1, 1), (2, 2), (0, 1), (None, 3)])
def test_trial_runs_with_its_threads_and_restores_torchs_count(
    monkeypatch, torch_threads, threads, inside
):
    seen = []

    def fake_run_trial(*args):
        seen.append(torch.get_num_threads())
        return {"status": "ok"}

    monkeypatch.setattr(trial_module, "_run_trial", fake_run_trial)
    assert run_trial(None, BAD_COST, None, 100, threads=threads) == {"status": "ok"}
    assert seen == [inside]
    assert torch.get_num_threads() == torch_threads


def test_torch_thread_count_is_restored_when_the_trial_raises(monkeypatch, torch_threads):
    def crash(*args):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(trial_module, "_run_trial", crash)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_trial(None, BAD_COST, None, 100, threads=1)
    assert torch.get_num_threads() == torch_threads


def test_failing_trial_record_carries_the_error_and_its_traceback(tiny_sweep, tmp_path):
    start = time.perf_counter()
    record = run_trial(load_config(tiny_sweep), BAD_COST, tmp_path, 100)
    wall = time.perf_counter() - start
    assert record["status"] == "error"
    assert record["error"].startswith("ConfigError: trial c000-s0")
    assert record["traceback"].startswith("Traceback (most recent call last)")
    assert "ConfigError" in record["traceback"] and "trial_config" in record["traceback"]
    assert 0.0 <= record["elapsed_s"] <= wall
    assert read_record(tmp_path / "trials" / "c000-s0") == record


def test_trial_elapsed_time_is_in_seconds_rounded_to_the_millisecond(
    tiny_sweep, tmp_path, monkeypatch
):
    clock = iter([1000.0, 1001.23456])
    monkeypatch.setattr(trial_module, "time", types.SimpleNamespace(perf_counter=clock.__next__))
    record = run_trial(load_config(tiny_sweep), BAD_COST, tmp_path, 100)
    assert record["elapsed_s"] == 1.235
    assert read_record(tmp_path / "trials" / "c000-s0")["elapsed_s"] == 1.235


def test_trial_creates_its_folder_under_a_root_that_does_not_exist_yet(tiny_sweep, tmp_path):
    root = tmp_path / "new" / "sweep"
    record = run_trial(load_config(tiny_sweep), BAD_COST, root, 100)
    assert json.loads((root / "trials" / "c000-s0" / "trial.json").read_text()) == record


def test_preparing_a_trial_prints_nothing_even_while_fitting_feature_predictors(
    synthetic_market, tmp_path, capsys
):
    """The feature build (one GARCH refit here, which has a progress bar) is silent; the
    trial then fails at once, in the validation pass, on a too long validation window."""
    features = {"preset": "technical", "cache": False,
                "overrides": {"garch": {}, "min_train": 250, "refit_every": 1000}}  # fmt: skip
    cfg = tiny_experiment(tmp_path, synthetic_market, 500, features=features)
    trial = Trial("c000", {}, 0)
    record = run_trial(load_config(cfg), trial, tmp_path / "sweep", 1000)
    assert record["error"].startswith("ConfigError: sweep.validation: 1000 is invalid")
    assert capsys.readouterr() == ("", "")


def test_a_trial_prints_nothing(synthetic_market, tmp_path, capsys):
    """Validation, preparation and the out-of-sample run are silent (no output, no bars):
    many trials run at once, and Ray forwards every worker's output to the driver."""
    cfg = tiny_experiment(tmp_path, synthetic_market, 500)
    cfg["agents"][0]["timesteps"] = 32
    trial = Trial("c000", {"agents.0.hyperparameters.learning_rate": 0.001}, 0)
    record = run_trial(load_config(cfg), trial, tmp_path / "sweep", 100, threads=1)
    assert record["status"] == "ok", record.get("error")
    assert capsys.readouterr() == ("", "")
