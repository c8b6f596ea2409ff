"""PortfolioEnv: accounting, timing, point in time, seeding, pickling, validation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.optimize import brentq

from allocgym.data import MarketData
from allocgym.envs import CostModel, PortfolioEnv
from allocgym.exceptions import DataError
from tests.envs.conftest import causal_panel


def exact_mu(wd, wt, c):
    """The cash-balance equation solved by bracketing (no fixed point, no Newton)."""

    def f(mu):
        sold = np.maximum(wd[1:] - mu * wt[1:], 0.0).sum()
        bought = np.maximum(mu * wt[1:] - wd[1:], 0.0).sum()
        return wd[0] + (1 - c) * sold - bought / (1 - c) - mu * wt[0]

    return 1.0 if c == 0 else brentq(f, 1e-6, 1.0 + 1e-12, xtol=1e-16, rtol=1e-15)


def constant_mix_wealth(market: MarketData, target, t0: int, t1: int, c: float):
    """Wealth at closes t0+1..t1 of a daily-rebalanced constant mix, from share counts."""
    p = np.asarray(market.prices)
    cash_growth = 1.0 + np.asarray(market.rf)
    shares = np.zeros(market.n_assets)
    cash, path = 1.0, []
    for t in range(t0, t1):
        values = shares * np.nan_to_num(p[t])
        wealth = cash + values.sum()
        wd = np.concatenate(([cash], values)) / wealth
        mu = exact_mu(wd, target, c)
        shares = mu * wealth * target[1:] / np.where(target[1:] > 0, p[t], 1.0)
        cash = mu * wealth * target[0] * cash_growth[t + 1]
        path.append(cash + (shares * np.nan_to_num(p[t + 1])).sum())
    return np.array(path)


@pytest.mark.parametrize("bps", [0.0, 10.0, 50.0])
def test_constant_mix_wealth_matches_independent_computation(late_market, bps):
    env = PortfolioEnv(late_market, features=False, cost_bps=bps, start=130, end=299)
    target = np.array([0.1, 0.3, 0.2, 0.15, 0.15, 0.1])
    env.reset()
    wealth = []
    while True:
        *_, terminated, truncated, _ = env.step_weights(target)
        wealth.append(env.wealth)
        if terminated or truncated:
            break
    expected = constant_mix_wealth(late_market, target, 130, 299, bps * 1e-4)
    np.testing.assert_allclose(wealth, expected, rtol=1e-10, atol=0)
    np.testing.assert_allclose(env.track().wealth, expected, rtol=1e-10, atol=0)


def test_zero_cost_wealth_is_the_compounded_portfolio_return(small_market):
    env = PortfolioEnv(small_market, features=False, cost_bps=0.0, start=40, end=250)
    target = np.array([0.0, 0.4, 0.1, 0.2, 0.2, 0.1])
    env.reset()
    done = False
    while not done:
        *_, te, tr, _ = env.step_weights(target)
        done = te or tr
    r = np.asarray(small_market.returns)[41:251]
    expected = np.cumprod(1.0 + r @ target[1:])
    np.testing.assert_allclose(env.track().wealth, expected, rtol=1e-12)
    assert env.track().costs.max() == 0.0


def test_decision_at_t_earns_the_return_of_t_plus_one(small_market):
    env = PortfolioEnv(small_market, features=False, cost_bps=0.0, start=50)
    env.reset()
    _, reward, *_, info = env.step_weights([0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    r = small_market.returns[51, 0]
    assert info["net_return"] == pytest.approx(r, abs=1e-15)
    assert reward == pytest.approx(np.log1p(r), abs=1e-15)
    assert env.t == 51
    assert info["date"] == small_market.dates.values[50]


def test_cash_earns_the_risk_free_rate(late_market):
    env = PortfolioEnv(late_market, features=False, cost_bps=10.0, start=10)
    env.reset()
    _, _, _, _, info = env.step_weights([1.0, 0, 0, 0, 0, 0])
    assert info["cost"] == 0.0
    assert env.wealth == pytest.approx(1 + late_market.rf[11], abs=1e-15)


@pytest.mark.parametrize("k", [2, 5, 21])
def test_holding_k_days_equals_daily_steps_without_trading(small_market, k):
    held = PortfolioEnv(small_market, features=False, start=40, end=200, rebalance_every=k)
    daily = PortfolioEnv(small_market, features=False, start=40, end=200)
    held.reset(), daily.reset()
    rng = np.random.default_rng(0)
    while True:
        action = rng.uniform(-1, 1, 6)
        *_, te, tr, _info = held.step(action)
        daily.step(action)
        while daily.t < held.t:
            daily.step_weights(daily.weights)  # no trade: zero turnover, zero cost
        assert daily.wealth == pytest.approx(held.wealth, rel=1e-12)
        if te or tr:
            break
    a, b = held.track(), daily.track()
    assert a.dates.equals(b.dates)
    np.testing.assert_allclose(a.wealth, b.wealth, rtol=1e-12)
    np.testing.assert_allclose(a.weights, b.weights, atol=1e-12)
    np.testing.assert_allclose(a.costs, b.costs, atol=1e-15)
    assert a.traded.sum() == int(np.ceil(160 / k))


def test_track_is_consistent(small_market):
    env = PortfolioEnv(small_market, features=False, start=40, end=120, rebalance_every=3)
    env.reset(options={"wealth": 2.0})
    rng = np.random.default_rng(1)
    done = False
    while not done:
        *_, te, tr, _ = env.step(rng.uniform(-1, 1, 6))
        done = te or tr
    track = env.track()
    assert len(track) == 80 and track.dates[0] == small_market.dates[41]
    assert track.wealth[-1] == pytest.approx(env.wealth, rel=1e-14)
    assert np.prod(1 + track.net_returns) * 2.0 == pytest.approx(env.wealth, rel=1e-12)
    np.testing.assert_allclose(
        1 + track.net_returns, (1 + track.gross_returns) * (1 - track.costs), rtol=1e-13
    )
    np.testing.assert_allclose(track.weights.sum(axis=1), 1.0, atol=1e-13)
    assert set(track.to_frame().columns) >= {"net_return", "cost", "turnover", "wealth"}
    assert list(track.weights_frame().columns) == ["cash", *small_market.assets]


def test_unavailable_assets_cannot_be_bought(late_market):
    env = PortfolioEnv(late_market, features=False, start=100, end=140)
    obs, _ = env.reset()
    mask = obs[env.observation_layout.slices["mask"]]
    assert mask[2] == 0.0 and mask[[0, 1, 3, 4]].min() == 1.0
    assert env.action_to_weights(np.ones(6))[3] == 0.0  # asset index 2 -> weight index 3
    _, _, _, _, info = env.step_weights([0.0, 0.2, 0.2, 0.4, 0.1, 0.1])
    assert info["weights_after"][3] == 0.0
    assert info["weights_after"][0] == pytest.approx(0.4)
    while env.t < 120:
        env.step(np.ones(6))
    assert env.action_to_weights(np.ones(6))[3] > 0.1


def test_point_in_time_observations(small_market):
    t_star = 150
    prices = np.array(small_market.prices)
    rng = np.random.default_rng(7)
    prices[t_star + 1 :] *= np.exp(np.cumsum(rng.normal(0, 0.05, prices[t_star + 1 :].shape), 0))
    other = small_market.with_prices(prices)
    envs = [
        PortfolioEnv(m, features=causal_panel(m), start=30, time_features=True)
        for m in (small_market, other)
    ]
    observations = [[env.reset()[0]] for env in envs]
    actions = rng.uniform(-1, 1, (t_star - 30, 6))
    for a in actions:
        for env, obs in zip(envs, observations, strict=True):
            obs.append(env.step(a)[0])
    assert envs[0].t == t_star
    for before, after in zip(*observations, strict=True):
        assert np.array_equal(before, after)
    assert not np.array_equal(envs[0].step(actions[0])[0], envs[1].step(actions[0])[0])


def test_impact_costs_are_point_in_time(small_market):
    # the market-impact volatility at t may use returns up to t only: with prices changed
    # after t_star, every cost up to and including the trade at t_star is bit-identical
    t_star = 150
    prices = np.array(small_market.prices)
    rng = np.random.default_rng(11)
    prices[t_star + 1 :] *= np.exp(np.cumsum(rng.normal(0, 0.05, prices[t_star + 1 :].shape), 0))
    other = small_market.with_prices(prices)
    actions = rng.uniform(-1, 1, (t_star - 100 + 1, 6))
    runs = []
    for market in (small_market, other):
        env = PortfolioEnv(market, features=False, cost_bps=CostModel(10.0, impact=1.0), start=100)
        env.reset()
        infos = [env.step(a)[-1] for a in actions]
        runs.append(([(i["cost"], i["turnover"]) for i in infos], env.wealth))
    assert runs[0][0] == runs[1][0]
    assert min(cost for cost, _ in runs[0][0]) > 0.0
    assert runs[0][1] != runs[1][1]  # the return after t_star did change


def test_point_in_time_with_the_technical_preset(small_market, tmp_path, monkeypatch):
    monkeypatch.setenv("ALLOCGYM_CACHE_DIR", str(tmp_path))
    prices = np.array(small_market.prices)
    prices[201:] *= 1.5
    other = small_market.with_prices(prices)
    a = PortfolioEnv(small_market, start=60)
    b = PortfolioEnv(other, start=60)
    assert a.features is not None and a.features.n_features > 0
    rows = slice(0, 200 - 60 + 1)
    assert np.array_equal(a._table[rows], b._table[rows])
    assert not np.array_equal(a._table[rows.stop + 5], b._table[rows.stop + 5])


def test_same_seed_same_rollout(small_market, small_panel):
    def rollout(seed):
        env = PortfolioEnv(
            small_market, small_panel, random_start=True, episode_length=20, rebalance_every=2
        )
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for _ in range(3 * 20):
            obs, reward, te, tr, _ = env.step(env.action_space.sample())
            out += [obs, np.array([reward])]
            if te or tr:
                out.append(env.reset()[0])
        return np.concatenate(out)

    assert np.array_equal(rollout(3), rollout(3))
    assert not np.array_equal(rollout(3), rollout(4))


def test_pickle_round_trip_mid_episode(small_market, small_panel):
    env = PortfolioEnv(small_market, small_panel, reward="differential_sharpe")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(15):
        env.step(rng.uniform(-1, 1, 6))
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(10):
        a = rng.uniform(-1, 1, 6)
        o1, r1, *_ = env.step(a)
        o2, r2, *_ = clone.step(a)
        assert np.array_equal(o1, o2) and r1 == r2
    assert clone.wealth == env.wealth


def test_dict_observation_matches_flat(small_market, small_panel):
    flat = PortfolioEnv(small_market, small_panel, start=40)
    nested = PortfolioEnv(small_market, small_panel, start=40, observation="dict")
    o_flat, _ = flat.reset()
    o_dict, _ = nested.reset()
    assert set(o_dict) == {"features", "market", "returns", "mask", "weights"}
    assert o_dict["features"].shape == (5, 2) and o_dict["returns"].shape == (5, 30)
    np.testing.assert_array_equal(np.concatenate([v.ravel() for v in o_dict.values()]), o_flat)
    layout = flat.observation_layout
    assert layout.size == o_flat.size and layout.n_assets == 5
    np.testing.assert_array_equal(o_flat[layout.slices["returns"]], o_dict["returns"].ravel())
    np.testing.assert_array_equal(flat.observation(), o_flat)
    assert o_dict["weights"][0] == 1.0  # starts in cash


def test_info_has_everything(small_market):
    env = PortfolioEnv(small_market, features=False, reward="mean_variance")
    env.reset()
    *_, info = env.step(np.zeros(6))
    assert set(info) == {
        "date", "wealth", "weights_before", "weights_after", "turnover", "cost",
        "gross_return", "net_return", "reward_components",
    }  # fmt: skip
    np.testing.assert_allclose(info["weights_after"], 1 / 6)
    assert info["turnover"] == pytest.approx(5 / 6 * (1 - info["cost"]), rel=1e-12)
    assert set(info["reward_components"]) == {"return", "risk_penalty"}
    plain = PortfolioEnv(small_market, features=False)
    plain.reset()
    assert plain.step(np.zeros(6))[-1]["reward_components"].keys() == {"log_return"}


def test_episode_truncates_at_end_and_refuses_more_steps(small_market):
    env = PortfolioEnv(small_market, features=False, start="2000-03-01", end=small_market.dates[80])
    env.reset()
    assert small_market.dates[env.t] >= np.datetime64("2000-03-01")
    done, n = False, 0
    while not done:
        *_, te, tr, _ = env.step(np.zeros(6))
        done, n = te or tr, n + 1
    assert tr and not te and env.t == 80
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(6))


def test_reset_options_start_weights_wealth(small_market):
    env = PortfolioEnv(small_market, features=False, start=40)
    w = np.array([0.5, 0.5, 0, 0, 0, 0])
    _obs, info = env.reset(options={"start": 60, "weights": w, "wealth": 3.0})
    assert env.t == 60 and env.wealth == 3.0
    np.testing.assert_array_equal(info["weights"], w)
    *_, info = env.step_weights(w)
    assert info["cost"] == 0.0
    with pytest.raises(ValueError, match="outside the decision range"):
        env.reset(options={"start": 10})


def test_long_short_accounting(small_market):
    env = PortfolioEnv(
        small_market, features=False, action="long_short", cost_bps=0.0, start=50, end=52
    )
    env.reset()
    w = np.array([1.5, -0.5, 0.0, 0.0, 0.0, 0.0])  # short asset 0, all proceeds in cash
    env.step_weights(w)
    assert env.wealth == pytest.approx(1 - 0.5 * small_market.returns[51, 0], abs=1e-15)
    weights = env.action_to_weights(np.array([1.0, 0.0, 0.0, 0.0, 0.0]))
    np.testing.assert_allclose(weights, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="gross exposure"):
        env.step_weights([-1.0, 1.0, 1.0, 0, 0, 0])


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ([0.5, 0.5], "shape"),
        ([np.nan, 1.0, 0, 0, 0, 0], "non-finite"),
        ([1.2, -0.2, 0, 0, 0, 0], "negative"),
        ([0.5, 0.2, 0, 0, 0, 0], "sum to"),
    ],
)
def test_step_weights_validation(small_market, weights, match):
    env = PortfolioEnv(small_market, features=False)
    env.reset()
    with pytest.raises(ValueError, match=match):
        env.step_weights(weights)


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (np.full(6, np.nan), "non-finite"),
        (np.array([np.inf, 0, 0, 0, 0, 0]), "non-finite"),
        (np.zeros(5), "shape"),
        (np.zeros((2, 6)), "shape"),
    ],
)
def test_bad_actions_raise(small_market, action, match):
    env = PortfolioEnv(small_market, features=False)
    env.reset()
    with pytest.raises(ValueError, match=match):
        env.step(action)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"start": "2030-01-01"}, DataError, "no step"),
        ({"window": 0}, ValueError, "window"),
        ({"rebalance_every": 1.5}, ValueError, "rebalance_every"),
        ({"cost_bps": [1.0, 2.0]}, ValueError, "2 per-asset rates"),
        ({"observation": "image"}, ValueError, "observation"),
        ({"episode_length": 10_000}, DataError, "episode_length"),
        ({"reward": "sharpe!"}, ValueError, "registered"),
        ({"action": "short"}, ValueError, "action"),
    ],
)
def test_invalid_arguments(small_market, kwargs, error, match):
    with pytest.raises(error, match=match):
        PortfolioEnv(small_market, features=False, **kwargs)


def test_misaligned_panel_is_refused(small_market, small_panel, synthetic_market):
    with pytest.raises(DataError, match="assets"):
        PortfolioEnv(small_market, features=causal_panel(synthetic_market[:300]).__class__(
            **{**small_panel.__dict__, "assets": tuple("abcde")}
        ))  # fmt: skip
