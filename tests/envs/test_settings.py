"""EnvSettings: one frozen value, validated once by building the objects it names."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from allocgym.envs import BandMap, CostModel, EnvSettings, PortfolioEnv, SimplexMap
from allocgym.exceptions import ConfigError, SettingError


@pytest.mark.parametrize(
    ("values", "field", "match"),
    [
        ({"cost_bps": -1}, "cost_bps", r"cost_bps=-1 is invalid; expected a number of basis"),
        ({"cost_bps": 6000}, "cost_bps", r"in \[0, 5000\)"),
        ({"cost_bps": "ten"}, "cost_bps", r"cost_bps='ten' is invalid"),
        ({"cost_bps": [1.0, -2.0]}, "cost_bps", r"cost_bps=\[1\.0, -2\.0\] is invalid"),
        ({"window": 0}, "window", r"window=0 is invalid; expected an integer >= 1"),
        ({"window": 2.5}, "window", r"window=2\.5 is invalid; expected an integer >= 1"),
        ({"window": True}, "window", r"window=True is invalid"),
        ({"rebalance_every": 0}, "rebalance_every", r"expected an integer >= 1"),
        ({"episode_length": 1}, "episode_length", r"expected an integer >= 2 or None"),
        ({"norm_window": 1}, "norm_window", r"expected an integer >= 2 or None"),
        ({"time_features": "yes"}, "time_features", r"expected True or False"),
        ({"observation": "box"}, "observation", r"expected 'flat' or 'dict'"),
        ({"action": "short"}, "action", r"action='short' is invalid; expected one of \["),
        ({"action": 3}, "action", r"action=3 is invalid"),
        ({"action": "band", "action_kwargs": {"band": 2}}, "action_kwargs", r"band=2"),
        ({"action": "simplex", "action_kwargs": {"tau": 1}}, "action_kwargs", r"'tau'"),
        ({"action": SimplexMap(), "action_kwargs": {"temperature": 1}}, "action_kwargs", "{}"),
        ({"reward": "sharpe!"}, "reward", r"reward='sharpe!' is invalid; expected a registered"),
        ({"reward": 42}, "reward", r"reward=42 is invalid"),
        (
            {"reward": "differential_sharpe", "reward_kwargs": {"etta": 0.1}},
            "reward_kwargs",
            r"parameters of reward 'differential_sharpe'",
        ),
        ({"reward_kwargs": [1]}, "reward_kwargs", r"expected a mapping"),
    ],
)
def test_a_bad_value_fails_at_construction_naming_the_field(values, field, match):
    with pytest.raises(SettingError, match=match) as info:
        EnvSettings(**values)
    assert info.value.field == field
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ValueError)


def test_values_are_normalised_and_the_object_is_frozen():
    s = EnvSettings(cost_bps=5, action="Long-Short", reward_kwargs={})
    assert s.cost_bps == 5.0 and isinstance(s.cost_bps, float) and s.action == "long_short"
    assert EnvSettings(cost_bps=np.array([1, 2])).cost_bps == (1.0, 2.0)
    model = CostModel(10.0, impact=0.5)
    assert EnvSettings(cost_bps=model).cost_bps is model
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.window = 3  # type: ignore[misc]
    kwargs = {"eta": 0.05}
    t = EnvSettings(reward="differential_sharpe", reward_kwargs=kwargs)
    kwargs["eta"] = 0.5  # the settings hold their own copy
    assert t.reward_kwargs == {"eta": 0.05}
    assert EnvSettings() == EnvSettings() != EnvSettings(window=21)


def test_defaults_and_how_they_relate_to_the_raw_environment():
    """EnvSettings has the config defaults (weekly decisions, window 20); the raw
    PortfolioEnv keeps one step = one day and window 30; every other default agrees."""
    s = EnvSettings()
    assert (s.cost_bps, s.reward, s.window, s.rebalance_every, s.episode_length) == (
        10.0, "log_return", 20, 5, 50,
    )  # fmt: skip
    env_defaults = {
        k: p.default
        for k, p in inspect.signature(PortfolioEnv).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    own = s.to_dict()
    assert env_defaults["reward_kwargs"] is None and own.pop("reward_kwargs") == {}
    differ = {k for k in own if k in env_defaults and env_defaults[k] != own[k]}
    assert differ == {"window", "rebalance_every", "episode_length"}


def test_env_kwargs_build_the_environment(small_market, small_panel):
    s = EnvSettings(cost_bps=7, reward="differential_sharpe", reward_kwargs={"eta": 0.02},
                    window=4, rebalance_every=3, norm_window=40, time_features=True)  # fmt: skip
    env = s.make_env(small_market, small_panel, start=60)
    same = PortfolioEnv(small_market, small_panel, start=60, **s.env_kwargs())
    assert env.cost_model.cost_bps == 7.0 and env.rebalance_every == 3
    assert env.reward_fn.eta == 0.02 and env.episode_length is None
    assert "time" in env.observation_layout.slices
    np.testing.assert_array_equal(env.reset()[0], same.reset()[0])
    assert "episode_length" not in s.env_kwargs()  # training envs only
    training = s.make_env(small_market, None, random_start=True, episode_length=5)
    assert training.episode_length == 5 and training.features is None


def test_action_kwargs_give_a_fresh_action_map_per_environment(small_market):
    s = EnvSettings(action="band", action_kwargs={"band": 0.1})
    a, b = s.make_env(small_market, None), s.make_env(small_market, None)
    assert isinstance(a.action_map, BandMap) and a.action_map is not b.action_map
    assert repr(a.action_map) == repr(b.action_map)
    assert s.env_kwargs()["action"] is not s.env_kwargs()["action"]
    assert EnvSettings().env_kwargs()["action"] == "simplex"  # a name stays a name


def test_to_dict_is_plain_and_differences_name_the_fields():
    s = EnvSettings(cost_bps=[1, 2], reward={"log_return": 1.0}, action=SimplexMap(3.0))
    d = s.to_dict()
    assert d["cost_bps"] == [1.0, 2.0] and d["reward"] == {"log_return": 1.0}
    assert d["action"] == "SimplexMap(temperature=3.0)"
    assert EnvSettings(**EnvSettings(window=7).to_dict()) == EnvSettings(window=7)
    base = EnvSettings()
    assert base.differences(dataclasses.replace(base, cost_bps=20, reward="mean_variance")) == {}
    assert base.differences(dataclasses.replace(base, window=10, time_features=True)) == {
        "window": (20, 10),
        "time_features": (False, True),
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"cost_bps": {5.0, 6.0}}, "cost_bps"),  # a set has no asset order
        ({"cost_bps": ["ten"]}, "cost_bps"),  # named, not a raw float() error
        ({"cost_bps": [True, 5.0]}, "cost_bps"),  # a bool is no rate
        ({"reward_kwargs": ["ab"]}, "reward_kwargs"),  # dict(["ab"]) would be {"a": "b"}
        ({"reward_kwargs": []}, "reward_kwargs"),  # a list, even empty, is no mapping
        ({"action_kwargs": ()}, "action_kwargs"),
        ({"window": None}, "window"),  # only the optional lengths accept None
        ({"rebalance_every": None}, "rebalance_every"),
        ({"reward_kwargs": {1: 0.5}}, "reward_kwargs"),  # parameter names are strings
        ({"reward": "nope", "reward_kwargs": {"eta": 0.1}}, "reward"),  # the name is wrong
    ],
)
def test_values_that_look_almost_right_are_refused_naming_the_field(values, field):
    with pytest.raises(SettingError) as err:
        EnvSettings(**values)
    assert err.value.field == field


def test_smallest_accepted_integers():
    s = EnvSettings(window=1, rebalance_every=1, episode_length=2, norm_window=2)
    assert (s.window, s.rebalance_every, s.episode_length, s.norm_window) == (1, 1, 2, 2)


def test_settings_keep_their_own_plain_copies():
    kwargs = {"band": 0.1}
    s = EnvSettings(action="band", action_kwargs=kwargs, time_features=np.True_)
    kwargs["band"] = 0.9  # the caller's dict changes later: the settings do not
    assert s.action_kwargs == {"band": 0.1} and type(s.action_kwargs) is dict
    assert s.time_features is True  # a Python bool (YAML- and JSON-safe), not np.bool_
