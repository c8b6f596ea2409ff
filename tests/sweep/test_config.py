"""SweepConfig validation messages, grid/random expansion and config substitution."""

from __future__ import annotations

import pytest

from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config
from allocgym.sweep import SweepConfig, apply_params, expand, make_trials

SPACE = {"agents.0.hyperparameters.gamma": [0.9, 0.99]}


def test_defaults_and_round_trip():
    cfg = SweepConfig.from_dict({"space": SPACE, "seeds": [0, 1]})
    assert cfg.search == "grid" and cfg.seeds == (0, 1) and cfg.resources["cpu"] == 1.0
    assert SweepConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.max_turnover is None
    capped = SweepConfig.from_dict({"space": SPACE, "max_turnover": 5})
    assert capped.max_turnover == 5.0 and SweepConfig.from_dict(capped.to_dict()) == capped


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"space": SPACE, "serch": "grid"}, r"sweep\.serch: unknown key; allowed keys"),
        ({"space": SPACE, "search": "bayes"}, r"sweep\.search: 'bayes' is invalid; expected one"),
        ({"space": {}}, r"sweep\.space: \{\} is invalid; expected a non-empty mapping"),
        ({"space": {"a.b": {"normal": [0, 1]}}}, r"sweep\.space\.a\.b: 'normal' is invalid"),
        ({"space": {"a": {"uniform": [1, 0]}}, "search": "random"}, r"low < high"),
        ({"space": {"a": {"loguniform": [0, 1]}}, "search": "random"}, r"0 < low"),
        ({"space": {"a": {"uniform": [0, 1]}}}, r"sweep\.space\.a: .* with search: grid"),
        ({"space": SPACE, "seeds": [0, 0]}, r"sweep\.seeds: \[0, 0\] is invalid; expected dist"),
        ({"space": SPACE, "validation": 1}, r"sweep\.validation: 1 is invalid; expected an int"),
        ({"space": SPACE, "resources": {"tpu": 1}}, r"sweep\.resources\.tpu"),
        ({"space": SPACE, "scheduler": "hyperband"}, r"sweep\.scheduler: 'hyperband'"),
        ({"space": SPACE, "max_turnover": 0}, r"sweep\.max_turnover: 0 is invalid; expected a"),
        ({"space": SPACE, "max_turnover": "5x"}, r"sweep\.max_turnover: '5x' is invalid"),
    ],
)
def test_validation_messages_name_key_value_and_allowed(data, match):
    with pytest.raises(ConfigError, match=match):
        SweepConfig.from_dict(data, "sweep")


def test_experiment_config_validates_its_sweep_section():
    with pytest.raises(ConfigError, match=r"sweep\.num_samples: 0 is invalid"):
        load_config({"baselines": [{"name": "equal_weight"}],
                     "sweep": {"space": SPACE, "num_samples": 0}})  # fmt: skip


def test_grid_is_the_cartesian_product_times_seeds():
    cfg = SweepConfig.from_dict(
        {"space": {"a": [1, 2, 3], "b": {"grid": ["x", "y"]}}, "seeds": [0, 7]}
    )
    configs = expand(cfg)
    assert len(configs) == 6
    assert {(c["a"], c["b"]) for c in configs} == {(a, b) for a in (1, 2, 3) for b in "xy"}
    trials = make_trials(configs, cfg.seeds)
    assert [t.trial_id for t in trials[:3]] == ["c000-s0", "c000-s7", "c001-s0"]


def test_random_draws_within_bounds_reproducibly():
    cfg = SweepConfig.from_dict(
        {
            "search": "random",
            "num_samples": 20,
            "space": {
                "lr": {"loguniform": [1e-5, 1e-2]},
                "u": {"uniform": [0.5, 0.6]},
                "n": {"randint": [1, 4]},
                "c": ["a", "b"],
                "g": {"grid": [1, 2]},
            },
        }
    )
    configs = expand(cfg, seed=3)
    assert len(configs) == 40  # num_samples per grid point
    assert all(1e-5 <= c["lr"] <= 1e-2 and 0.5 <= c["u"] <= 0.6 for c in configs)
    assert {c["n"] for c in configs} == {1, 2, 3}
    assert {c["c"] for c in configs} == {"a", "b"}
    assert sum(c["g"] == 1 for c in configs) == 20
    assert configs == expand(cfg, seed=3) and configs != expand(cfg, seed=4)


def test_apply_params_sets_nested_values_and_names_bad_paths():
    base = {"env": {"cost_bps": 10}, "agents": [{"hyperparameters": {}}]}
    out = apply_params(base, {"env.cost_bps": 5, "agents.0.hyperparameters.gamma": 0.9})
    assert out["env"]["cost_bps"] == 5 and out["agents"][0]["hyperparameters"]["gamma"] == 0.9
    assert base["env"]["cost_bps"] == 10  # a copy
    with pytest.raises(ConfigError, match=r"sweep\.space\.agents\.3\.name: 'agents\.3'"):
        apply_params(base, {"agents.3.name": "sac"})


def test_selection_takes_the_best_validation_sharpe_within_the_turnover_cap():
    import math

    import pandas as pd

    from allocgym.sweep.summary import _select

    configs = pd.DataFrame(
        {"val_sharpe": [1.5, 1.2, 0.9, math.nan], "val_turnover": [8.3, 4.9, 5.0, 1.0]},
        index=pd.Index(["c000", "c001", "c002", "c003"], name="config_id"),
    )
    assert _select(configs, None) == "c000"  # no cap: the best Sharpe
    assert _select(configs, 5.0) == "c001"  # c000 trades too much
    assert _select(configs.drop(index=["c000", "c001"]), 5.0) == "c002"  # 5.0 qualifies
    assert _select(configs, 4.95) == "c001"
    assert _select(configs, 4.0) is None  # c003 is within but never finished
    no_turnover = configs.assign(val_turnover=math.nan)  # records from before the cap
    assert _select(no_turnover, 5.0) is None and _select(no_turnover, None) == "c000"
    assert _select(configs.iloc[:0], None) is None
