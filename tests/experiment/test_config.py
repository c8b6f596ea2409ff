"""Experiment configs: the shipped YAML files load; every mistake names key, value, allowed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocgym.envs import EnvSettings
from allocgym.exceptions import ConfigError
from allocgym.experiment import ExperimentConfig, load_config
from allocgym.predictors import DEFAULT_PRESET

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.mark.parametrize(
    "name",
    [
        "quickstart", "full", "reward_study", "toolbox", "quickstart_selection", "ablation",
        "ablation_synthetic", "quickstart_scale", "quickstart_network",
    ],
)  # fmt: skip
def test_shipped_configs_are_valid(name):
    config = load_config(EXPERIMENTS / f"{name}.yaml")
    assert config.name == name
    assert config.agents or config.baselines


def test_the_quickstart_is_what_its_selection_sweeps_chose():
    """quickstart_selection chose the action map, quickstart_scale (the same experiment
    with that map) the tilt's size under the turnover cap, quickstart_network (with that
    tilt) the network; the quickstart runs that choice and counts the other
    configurations tried in its deflated Sharpe ratio."""
    from allocgym.sweep import SweepConfig, expand

    quick = load_config(EXPERIMENTS / "quickstart.yaml")
    stage1 = load_config(EXPERIMENTS / "quickstart_selection.yaml")
    stage2 = load_config(EXPERIMENTS / "quickstart_scale.yaml")
    stage3 = load_config(EXPERIMENTS / "quickstart_network.yaml")
    for stage in (stage1, stage2, stage3):
        assert stage.walk_forward == quick.walk_forward and stage.data == quick.data
        assert stage.agents[0].timesteps == quick.agents[0].timesteps
    assert dataclasses.replace(stage1.env, action=quick.env.action, action_kwargs={}) == (
        dataclasses.replace(quick.env, action_kwargs={})
    )
    assert dataclasses.replace(stage2.env, action_kwargs={}) == (
        dataclasses.replace(quick.env, action_kwargs={})
    )
    space1 = SweepConfig.from_dict(stage1.sweep).space["env.action"].values
    sweep2 = SweepConfig.from_dict(stage2.sweep)
    scales = sweep2.space["env.action_kwargs.scale"].values
    assert quick.env.action in space1 and quick.env.action_kwargs["scale"] in scales
    assert sweep2.max_turnover == 5.0
    assert stage3.env == quick.env  # the selected map and tilt
    networks = SweepConfig.from_dict(stage3.sweep).space["agents.0.network"].values
    assert quick.agents[0].network == "mlp" and set(networks) == {"mlp", "equivariant"}
    # every configuration tried, less the one run here and the ones two stages share
    # (residual_current at its default scale 0.1 in stages 1 and 2; the quickstart's
    # own configuration, the MLP at scale 0.025, in stages 2 and 3)
    tried = sum(len(expand(SweepConfig.from_dict(s.sweep))) for s in (stage1, stage2, stage3))
    assert 0.1 in scales and quick.report.prior_trials == tried - 3


def test_quickstart_has_ppo_and_the_four_baselines():
    config = load_config(EXPERIMENTS / "quickstart.yaml")
    assert [a.name for a in config.agents] == ["ppo"]
    # an RL result is a distribution: three seeds or more, each a row, and their ensemble
    assert len(config.agents[0].seeds) >= 3
    assert config.agents[0].row_labels == [
        *(f"PPO s{s}" for s in config.agents[0].seeds), "PPO ensemble"
    ]  # fmt: skip
    assert [b.name for b in config.baselines] == [
        "equal_weight", "min_variance", "mean_variance", "black_litterman",
    ]  # fmt: skip


def test_resolved_config_round_trips_through_yaml(tmp_path):
    config = load_config(EXPERIMENTS / "reward_study.yaml")
    path = tmp_path / "c.yaml"
    path.write_text(config.to_yaml())
    again = load_config(path)
    assert again.to_dict() == config.to_dict()


def test_defaults_from_an_empty_mapping():
    """What a newcomer gets (SPEC "Defaults"): embedded data, 10 bps, log return, 1/N."""
    config = load_config({})
    assert isinstance(config, ExperimentConfig)
    assert config.name == "experiment" and config.run_dir == Path("runs") / "experiment"
    assert config.data.source is None and config.seed == 0
    assert config.env.cost_bps == 10.0 and config.env.reward == "log_return"
    assert (config.env.window, config.env.rebalance_every, config.env.action) == (20, 5, "simplex")
    assert config.env.episode_length == 50 and config.env.norm_window == 252
    assert config.env == EnvSettings()  # one set of defaults: the API's are the config's
    assert vars(config.walk_forward) == {
        "train": 1260, "test": 252, "step": None, "expanding": False, "purge": 0,
    }  # fmt: skip
    assert config.features.preset == DEFAULT_PRESET == "standard" and config.features.cache
    assert config.agents == ()
    assert [(b.name, b.display) for b in config.baselines] == [("equal_weight", "1/N")]
    assert config.report.n_boot == 1000 and config.sweep is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"enviroment": {}}, r"enviroment: unknown key; allowed keys: \["),
        ({"env": {"cost_bsp": 5}}, r"env\.cost_bsp: unknown key \(did you mean 'cost_bps'\?\)"),
        ({"env": {"cost_bps": "ten"}}, r"env\.cost_bps: 'ten' is invalid; expected a value of"),
        ({"env": {"cost_bps": -1}}, r"env\.cost_bps: -1 is invalid; expected a number of basis"),
        # the environment's own limit, checked when the file loads (before any feature)
        ({"env": {"cost_bps": 6000}}, r"env\.cost_bps: 6000 is invalid; .* in \[0, 5000\)"),
        ({"env": {"reward": "sharpe!"}}, r"env\.reward: 'sharpe!' is invalid; .*registered"),
        (
            {"env": {"action": "short"}},
            r"env\.action: 'short' is invalid; expected one of \[.*'simplex'\] \(did you mean",
        ),
        ({"env": {"window": 0}}, r"env\.window: 0 is invalid; expected an integer >= 1"),
        ({"env": {"window": 2.5}}, r"env\.window: 2\.5 is invalid; expected a value of type int"),
        (
            {"env": {"reward": "differential_sharpe", "reward_kwargs": {"etta": 1}}},
            r"env\.reward_kwargs: \{'etta': 1\} is invalid; expected parameters of reward",
        ),
        (
            {"env": {"action": "band", "action_kwargs": {"band": 2}}},
            r"env\.action_kwargs: \{'band': 2\} is invalid; expected parameters of action 'band'",
        ),
        ({"env": {"observation": "box"}}, r"env\.observation: 'box' is invalid; expected 'flat'"),
        ({"report": {"n_boot": -3}}, r"report\.n_boot: -3 is invalid; expected an integer >= 0"),
        ({"report": {"prior_trials": -1}}, r"report\.prior_trials: -1 is invalid; expected an"),
        ({"report": {"prior_trials": 2.5}}, r"report\.prior_trials: 2\.5 is invalid"),
        ({"agents": [{"reward": "x!"}]}, r"agents\[0\]\.reward: 'x!' is invalid; .*registered"),
        ({"features": {"preset": "huge"}}, r"features\.preset: 'huge' is invalid; expected one"),
        ({"agents": [{"name": "ppo2"}]}, r"agents\[0\]\.name: 'ppo2' is invalid; expected one of"),
        (
            {"agents": [{"name": "ppo", "hyperparameters": {"lr": 1}}]},
            r"agents\[0\]\.hyperparameters: unknown hyperparameter 'lr'",
        ),
        ({"agents": [{"seeds": []}]}, r"agents\[0\]\.seeds: \[\] is invalid; expected a non-empty"),
        ({"agents": [{"seeds": [0, 0]}]}, r"agents\[0\]\.seeds: \[0, 0\] is invalid; expected d"),
        (  # a seed's row or the seed ensemble's row may not be another policy's label
            {
                "agents": [{"label": "PPO", "seeds": [0, 1]}],
                "baselines": [{"name": "equal_weight", "label": "PPO ensemble"}],
            },
            r"labels: \['PPO ensemble'\] is invalid; expected distinct labels",
        ),
        ({"baselines": [{"name": "min_var"}]}, r"'min_var' is invalid; expected one of .*did you"),
        ({"baselines": [{}, {}]}, r"labels: \['1/N'\] is invalid; expected distinct labels"),
        (
            {"baselines": [{"name": "equal_weight"}, {"name": "1/N"}]},
            r"labels: \['1/N'\] is invalid; expected distinct labels",
        ),
        (
            {"baselines": [{"name": "min_variance", "params": {"lokback": 63}}]},
            r"baselines\[0\]\.params: unknown parameter 'lokback' \(did you mean 'lookback'\?\) "
            r"for baseline 'min_variance'; accepted: \['cost_penalty_bps'",
        ),
        (
            {"baselines": [{"name": "min_variance", "params": {"lookback": 1}}]},
            r"baselines\[0\]\.params: lookback=1; expected an integer >= 2",
        ),
        ({"baselines": []}, r"at least one agent or baseline"),
        ({"walk_forward": {"train": 0}}, r"walk_forward\.train: 0 is invalid; expected an int"),
        (
            {"walk_forward": {"test": 252, "step": 126}},
            r"walk_forward\.step: 126 is invalid; expected null or an integer >= test=252",
        ),
        ({"agents": {"name": "ppo"}}, r"agents: \{'name': 'ppo'\} is invalid; expected a list"),
    ],
)
def test_bad_configs_name_key_value_and_allowed(data, match):
    with pytest.raises(ConfigError, match=match):
        load_config(data)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("env: [unclosed")
    with pytest.raises(ConfigError, match=r"bad\.yaml: cannot read the config \(invalid YAML: "):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(
        ConfigError, match=r"the config is not a mapping \(a list\); expected a mapping of sections"
    ):
        load_config(listy)


def test_name_defaults_to_the_file_stem(tmp_path):
    path = tmp_path / "my_study.yaml"
    path.write_text("baselines: [{name: equal_weight}]\n")
    assert load_config(path).name == "my_study"


def test_baselines_take_every_registered_name_and_its_label():
    config = load_config(
        {"baselines": [{"name": "max_sharpe", "params": {"lookback": 63}}, {"name": "1/N"}]}
    )
    assert [b.display for b in config.baselines] == ["Max-Sharpe", "1/N"]
    sharpe = config.baselines[0].build()
    assert sharpe.optimizer.objective == "max_sharpe" and sharpe.lookback == 63


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"cost_bps": -5}, "cost_bps"),
        ({"window": 0}, "window"),
        ({"action": "softmax"}, "action"),
        ({"reward": "no_such_reward"}, "reward"),
    ],
)
def test_a_bad_env_setting_fails_when_the_file_loads_before_any_feature(
    env, field, tmp_path, monkeypatch
):
    """The config is refused while loading, naming ``env.<field>``: neither the market
    nor the features are touched (run_experiment fails before building them)."""
    import allocgym.experiment.runner as runner

    def never(*args, **kwargs):
        raise AssertionError("features were built for an invalid config")

    monkeypatch.setattr("allocgym.predictors.build_features", never)
    monkeypatch.setattr("allocgym.data.load_market", never)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_text(f"env: {env!r}\n".replace("'", '"'))
    with pytest.raises(ConfigError, match=rf"bad\.yaml: env\.{field}: .* is invalid; expected"):
        runner.run_experiment(path, progress=False, verbose=False)
    assert not (tmp_path / "runs").exists()


def test_the_env_section_is_an_env_settings_and_round_trips(tmp_path):
    config = load_config(
        {"env": {"cost_bps": [5, 10, 15], "action": "Long-Short", "reward_kwargs": {}}}
    )
    assert isinstance(config.env, EnvSettings)
    assert config.env.cost_bps == (5.0, 10.0, 15.0) and config.env.action == "long_short"
    path = tmp_path / "c.yaml"
    path.write_text(config.to_yaml())
    assert load_config(path).env == config.env


def test_an_agent_observes_a_selection_the_preset_builds(tmp_path):
    def load(observe, preset="standard"):
        return load_config(
            {
                "features": {"preset": preset},
                "agents": [{"name": "ppo", "observe": observe}],
            }
        )

    config = load(["technical", "garch"])
    assert config.agents[0].observe == ("technical", "garch")  # a tuple: hashable, frozen
    path = tmp_path / "c.yaml"
    path.write_text(config.to_yaml())
    assert load_config(path) == config  # round-trips
    assert load(None).agents[0].observe is None
    assert load(["rsi_14"]).agents[0].observe == ("rsi_14",)  # names: checked on the panel
    with pytest.raises(ConfigError, match=r"agents\[0\]\.observe: \['lstm'\].*features\.preset "
                       r"'standard' builds: it has no 'lstm' features"):  # fmt: skip
        load(["lstm"])
    with pytest.raises(ConfigError, match=r"agents\[0\]\.observe: \[\] .*non-empty"):
        load([])
    with pytest.raises(ConfigError, match=r"agents\[0\]\.observe"):
        load("garch")
    with pytest.raises(ConfigError, match=r"no 'garch' features"):
        load(["garch"], preset="technical")
    assert load(["lstm"], preset="full").agents[0].observe == ("lstm",)


def test_a_synthetic_market_as_the_data_of_an_experiment():
    from allocgym.data import make_synthetic_market

    params = {"n_assets": 4, "n_days": 600, "seed": 3, "signal_strength": 0.5}
    config = load_config({"data": {"synthetic": params, "start": "2000-06-01"}})
    whole = config.data.load(whole=True)
    expected = make_synthetic_market(**params).market
    assert whole.assets == expected.assets
    np.testing.assert_array_equal(whole.prices, expected.prices)
    cut = config.data.load()
    assert cut.dates[0] >= pd.Timestamp("2000-06-01") and cut.n_dates < whole.n_dates
    with pytest.raises(ConfigError, match=r"data\.synthetic: .*null when data\.source"):
        load_config({"data": {"synthetic": params, "source": "prices.csv"}})
    with pytest.raises(ConfigError, match=r"data\.synthetic: .*n_asets"):
        load_config({"data": {"synthetic": {"n_asets": 4}}})
    with pytest.raises(ConfigError, match=r"data\.synthetic: "):
        load_config({"data": {"synthetic": {"n_regimes": 99}}}).data.load()


@pytest.mark.parametrize("name", ["ablation", "ablation_synthetic"])
def test_the_ablation_varies_only_what_the_agent_observes(name):
    config = load_config(EXPERIMENTS / f"{name}.yaml")
    quick = load_config(EXPERIMENTS / "quickstart.yaml")
    assert config.env == quick.env and config.walk_forward == quick.walk_forward
    assert config.features.preset == "full"  # every predictor is built, then selected
    observes = [a.observe for a in config.agents]
    assert observes == [
        ("technical",), ("technical", "garch"), ("technical", "regime"),
        ("technical", "lstm"), None,
    ]  # fmt: skip
    budgets = {a.timesteps for a in config.agents}
    assert len(budgets) == 1  # every variant trains as long
    for agent in config.agents:  # the quickstart's agent and seeds, a third of its budget
        same = dataclasses.replace(
            agent, label=quick.agents[0].label, observe=None, timesteps=quick.agents[0].timesteps
        )
        assert same == quick.agents[0]
    assert config.report.benchmark == "PPO technical ensemble"
