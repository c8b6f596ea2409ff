"""One subprocess smoke test per CLI command (cleanrl style)."""

from __future__ import annotations

import subprocess
import sys

import allocgym
from tests.helpers import CLI_TIMEOUT


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "allocgym.cli", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
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


def test_data_check_lists_repairs_once_without_a_python_warning(tmp_path):
    path = tmp_path / "gappy.csv"
    path.write_text("date,A,B\n2020-01-01,1,2\n2020-01-02,,2.1\n2020-01-03,1.2,2.2\n")
    out = run_cli("data", "check", str(path))
    assert out.returncode == 0, out.stderr
    assert "repairs:     1" in out.stdout
    assert "A: forward-filled 1 missing prices" in out.stdout
    assert "Warning" not in out.stderr and "warnings.warn" not in out.stderr
    assert "filled" not in out.stderr  # said once, in the summary


def test_version():
    out = run_cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"allocgym {allocgym.__version__}"


def _tiny_experiment(tmp_path, synthetic_market) -> str:
    data = tmp_path / "prices.csv"
    synthetic_market[:560].to_frame().rename_axis("date").to_csv(data)
    config = tmp_path / "tiny.yaml"
    config.write_text(
        f"name: tiny\noutput_dir: {tmp_path / 'runs'}\ndata: {{source: {data}}}\n"
        "features: {preset: technical, cache: false}\n"
        "env: {window: 5, rebalance_every: 5, episode_length: 10}\n"
        "walk_forward: {train: 300, test: 260}\n"
        "agents:\n  - {name: ppo, label: PPO, timesteps: 32,\n"
        "     hyperparameters: {n_steps: 16, batch_size: 16, n_epochs: 1}}\n"
        "baselines: [{name: equal_weight}]\nreport: {n_boot: 20}\n"
    )
    return str(config)


def test_train_then_run_with_a_tiny_config(tmp_path, synthetic_market):
    config = _tiny_experiment(tmp_path, synthetic_market)
    out = run_cli("train", config, "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "saved" in out.stdout and "models/PPO" in out.stdout
    out = run_cli("run", config, "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "PPO" in out.stdout and "1/N" in out.stdout and "sharpe" in out.stdout
    assert (tmp_path / "runs" / "tiny" / "report.md").exists()
    assert (tmp_path / "runs" / "tiny" / "tensorboard" / "backtest" / "PPO").is_dir()


def test_run_with_a_bad_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("env: {cost_bsp: 3}\n")
    out = run_cli("run", str(bad))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "env.cost_bsp: unknown key (did you mean 'cost_bps'?)" in out.stderr


def test_list_prints_every_registered_name_with_its_defaults():
    from allocgym.agents import AGENTS
    from allocgym.baselines import BASELINES
    from allocgym.envs.rewards import REWARDS

    out = run_cli("list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert {"baselines:", "agents:", "rewards:"} <= set(lines)
    first_words = {line.split()[0] for line in lines if line and not line[0].isspace()}
    builtin_rewards = {n for n in REWARDS if REWARDS.entry(n).kind != "custom"}  # not tests'
    assert {*BASELINES, *AGENTS, *builtin_rewards} <= first_words
    assert any(ln.startswith("min_variance") and "Min-variance" in ln for ln in lines)
    assert "lookback=252, rebalance_every=21" in out.stdout
    assert "eta=0.01, warmup=10, clip=10.0" in out.stdout
    assert "n_envs=256, learning_rate=0.001, n_steps=32" in out.stdout  # PPO, vectorised
    out = run_cli("list", "baselines", "nonsense")
    assert out.returncode == 2 and "'nonsense' is not one of" in out.stderr
