"""The example files in experiments/ work as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from allocgym.envs import PortfolioEnv, get_reward
from tests.helpers import CLI_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "spec",
    [
        "experiments.custom_reward:calm_growth",
        str(ROOT / "experiments" / "custom_reward.py") + ":calm_growth",
    ],
)
def test_custom_reward_plugs_in_by_module_or_file(spec, monkeypatch, synthetic_market):
    monkeypatch.syspath_prepend(str(ROOT))
    env = PortfolioEnv(synthetic_market[:200], None, reward=spec, window=5)
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    action[1] = 1.0  # concentrate in the first asset
    _, reward, _, _, info = env.step(action)
    # the penalties make the reward smaller than the plain log growth
    assert reward < np.log1p(info["net_return"])
    assert np.isfinite(reward)
    assert callable(get_reward(spec))


@pytest.mark.slow
def test_train_ppo_script_runs(tmp_path):
    out = subprocess.run(
        [
            sys.executable, str(ROOT / "experiments" / "train_ppo.py"),
            "--timesteps", "64", "--features", "technical", "--start", "2018-01-01",
            "--test-from", "2021-01-01", "--out", str(tmp_path / "run"),
        ],
        capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "PPO" in out.stdout and "1/N" in out.stdout
    assert (tmp_path / "run" / "report.md").exists()


def test_readme_tour_is_the_tour_script() -> None:
    """The README's short tour and experiments/tour.py are the same code (no drift)."""
    script = (ROOT / "experiments" / "tour.py").read_text()
    body = script.split("# --- tour ---\n")[1].split("# --- end of tour ---")[0].strip()
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## A short tour")[1].split("```python\n")[1].split("```")[0].strip()
    assert block == body
    compile(body, "tour", "exec")
