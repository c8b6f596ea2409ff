"""One subprocess smoke test per CLI command (cleanrl style)."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "allocgym.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_data_check_embedded():
    out = run_cli("data", "check")
    assert out.returncode == 0, out.stderr
    assert "assets:      20" in out.stdout
    assert "1990-01-02 to 2022-12-28" in out.stdout


def test_data_check_bad_file_prints_one_line_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("date,A\n2020-01-01,1\n2020-01-02,-1\n")
    out = run_cli("data", "check", str(path))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "column 'A', date 2020-01-02: price -1.0 is not a positive" in out.stderr


def test_version():
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("allocgym ")
