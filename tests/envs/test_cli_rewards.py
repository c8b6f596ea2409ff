"""Smoke test of ``allocgym rewards``."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import CLI_TIMEOUT


def test_allocgym_rewards_lists_the_builtins():
    out = subprocess.run(
        [sys.executable, "-m", "allocgym.cli", "rewards"],
        capture_output=True, text=True, check=True, timeout=CLI_TIMEOUT,
    )  # fmt: skip
    lines = out.stdout.splitlines()
    names = {line.split()[0] for line in lines if line and not line.startswith("use:")}
    assert {"log_return", "differential_sharpe", "combination"} <= names
    assert any(line.startswith("differential_sharpe") and "Moody" in line for line in lines)
