"""Low-turnover action maps: no-trade band / partial rebalancing and the residual tilt."""

from __future__ import annotations

import math
import pickle
import re
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from allocgym.envs import (
    BandMap,
    EqualReference,
    LongShortMap,
    PortfolioEnv,
    ResidualMap,
    SimplexMap,
    make_action_map,
    needs_state,
)
from allocgym.envs.vector import PortfolioVecEnv

NEW_MAPS = ("band", "partial", "residual", "residual_current")


def random_weights(rng: np.random.Generator, shape: tuple[int, ...], tradable=None) -> np.ndarray:
    """Long-only weights summing to 1, some entries exactly 0, none on untradable assets."""
    w = rng.exponential(size=shape) * (rng.uniform(size=shape) > 0.3)
    w[..., 0] += 1e-3
    if tradable is not None:
        w *= tradable
    return w / w.sum(axis=-1, keepdims=True)


def random_tradable(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    tradable = (rng.uniform(size=shape) > 0.2).astype(float)
    tradable[..., 0] = 1.0
    return tradable


def held_after_forced_sales(current: np.ndarray, tradable: np.ndarray) -> np.ndarray:
    """The plain reference of the rule: untradable assets' weight goes to cash."""
    held = np.where(tradable > 0, current, 0.0)
    held[..., 0] += np.where(tradable > 0, 0.0, current).sum(axis=-1)
    return held


def check_both(env: PortfolioEnv) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure, except SB3's advice
        warnings.filterwarnings("ignore", message=".*unconventional shape", category=UserWarning)
        gym_check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=True)


# ---------------------------------------------------------------- checkers and names
@pytest.mark.parametrize("action", NEW_MAPS)
def test_named_maps_pass_both_checkers(small_market, small_panel, action):
    env = PortfolioEnv(small_market, small_panel, start=40, action=action)
    assert needs_state(env.action_map)
    check_both(env)


@pytest.mark.parametrize(
    "action",
    [
        BandMap(LongShortMap(2.0), band=0.2, fraction=0.5),
        BandMap(ResidualMap("current", 0.3), band=0.02),
        ResidualMap("equal", scale=1.0),
        ResidualMap("min_variance", scale=0.2),
        BandMap(ResidualMap({"name": "risk_parity", "params": {"lookback": 60}}), band=0.02),
    ],
    ids=repr,
)
def test_composed_maps_pass_both_checkers(small_market, small_panel, action):
    env = PortfolioEnv(small_market, small_panel, start=40, action=action, observation="dict")
    check_both(env)


def test_names_build_the_documented_maps():
    band = make_action_map("band")
    assert (band.band, band.fraction, band.inner.temperature) == (0.05, 1.0, 5.0)
    partial = make_action_map("partial", fraction=0.5)
    assert (partial.band, partial.fraction) == (0.0, 0.5)
    assert repr(make_action_map("residual")) == "ResidualMap(EqualReference(), scale=0.1)"
    current = make_action_map("residual_current", scale=0.2)
    assert repr(current) == "ResidualMap(CurrentReference(), scale=0.2)"
    assert not needs_state(make_action_map("simplex"))
    assert not needs_state(make_action_map("long_short"))


# ---------------------------------------------------------------- no-trade band
@pytest.mark.parametrize("inner", [SimplexMap(), LongShortMap(1.5)], ids=repr)
def test_band_trades_only_the_excess_over_the_band(inner):
    # property over many random states: traded asset L1 = fraction * max(0, L1 - band)
    rng = np.random.default_rng(0)
    n1 = 7
    dim = inner.space(n1 - 1).shape[0]
    for _ in range(2000):
        band, fraction = rng.uniform(0, 0.6), rng.choice([1.0, rng.uniform(0.01, 1)])
        m = BandMap(inner, band=band, fraction=fraction)
        tradable = random_tradable(rng, (n1,))
        current = random_weights(rng, (n1,))
        action = rng.uniform(-1.3, 1.3, dim).astype(np.float32)
        w = m.to_weights(action, tradable, np.empty(n1), current, 0)
        held = held_after_forced_sales(current, tradable)
        target = inner.to_weights(action, tradable, np.empty(n1))
        l1 = np.abs(target - held)[1:].sum()
        traded = np.abs(w - held)[1:].sum()
        assert traded <= max(0.0, l1 - band) + 1e-12
        assert traded == pytest.approx(fraction * max(0.0, l1 - band), abs=1e-12)
        assert w.sum() == pytest.approx(1.0, abs=1e-12)
        assert not w[tradable == 0].any()
        if inner.long_only:
            assert w.min() >= 0.0
        assert np.abs(w[1:]).sum() <= inner.max_leverage + 1e-12
        if l1 <= band:
            np.testing.assert_array_equal(w, held)  # no trade, bit for bit


def test_band_inside_the_band_is_no_trade_in_the_env(small_market):
    # start at 1/N over cash and assets (the zero action's target): nothing trades until
    # the drift exceeds the band, and then exactly the excess
    n1 = small_market.n_assets + 1
    env = PortfolioEnv(small_market, features=None, start=40, action=BandMap(SimplexMap(), 0.03))
    env.reset(options={"weights": np.full(n1, 1 / n1)})
    quiet = 0
    for _ in range(60):
        before = env.weights
        l1 = np.abs(1 / n1 - before)[1:].sum()
        *_, info = env.step(np.zeros(n1))
        if l1 <= 0.03:
            quiet += 1
            assert info["turnover"] == 0.0 and info["cost"] == 0.0
            np.testing.assert_array_equal(info["weights_after"], before)
        else:
            assert np.abs(info["weights_after"] - before)[1:].sum() == pytest.approx(l1 - 0.03)
    assert 0 < quiet < 60


@pytest.mark.parametrize("action", ["band", "partial"])
def test_env_turnover_stays_within_the_band(small_market, action):
    # random actions for many steps: the env's turnover (which includes the cost's effect,
    # sum |mu w - w'|) never exceeds fraction * (L1 - band) + cost
    env = PortfolioEnv(small_market, features=None, start=40, action=action)
    m, inner = env.action_map, env.action_map.inner
    env.reset()
    rng = np.random.default_rng(1)
    n1 = small_market.n_assets + 1
    for _ in range(200):
        a = rng.uniform(-1, 1, n1).astype(np.float32)
        l1 = np.abs(inner.to_weights(a, np.ones(n1), np.empty(n1)) - env.weights)[1:].sum()
        *_, truncated, info = env.step(a)
        allowed = m.fraction * max(0.0, l1 - m.band)
        assert info["turnover"] <= allowed + info["cost"] + 1e-12
        if truncated:
            env.reset()


def test_band_zero_and_fraction_one_is_the_inner_map():
    rng = np.random.default_rng(2)
    inner = SimplexMap()
    m = BandMap(inner, band=0.0, fraction=1.0)
    for _ in range(100):
        a, current = rng.uniform(-1, 1, 6), random_weights(rng, (6,))
        np.testing.assert_allclose(
            m.to_weights(a, np.ones(6), np.empty(6), current, 0),
            inner.to_weights(a, np.ones(6), np.empty(6)),
            rtol=0,
            atol=1e-15,
        )


def test_partial_moves_a_fixed_fraction():
    m = make_action_map("partial", fraction=0.25)
    current = np.array([1.0, 0.0, 0.0])
    w = m.to_weights(np.zeros(3), np.ones(3), np.empty(3), current, 0)  # target 1/3 each
    np.testing.assert_allclose(w, [0.75 + 0.25 / 3, 0.25 / 3, 0.25 / 3], rtol=1e-15)


def test_band_moves_untradable_holdings_to_cash_outside_the_band():
    # the forced sale (0.8) is the env's rule, not a trade the band (1.0) could forbid;
    # the rest (target 1/2, 1/2: L1 = 0.3 <= 1) is left alone
    m = BandMap(SimplexMap(), band=1.0)
    current = np.array([0.0, 0.2, 0.8])
    w = m.to_weights(np.zeros(3), np.array([1.0, 1.0, 0.0]), np.empty(3), current, 0)
    np.testing.assert_array_equal(w, [0.8, 0.2, 0.0])


# ---------------------------------------------------------------- residual tilt
def test_residual_zero_action_is_the_reference():
    rng = np.random.default_rng(3)
    equal, current = ResidualMap("equal"), ResidualMap("current")
    for _ in range(200):
        tradable = random_tradable(rng, (6,))
        held = random_weights(rng, (6,), tradable)
        w = current.to_weights(np.zeros(5), tradable, np.empty(6), held, 0)
        np.testing.assert_array_equal(w[1:], held[1:])  # assets bit for bit: no trade
        assert w[0] == pytest.approx(held[0], abs=1e-15)
        w = equal.to_weights(np.zeros(5), tradable, np.empty(6), held, 0)
        n = tradable[1:].sum()
        expected = tradable[1:] / n if n else np.zeros(5)
        np.testing.assert_allclose(w, [float(n == 0), *expected], rtol=0, atol=1e-15)


@pytest.mark.parametrize("reference", ["equal", "current"])
def test_residual_zero_action_in_the_env(small_market, reference):
    env = PortfolioEnv(small_market, features=None, start=40, action=ResidualMap(reference))
    n = small_market.n_assets
    start = np.array([0.1, 0.3, 0.0, 0.2, 0.15, 0.25])
    env.reset(options={"weights": start})
    for _ in range(20):
        before = env.weights
        *_, info = env.step(np.zeros(n, dtype=np.float32))
        if reference == "current":
            np.testing.assert_array_equal(info["weights_after"][1:], before[1:])
            assert info["turnover"] <= 1e-15 and info["cost"] <= 1e-15
        else:
            np.testing.assert_allclose(info["weights_after"], [0, *[1 / n] * n], atol=1e-15)


def test_residual_stays_within_the_tilt_bounds():
    rng = np.random.default_rng(4)
    for _ in range(2000):
        scale = rng.uniform(0.01, 1.0)
        m = ResidualMap("current", scale)
        tradable = random_tradable(rng, (7,))
        held = random_weights(rng, (7,))
        a = rng.uniform(-1.3, 1.3, 6) * (rng.uniform(size=6) > 0.3)
        w = m.to_weights(a, tradable, np.empty(7), held, 0)
        ref = held_after_forced_sales(held, tradable)
        assert w.min() >= 0.0 and w.sum() == pytest.approx(1.0, abs=1e-12)
        assert not w[tradable == 0].any()
        assert (w[1:] <= ref[1:] + scale + 1e-15).all()
        assert (w[1:] >= np.maximum(ref[1:] - scale, 0.0) - 1e-15).all()
        still = (a == 0) | (tradable[1:] == 0)
        np.testing.assert_array_equal(w[1:][still], ref[1:][still])
        traded = np.abs(w - ref)[1:].sum()
        assert traded <= scale * np.abs(np.clip(a, -1, 1)).sum() + 1e-12


def test_residual_reaches_any_portfolio_within_scale():
    rng = np.random.default_rng(5)
    m = ResidualMap("current", 0.5)
    for _ in range(200):
        held = random_weights(rng, (6,))
        goal = held + np.clip(rng.normal(0, 0.2, 6), -0.5, 0.5)
        goal = np.maximum(goal, 0.0)
        goal /= goal.sum()
        if np.abs(goal - held)[1:].max() > 0.5:
            continue
        a = (goal[1:] - held[1:]) / 0.5
        w = m.to_weights(a, np.ones(6), np.empty(6), held, 0)
        np.testing.assert_allclose(w, goal, rtol=0, atol=1e-12)


def test_residual_purchases_are_scaled_to_the_cash_available():
    # reference 1/N, no cash: buying asset 1 by 0.3 needs sales; selling asset 2 by 0.1 pays
    # for a third of it
    m = ResidualMap("equal", 0.3)
    w = m.to_weights(np.array([1.0, -1 / 3, 0.0]), np.ones(4), np.empty(4))
    np.testing.assert_allclose(w, [0.0, 1 / 3 + 0.1, 1 / 3 - 0.1, 1 / 3], rtol=1e-14)


# cash, 1, 3 and 2 tradable assets: the reference 1/N over those, all cash when none trades
MIXED_TRADABLE = np.array([[1, 0, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1], [1, 1, 0, 1]], float)
MIXED_EQUAL = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1 / 3, 1 / 3, 1 / 3], [0, 0.5, 0, 0.5]])


def test_equal_reference_is_one_over_n_or_all_cash_single_and_batch():
    # the reference itself (public), not only the map's output: the map recomputes cash
    ref = EqualReference()
    current = np.full((4, 4), 0.25)
    for tradable, held, expected in zip(MIXED_TRADABLE, current, MIXED_EQUAL, strict=True):
        w = ref.weights(held, tradable, 0, np.empty(4))
        np.testing.assert_allclose(w, expected, rtol=1e-15, atol=0)
    batch = ref.weights_batch(current, MIXED_TRADABLE, np.zeros(4, dtype=int))
    np.testing.assert_allclose(batch, MIXED_EQUAL, rtol=1e-15, atol=0)


def test_residual_on_equal_with_mixed_tradable_rows():
    # zero action: the reference per row; any action with no tradable asset: all cash
    m = ResidualMap("equal", 0.5)
    batch = m.to_weights_batch(np.zeros((4, 3)), MIXED_TRADABLE)
    np.testing.assert_allclose(batch, MIXED_EQUAL, rtol=1e-15, atol=0)
    single = [m.to_weights(np.zeros(3), tr, np.empty(4)) for tr in MIXED_TRADABLE]
    np.testing.assert_allclose(single, MIXED_EQUAL, rtol=1e-15, atol=0)
    a = np.array([[0.7, -0.4, 1.0]] * 4)
    np.testing.assert_array_equal(m.to_weights_batch(a, MIXED_TRADABLE)[0], [1, 0, 0, 0])
    np.testing.assert_array_equal(m.to_weights(a[0], MIXED_TRADABLE[0], np.empty(4)), [1, 0, 0, 0])


def test_residual_on_equal_needs_no_state_but_checks_it_when_given():
    # 1/N reads neither the weights held nor t: the batch call without them works as the
    # single one does; weights held of the wrong shape are still an error
    m = ResidualMap("equal")
    w = m.to_weights_batch(np.zeros((2, 2)), np.ones((2, 3)))
    np.testing.assert_allclose(w, [[0.0, 0.5, 0.5]] * 2)
    with pytest.raises(ValueError, match=r"current weights have shape \(2, 2\); expected \(2, 3\)"):
        m.to_weights_batch(np.zeros((2, 2)), np.ones((2, 3)), np.full((2, 2), 0.5), [0, 0])


def test_residual_map_is_long_only_for_the_env(small_market):
    # the env reads long_only / max_leverage from the map: the observed weights are bounded
    # to [0, 1] and target weights given directly must be long only, like the map's own
    env = PortfolioEnv(small_market, features=None, start=40, action="residual")
    weights = env.observation_layout.slices["weights"]
    assert (env.observation_space.low[weights] == 0.0).all()
    assert (env.observation_space.high[weights] == 1.0).all()
    env.reset()
    with pytest.raises(ValueError, match="negative entries"):
        env.step_weights([0.2, 0.9, -0.1, 0.0, 0.0, 0.0])  # gross exposure 1: short only


def test_a_band_around_the_residual_map_is_bounded_by_its_leverage():
    m = BandMap(ResidualMap("current"), band=1.0)
    assert (m.long_only, m.max_leverage) == (True, 1.0)
    with pytest.raises(ValueError, match=r"band=1.01 is invalid; expected .*0 <= band <= 1$"):
        BandMap(ResidualMap("current"), band=1.01)


class TableReference:
    """A point-in-time reference given as one row of weights per decision index."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def weights(self, current, tradable, t, out):
        out[...] = self.table[t]
        return out

    def weights_batch(self, current, tradable, t):
        return np.take(self.table, t, axis=0)


def test_a_point_in_time_reference_plugs_in(small_market):
    rng = np.random.default_rng(6)
    table = random_weights(rng, (small_market.n_dates, small_market.n_assets + 1))
    kwargs = {
        "features": None,
        "start": 40,
        "end": 60,
        "action": ResidualMap(TableReference(table)),
    }
    env, venv = (
        PortfolioEnv(small_market, **kwargs),
        PortfolioVecEnv(small_market, n_envs=2, **kwargs),
    )
    env.reset(), venv.reset()
    zeros = np.zeros((2, small_market.n_assets), dtype=np.float32)
    for _ in range(10):
        t = env.t
        *_, info = env.step(zeros[0])
        np.testing.assert_allclose(info["weights_after"], table[t], rtol=0, atol=1e-15)
        venv.step(zeros)
    np.testing.assert_allclose(venv.weights[0], env.weights, rtol=0, atol=1e-15)


def test_a_bad_reference_is_reported():
    bad = TableReference(np.array([[0.5, 0.6, 0.0]]))
    with pytest.raises(ValueError, match=r"returned weights .*expected finite, non-negative"):
        ResidualMap(bad).to_weights(np.zeros(2), np.ones(3), np.empty(3), np.ones(3) / 3, 0)
    with pytest.raises(ValueError, match="sums"):
        ResidualMap(bad).to_weights_batch(np.zeros((1, 2)), np.ones((1, 3)), np.ones((1, 3)), [0])


@pytest.mark.parametrize(
    "row",
    [
        [0.5, 0.5 + 1e-12, -1e-12],  # negative rounding down to -1e-12 (inclusive)
        [0.5, 0.5 + 0.9e-9, 0.0],  # sums within 1e-9 of 1
        [0.5, 0.5 - 0.9e-9, 0.0],
    ],
)
def test_a_reference_within_the_rounding_tolerances_is_accepted(row):
    m = ResidualMap(TableReference(np.array([row, row])))
    w = m.to_weights(np.zeros(2), np.ones(3), np.empty(3), np.ones(3) / 3, 0)
    assert w.min() >= 0.0 and w.sum() == pytest.approx(1.0, abs=1e-8)
    w = m.to_weights_batch(np.zeros((2, 2)), np.ones((2, 3)), np.ones((2, 3)) / 3, [0, 1])
    assert w.min() >= 0.0 and np.allclose(w.sum(axis=1), 1.0, rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    "row",
    [
        [0.5, 0.5 + 2e-12, -2e-12],  # just beyond the rounding allowed
        [0.4, 0.7, -0.1],  # sums to 1, but short
        [0.5, 0.5 + 2e-9, 0.0],
        [0.5, 0.5 - 2e-9, 0.0],
        [0.5, np.nan, 0.5],
    ],
)
def test_a_reference_outside_the_tolerances_is_reported(row):
    good = [0.2, 0.3, 0.5]
    m = ResidualMap(TableReference(np.array([good, row, good])))
    with pytest.raises(ValueError, match=r"returned weights .*expected finite, non-negative"):
        m.to_weights(np.zeros(2), np.ones(3), np.empty(3), np.ones(3) / 3, 1)
    # one bad row among good ones in a batch
    with pytest.raises(ValueError, match=r"returned weights .*expected finite, non-negative"):
        m.to_weights_batch(np.zeros((3, 2)), np.ones((3, 3)), np.ones((3, 3)) / 3, [0, 1, 2])


# ---------------------------------------------------------------- batch == single
MAPS = [
    BandMap(SimplexMap(), 0.1),
    BandMap(SimplexMap(), 0.0, 0.3),
    BandMap(LongShortMap(1.5), 0.2, 0.7),
    BandMap(ResidualMap("current", 0.2), 0.05, 0.5),
    ResidualMap("equal", 0.2),
    ResidualMap("current", 0.05),
    ResidualMap("current", 1.0),
]


@pytest.mark.parametrize("m", MAPS, ids=repr)
def test_batch_equals_single(m):
    rng = np.random.default_rng(7)
    n1, b = 8, 300
    dim = m.space(n1 - 1).shape[0]
    actions = rng.uniform(-1.2, 1.2, (b, dim)).astype(np.float32)
    actions[::5] = 0.0
    tradable = random_tradable(rng, (b, n1))
    current = random_weights(rng, (b, n1))
    current[::7] = 1 / n1  # the zero action's simplex target: inside every band
    t = np.arange(b)
    batch = m.to_weights_batch(actions, tradable, current.copy(), t)
    rows = zip(actions, tradable, current, t, strict=True)
    single = np.array([m.to_weights(a, tr, np.empty(n1), c, i) for a, tr, c, i in rows])
    np.testing.assert_allclose(batch, single, rtol=0, atol=1e-15)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize(
    "action",
    [*NEW_MAPS, BandMap(LongShortMap(2.0), 0.1, 0.5), ResidualMap("min_variance", 0.2)],
    ids=str,
)
def test_vector_env_follows_the_single_env_path(late_market, action, k):
    # late_market: asset index 2 (weight index 3) trades only from day 120: forced sales
    b = 3
    kwargs = {"start": 100, "end": 150, "rebalance_every": k, "action": action,
              "cost_bps": 20.0, "features": None}  # fmt: skip
    venv = PortfolioVecEnv(late_market, n_envs=b, **kwargs)
    singles = [PortfolioEnv(late_market, **kwargs) for _ in range(b)]
    obs = venv.reset()
    for i, env in enumerate(singles):
        np.testing.assert_array_equal(obs[i], env.reset()[0])
    rng = np.random.default_rng(8)
    dim = venv.action_space.shape[0]
    done = False
    while not done:
        actions = rng.uniform(-1, 1, (b, dim)).astype(np.float32)
        actions[0] = 0.0
        obs, rewards, dones, _ = venv.step(actions)
        done = dones.all()
        for i, env in enumerate(singles):
            o, r, _, truncated, info = env.step(actions[i])
            assert truncated == done
            assert rewards[i] == pytest.approx(r, rel=1e-5, abs=1e-7)
            for key in ("cost", "turnover"):
                assert venv.last[key][i] == pytest.approx(info[key], rel=1e-12, abs=1e-15)
            assert venv.last["wealth"][i] == pytest.approx(env.wealth, rel=1e-12)
            if not done:
                np.testing.assert_allclose(obs[i], o, rtol=1e-6, atol=1e-7)
                np.testing.assert_allclose(venv.weights[i], env.weights, rtol=0, atol=1e-14)


def test_step_equals_step_weights_of_action_to_weights(late_market):
    kwargs = {"features": None, "start": 110, "end": 130, "action": "band"}
    a, b = PortfolioEnv(late_market, **kwargs), PortfolioEnv(late_market, **kwargs)
    a.reset(), b.reset()
    rng = np.random.default_rng(9)
    for _ in range(20):
        action = rng.uniform(-1, 1, 6)
        w = b.action_to_weights(action)
        *_, ia = a.step(action)
        *_, ib = b.step_weights(w)
        assert ia["turnover"] == ib["turnover"] and a.wealth == b.wealth


# ---------------------------------------------------------------- other maps unaffected
class ThreeArgumentMap:
    """A user's map written before maps could read the state: no needs_state attribute."""

    long_only, max_leverage = True, 1.0

    def __init__(self) -> None:
        self._inner = SimplexMap()

    def space(self, n_assets):
        return self._inner.space(n_assets)

    def to_weights(self, action, tradable, out):
        return self._inner.to_weights(action, tradable, out)

    def to_weights_batch(self, actions, tradable):
        return self._inner.to_weights_batch(actions, tradable)


def test_maps_without_state_keep_their_call_signature(small_market):
    kwargs = {"features": None, "start": 40, "action": ThreeArgumentMap()}
    env, venv = (
        PortfolioEnv(small_market, **kwargs),
        PortfolioVecEnv(small_market, n_envs=2, **kwargs),
    )
    env.reset(), venv.reset()
    a = np.ones((2, 6), dtype=np.float32)
    env.step(a[0]), venv.step(a)
    np.testing.assert_allclose(venv.weights[0], env.weights, atol=1e-15)
    assert env.action_to_weights(a[0])[0] > 0


def test_env_with_a_band_map_pickles(small_market):
    env = PortfolioEnv(small_market, features=None, start=40, action="band")
    env.reset()
    env.step(np.ones(6))
    twin = pickle.loads(pickle.dumps(env))
    a = np.linspace(-1, 1, 6)
    assert twin.step(a)[1] == env.step(a)[1]


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("band", [-0.01, 1.01, math.nan, math.inf, "0.1", True, None])
def test_invalid_band(band):
    with pytest.raises(ValueError, match=rf"band={re.escape(repr(band))} is invalid; expected"):
        BandMap(SimplexMap(), band=band)


def test_band_upper_bound_follows_the_inner_leverage():
    assert BandMap(SimplexMap(), band=1.0).band == 1.0
    assert BandMap(LongShortMap(3.0), band=3.0).band == 3.0
    with pytest.raises(ValueError, match=r"band=3.5 is invalid; expected .*0 <= band <= 3"):
        BandMap(LongShortMap(3.0), band=3.5)


@pytest.mark.parametrize("fraction", [0, 0.0, -0.5, 1.5, math.nan])
def test_invalid_fraction(fraction):
    with pytest.raises(ValueError, match=r"fraction=.* is invalid; expected .*0 < fraction <= 1"):
        BandMap(SimplexMap(), fraction=fraction)


@pytest.mark.parametrize("scale", [0, -0.1, 1.5, math.nan, "big"])
def test_invalid_scale(scale):
    with pytest.raises(ValueError, match=r"scale=.* is invalid; expected .*0 < scale <= 1"):
        ResidualMap(scale=scale)


def test_invalid_reference_and_inner():
    # "1/N" is now a baseline name (equal_weight's alias); an unknown name lists the known ones
    with pytest.raises(ValueError, match=r"reference='2/N' is invalid: unknown baseline.*expected"):
        ResidualMap("2/N")
    with pytest.raises(TypeError, match=r"reference must be .*; got int"):
        ResidualMap(3)
    with pytest.raises(TypeError, match=r"inner must be an ActionMap .*; got str"):
        BandMap("simplex")


def test_state_is_required():
    for m in (BandMap(SimplexMap()), ResidualMap("current")):
        dim = m.space(2).shape[0]
        with pytest.raises(TypeError, match=r"needs the weights held: call to_weights\("):
            m.to_weights(np.zeros(dim), np.ones(3), np.empty(3))
        with pytest.raises(TypeError, match="needs the weights held"):
            m.to_weights_batch(np.zeros((1, dim)), np.ones((1, 3)))
        with pytest.raises(ValueError, match=r"current weights have shape \(2,\); expected \(3,\)"):
            m.to_weights(np.zeros(dim), np.ones(3), np.empty(3), np.ones(2) / 2, 0)
    # 1/N needs no state: the three-argument call works
    w = ResidualMap("equal").to_weights(np.zeros(2), np.ones(3), np.empty(3))
    np.testing.assert_allclose(w, [0.0, 0.5, 0.5])


def test_bad_actions_are_rejected():
    m = ResidualMap("current")
    with pytest.raises(ValueError, match=r"non-finite values at positions \[1\]"):
        m.to_weights(np.array([0.0, np.nan]), np.ones(3), np.empty(3), np.ones(3) / 3, 0)
    with pytest.raises(ValueError, match=r"action has shape \(3,\)"):
        m.to_weights(np.zeros(3), np.ones(3), np.empty(3), np.ones(3) / 3, 0)
    with pytest.raises(ValueError, match=r"actions have shape \(1, 3\)"):
        m.to_weights_batch(np.zeros((1, 3)), np.ones((1, 3)), np.ones((1, 3)) / 3, [0])
    with pytest.raises(ValueError, match="non-finite"):
        BandMap(SimplexMap()).to_weights(
            np.full(3, np.inf), np.ones(3), np.empty(3), np.ones(3) / 3
        )


def test_residual_rejects_actions_of_the_wrong_shape_or_type(small_market):
    # the env passes the action straight to the map: its check is the only one
    env = PortfolioEnv(small_market, features=None, start=40, action="residual")
    env.reset()
    n = small_market.n_assets
    for bad in (np.zeros(n - 1), np.zeros(n + 1), np.zeros(n + 2), np.zeros((1, n))):
        with pytest.raises(ValueError, match=rf"action has shape {re.escape(str(bad.shape))}"):
            env.step(bad)
    for bad in (np.ones(n, dtype=bool), np.ones(n, dtype=complex)):
        with pytest.raises(ValueError, match=f"dtype {bad.dtype}; expected a numeric array"):
            env.step(bad)
    # the map directly: one entry for two assets must not be broadcast
    m = ResidualMap("current")
    with pytest.raises(ValueError, match=r"action has shape \(1,\)"):
        m.to_weights(np.array([0.5]), np.ones(3), np.empty(3), np.ones(3) / 3, 0)
    # integers are numbers, as for the other maps
    np.testing.assert_array_equal(
        env.action_to_weights(np.ones(n, dtype=int)), env.action_to_weights(np.ones(n))
    )


@pytest.mark.parametrize(
    ("name", "band", "fraction"), [("band", 0.05, 1.0), ("partial", 0.0, 0.25)]
)
def test_named_band_maps_aim_at_the_default_simplex_target(name, band, fraction):
    """`band` and `partial` wrap the simplex map with its own default temperature (5), so
    the target a zero action aims at is the same as `simplex`'s."""
    from allocgym.envs import SimplexMap
    from allocgym.envs.actions import make_action_map

    m = make_action_map(name)
    assert (m.band, m.fraction) == (band, fraction)
    assert (
        isinstance(m.inner, SimplexMap) and m.inner.temperature == SimplexMap().temperature == 5.0
    )
