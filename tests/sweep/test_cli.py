"""`allocgym sweep` as a subprocess (sequential backend) and its error message."""

from __future__ import annotations

import copy
import subprocess
import sys

import yaml

from tests.helpers import CLI_TIMEOUT


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "allocgym.cli", "sweep", *args],
        capture_output=True, text=True, timeout=CLI_TIMEOUT,
    )  # fmt: skip


def test_sweep_command_runs_a_one_trial_sweep(tiny_sweep, tmp_path):
    cfg = copy.deepcopy(tiny_sweep)
    cfg["agents"][0]["timesteps"] = 32
    cfg["sweep"] = {"space": {"env.cost_bps": [5]}, "validation": 100}
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(cfg))
    done = _run(str(path), "--backend", "sequential", "--output-dir", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "1 configurations tried, 1 trials, 0 failed; selected: c000" in done.stdout
    assert (tmp_path / "out" / "tiny" / "trials" / "c000-s0" / "trial.json").is_file()


def test_sweep_command_without_sweep_section_is_one_line_error(tiny_sweep, tmp_path):
    cfg = {k: v for k, v in tiny_sweep.items() if k != "sweep"}
    path = tmp_path / "none.yaml"
    path.write_text(yaml.safe_dump(cfg))
    done = _run(str(path), "--backend", "sequential")
    assert done.returncode == 1
    assert done.stderr.startswith("allocgym: error: tiny: no 'sweep:' section")
