"""Subprocess smoke tests of `allocgym backtest` and `allocgym report`."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import CLI_TIMEOUT


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "allocgym.cli", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def test_backtest_then_report(tmp_path) -> None:
    out = tmp_path / "run"
    res = _run(
        "backtest", "--start", "2021-01-01", "--lookback", "63", "--train", "63",
        "--test", "126", "--n-boot", "50", "--out", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "min_variance" in res.stdout and "black_litterman" in res.stdout
    for f in ("metrics.csv", "returns.parquet", "weights.parquet", "config.yaml", "report.md"):
        assert (out / f).is_file()
    report = (out / "report.md").read_text()
    assert "| 1/N |" in report and "| min_variance |" in report
    (out / "report.md").unlink()
    res = _run("report", str(out))
    assert res.returncode == 0, res.stderr
    # the report is rebuilt from the saved results alone: the same text
    assert (out / "report.md").read_text() == report


def test_unknown_policy_is_one_readable_line() -> None:
    res = _run("backtest", "--policies", "1/N,magic")
    assert res.returncode == 1
    assert "magic" in res.stderr and "Traceback" not in res.stderr
