from __future__ import annotations

import subprocess
import sys

import allocgym
from tests.helpers import CLI_TIMEOUT


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "allocgym.cli", "predictors", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def test_predictors_build_technical():
    out = _run("build", "--preset", "technical", "--no-cache", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "8313 dates x 20 assets x 15 features" in out.stdout
    assert "rsi_14" in out.stdout


def test_predictors_evaluate_standard(tmp_path):
    syn = allocgym.make_synthetic_market(n_assets=3, n_days=800, seed=2)
    path = tmp_path / "prices.csv"
    syn.market.to_frame().rename_axis("date").to_csv(path)
    out = _run("evaluate", str(path), "--preset", "standard", "--no-cache", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "volatility" in out.stdout and "qlike" in out.stdout and "ewma_0.94" in out.stdout


def test_predictors_bad_file_is_one_line_error(tmp_path):
    out = _run("build", str(tmp_path / "missing.csv"), "--no-cache")
    assert out.returncode == 1
    assert "missing.csv" in out.stderr and "Traceback" not in out.stderr
