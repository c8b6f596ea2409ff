"""`run_experiment`, `train_agents` and `prepare_run` as documented: defaults, what a run
prints and shows on stderr, the training bar, the lock, the data checks at their limits,
and the Ray backend's path (with Ray itself replaced by recorders: no cluster starts)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import yaml

from allocgym.backtest.tensorboard import run_name
from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config, run_experiment, runner, train_agents
from allocgym.experiment.run_folder import LOCK
from tests.helpers import tiny_experiment

TWO_SEEDS = {
    "name": "ppo", "label": "PPO", "timesteps": 32, "seeds": [0, 1], "n_envs": 1,
    "hyperparameters": {"n_steps": 16, "batch_size": 16, "n_epochs": 1},
}  # fmt: skip
# 700 days, train 300, test 200: two folds; two seeds of 32 steps each
TRAINING_STEPS = 2 * 2 * 32


class _Boom(RuntimeError):
    """Raised by a stand-in to stop a run at a known point."""


@pytest.fixture
def training_bars(monkeypatch) -> list:
    """Every "training" progress bar made from here on; each records whether it was closed."""
    import tqdm.auto

    made: list = []

    class Recorded(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            self.closed_ = False
            super().__init__(*args, **kwargs)
            if kwargs.get("desc") == "training":
                made.append(self)

        def close(self):
            self.closed_ = True
            super().close()

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorded)
    return made


def _locked(config) -> bool:
    return (config.run_dir / LOCK).exists()


# ---------------------------------------------------------------- train, then run
@pytest.fixture(scope="module")
def trained(tmp_path_factory, synthetic_market):
    """``train_agents`` with its defaults (progress and verbose on) on a fresh folder:
    two PPO seeds x two folds; what it printed, showed on stderr and returned."""
    config = load_config(
        tiny_experiment(tmp_path_factory.mktemp("trained"), synthetic_market, 700,
                        agents=[TWO_SEEDS], report={"n_boot": 10})
    )  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        saved = train_agents(config)
    return config, saved, out.getvalue(), err.getvalue(), _locked(config)


def test_train_agents_trains_and_saves_every_fold_and_gives_the_lock_back(trained):
    config, saved, _, _, locked = trained
    models = config.run_dir / "models"
    assert sorted(saved) == sorted(models.glob("*/*"))
    assert len(saved) == 4  # 2 seeds x 2 folds, nothing there before: all trained now
    for folder in saved:
        assert sorted(p.name for p in folder.iterdir()) == ["agent.json", "model.zip"]
    assert not locked


def test_train_agents_by_default_prints_its_stages_and_shows_the_training_bar(trained):
    config, _, out, err, _ = trained
    assert f"[allocgym] {config.name}: " in out and "[allocgym] features: " in out
    assert "training" in err and f"{TRAINING_STEPS}/{TRAINING_STEPS}" in err


def test_a_run_after_train_agents_loads_the_models_quietly(trained, monkeypatch, capsys):
    """progress=False, verbose=False: nothing on stdout or stderr (no training bar, no
    backtest bar), every model loaded, the lock given back."""
    from stable_baselines3 import PPO

    config, *_ = trained
    capsys.readouterr()

    def refuse(*args, **kwargs):
        raise AssertionError("a model saved by train_agents was retrained")

    monkeypatch.setattr(PPO, "learn", refuse)
    results = run_experiment(config, progress=False, verbose=False)
    assert list(results.metrics.index) == ["PPO s0", "PPO s1", "PPO ensemble", "1/N"]
    # the report groups the seeds (saved with the results) and every policy has its
    # TensorBoard run, as for a run that trained its models itself
    assert results.config["seed_groups"] == {"PPO": ["PPO s0", "PPO s1"]}
    assert results.config["seed_ensembles"] == {"PPO": "PPO ensemble"}
    boards = config.run_dir / "tensorboard" / "backtest"
    assert sorted(p.name for p in boards.iterdir()) == sorted(
        run_name(policy) for policy in results.metrics.index
    )
    assert capsys.readouterr() == ("", "")
    assert not _locked(config)


def test_the_training_bar_counts_every_step_of_every_seed_and_fold(trained, training_bars):
    config, *_ = trained
    with contextlib.redirect_stderr(io.StringIO()):
        train_agents(config, verbose=False)  # every fold loaded: counted as done
    (bar,) = training_bars
    assert (bar.total, bar.n) == (TRAINING_STEPS, TRAINING_STEPS)
    assert bar.closed_


# ---------------------------------------------------------------- failures
@pytest.fixture
def agent_config(tmp_path, synthetic_market):
    return load_config(tiny_experiment(tmp_path, synthetic_market, 700, agents=[TWO_SEEDS]))


def test_a_failed_run_closes_its_training_bar_and_gives_the_lock_back(
    agent_config, training_bars, monkeypatch, capsys
):
    """With the default progress=True the training bar is on stderr; a run that fails
    (here the backtest) still closes it and releases the run folder."""
    import allocgym.backtest

    def fail(*args, **kwargs):
        raise _Boom("backtest failed")

    monkeypatch.setattr(allocgym.backtest, "backtest", fail)
    with pytest.raises(_Boom):
        run_experiment(agent_config, verbose=False)
    (bar,) = training_bars
    assert bar.total == TRAINING_STEPS and bar.closed_
    assert "training" in capsys.readouterr().err
    assert not _locked(agent_config)


def test_a_failed_train_agents_closes_its_training_bar_and_gives_the_lock_back(
    agent_config, training_bars, monkeypatch
):
    from allocgym.agents import RLAgent

    def fail(self, *args, **kwargs):
        raise _Boom("training failed")

    monkeypatch.setattr(RLAgent, "fit", fail)
    with pytest.raises(_Boom), contextlib.redirect_stderr(io.StringIO()):
        train_agents(agent_config, verbose=False)
    (bar,) = training_bars
    assert bar.closed_
    assert not _locked(agent_config)


# ---------------------------------------------------------------- baselines only
@pytest.fixture
def baselines_config(tmp_path, synthetic_market):
    return load_config(
        tiny_experiment(tmp_path, synthetic_market, 700, agents=[], report={"n_boot": 10})
    )


def test_a_verbose_run_prints_its_stages_the_table_and_where_to_look(baselines_config, capsys):
    config = baselines_config
    results = run_experiment(config)  # defaults: progress and verbose on
    out, err = capsys.readouterr()
    run_dir = config.run_dir
    assert f"[allocgym] {config.name}: " in out
    assert "[allocgym] features: " in out
    assert "[allocgym] 2 walk-forward folds x 1 policies" in out
    assert runner.summary_table(results) in out
    assert f"report: {run_dir / 'report.md'}" in out
    assert f"tensorboard --logdir {run_dir}" in out
    assert "training" not in err  # no agent, no training bar


def test_summary_table_shows_the_metrics_of_every_policy(baselines_config):
    results = run_experiment(baselines_config, progress=False, verbose=False)
    text = runner.summary_table(results)
    header = text.strip().splitlines()[0].split()
    assert header == [c for c in runner._TABLE_COLUMNS if c in results.metrics.columns]
    for column in ("sharpe", "max_drawdown", "turnover"):
        assert column in header
        assert f"{results.metrics.loc['1/N', column]:.4f}" in text
    assert "across seeds" not in text  # no agent with several seeds


# ---------------------------------------------------------------- prepare_run
def test_prepare_run_resumes_prints_and_builds_features_in_this_process_by_default(
    baselines_config, monkeypatch, capsys
):
    import allocgym.predictors

    config = baselines_config
    run_experiment(config, progress=False, verbose=False)
    (config.run_dir / "notes.txt").write_text("kept")
    calls = []
    build = allocgym.predictors.build_features

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return build(*args, **kwargs)

    monkeypatch.setattr(allocgym.predictors, "build_features", spy)
    capsys.readouterr()
    with runner.prepare_run(config) as prepared:
        assert prepared.config is config and len(prepared.folds) == 2
        assert _locked(config)
    assert not _locked(config)
    assert (config.run_dir / "notes.txt").read_text() == "kept"  # not fresh: resumed
    assert f"[allocgym] {config.name}: " in capsys.readouterr().out
    (kwargs,) = calls
    assert kwargs["progress"] is True and kwargs["n_jobs"] == 1


@pytest.mark.parametrize("cache", [False, True])
def test_features_cache_false_writes_no_cache(cache, tmp_path, synthetic_market, monkeypatch):
    cache_dir = tmp_path / "feature_cache"
    monkeypatch.setenv("ALLOCGYM_CACHE_DIR", str(cache_dir))
    data = tiny_experiment(tmp_path, synthetic_market, 400, agents=[])
    data["features"] = {"preset": "technical", "cache": cache}
    with runner.prepare_run(load_config(data), progress=False, verbose=False):
        pass
    written = [p for p in cache_dir.rglob("*") if p.is_file()] if cache_dir.exists() else []
    assert bool(written) == cache


# ---------------------------------------------------------------- data checks at the limits
def _small(tmp_path, market, n_days: int, **overrides):
    return load_config(tiny_experiment(tmp_path, market, n_days, **overrides))


def test_window_may_be_the_data_length_minus_two_and_no_more(tmp_path, synthetic_market):
    market = synthetic_market[:60]
    wf = {"train": 30, "test": 10}
    fits = _small(tmp_path, market, 60, agents=[], walk_forward=wf,
                  env={"window": 58, "rebalance_every": 5, "episode_length": 10})  # fmt: skip
    assert [len(test) for _, test in runner.check_against_data(fits, market)] == [10, 10, 10]
    too_long = _small(tmp_path, market, 60, agents=[], walk_forward=wf,
                      env={"window": 59, "rebalance_every": 5, "episode_length": 10})  # fmt: skip
    with pytest.raises(ConfigError, match=r"env\.window: 59 does not fit .*at most 58 days"):
        runner.check_against_data(too_long, market)


def test_window_must_fit_the_shortest_training_fold_with_one_decision(tmp_path, synthetic_market):
    """Expanding folds train on 30, 40 and 50 days; the shortest must hold ``window``
    days of history and one decision of ``rebalance_every`` days: window <= 30 - 1 - 5."""
    market = synthetic_market[:60]
    wf = {"train": 30, "test": 10, "expanding": True}

    def config(window):
        env = {"window": window, "rebalance_every": 5, "episode_length": 10}
        return _small(tmp_path, market, 60, walk_forward=wf, env=env)

    folds = runner.check_against_data(config(24), market)
    assert [len(train) for train, _ in folds] == [30, 40, 50]
    with pytest.raises(ConfigError, match=r"env\.window: 25 .*at most 24: .*\(30 days"):
        runner.check_against_data(config(25), market)


# ---------------------------------------------------------------- build_agent
def test_build_agent_puts_models_and_curves_under_the_root_it_is_given(agent_config, tmp_path):
    agent = agent_config.agents[0]
    own = tmp_path / "task"
    built = runner.build_agent(agent_config, agent, 1, root=own)
    assert built.checkpoint_dir == own / "models" / "PPO_s1"
    assert built.tensorboard_dir == own / "tensorboard" / "train"
    default = runner.build_agent(agent_config, agent, 1)
    assert default.checkpoint_dir == agent_config.run_dir / "models" / "PPO_s1"


# ---------------------------------------------------------------- backends
def test_train_agents_refuses_a_bad_backend_before_anything_is_written(agent_config):
    with pytest.raises(ConfigError, match=r"backend='dask' is invalid"):
        train_agents(agent_config, backend="dask")
    assert not agent_config.run_dir.exists()


@pytest.fixture
def learn_threads(monkeypatch) -> list[int]:
    """torch's thread count at every SB3 ``learn`` call from here on."""
    import torch
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    seen: list[int] = []
    learn = OnPolicyAlgorithm.learn

    def recorded(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return learn(self, *args, **kwargs)

    monkeypatch.setattr(OnPolicyAlgorithm, "learn", recorded)
    return seen


@pytest.mark.parametrize("entry", [train_agents, run_experiment])
def test_local_training_runs_on_the_given_threads_and_gives_them_back(
    agent_config, learn_threads, entry
):
    """Default one thread (the same arithmetic as a Ray task with one CPU, on any
    machine); ``threads`` sets it for the trainings only."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        entry(agent_config, progress=False, verbose=False)
        assert learn_threads == [1] * 4  # two seeds x two folds, each on one thread
        assert torch.get_num_threads() == 3
        learn_threads.clear()
        entry(agent_config, fresh=True, progress=False, verbose=False, threads=2)
        assert learn_threads == [2] * 4
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_a_bad_thread_count_is_refused_before_anything_is_written(agent_config, threads):
    with pytest.raises(ConfigError, match=rf"threads={threads!r} is invalid"):
        run_experiment(agent_config, progress=False, verbose=False, threads=threads)
    assert not agent_config.run_dir.exists()


@pytest.fixture
def fake_ray(monkeypatch):
    """Ray replaced by recorders: ``start_ray`` records its arguments; the run's
    ``prepare_run`` records the joblib backend it runs under; ``train_on_ray`` records
    what it was given and returns ``calls["trained"]`` (or raises it)."""
    import joblib

    import allocgym._ray
    import allocgym.experiment.distributed

    calls: dict = {"start_ray": [], "prepare": [], "train_on_ray": [], "trained": []}
    prepare = runner.prepare_run

    def prepare_on_record(config, **kwargs):
        backend, _ = joblib.parallel.get_active_backend()
        calls["prepare"].append((type(backend).__name__, kwargs.pop("n_jobs", 1)))
        return prepare(config, n_jobs=1, **kwargs)  # the panel does not depend on n_jobs

    def train_on_ray(prepared, **kwargs):
        calls["train_on_ray"].append((prepared, kwargs))
        if isinstance(calls["trained"], BaseException):
            raise calls["trained"]
        return calls["trained"]

    monkeypatch.setattr(allocgym._ray, "start_ray", lambda *a: calls["start_ray"].append(a))
    monkeypatch.setattr(runner, "prepare_run", prepare_on_record)
    monkeypatch.setattr(allocgym.experiment.distributed, "train_on_ray", train_on_ray)
    return calls


def test_on_ray_the_features_use_every_worker_and_the_trainings_are_ray_tasks(
    agent_config, fake_ray
):
    fake_ray["trained"] = [Path("saved-by-ray")]
    address = "10.0.0.1:6379"
    saved = train_agents(agent_config, progress=False, verbose=False, backend="ray",
                         address=address)  # fmt: skip
    assert saved == [Path("saved-by-ray")]
    assert fake_ray["start_ray"] == [(None, address)]  # joins the cluster at address
    assert fake_ray["prepare"] == [("RayBackend", -1)]  # every CPU of the cluster
    ((prepared, kwargs),) = fake_ray["train_on_ray"]
    assert prepared.config is agent_config and kwargs["address"] == address
    assert kwargs["cpus_per_task"] == 1  # each task trains on the local default's one thread
    assert not (agent_config.run_dir / "models").exists()  # nothing trained here
    assert not _locked(agent_config)


def test_on_ray_a_run_without_agents_submits_no_task(baselines_config, fake_ray):
    assert train_agents(baselines_config, progress=False, verbose=False, backend="ray") == []
    assert fake_ray["train_on_ray"] == []
    assert not _locked(baselines_config)


def test_on_ray_the_trainings_run_before_the_backtest(agent_config, fake_ray):
    """A failed Ray training stops the run: no report from a partial run."""
    fake_ray["trained"] = _Boom("a Ray task failed")
    with pytest.raises(_Boom):
        run_experiment(agent_config, progress=False, verbose=False, backend="ray")
    assert len(fake_ray["train_on_ray"]) == 1
    assert not (agent_config.run_dir / "report.md").exists()
    assert not _locked(agent_config)


def test_a_bad_config_file_fails_before_ray_starts(tmp_path, fake_ray):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"env": {"window": 0}}))
    with pytest.raises(ConfigError, match=r"env\.window: 0 is invalid"):
        run_experiment(path, progress=False, verbose=False, backend="ray")
    assert fake_ray["start_ray"] == []


def test_without_ray_the_ray_backend_is_refused_and_the_local_one_works(
    baselines_config, fake_ray, monkeypatch
):
    import allocgym._ray

    monkeypatch.setattr(allocgym._ray, "ray_available", lambda: False)
    with pytest.raises(ConfigError, match=r"backend='ray' needs Ray, which is not installed"):
        train_agents(baselines_config, backend="ray")
    assert fake_ray["start_ray"] == [] and not baselines_config.run_dir.exists()
    assert train_agents(baselines_config, progress=False, verbose=False) == []
