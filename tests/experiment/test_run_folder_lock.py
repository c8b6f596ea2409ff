"""The run folder's lock and its opening, unit by unit: the lock file's contents and
permissions, who keeps it and who may take it over, a probe that never signals the owner,
races with another process removing or re-creating the lock, re-entrant use counts,
release at exit; a plain open keeps the folder, a failed open gives the lock back, which
folders are adopted, and the first difference named when a config changed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config
from allocgym.experiment import run_folder as rf
from allocgym.experiment.run_folder import LOCK, MARKER, acquire_lock, open_run_folder, release_lock
from tests.helpers import tiny_experiment

HOST = socket.gethostname()


def _write_lock(folder: Path, pid: object, host: str = HOST) -> None:
    (folder / LOCK).write_text(json.dumps({"pid": pid, "host": host}))


def _owner(folder: Path) -> dict:
    return json.loads((folder / LOCK).read_text())


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def sleeper():
    """A live process of this host that dies on SIGHUP (Python's default)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------- the lock file
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_the_lock_file_names_this_process_and_follows_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        acquire_lock(tmp_path)
    finally:
        os.umask(old)
    try:
        assert (tmp_path / LOCK).stat().st_mode & 0o777 == mode
        assert _owner(tmp_path) == {"pid": os.getpid(), "host": HOST}
    finally:
        release_lock(tmp_path)
    assert not (tmp_path / LOCK).exists()


def test_a_live_process_keeps_its_lock_and_is_only_probed_not_signalled(tmp_path, sleeper):
    _write_lock(tmp_path, sleeper.pid)
    with pytest.raises(ConfigError, match=rf"already running in .* \(pid {sleeper.pid} on "):
        acquire_lock(tmp_path)
    assert _owner(tmp_path)["pid"] == sleeper.pid  # its lock left alone
    with pytest.raises(subprocess.TimeoutExpired):  # and the process still runs
        sleeper.wait(timeout=0.5)
    release_lock(tmp_path)  # never held: gives back nothing, removes nothing
    assert _owner(tmp_path)["pid"] == sleeper.pid


def test_the_liveness_probe_is_signal_zero(tmp_path, monkeypatch):
    calls = []

    def kill(pid, sig):
        calls.append((pid, sig))
        raise PermissionError  # a process of another user: it exists, we may not signal it

    monkeypatch.setattr(os, "kill", kill)
    _write_lock(tmp_path, 4242)
    with pytest.raises(ConfigError, match=r"already running .*\(pid 4242 on "):
        acquire_lock(tmp_path)
    assert calls == [(4242, 0)]


def test_a_lock_of_another_host_is_respected_whatever_its_pid(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "kill", lambda *a: pytest.fail("probed a pid of another host"))
    _write_lock(tmp_path, os.getpid(), host="elsewhere.example")
    with pytest.raises(ConfigError, match=rf"already running .*\(pid {os.getpid()} on elsewhere"):
        acquire_lock(tmp_path)


@pytest.mark.parametrize(
    "left",
    ["dead", "ours", "{half a js", "", "[1, 2]", "7", "null", json.dumps({"host": HOST}),
     json.dumps({"pid": "123", "host": HOST}), json.dumps({"pid": None, "host": HOST})],
)  # fmt: skip
def test_a_stale_or_unreadable_lock_is_taken_over(tmp_path, left):
    """Left by a killed run, by an earlier run of this process, or half written."""
    if left == "dead":
        _write_lock(tmp_path, _dead_pid())
    elif left == "ours":
        _write_lock(tmp_path, os.getpid())
    else:
        (tmp_path / LOCK).write_text(left)
    acquire_lock(tmp_path)
    assert _owner(tmp_path) == {"pid": os.getpid(), "host": HOST}
    release_lock(tmp_path)
    assert not (tmp_path / LOCK).exists()


def _lock_open_fails(monkeypatch, times: int) -> list[str]:
    """``os.open`` of the lock file raises FileExistsError ``times`` times (another run
    made it just before us) with no file left to read: returns the attempts made."""
    attempts: list[str] = []
    real = os.open

    def fake(path, *args, **kwargs):
        if Path(path).name != LOCK:
            return real(path, *args, **kwargs)
        attempts.append(str(path))
        if len(attempts) <= times:
            raise FileExistsError(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake)
    return attempts


def test_a_lock_that_vanished_before_it_was_read_is_taken(tmp_path, monkeypatch):
    attempts = _lock_open_fails(monkeypatch, 1)  # removed by its owner meanwhile
    acquire_lock(tmp_path)
    assert len(attempts) == 2
    assert _owner(tmp_path)["pid"] == os.getpid()
    release_lock(tmp_path)


def test_taking_the_lock_retries_three_times_then_gives_up(tmp_path, monkeypatch):
    attempts = _lock_open_fails(monkeypatch, 2)
    acquire_lock(tmp_path)  # third attempt wins
    assert len(attempts) == 3
    release_lock(tmp_path)

    attempts = _lock_open_fails(monkeypatch, 3)
    with pytest.raises(ConfigError, match=r"could not take the run folder's lock; try again"):
        acquire_lock(tmp_path)
    assert len(attempts) == 3  # not a fourth
    assert not (tmp_path / LOCK).exists()
    release_lock(tmp_path)  # not held: nothing to give back
    acquire_lock(tmp_path)  # and not counted as held: a real lock file is written again
    assert len(attempts) == 4 and (tmp_path / LOCK).exists()
    release_lock(tmp_path)


# ---------------------------------------------------------------------- release
def test_each_release_gives_back_one_use_and_extra_releases_do_nothing(tmp_path):
    for _ in range(3):
        acquire_lock(tmp_path)
    for _ in range(2):
        release_lock(tmp_path)
        assert _owner(tmp_path)["pid"] == os.getpid()
    release_lock(tmp_path)
    assert not (tmp_path / LOCK).exists()
    release_lock(tmp_path)  # one too many: no error
    acquire_lock(tmp_path)  # the count starts again from nothing
    release_lock(tmp_path)
    assert not (tmp_path / LOCK).exists()


def test_releasing_a_folder_never_locked_leaves_its_lock_file_alone(tmp_path, sleeper):
    _write_lock(tmp_path, sleeper.pid)
    release_lock(tmp_path)
    assert _owner(tmp_path)["pid"] == sleeper.pid


@pytest.mark.parametrize("replaced_by", ["another pid", "garbage"])
def test_release_removes_only_a_lock_file_that_is_still_ours(tmp_path, sleeper, replaced_by):
    """The user deleted our lock by hand and another run took the folder."""
    acquire_lock(tmp_path)
    if replaced_by == "another pid":
        _write_lock(tmp_path, sleeper.pid)
    else:
        (tmp_path / LOCK).write_text("{half a js")
    text = (tmp_path / LOCK).read_text()
    release_lock(tmp_path)
    assert (tmp_path / LOCK).read_text() == text


def test_release_does_not_fail_when_the_lock_file_vanishes_meanwhile(tmp_path, monkeypatch):
    read = rf._read_lock

    def read_then_vanish(path):
        owner = read(path)
        path.unlink()  # deleted by hand just after we read it
        return owner

    acquire_lock(tmp_path)
    monkeypatch.setattr(rf, "_read_lock", read_then_vanish)
    release_lock(tmp_path)
    monkeypatch.undo()
    acquire_lock(tmp_path)  # no longer held: a fresh lock, freed by one release
    release_lock(tmp_path)
    assert not (tmp_path / LOCK).exists()


def test_the_exit_handler_releases_every_lock_however_often_taken(tmp_path):
    once, thrice = tmp_path / "once", tmp_path / "thrice"
    once.mkdir()
    thrice.mkdir()
    acquire_lock(once)
    for _ in range(3):
        acquire_lock(thrice)
    rf._release_all()
    assert not (once / LOCK).exists() and not (thrice / LOCK).exists()
    acquire_lock(thrice)  # nothing left held: one release frees it
    release_lock(thrice)
    assert not (thrice / LOCK).exists()


def test_a_process_that_exits_holding_locks_leaves_none(tmp_path):
    code = (
        "import sys\n"
        "from allocgym.experiment.run_folder import acquire_lock\n"
        "for folder in sys.argv[1:]:\n"
        "    acquire_lock(folder)\n"
        "    acquire_lock(folder)\n"
    )
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
    subprocess.run([sys.executable, "-c", code, *map(str, folders)], check=True, timeout=120)
    assert [(f / LOCK).exists() for f in folders] == [False, False]


# ---------------------------------------------------------------------- open_run_folder
@pytest.fixture
def experiment(tmp_path, synthetic_market) -> dict:
    return tiny_experiment(tmp_path, synthetic_market, 700, agents=[])


def _open(experiment: dict, env: dict | None = None, **kwargs) -> Path:
    changed = {**experiment, "env": {**experiment["env"], **(env or {})}}
    return open_run_folder(load_config(changed), **kwargs)


def test_a_plain_open_keeps_what_the_folder_holds(experiment):
    run = _open(experiment)
    release_lock(run)
    (run / "metrics.csv").write_text("results of the first run")
    assert _open(experiment) == run
    release_lock(run)
    assert (run / "metrics.csv").read_text() == "results of the first run"
    assert (run / MARKER).is_file() and (run / "experiment.yaml").is_file()


def test_a_failed_open_gives_its_use_of_the_lock_back(experiment):
    run = _open(experiment)
    release_lock(run)
    with pytest.raises(ConfigError, match="different config"):
        _open(experiment, env={"cost_bps": 25})
    assert not (run / LOCK).exists()

    acquire_lock(run)  # held by this process already (a sweep holding its folder)
    with pytest.raises(ConfigError, match="different config"):
        _open(experiment, env={"cost_bps": 25})
    assert _owner(run)["pid"] == os.getpid()  # still ours: the failed open gave back its one
    release_lock(run)
    assert not (run / LOCK).exists()


def test_fresh_refuses_a_folder_this_process_holds(experiment):
    """Deleting it would take its lock file too while this process still counts it as
    held: the folder would run unlocked. Refused, with the folder and its lock intact."""
    run = _open(experiment)
    (run / "metrics.csv").write_text("results")
    with pytest.raises(ConfigError, match="in use by this process"):
        _open(experiment, fresh=True)
    assert (run / "metrics.csv").is_file() and _owner(run)["pid"] == os.getpid()
    release_lock(run)
    assert not (run / LOCK).exists()
    assert _open(experiment, fresh=True) == run and not (run / "metrics.csv").exists()
    release_lock(run)


@pytest.mark.parametrize("fresh", [False, True])
def test_an_empty_folder_without_the_marker_is_made_a_run_folder(experiment, fresh):
    run = Path(experiment["output_dir"]) / experiment["name"]
    run.mkdir(parents=True)
    assert _open(experiment, fresh=fresh) == run
    release_lock(run)
    assert (run / MARKER).is_file() and (run / "experiment.yaml").is_file()


def test_fresh_empties_a_marked_folder_even_without_a_saved_config(experiment):
    run = _open(experiment)
    release_lock(run)
    (run / "experiment.yaml").unlink()  # killed before it was written, say
    (run / "stale.txt").write_text("x")
    _open(experiment, fresh=True)
    release_lock(run)
    assert not (run / "stale.txt").exists() and (run / MARKER).is_file()


@pytest.mark.parametrize(
    "record",
    ["name: another_run\n", "- name: tiny\n", "just text\n", "name: [unclosed\n", "tiny\n"],
)
def test_a_folder_without_the_marker_is_adopted_only_if_its_record_names_it(experiment, record):
    run = Path(experiment["output_dir"]) / experiment["name"]
    run.mkdir(parents=True)
    (run / "experiment.yaml").write_text(record)
    for fresh in (False, True):
        with pytest.raises(ConfigError, match=f"not an allocgym run folder.*no {MARKER}"):
            _open(experiment, fresh=fresh)
    assert sorted(p.name for p in run.iterdir()) == ["experiment.yaml"]
    assert (run / "experiment.yaml").read_text() == record


# ---------------------------------------------------------------------- first difference
def _refusal(experiment: dict, env: dict | None = None, **top) -> str:
    with pytest.raises(ConfigError, match="holds an experiment with a different config") as err:
        _open({**experiment, **top}, env=env)
    return str(err.value)


def test_the_refusal_names_the_changed_setting(experiment):
    release_lock(_open(experiment))
    message = _refusal(experiment, env={"cost_bps": 25})
    assert "(first difference: 'cost_bps: 10.0' -> 'cost_bps: 25.0')" in message


def test_the_first_difference_is_first_in_the_files_own_order(experiment):
    """seed comes before env in experiment.yaml (after it alphabetically)."""
    release_lock(_open(experiment))
    message = _refusal(experiment, env={"cost_bps": 25}, seed=1)
    assert "(first difference: 'seed: 0' -> 'seed: 1')" in message


def test_a_saved_config_that_differs_only_at_its_end_is_named_by_length(experiment):
    run = _open(experiment)
    release_lock(run)
    path = run / "experiment.yaml"
    saved = yaml.safe_load(path.read_text())
    assert list(saved)[-2:] == ["report", "sweep"] and saved["sweep"] is None

    shorter = {**saved, "report": {k: v for k, v in saved["report"].items() if k != "prior_trials"}}
    path.write_text(yaml.safe_dump(shorter, sort_keys=False))
    assert "(first difference: length differs)" in _refusal(experiment)

    path.write_text(yaml.safe_dump({**saved, "zz_later": 1}, sort_keys=False))
    assert "(first difference: length differs)" in _refusal(experiment)
    assert not (run / LOCK).exists()
