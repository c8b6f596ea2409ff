"""The run folder: names stay inside output_dir, --fresh deletes only allocgym's folders,
one run at a time, moved folders resume, plug-ins run last, settings checked against the
data before anything is written, result files under the user's umask."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from allocgym.cli import main
from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config, run_experiment
from allocgym.experiment.run_folder import LOCK, MARKER, acquire_lock, release_lock
from tests.helpers import record_built_policies, tiny_experiment


@pytest.fixture
def baselines_only(tmp_path, synthetic_market):
    """A config with 1/N only (no training: a run takes seconds)."""
    return tiny_experiment(tmp_path, synthetic_market, 700, agents=[], report={"n_boot": 10})


def _run(config: dict, **kwargs):
    return run_experiment(load_config(config), progress=False, verbose=False, **kwargs)


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# ---------------------------------------------------------------- case 1: names
@pytest.mark.parametrize(
    ("name", "why"),
    [("..", "above or at"), (".", "above or at"), ("a/b", "separator"), ("/tmp/x", "separator"),
     ("a\\b", "separator"), ("", "empty"), ("run\x00", "control"), ("x\n", "control")],
)  # fmt: skip
def test_name_must_be_one_folder_inside_output_dir(baselines_only, name, why):
    with pytest.raises(ConfigError, match=rf"name: .* is invalid.*{why}"):
        load_config({**baselines_only, "name": name})


def test_dotdot_name_on_the_command_line_writes_nothing_above_output_dir(
    baselines_only, tmp_path, capsys
):
    path = tmp_path / "exp.yaml"
    path.write_text(json.dumps(baselines_only))  # JSON is YAML
    before = _tree(tmp_path)
    for name in ("..", "."):
        assert main(["run", str(path), "--name", name, "--fresh", "--no-progress"]) == 1
        assert "name:" in capsys.readouterr().err
    assert _tree(tmp_path) == before  # nothing deleted, nothing written


@pytest.mark.parametrize(
    ("labels", "match"),
    [(["A B", "A_B"], "both become 'A_B'"), (["x\ty"], "control characters"),
     (["   "], "non-empty label")],
)  # fmt: skip
def test_labels_must_be_printable_and_distinct_as_folder_names(baselines_only, labels, match):
    baselines = [{"name": "equal_weight", "label": label} for label in labels]
    with pytest.raises(ConfigError, match=match):
        load_config({**baselines_only, "baselines": baselines})


def test_a_label_that_looks_like_a_path_stays_inside_the_run_folder(tmp_path, synthetic_market):
    from allocgym.experiment.runner import build_policies

    agent = {"name": "ppo", "label": "../../../../escaped/evil", "timesteps": 64}
    config = load_config(tiny_experiment(tmp_path, synthetic_market, 700, agents=[agent]))
    policy = build_policies(config)["../../../../escaped/evil"]
    run = config.run_dir.resolve()
    assert policy.checkpoint_dir.resolve().parent == run / "models"
    assert policy.tensorboard_dir.resolve().is_relative_to(run)


# ---------------------------------------------------------------- case 1: --fresh
def test_fresh_refuses_a_folder_allocgym_did_not_make(baselines_only):
    run = Path(baselines_only["output_dir"]) / baselines_only["name"]
    run.mkdir(parents=True)
    (run / "thesis.tex").write_text("years of work")
    for fresh in (True, False):  # neither deleted nor written into
        with pytest.raises(ConfigError, match=f"not an allocgym run folder.*no {MARKER}"):
            _run(baselines_only, fresh=fresh)
    assert _tree(run) == {"thesis.tex"}


def test_fresh_refuses_a_symbolic_link(baselines_only, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / MARKER).write_text("{}")  # even one that looks like a run folder
    (elsewhere / "keep.txt").write_text("x")
    out = Path(baselines_only["output_dir"])
    out.mkdir(parents=True)
    (out / baselines_only["name"]).symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="symbolic link"):
        _run(baselines_only, fresh=True)
    assert (elsewhere / "keep.txt").exists()


def test_fresh_deletes_and_remakes_its_own_run_folder(baselines_only):
    _run(baselines_only)
    run = Path(baselines_only["output_dir"]) / baselines_only["name"]
    assert (run / MARKER).is_file() and not (run / LOCK).exists()  # lock given back
    (run / "stale.txt").write_text("from an older run")
    _run(baselines_only, fresh=True)
    assert not (run / "stale.txt").exists() and (run / "metrics.csv").exists()


def test_a_run_folder_from_before_the_marker_is_adopted(baselines_only):
    _run(baselines_only)
    run = Path(baselines_only["output_dir"]) / baselines_only["name"]
    (run / MARKER).unlink()  # as written by an earlier allocgym: experiment.yaml only
    _run(baselines_only)
    assert (run / MARKER).is_file()


# ---------------------------------------------------------------- case 3: moved folders
def test_a_moved_run_folder_resumes_and_no_destructive_flag_is_suggested(baselines_only, tmp_path):
    first = _run(baselines_only)
    old = Path(baselines_only["output_dir"]) / baselines_only["name"]
    moved = tmp_path / "archive"
    moved.mkdir()
    shutil.move(old, moved / "renamed")
    again = _run({**baselines_only, "output_dir": str(moved), "name": "renamed"})
    assert again.metrics.loc["1/N", "sharpe"] == first.metrics.loc["1/N", "sharpe"]
    changed = {**baselines_only, "output_dir": str(moved), "name": "renamed",
               "env": {**baselines_only["env"], "cost_bps": 25}}  # fmt: skip
    with pytest.raises(ConfigError, match="different config") as err:
        _run(changed)
    assert "--fresh" not in str(err.value) and "--name" in str(err.value)


def test_a_moved_run_folder_loads_its_trained_models_instead_of_retraining(
    tmp_path, synthetic_market, monkeypatch
):
    """The case the issue describes: the models, the expensive part, survive a move."""
    config = tiny_experiment(tmp_path, synthetic_market, 700, report={"n_boot": 10})
    first = _run(config)
    moved = tmp_path / "archive"
    shutil.move(Path(config["output_dir"]) / config["name"], moved / "renamed")
    built = record_built_policies(monkeypatch)
    again = _run({**config, "output_dir": str(moved), "name": "renamed"})
    agent = built["PPO"]
    assert (agent.n_folds_loaded_, agent.n_folds_trained_) == (2, 0)
    assert agent.checkpoint_dir == moved / "renamed" / "models" / "PPO"
    assert list(again.returns.columns) == list(first.returns.columns)
    assert (again.returns.to_numpy() == first.returns.to_numpy()).all()


def test_a_folder_from_before_a_new_setting_resumes(baselines_only):
    """A setting added later with a null default (here report.market) is absent from an
    older folder's experiment.yaml: the same experiment, not "a different config"."""
    import yaml

    first = _run(baselines_only)
    path = Path(baselines_only["output_dir"]) / baselines_only["name"] / "experiment.yaml"
    saved = yaml.safe_load(path.read_text())
    assert saved["report"].pop("market") is None
    path.write_text(yaml.safe_dump(saved, sort_keys=False))
    again = _run(baselines_only)
    assert again.metrics.loc["1/N", "sharpe"] == first.metrics.loc["1/N", "sharpe"]
    with pytest.raises(ConfigError, match="different config"):  # a real change still is
        _run({**baselines_only, "report": {**baselines_only["report"], "market": "none"}})


def test_a_garbled_experiment_yaml_is_named(baselines_only):
    _run(baselines_only)
    path = Path(baselines_only["output_dir"]) / baselines_only["name"] / "experiment.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"experiment\.yaml: cannot read the saved"):
        _run(baselines_only)


# ---------------------------------------------------------------- case 5: plug-ins last
def _plugin(tmp_path: Path) -> tuple[str, Path]:
    marker = tmp_path / "plugin-ran"
    code = (
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('ran')\n"
        "def reward(record):\n    return 0.0\n"
    )
    (tmp_path / "plugin.py").write_text(code)
    return f"{tmp_path / 'plugin.py'}:reward", marker


@pytest.mark.parametrize(
    "bad",
    [{"walk_forward": {"train": 0}}, {"baselines": [{"name": "nope"}]}, {"typo_key": 1},
     {"env": {"cost_bps": -1}}],
)  # fmt: skip
def test_a_reward_plugin_is_not_imported_when_the_config_is_refused(baselines_only, tmp_path, bad):
    spec, marker = _plugin(tmp_path)
    config = {**baselines_only, "env": {**baselines_only["env"], "reward": spec}}
    agent = {"name": "ppo", "reward": spec, "timesteps": 64}
    for cfg in (config, {**baselines_only, "agents": [agent]}):
        wrong = {**cfg, **bad}
        if "env" in bad:
            wrong["env"] = {**cfg["env"], **bad["env"]}
        with pytest.raises(ConfigError):
            load_config(wrong)
        assert not marker.exists()
    load_config(config)  # a valid config imports it: that is what a plug-in is
    assert marker.exists()


# ---------------------------------------------------------------- case 11: data fit
@pytest.mark.parametrize(
    ("change", "key"),
    [({"walk_forward": {"train": 2000, "test": 200}}, "walk_forward.train"),
     ({"walk_forward": {"train": 300, "test": 200, "purge": 500}}, "walk_forward.train"),
     ({"env": {"window": 2000}}, "env.window"),
     ({"env": {"cost_bps": [5.0, 10.0]}}, "env.cost_bps")],
)  # fmt: skip
def test_settings_that_do_not_fit_the_data_are_named_before_anything_is_written(
    baselines_only, change, key
):
    with pytest.raises(ConfigError, match=rf"{key}: .* does not fit the data"):
        _run({**baselines_only, **change})
    assert not Path(baselines_only["output_dir"]).exists()


def test_window_longer_than_a_training_fold_is_blamed_on_window(tmp_path, synthetic_market):
    agent = {"name": "ppo", "timesteps": 64}
    config = tiny_experiment(tmp_path, synthetic_market, 700, agents=[agent],
                             env={"window": 298, "rebalance_every": 5})  # fmt: skip
    with pytest.raises(ConfigError, match=r"env\.window: 298 .*training window \(300 days"):
        _run(config)
    assert not Path(config["output_dir"]).exists()


# ---------------------------------------------------------------- case 12: lock, umask
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_run_of_the_same_folder_is_refused_while_the_first_runs(baselines_only):
    run = Path(baselines_only["output_dir"]) / baselines_only["name"]
    _run(baselines_only)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / LOCK).write_text(json.dumps({"pid": live.pid, "host": socket.gethostname()}))
        with pytest.raises(ConfigError, match=rf"already running .*pid {live.pid}"):
            _run(baselines_only)
        with pytest.raises(ConfigError, match="already running"):
            _run(baselines_only, fresh=True)  # --fresh does not delete a running folder
        assert (run / "metrics.csv").exists()
    finally:
        live.kill()
        live.wait()


def test_a_lock_left_by_a_killed_run_is_taken_over(baselines_only):
    run = Path(baselines_only["output_dir"]) / baselines_only["name"]
    _run(baselines_only)
    (run / LOCK).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    _run(baselines_only)
    assert not (run / LOCK).exists()
    (run / LOCK).write_text("{half a js")  # killed while writing its lock
    _run(baselines_only)
    assert not (run / LOCK).exists()


def test_the_lock_is_reentrant_in_one_process_and_freed_by_the_last_user(tmp_path):
    acquire_lock(tmp_path)
    acquire_lock(tmp_path)
    release_lock(tmp_path)
    assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    release_lock(tmp_path)
    assert not (tmp_path / LOCK).exists()


def test_result_files_get_the_users_umask(baselines_only):
    old = os.umask(0o022)
    try:
        _run(baselines_only)
    finally:
        os.umask(old)
    run = Path(baselines_only["output_dir"]) / baselines_only["name"]
    for name in ("metrics.csv", "returns.parquet", "experiment.yaml", "report.md"):
        assert (run / name).stat().st_mode & 0o777 == 0o644, name


def test_a_config_cannot_point_training_logs_outside_the_run_folder(baselines_only):
    agent = {"name": "ppo", "hyperparameters": {"tensorboard_log": "/tmp/elsewhere"}}
    with pytest.raises(ConfigError, match=r"hyperparameters\.tensorboard_log: .* allocgym sets"):
        load_config({**baselines_only, "agents": [agent]})
