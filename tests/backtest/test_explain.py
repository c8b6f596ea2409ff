"""Permutation importance of observation groups (allocgym.backtest.explain) and
``allocgym explain``: a policy that reads one group ranks it first and every other group
exactly zero; same seed, same numbers; flat and Dict observations agree; permutations
stay inside each test window; a trained agent finds the planted signal; the command
writes explain.md on a run folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import allocgym
from allocgym.agents import AgentPolicy, RLAgent
from allocgym.backtest import WalkForward, read_manifest
from allocgym.backtest.explain import (
    _permutations as permutations,
)
from allocgym.backtest.explain import (
    default_groups,
    group_indices,
    permutation_importance,
)
from allocgym.backtest.explain_report import write_explain
from allocgym.backtest.manifest import verify_manifest
from allocgym.cli import main
from allocgym.envs import EnvSettings, SimplexMap
from allocgym.envs.observation import ObservationLayout
from allocgym.experiment import load_config, run_experiment
from allocgym.predictors.panel import FeaturePanel
from tests.helpers import CLI_TIMEOUT, tiny_experiment

N_ASSETS = 4
SPLIT = WalkForward(train=300, test=130)


@pytest.fixture(scope="module")
def planted():
    """A synthetic market whose returns follow the planted trend state strongly."""
    return allocgym.make_synthetic_market(
        n_assets=N_ASSETS, n_days=560, n_regimes=2, seed=0, signal_strength=1.0
    )


def _panel(m, per_asset: dict, market_level: dict | None = None) -> FeaturePanel:
    market_level = market_level or {}
    values = np.stack(list(per_asset.values()), axis=-1).astype(np.float32)
    mkt = (
        np.stack(list(market_level.values()), axis=-1).astype(np.float32)
        if market_level
        else np.empty((m.n_dates, 0), np.float32)
    )
    return FeaturePanel(
        m.dates, m.assets, values, tuple(per_asset), mkt, tuple(market_level),
        np.asarray(m.available),
    )  # fmt: skip


@pytest.fixture(scope="module")
def panel(planted) -> FeaturePanel:
    """The true trend state as the feature ``signal``, beside noise (per asset, market)."""
    rng = np.random.default_rng(1)
    shape = planted.truth.signal.shape
    return _panel(
        planted.market,
        {"signal": planted.truth.signal, "noise": rng.standard_normal(shape)},
        {"mood": rng.standard_normal(shape[0])},
    )


class ReadsOneFeature:
    """A hand-made 'model' whose action is the standardised feature ``f`` of each asset:
    it reads nothing else, flat or Dict observation alike."""

    def __init__(self, f: int, n_features: int) -> None:
        self.f, self.n_features = f, n_features

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        if isinstance(observation, dict):
            x = observation["features"][:, self.f]
        else:
            x = observation[: N_ASSETS * self.n_features].reshape(N_ASSETS, -1)[:, self.f]
        return np.concatenate([[0.0], np.clip(x, -1.0, 1.0)]).astype(np.float32), None


def _reader(panel: FeaturePanel, feature: str = "signal") -> AgentPolicy:
    model = ReadsOneFeature(panel.feature_names.index(feature), panel.n_features)
    return AgentPolicy(model, SimplexMap(), name="reader")


SETTINGS = EnvSettings(window=5, rebalance_every=1)


def _explain(panel, market, **kwargs):
    kwargs.setdefault("n_repeats", 2)
    return permutation_importance(
        _reader(panel), market, panel, splitter=SPLIT, env=kwargs.pop("env", SETTINGS), **kwargs
    )


# ------------------------------------------------------------------ the method
def test_a_policy_that_reads_one_group_ranks_it_first_and_every_other_group_zero(planted, panel):
    imp = _explain(panel, planted.market)
    t = imp.table
    assert imp.ranking()[0] == "signal"
    assert set(t.index) == {"signal", "noise", "mood", "returns"}
    # the signal is real (strength 1): shuffling it costs Sharpe and moves the weights
    assert t.loc["signal", "sharpe_drop"] > 1.0
    assert t.loc["signal", "weight_change"] > 0.1 and t.loc["signal", "sensitivity"] > 0.1
    # the policy never reads the other groups: exactly nothing changes
    others = t.drop(index="signal")
    cols = ["sharpe_drop", "weight_change", "sensitivity"]
    assert (others[cols].to_numpy() == 0.0).all()
    assert t.loc["signal", "n_inputs"] == N_ASSETS and t.loc["mood", "n_inputs"] == 1
    assert t.loc["returns", "n_inputs"] == N_ASSETS * SETTINGS.window
    # every test day but the data's last, which has no next day to earn a return
    assert imp.n_days == planted.market.n_dates - SPLIT.train - 1


def test_the_unshuffled_track_is_the_backtests(planted, panel):
    from allocgym.backtest import backtest

    imp = _explain(panel, planted.market, n_repeats=1)
    ref = backtest({"reader": _reader(panel)}, planted.market, panel, splitter=SPLIT,
                   env=SETTINGS, n_boot=10)  # fmt: skip
    assert imp.base_sharpe == ref.metrics.loc["reader", "sharpe"]


def test_same_seed_same_numbers_another_seed_other_permutations(planted, panel):
    def run(seed):
        groups = {"signal": ["signal"]}
        return _explain(panel, planted.market, seed=seed, n_repeats=1, groups=groups).table

    a, b, c = run(3), run(3), run(4)
    assert a.equals(b)
    assert a.loc["signal", "sharpe_drop"] != c.loc["signal", "sharpe_drop"]


def test_flat_and_dict_observations_give_the_same_numbers(planted, panel):
    flat = _explain(panel, planted.market, n_repeats=1)
    settings = EnvSettings(window=5, rebalance_every=1, observation="dict")
    as_dict = _explain(panel, planted.market, n_repeats=1, env=settings)
    np.testing.assert_allclose(
        as_dict.table.to_numpy(dtype=float), flat.table.to_numpy(dtype=float), rtol=1e-12
    )


def test_groups_can_be_chosen(planted, panel):
    imp = _explain(panel, planted.market, groups={"signal+noise": ["signal", "noise"]})
    assert list(imp.table.index) == ["signal+noise"]
    assert imp.table.loc["signal+noise", "n_inputs"] == 2 * N_ASSETS


def test_bad_arguments_are_named(planted, panel):
    with pytest.raises(ValueError, match=r"groups\['x'\] names 'nope'.*expected one of"):
        _explain(panel, planted.market, groups={"x": ["nope"]})
    with pytest.raises(ValueError, match="n_repeats=0 is invalid"):
        _explain(panel, planted.market, n_repeats=0)
    with pytest.raises(ValueError, match="step=-1"):
        _explain(panel, planted.market, step=-1.0)


def test_permutations_stay_inside_each_test_window_and_are_bijections():
    windows = [np.arange(10, 20), np.arange(20, 35)]
    days = list(range(10, 34))  # the last day of the data is not traded
    for perm in permutations(days, windows, n_repeats=3, seed=0):
        assert sorted(perm) == days and sorted(perm.values()) == days
        for w in windows:
            assert all((w[0] <= perm[d] <= w[-1]) for d in days if w[0] <= d <= w[-1])
    assert permutations(days, windows, 2, 7) == permutations(days, windows, 2, 7)


def test_default_groups_follow_the_predictors(synthetic_market):
    m = synthetic_market
    shape = (m.n_dates, m.n_assets)
    names = ["rsi_14", "mom_5", "garch_vol", "garch_vol_21d", "lstm_forecast", "custom"]
    per_asset = {n: np.zeros(shape) for n in names}
    regimes = {f"regime_p{k}": np.zeros(m.n_dates) for k in range(2)}
    panel = _panel(m, per_asset, regimes)
    groups = default_groups(panel, m, EnvSettings(time_features=True))
    assert groups == {
        "technical": ("rsi_14", "mom_5"),
        "garch": ("garch_vol", "garch_vol_21d"),
        "lstm": ("lstm_forecast",),
        "custom": ("custom",),
        "regime": ("regime_p0", "regime_p1"),
        "returns": ("returns",),
        "time": ("time",),
    }
    layout = ObservationLayout.build(m.n_assets, len(names), 2, 20, True)
    index = group_indices(layout, panel, groups)
    # asset-major: feature f of asset a sits at a * n_features + f
    np.testing.assert_array_equal(index["lstm"], 4 + len(names) * np.arange(m.n_assets))
    every = np.concatenate(list(index.values()))
    # every entry but the mask and the weights, each in one group
    assert np.unique(every).size == every.size == layout.static_size - m.n_assets


def test_write_explain_writes_the_page_and_the_plot_and_records_them(planted, panel, tmp_path):
    imp = _explain(panel, planted.market, n_repeats=2)
    path = write_explain([imp], tmp_path)
    text = path.read_text()
    assert "# What the agent looks at" in text and "![permutation importance](explain.png)" in text
    assert "| signal | 4 |" in text
    assert (tmp_path / "explain.png").stat().st_size > 1000
    assert {"explain.md", "explain.png"} <= set(read_manifest(tmp_path)["files"])


# ------------------------------------------------------------------ a trained agent
@pytest.fixture
def one_torch_thread():
    """Tiny networks train fastest on one thread (and leave the other cores alone)."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_a_briefly_trained_agent_ranks_the_group_that_carries_the_planted_signal_first():
    """The planted trend is recovered from past prices (benchmarks/bench_learning_sanity.py):
    the window of past returns carries it; two groups of noise features carry nothing."""
    sim = allocgym.make_synthetic_market(
        n_assets=N_ASSETS, n_days=900, n_regimes=2, seed=0, signal_strength=1.0
    )
    rng = np.random.default_rng(100)
    shape = sim.truth.signal.shape
    noise = _panel(sim.market, {"noise_a": rng.standard_normal(shape),
                         "noise_b": rng.standard_normal(shape)})  # fmt: skip
    settings = EnvSettings(window=5, rebalance_every=1, episode_length=64, cost_bps=1.0)
    agent = RLAgent("ppo", 4096, seed=0, env=settings, n_envs=8)
    imp = permutation_importance(
        agent, sim.market, noise, splitter=WalkForward(600, 300), n_repeats=3
    )
    assert imp.ranking()[0] == "returns", imp.table
    drops = imp.table["sharpe_drop"]
    assert drops["returns"] > 1.0 > max(abs(drops["noise_a"]), abs(drops["noise_b"]))


# ------------------------------------------------------------------ the command
def test_explain_on_a_run_without_agents_says_so(tmp_path, synthetic_market, capsys):
    config = tiny_experiment(tmp_path, synthetic_market, 700, agents=[], report={"n_boot": 10})
    run_experiment(load_config(config), progress=False, verbose=False)
    run_dir = tmp_path / "runs" / "tiny"
    assert main(["explain", str(run_dir)]) == 0
    assert "no RL agent" in capsys.readouterr().out
    assert "nothing to explain" in (run_dir / "explain.md").read_text()


def test_explain_of_a_folder_that_is_not_a_run_is_one_line(tmp_path, capsys):
    assert main(["explain", str(tmp_path / "nothing")]) == 1
    assert "experiment.yaml: config file not found" in capsys.readouterr().err
    assert main(["explain", str(tmp_path), "--repeats", "0"]) == 1
    assert "--repeats 0 is invalid" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, synthetic_market) -> Path:
    """A finished run with tiny PPO (64 steps, one env) and 1/N."""
    root = tmp_path_factory.mktemp("explain_run")
    config = tiny_experiment(root, synthetic_market, 700)
    config["agents"][0]["n_envs"] = 1
    run_experiment(load_config(config), progress=False, verbose=False)
    return root / "runs" / "tiny"


@pytest.mark.slow
def test_explain_command_on_a_tiny_run_writes_explain_md(tiny_run):
    res = subprocess.run(
        [sys.executable, "-m", "allocgym.cli", "explain", str(tiny_run), "--repeats", "2",
         "--seed", "1"],
        capture_output=True, text=True, timeout=CLI_TIMEOUT,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "PPO (Sharpe" in res.stdout and "technical" in res.stdout
    text = (tiny_run / "explain.md").read_text()
    assert "## PPO" in text and "| returns | 25 |" in text
    files = json.loads((tiny_run / "manifest.json").read_text())["files"]
    assert "explain.md" in files and "explain.png" in files
    assert "warning" not in res.stderr  # the unshuffled track is the run's
    # the run's report now links the page and shows its plot; the manifest still holds
    report = (tiny_run / "report.md").read_text()
    more = report[report.index("## More on this run") : report.index("## Plots")]
    assert "- [What the agent looks at](explain.md), written by `allocgym explain`" in more
    assert "![What the agent looks at](explain.png)" in more and "stress.md" not in more
    verify_manifest(tiny_run, ["report.md", "explain.md", "metrics.csv"])


@pytest.mark.slow
def test_explain_never_trains_a_missing_model(tiny_run, capsys):
    models = tiny_run / "models" / "PPO"
    fold = sorted(p for p in models.iterdir() if p.is_dir())[0]
    fold.rename(fold.with_name("moved"))
    try:
        assert main(["explain", str(tiny_run)]) == 1
        assert f"no saved model for the fold trained on {fold.name}" in capsys.readouterr().err
        assert not fold.exists()
    finally:
        fold.with_name("moved").rename(fold)
