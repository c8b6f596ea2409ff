"""PortfolioEnv: accounting, timing, point in time, seeding, pickling, validation."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from allocgym.data import MarketData
from allocgym.envs import CostModel, PortfolioEnv, validate_target_weights
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
    env = PortfolioEnv(late_market, features=None, cost_bps=bps, start=130, end=299)
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
    env = PortfolioEnv(small_market, features=None, cost_bps=0.0, start=40, end=250)
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
    env = PortfolioEnv(small_market, features=None, cost_bps=0.0, start=50)
    env.reset()
    _, reward, *_, info = env.step_weights([0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    r = small_market.returns[51, 0]
    assert info["net_return"] == pytest.approx(r, abs=1e-15)
    assert reward == pytest.approx(np.log1p(r), abs=1e-15)
    assert env.t == 51
    assert info["date"] == small_market.dates.values[50]


def test_cash_earns_the_risk_free_rate(late_market):
    env = PortfolioEnv(late_market, features=None, cost_bps=10.0, start=10)
    env.reset()
    _, _, _, _, info = env.step_weights([1.0, 0, 0, 0, 0, 0])
    assert info["cost"] == 0.0
    assert env.wealth == pytest.approx(1 + late_market.rf[11], abs=1e-15)


@pytest.mark.parametrize("k", [2, 5, 21])
def test_holding_k_days_equals_daily_steps_without_trading(small_market, k):
    held = PortfolioEnv(small_market, features=None, start=40, end=200, rebalance_every=k)
    daily = PortfolioEnv(small_market, features=None, start=40, end=200)
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
    env = PortfolioEnv(small_market, features=None, start=40, end=120, rebalance_every=3)
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
    env = PortfolioEnv(late_market, features=None, start=100, end=140)
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
        env = PortfolioEnv(market, features=None, cost_bps=CostModel(10.0, impact=1.0), start=100)
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
    a = PortfolioEnv(small_market, "technical", start=60)
    b = PortfolioEnv(other, "technical", start=60)
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
    env = PortfolioEnv(small_market, features=None, reward="mean_variance")
    env.reset()
    *_, info = env.step(np.zeros(6))
    assert set(info) == {
        "date", "wealth", "weights_before", "weights_after", "turnover", "cost",
        "gross_return", "net_return", "reward_components",
    }  # fmt: skip
    np.testing.assert_allclose(info["weights_after"], 1 / 6)
    assert info["turnover"] == pytest.approx(5 / 6 * (1 - info["cost"]), rel=1e-12)
    assert set(info["reward_components"]) == {"return", "risk_penalty"}
    plain = PortfolioEnv(small_market, features=None)
    plain.reset()
    assert plain.step(np.zeros(6))[-1]["reward_components"].keys() == {"log_return"}


def test_episode_truncates_at_end_and_refuses_more_steps(small_market):
    env = PortfolioEnv(small_market, features=None, start="2000-03-01", end=small_market.dates[80])
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
    env = PortfolioEnv(small_market, features=None, start=40)
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
        small_market, features=None, action="long_short", cost_bps=0.0, start=50, end=52
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
    env = PortfolioEnv(small_market, features=None)
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
    env = PortfolioEnv(small_market, features=None)
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
        PortfolioEnv(small_market, features=None, **kwargs)


def test_misaligned_panel_is_refused(small_market, small_panel, synthetic_market):
    with pytest.raises(DataError, match="assets"):
        PortfolioEnv(small_market, features=causal_panel(synthetic_market[:300]).__class__(
            **{**small_panel.__dict__, "assets": tuple("abcde")}
        ))  # fmt: skip


# ---------------------------------------------------------------- validate_target_weights
ONES3 = np.ones(3)


def test_target_weights_default_to_long_only_with_gross_leverage_one():
    with pytest.raises(ValueError, match="negative entries"):
        validate_target_weights([1.2, -0.2, 0.0], ONES3)
    np.testing.assert_array_equal(
        validate_target_weights([1.5, -0.5, 0.0], ONES3, long_only=False), [1.5, -0.5, 0.0]
    )
    with pytest.raises(ValueError, match=r"gross exposure 1\.5; expected <= max_leverage=1\.0"):
        validate_target_weights([0.0, 1.25, -0.25], ONES3, long_only=False)


def test_long_only_tolerates_negative_rounding_down_to_minus_1e_8_and_clips_it():
    w = validate_target_weights([0.5 + 1e-8, 0.5, -1e-8], ONES3)
    assert w[2] == 0.0  # clipped, and the cash absorbed the 1e-8 it added to the sum
    assert w[0] == pytest.approx(0.5, abs=1e-15) and w.sum() == pytest.approx(1.0, abs=1e-15)
    small = validate_target_weights([0.5, 0.5 + 5e-9, -5e-9], ONES3)
    assert small[2] == 0.0
    # only entries below -1e-8 are reported
    with pytest.raises(ValueError) as err:
        validate_target_weights([1.2 + 1e-8, -0.2, -1e-8], ONES3)
    assert str(err.value).startswith("target_weights has negative entries [-0.2] at positions [1];")


def test_a_sum_off_by_rounding_is_absorbed_by_cash_row_by_row():
    w = validate_target_weights([0.25, 0.75 + 5e-7], np.ones(2))
    assert w[1] == 0.75 + 5e-7
    assert w[0] == pytest.approx(0.25 - 5e-7, abs=1e-16)
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    batch = validate_target_weights([[0.25, 0.75], [0.25, 0.75 - 5e-7]], np.ones((2, 2)))
    np.testing.assert_array_equal(batch[0], [0.25, 0.75])  # an exact row is left alone
    assert batch[1, 0] == pytest.approx(0.25 + 5e-7, abs=1e-16)
    assert batch[1, 1] == 0.75 - 5e-7


def test_validation_messages_name_positions_and_rows():
    def message(weights, tradable):
        with pytest.raises(ValueError) as err:
            validate_target_weights(weights, tradable)
        return str(err.value)

    assert message([0.5, np.nan, 0.5], ONES3) == (
        "target_weights contains non-finite values at positions [1]"
    )
    batch = [[0.5, 0.5, 0.0], [0.5, 0.0, np.inf]]
    assert message(batch, np.ones((2, 3))) == (
        "target_weights contains non-finite values at (row, position) [(1, 2)]"
    )
    assert message([0.5, 0.2, 0.0], ONES3) == (
        "target_weights sum to 0.7; expected 1 (cash included)"
    )
    assert message([[0.5, 0.5, 0.0], [0.5, 0.25, 0.0]], np.ones((2, 3))) == (
        "target_weights sum to [0.75] in rows [1]; expected 1 (cash included)"
    )


def test_gross_exposure_may_exceed_max_leverage_by_1e_6_only():
    at_tolerance = 1.0 + 1e-6  # gross == max_leverage + 1e-6 exactly: accepted
    w = validate_target_weights([1.0 - at_tolerance, at_tolerance, 0.0], ONES3, long_only=False)
    assert w[1] == at_tolerance
    validate_target_weights([-5e-7, 1.0 + 5e-7, 0.0], ONES3, long_only=False)
    with pytest.raises(ValueError, match=r"gross exposure 1\.00001;"):
        validate_target_weights([-1e-5, 1.0 + 1e-5, 0.0], ONES3, long_only=False)


# ---------------------------------------------------------------- construction and reset
class _Spy:
    """A reward that keeps every StepRecord it sees and pays 0."""

    name = "spy"

    def __init__(self) -> None:
        self.records = []

    def __call__(self, record):
        self.records.append(record)
        return 0.0

    def reset(self, mask=None) -> None:
        """Stateless."""


def test_a_new_env_is_in_its_reset_state_and_steps_like_a_reset_one(small_market):
    fresh = PortfolioEnv(small_market, features=None, start=40, initial_wealth=2.0)
    assert fresh.t == 40 and fresh.wealth == 2.0 and fresh.date == small_market.dates[40]
    np.testing.assert_array_equal(fresh.weights, [1.0, 0, 0, 0, 0, 0])
    reset = PortfolioEnv(small_market, features=None, start=40, initial_wealth=2.0)
    reset.reset()
    target = [0.2, 0.2, 0.2, 0.2, 0.1, 0.1]
    for env in (fresh, reset):
        env.step_weights(target)
        env.step_weights(target)
    assert fresh.wealth == reset.wealth and fresh.t == reset.t == 42
    np.testing.assert_array_equal(fresh.weights, reset.weights)


@pytest.mark.parametrize("wealth", [0.0, -1.0, np.nan, np.inf])
def test_initial_wealth_must_be_positive_and_finite(small_market, wealth):
    with pytest.raises(ValueError, match="initial_wealth"):
        PortfolioEnv(small_market, features=None, initial_wealth=wealth)
    env = PortfolioEnv(small_market, features=None)
    with pytest.raises(ValueError, match=r"options\['wealth'\]"):
        env.reset(options={"wealth": wealth})


def test_default_norm_window_is_252_days(small_market, small_panel):
    def late_obs(**kwargs):
        return PortfolioEnv(small_market, small_panel, **kwargs).reset(options={"start": 290})[0]

    default = late_obs()
    np.testing.assert_array_equal(default, late_obs(norm_window=252))
    assert not np.array_equal(default, late_obs(norm_window=253))  # the window matters there


def test_start_option_must_leave_a_step_in_the_range(small_market):
    env = PortfolioEnv(small_market, features=None, start=40, end=60)
    assert env.reset(options={"start": 40})[1]["date"] == small_market.dates[40]
    env.reset(options={"start": 59})
    assert env.step(np.zeros(6))[3] and env.t == 60  # one step, truncated at the end
    for start in (39, 60, small_market.dates[60]):
        with pytest.raises(
            ValueError, match=r"outside the decision range \[2000-02-28, 2000-03-24\]"
        ):
            env.reset(options={"start": start})


def test_episode_length_counts_decisions_and_stops_at_the_range_end(small_market):
    env = PortfolioEnv(
        small_market, features=None, start=40, end=80, rebalance_every=2, episode_length=5
    )
    assert env.episode_length == 5
    for start, n_steps, last in ((40, 5, 50), (60, 5, 70), (77, 2, 80)):
        env.reset(options={"start": start})
        steps = 0
        while True:
            *_, te, tr, _ = env.step(np.zeros(6))
            steps += 1
            if te or tr:
                break
        assert (steps, env.t, tr) == (n_steps, last, True)


def test_reset_starts_a_new_track_and_a_new_peak(small_market):
    spy = _Spy()
    env = PortfolioEnv(small_market, features=None, start=40, reward=spy)
    env.reset(options={"wealth": 2.0})
    for _ in range(3):
        env.step(np.zeros(6))
    env.reset()
    env.step_weights([1.0, 0, 0, 0, 0, 0])  # small_market's cash earns nothing
    assert spy.records[-1].peak == 1.0 and spy.records[-1].drawdown == 0.0
    track = env.track()
    assert len(track) == 1 and track.initial_wealth == 1.0 and track.wealth[0] == 1.0


def test_step_weights_after_the_end_is_refused(small_market):
    env = PortfolioEnv(small_market, features=None, start=40, end=41)
    env.reset()
    assert env.step_weights([1.0, 0, 0, 0, 0, 0])[3]
    with pytest.raises(RuntimeError, match="call reset"):
        env.step_weights([1.0, 0, 0, 0, 0, 0])


# ---------------------------------------------------------------- what a step reports
def test_step_record_and_info_match_an_independent_computation(late_market):
    # constant mix from all cash, daily, 10 bps: every field the reward sees, against the
    # share-count wealth path and the bracketed cost of the first trade
    target = np.array([0.1, 0.3, 0.2, 0.15, 0.15, 0.1])
    spy = _Spy()
    env = PortfolioEnv(late_market, features=None, start=130, end=160, reward=spy)
    env.reset()
    infos = []
    while env.t != 160:
        infos.append(env.step_weights(target)[-1])
    records = spy.records
    wealth = constant_mix_wealth(late_market, target, 130, 160, 1e-3)
    growth = 1.0 + np.column_stack([late_market.rf, np.nan_to_num(late_market.returns)])
    gross = growth[131:161] @ target - 1.0
    net = np.diff(np.concatenate(([1.0], wealth))) / np.concatenate(([1.0], wealth[:-1]))
    peak = np.maximum.accumulate(np.concatenate(([1.0], wealth)))[1:]
    assert [r.t for r in records] == list(range(130, 160))
    assert {r.n_days for r in records} == {1}
    np.testing.assert_allclose([r.gross_return for r in records], gross, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose([r.net_return for r in records], net, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(
        [r.log_return for r in records], np.log1p(net), rtol=1e-9, atol=1e-15
    )
    np.testing.assert_allclose([r.wealth for r in records], wealth, rtol=1e-12)
    np.testing.assert_allclose([r.peak for r in records], peak, rtol=1e-12)
    np.testing.assert_allclose([r.drawdown for r in records], 1 - wealth / peak, atol=1e-12)
    assert max(r.drawdown for r in records) > 1e-3 and peak[-1] > 1.0  # both cases occur
    first = records[0]
    mu = exact_mu(np.eye(6)[0], target, 1e-3)
    assert first.cost == pytest.approx(1.0 - mu, rel=1e-12)
    assert first.turnover == pytest.approx(mu * 0.9, rel=1e-12)  # bought 90 % in assets
    np.testing.assert_array_equal(first.weights_before, np.eye(6)[0])
    np.testing.assert_array_equal(first.weights, target)
    np.testing.assert_allclose([i["gross_return"] for i in infos], gross, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose([i["net_return"] for i in infos], net, rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(infos[0]["weights_before"], np.eye(6)[0])
    np.testing.assert_array_equal(infos[1]["weights_before"], records[1].weights_before)
    assert not np.array_equal(infos[1]["weights_before"], target)  # drifted
    track = env.track()
    np.testing.assert_allclose(track.gross_returns, gross, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(track.net_returns, net, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(track.costs, [r.cost for r in records], rtol=1e-12)
    assert track.traded.all() and track.costs.min() > 0.0


def test_days_held_per_step_with_a_short_last_period(small_market):
    spy = _Spy()
    env = PortfolioEnv(small_market, features=None, start=40, end=47, rebalance_every=3,
                       reward=spy)  # fmt: skip
    env.reset()
    while not env.step(np.zeros(6))[3]:
        pass
    assert [(r.t, r.n_days) for r in spy.records] == [(40, 3), (43, 3), (46, 1)]
    track = env.track()
    assert track.traded.tolist() == [True, False, False] * 2 + [True]
    assert (track.turnover[~track.traded] == 0.0).all() and track.turnover[0] > 0.5


@pytest.fixture(scope="module")
def doubling_market():
    """Two assets at 100 and 50 for three days; then asset A doubles and stays (no interest)."""
    prices = np.array([[100.0, 50.0]] * 3 + [[200.0, 50.0]] * 3)
    return MarketData.from_prices(prices, pd.bdate_range("2021-01-04", periods=6), ("A", "B"))


def test_a_wiped_out_portfolio_terminates_with_the_vector_envs_finite_reward(doubling_market):
    # cash 2, short A 1 at t = 2: A doubles and wealth is exactly 0
    env = PortfolioEnv(doubling_market, features=None, action="long_short", cost_bps=0.0,
                       start=2, window=1)  # fmt: skip
    env.reset()
    with np.errstate(divide="ignore", invalid="ignore"):  # the weights of nothing are 0/0
        _, reward, terminated, truncated, info = env.step_weights([2.0, -1.0, 0.0])
    assert info["wealth"] == 0.0 and (terminated, truncated) == (True, False)
    assert reward == pytest.approx(np.log(1e-300), rel=1e-12)  # as in PortfolioVecEnv
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step(np.zeros(2))


def test_long_short_observations_show_drifted_weights_clipped_to_the_space(doubling_market):
    # cash 1.5, short A 0.5 at t = 1 (A flat), then at t = 2 A doubles: wealth 0.5 and drifted
    # weights 3 / -2 (observed as is); cash 1.95, short A 0.95 at t = 2 leaves 0.05 and
    # weights 39 / -38, observed at the +-10 (1 + L) = 20 bound
    env = PortfolioEnv(doubling_market, features=None, action="long_short", cost_bps=0.0,
                       start=1, window=1)  # fmt: skip
    env.reset()
    obs = env.step_weights([1.5, -0.5, 0.0])[0]
    np.testing.assert_array_equal(obs[env.observation_layout.slices["weights"]], [1.5, -0.5, 0])
    obs = env.step_weights([1.5, -0.5, 0.0])[0]
    np.testing.assert_allclose(obs[env.observation_layout.slices["weights"]], [3.0, -2.0, 0])
    env.reset(options={"start": 2})
    obs = env.step_weights([1.95, -0.95, 0.0])[0]
    np.testing.assert_allclose(env.weights, [39.0, -38.0, 0.0], rtol=1e-9)
    np.testing.assert_array_equal(obs[env.observation_layout.slices["weights"]], [20, -20, 0])
    assert env.observation_space.contains(obs)
