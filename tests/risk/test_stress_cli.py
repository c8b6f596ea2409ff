"""``allocgym stress RUN_DIR`` on a tiny baselines-only run folder (one subprocess smoke test)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from allocgym.backtest.manifest import verify_manifest
from allocgym.cli import main
from allocgym.experiment import load_config, run_experiment
from tests.helpers import CLI_TIMEOUT, tiny_experiment


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, synthetic_market):
    root = tmp_path_factory.mktemp("stress")
    config = tiny_experiment(root, synthetic_market, 700, agents=[], report={"n_boot": 10})
    run_experiment(load_config(config), progress=False, verbose=False)
    return root / "runs" / "tiny"


def test_stress_command_writes_stress_md(run_dir, tmp_path):
    windows = tmp_path / "w.yaml"
    windows.write_text("windows:\n  mid 2001: [2001-06-29, 2001-09-28]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "allocgym.cli", "stress", str(run_dir), "--paths", "50",
         "--horizon", "5", "--seed", "3", "--windows", str(windows)],
        capture_output=True, text=True, timeout=CLI_TIMEOUT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Scenarios:" in proc.stdout and "mid 2001" in proc.stdout
    text = (run_dir / "stress.md").read_text()
    assert "## Historical stress windows" in text and "## Monte Carlo scenarios" in text
    assert "| mid 2001 | 1/N |" in text
    files = json.loads((run_dir / "manifest.json").read_text())["files"]
    assert {"stress.md", "stress_fan.png", "stress_windows.png"} <= set(files)
    verify_manifest(run_dir, ["stress.md", "stress_fan.png"])  # hashes match
    # the run's report links the new page (rewritten by the command), manifest intact
    report = (run_dir / "report.md").read_text()
    assert "- [Stress tests, scenarios and VaR](stress.md), written by `allocgym stress`" in report
    assert "![Stress tests, scenarios and VaR](stress_fan.png)" in report
    verify_manifest(run_dir, ["report.md", "stress.md", "metrics.csv"])


@pytest.mark.parametrize(
    ("args", "match"),
    [(["--horizon", "0"], "--horizon 0 is invalid"), (["--paths", "0"], "--paths 0 is invalid"),
     (["--date", "2030-01-01"], "outside the data"), (["--drawdown", "1.5"], "--drawdown")],
)  # fmt: skip
def test_bad_arguments_are_one_line_errors(run_dir, capsys, args, match):
    assert main(["stress", str(run_dir), *args]) == 1
    assert match in capsys.readouterr().err


def test_window_outside_the_data_is_an_error(run_dir, tmp_path, capsys):
    windows = tmp_path / "w.yaml"
    windows.write_text("gfc: [2007-10-09, 2009-03-09]\n")
    assert main(["stress", str(run_dir), "--paths", "20", "--horizon", "3",
                 "--windows", str(windows)]) == 1  # fmt: skip
    assert "window 'gfc' (2007-10-09 to 2009-03-09) is outside the data" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "match"),
    [("data: {source: [\n", "cannot read the run's experiment config (invalid YAML: "),
     ("- a list\n", "the run's experiment config is not a mapping (a list)"),
     ("data: [1, 2]\n", "its 'data' section is not a mapping")],
)  # fmt: skip
def test_a_garbled_experiment_yaml_is_named_with_the_remedy(run_dir, tmp_path, capsys, text, match):
    copy = shutil.copytree(run_dir, tmp_path / "tiny")
    (copy / "experiment.yaml").write_text(text)
    assert main(["stress", str(copy), "--paths", "20", "--horizon", "3"]) == 1
    err = capsys.readouterr().err
    assert f"{copy / 'experiment.yaml'}: " in err and match in err
