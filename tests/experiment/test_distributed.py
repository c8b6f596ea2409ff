"""``allocgym run --backend ray``: the trainings as Ray tasks, one run folder, same numbers."""

from __future__ import annotations

import copy
import io
import zipfile

import numpy as np
import pytest
import torch
import yaml

from allocgym._ray import ray_available
from allocgym.backtest import Results
from allocgym.cli import main
from allocgym.exceptions import ConfigError, TrainingFailed
from allocgym.experiment import load_config, run_experiment, train_agents
from tests.helpers import tiny_experiment

needs_ray = pytest.mark.skipif(
    not ray_available(), reason='Ray is not installed: pip install "allocgym[ray]"'
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, synthetic_market) -> dict:
    """One PPO with two seeds (two rows and their ensemble), 1/N; two folds; features
    with GARCH and regimes, refitted once."""
    config = tiny_experiment(tmp_path_factory.mktemp("dist"), synthetic_market, 700)
    config["agents"][0]["seeds"] = [0, 1]
    # GARCH and HMM regimes: on Ray their fits run on the workers (joblib's Ray backend)
    config["features"] = {"preset": "standard", "cache": False, "overrides": {"min_train": 300}}
    return config


@pytest.fixture(scope="module")
def ray_session():
    if not ray_available():
        pytest.skip('Ray is not installed: pip install "allocgym[ray]"')
    import ray

    from allocgym._ray import start_ray

    start_ray(2)
    yield ray
    ray.shutdown()


def _models(run_dir) -> dict[str, dict[str, np.ndarray]]:
    """Every model folder's policy weights, by label/fold."""
    out = {}
    for folder in sorted((run_dir / "models").glob("*/*")):
        with zipfile.ZipFile(folder / "model.zip") as z:
            state = torch.load(io.BytesIO(z.read("policy.pth")), weights_only=True)
        out[f"{folder.parent.name}/{folder.name}"] = {k: v.numpy() for k, v in state.items()}
    return out


@needs_ray
@pytest.mark.slow
def test_a_ray_run_is_the_local_run(tiny, ray_session, capsys):
    local = load_config({**tiny, "name": "local"})
    on_ray = load_config({**tiny, "name": "on_ray"})
    # both with their defaults: a local run trains on one torch thread and each Ray
    # task on its one CPU, so both do the same arithmetic whatever this machine's cores
    run_experiment(local, progress=False, verbose=False)
    run_experiment(on_ray, progress=False, verbose=True, backend="ray")
    assert "ray: 4 trainings to run, 0 already saved (local, 127.0.0.1)" in capsys.readouterr().out
    assert ray_session.nodes()[0]["NodeManagerAddress"] == "127.0.0.1"
    a, b = Results.load(local.run_dir), Results.load(on_ray.run_dir)
    assert list(b.metrics.index) == ["PPO s0", "PPO s1", "PPO ensemble", "1/N"]
    # same seeds, data, settings and threads: the same models, so the same track
    np.testing.assert_allclose(b.returns.to_numpy(), a.returns.to_numpy(), rtol=0, atol=1e-12)
    ma, mb = _models(local.run_dir), _models(on_ray.run_dir)
    assert list(ma) == list(mb) and len(ma) == 4  # 2 seeds x 2 folds, same folders
    for key in ma:
        for name, tensor in ma[key].items():
            np.testing.assert_allclose(mb[key][name], tensor, rtol=0, atol=1e-6)
    boards = sorted(p.name for p in (on_ray.run_dir / "tensorboard" / "train").iterdir())
    assert boards == sorted(p.name for p in (local.run_dir / "tensorboard" / "train").iterdir())
    # resuming: every model is saved, nothing is trained again, the files are untouched
    stamps = {p: p.stat().st_mtime_ns for p in (on_ray.run_dir / "models").rglob("*.zip")}
    saved = train_agents(on_ray, progress=False, verbose=True, backend="ray")
    assert "ray: 0 trainings to run, 4 already saved" in capsys.readouterr().out
    assert sorted(saved) == sorted((on_ray.run_dir / "models").glob("*/*"))
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


@needs_ray
@pytest.mark.slow
def test_a_failed_task_is_reported_and_the_others_kept(tiny, ray_session):
    from allocgym.agents import AGENTS

    config = copy.deepcopy(tiny)
    config["name"] = "failing"
    config["agents"][0]["seeds"] = [0]
    # an agent registered in this process only: the workers import allocgym afresh and
    # do not know it (a plug-in not installed on the workers), so its tasks fail there
    AGENTS.register("ppo_here_only", AGENTS.entry("ppo").factory)
    config["agents"].append({**config["agents"][0], "name": "ppo_here_only", "label": "Bad"})
    try:
        cfg = load_config(config)
        failed = (
            r"(?s)2 of 4 trainings failed on Ray .*an error of the code or config is not.*"
            r"the other 2 are saved.*"
            r"Bad on \d{8}-\d{8}: ConfigError: unknown agent 'ppo_here_only'"
        )
        with pytest.raises(TrainingFailed, match=failed):
            run_experiment(cfg, progress=False, verbose=False, backend="ray")
    finally:
        AGENTS._forget("ppo_here_only")
    assert len(list((cfg.run_dir / "models" / "PPO").iterdir())) == 2
    assert not (cfg.run_dir / "models" / "Bad").exists()
    assert not (cfg.run_dir / "report.md").exists()  # no report from a partial run


def test_backend_and_address_are_checked_before_anything_is_written(tiny, tmp_path, capsys):
    cfg = load_config({**tiny, "output_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"backend='dask' is invalid; expected one of"):
        run_experiment(cfg, backend="dask")
    with pytest.raises(ConfigError, match=r"address='10\.0\.0\.1:6379' joins a Ray cluster"):
        run_experiment(cfg, address="10.0.0.1:6379")
    assert not any(tmp_path.iterdir())
    path = tmp_path.parent / "tiny.yaml"
    path.write_text(yaml.safe_dump({**tiny, "output_dir": str(tmp_path)}))
    assert main(["run", str(path), "--address", "10.0.0.1:6379"]) == 1
    assert "it needs backend='ray'" in capsys.readouterr().err
    assert main(["train", str(path), "--threads", "0", "--backend", "ray"]) == 1
    assert "threads=0 is invalid; expected a whole number >= 1" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_only_errors_of_the_machine_are_retried():
    """A task's own error (an unknown agent, a bad setting) would recur: not retried; an
    error of the machine (a full disk, a lost connection, memory) may not: retried."""
    from allocgym.experiment.distributed import task_options

    options = task_options(2, 3)
    assert (options["num_cpus"], options["max_retries"]) == (2, 3)
    retried = tuple(options["retry_exceptions"])
    for machine in (OSError("disk full"), ConnectionError(), TimeoutError(), MemoryError()):
        assert isinstance(machine, retried)
    for own in (ConfigError("unknown agent"), ValueError("bad"), TypeError(), KeyError("x")):
        assert not isinstance(own, retried)
