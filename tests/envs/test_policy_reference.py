"""PolicyReference: a baseline walked forward point in time as the residual map's reference."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from allocgym.baselines import BASELINES
from allocgym.data import MarketData
from allocgym.envs import EnvSettings, PolicyReference, PortfolioEnv, ResidualMap, make_action_map
from allocgym.envs.vector import PortfolioVecEnv
from allocgym.exceptions import ConfigError
from allocgym.policy import PolicyState
from tests.envs.test_rebalancing import check_both
from tests.helpers import tiny_experiment


def walk_baseline(name: str, market: MarketData, **params) -> np.ndarray:
    """Plain reference: the baseline asked at every row from row 0, holding 1/N until it
    first trades, then its own weights drifted with the returns (cash earns rf)."""
    policy = BASELINES.create(name, **params)
    rows, after = [], None
    for t in range(market.n_dates):
        if after is None:
            given = np.r_[0.0, market.available[t].astype(float)]
            given /= given.sum()
        else:
            growth = np.r_[1.0 + market.rf[t], 1.0 + np.nan_to_num(market.returns[t])]
            given = after * growth / (after * growth).sum()
        target = np.asarray(policy.act(PolicyState.at(market, t, given)), dtype=float)
        if after is None and np.array_equal(target, given):
            rows.append(given)
        else:
            rows.append(target)
            after = target
    return np.array(rows)


def test_table_is_the_baseline_walked_forward(small_market):
    table = PolicyReference("min_variance", {"lookback": 60}).bind(small_market).table
    expected = walk_baseline("min_variance", small_market, lookback=60)
    np.testing.assert_array_equal(table, expected)
    # 1/N while the baseline cannot act (fewer than 20 returns at its rebalance on row 0)
    np.testing.assert_array_equal(table[:21, 1:], 1 / small_market.n_assets)
    assert not np.allclose(table[42:, 1:], 1 / small_market.n_assets)
    assert not table.flags.writeable


def test_zero_action_holds_the_baseline_at_each_decision(small_market, small_panel):
    action = make_action_map("residual", reference="min_variance", scale=0.2)
    env = PortfolioEnv(small_market, small_panel, start=40, rebalance_every=3, action=action)
    expected = walk_baseline("min_variance", small_market)
    env.reset()
    zero = np.zeros(env.action_space.shape, dtype=np.float32)
    done = False
    while not done:
        t = env.t
        target = env.action_to_weights(zero)
        np.testing.assert_allclose(target, expected[t], rtol=0, atol=1e-15)
        np.testing.assert_array_equal(target[1:], expected[t][1:])  # assets exactly
        _, _, _, done, _ = env.step(zero)


def test_point_in_time_prices_after_t_do_not_move_the_reference(small_market):
    t = 150
    prices = np.array(small_market.prices)
    prices[t + 1 :] *= np.random.default_rng(0).uniform(0.5, 1.5, prices[t + 1 :].shape)
    moved = MarketData.from_prices(prices, small_market.dates, small_market.assets)
    for name in ("min_variance", "risk_parity", "hrp"):
        a = PolicyReference(name).bind(small_market).table
        b = PolicyReference(name).bind(moved).table
        np.testing.assert_array_equal(a[: t + 1], b[: t + 1])
        assert not np.array_equal(a[t + 30], b[t + 30])


def test_single_and_vector_envs_follow_the_same_wealth_path(small_market, small_panel):
    kwargs = {"start": 30, "rebalance_every": 2, "cost_bps": 10.0,
              "action": ResidualMap("hrp", scale=0.3)}  # fmt: skip
    venv = PortfolioVecEnv(small_market, small_panel, n_envs=3, random_start=True,
                           episode_length=40, seed=1, **kwargs)  # fmt: skip
    venv.reset()
    singles = []
    for t0 in venv.t:
        env = PortfolioEnv(small_market, small_panel, **{**kwargs, "start": int(t0)})
        env.reset()
        singles.append(env)
    rng = np.random.default_rng(3)
    for _ in range(39):
        actions = rng.uniform(-1, 1, (3, small_market.n_assets)).astype(np.float32)
        actions[0] = 0.0
        venv.step(actions)
        for i, env in enumerate(singles):
            env.step(actions[i])
            assert venv.wealth[i] == pytest.approx(env.wealth, rel=1e-12)
            np.testing.assert_allclose(venv.weights[i], env.weights, rtol=0, atol=1e-14)


@pytest.mark.parametrize("reference", ["min_variance", {"name": "risk_parity"}, "hrp"], ids=str)
def test_both_checkers_pass(small_market, small_panel, reference):
    env = PortfolioEnv(
        small_market, small_panel, start=40, action=make_action_map("residual", reference=reference)
    )
    check_both(env)


def test_binding_leaves_the_map_given_unbound_and_keeps_its_repr(small_market):
    action = ResidualMap("min_variance")
    env = PortfolioEnv(small_market, start=40, action=action)
    assert not action.reference.bound and env.action_map.reference.bound
    assert (
        repr(env.action_map)
        == repr(action)
        == ("ResidualMap(PolicyReference('min_variance'), scale=0.1)")
    )
    with pytest.raises(RuntimeError, match="not bound"):
        action.to_weights(np.zeros(5), np.ones(6), np.empty(6), np.full(6, 1 / 6), 50)


def test_extend_computes_only_new_rows_and_equals_bind(small_market):
    ref = PolicyReference("min_variance").bind(small_market[:100])
    for stop in (150, 151, 300):
        ref.extend(small_market[:stop])
    full = PolicyReference("min_variance").bind(small_market).table
    np.testing.assert_array_equal(ref.table, full)
    other = MarketData.from_prices(
        np.array(small_market.prices) * 1.01, small_market.dates, small_market.assets
    )
    np.testing.assert_array_equal(  # another market: rebuilt, not extended
        ref.extend(other).table, PolicyReference("min_variance").bind(other).table
    )


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("min_varience", r"did you mean 'min_variance'.*expected one of \[.*'hrp'"),
        ({"name": "hrp", "paramz": {}}, "expected a mapping with 'name'"),
        ({"name": "min_variance", "params": {"lookbak": 10}}, "did you mean 'lookback'"),
    ],
)
def test_a_bad_reference_fails_at_settings_and_config_load(tmp_path, small_market, spec, match):
    with pytest.raises(ConfigError, match=match):
        EnvSettings(action="residual", action_kwargs={"reference": spec})
    from allocgym.experiment import load_config

    env = {"window": 5, "action": "residual", "action_kwargs": {"reference": spec}}
    config = tiny_experiment(tmp_path, small_market, 300, env=env)
    with pytest.raises(ConfigError, match=r"env\.action_kwargs"):
        load_config(config)


def test_yaml_config_trains_ppo_with_a_min_variance_reference(tmp_path, synthetic_market):
    from allocgym.experiment import load_config, run_experiment

    env = {"window": 5, "rebalance_every": 5, "episode_length": 10, "action": "residual",
           "action_kwargs": {"reference": "min_variance", "scale": 0.2}}  # fmt: skip
    config = tiny_experiment(tmp_path, synthetic_market, 600, env=env)
    config["agents"][0]["timesteps"] = 256
    config["agents"][0]["n_envs"] = 2
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    loaded = load_config(path)
    assert loaded.env.action_kwargs["reference"] == "min_variance"
    results = run_experiment(loaded, progress=False, verbose=False)
    weights = results.weights["PPO"]
    assert np.isfinite(np.asarray(weights)).all()
