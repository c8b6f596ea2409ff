"""Action maps: concentration is reachable in every SB3 algorithm's action range."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from stable_baselines3 import A2C, DDPG, PPO, SAC, TD3

from allocgym.envs import (
    ACTION_MAPS,
    ActionMap,
    LongShortMap,
    PortfolioEnv,
    SimplexMap,
    list_action_maps,
    make_action_map,
)
from allocgym.exceptions import ConfigError


def corner(n: int, i: int) -> np.ndarray:
    a = -np.ones(n)
    a[i] = 1.0
    return a


@pytest.mark.parametrize("n_assets", [5, 20, 100])
def test_simplex_reaches_95_percent_in_any_asset(n_assets):
    m = SimplexMap()
    space = m.space(n_assets)
    tradable = np.ones(n_assets + 1)
    for i in (0, 1, n_assets):
        a = corner(n_assets + 1, i)
        assert space.contains(a.astype(np.float32))
        w = m.to_weights(a, tradable, np.empty(n_assets + 1))
        assert w[i] >= 0.95 and w.sum() == pytest.approx(1.0, abs=1e-15)
    assert m.max_concentration(n_assets) >= 0.95


def test_finrl_style_softmax_cannot_concentrate():
    # softmax of actions in [0, 1] (FinRL): the best asset gets at most e / (e + n - 1)
    n = 20
    a = np.zeros(n)
    a[0] = 1.0
    w = np.exp(a) / np.exp(a).sum()
    assert w[0] < 0.13
    with pytest.raises(ValueError, match="95 %"):
        SimplexMap(temperature=0.5).space(n)


@pytest.mark.parametrize("algo", [PPO, A2C, SAC, TD3, DDPG])
def test_every_sb3_algorithm_can_emit_the_concentrated_action(small_market, algo):
    # PPO/A2C clip sampled actions to the Box; SAC/TD3/DDPG squash to [-1, 1] with tanh
    # and unscale to the Box: the corner is in the image of both.
    env = PortfolioEnv(small_market, features=None)
    model = algo("MlpPolicy", env, seed=0, device="cpu")
    a = corner(6, 2)
    if model.policy.squash_output or algo in (SAC, TD3, DDPG):
        emitted = model.policy.unscale_action(a)
    else:
        emitted = np.clip(a * 10.0, env.action_space.low, env.action_space.high)
    env.reset()
    assert env.action_to_weights(emitted)[2] >= 0.95


def test_zero_action_is_equal_weight_over_tradable():
    w = SimplexMap().to_weights(np.zeros(4), np.array([1.0, 1.0, 0.0, 1.0]), np.empty(4))
    np.testing.assert_allclose(w, [1 / 3, 1 / 3, 0.0, 1 / 3], atol=1e-15)


def test_out_of_range_actions_are_clipped():
    m, t = SimplexMap(), np.ones(3)
    np.testing.assert_array_equal(
        m.to_weights(np.array([5.0, -7.0, 0.0]), t, np.empty(3)),
        m.to_weights(np.array([1.0, -1.0, 0.0]), t, np.empty(3)),
    )


def test_long_short_map():
    m = LongShortMap(max_leverage=2.0)
    tradable = np.ones(4)
    w = m.to_weights(np.array([1.0, -1.0, 0.5]), tradable, np.empty(4))
    assert np.abs(w[1:]).sum() == pytest.approx(2.0)
    assert w.sum() == pytest.approx(1.0)
    w = m.to_weights(np.array([1.0, 0.0, 0.0]), tradable, np.empty(4))
    np.testing.assert_allclose(w, [-1.0, 2.0, 0.0, 0.0])
    w = m.to_weights(np.array([0.2, -0.1, 0.0]), np.array([1.0, 1.0, 0.0, 1.0]), np.empty(4))
    np.testing.assert_allclose(w, [1 - 0.4, 0.4, 0.0, 0.0])


@pytest.mark.parametrize("m", [SimplexMap(), LongShortMap(1.5)])
def test_batch_equals_single(m):
    rng = np.random.default_rng(0)
    n1 = 8
    dim = m.space(n1 - 1).shape[0]
    actions = rng.uniform(-1.2, 1.2, (50, dim)).astype(np.float32)
    tradable = (rng.uniform(size=(50, n1)) > 0.2).astype(float)
    tradable[:, 0] = 1.0
    batch = m.to_weights_batch(actions, tradable)
    single = np.array(
        [m.to_weights(a, t, np.empty(n1)) for a, t in zip(actions, tradable, strict=True)]
    )
    np.testing.assert_allclose(batch, single, rtol=0, atol=1e-15)


@pytest.mark.parametrize("temperature", [0, -1.0, 50.5, 99, math.inf, math.nan])
def test_invalid_temperature(temperature):
    with pytest.raises(ValueError, match=r"temperature=.* is invalid; expected 0 < tau <= 50"):
        SimplexMap(temperature)


@pytest.mark.parametrize("max_leverage", [0.0, -1.0, 10.5, math.inf, math.nan])
def test_invalid_leverage(max_leverage):
    with pytest.raises(ValueError, match=r"max_leverage=.* is invalid; expected 0 < L <= 10"):
        LongShortMap(max_leverage)


def test_parameter_upper_bounds_are_allowed():
    # tau = 50 and L = 10 are the documented maxima; clip * tau = 50 cannot overflow exp
    w = SimplexMap(50).to_weights(corner(3, 1), np.ones(3), np.empty(3))
    np.testing.assert_allclose(w, [0.0, 1.0, 0.0], atol=1e-43)
    w = LongShortMap(10).to_weights(np.array([0.5, -0.5]), np.ones(3), np.empty(3))
    np.testing.assert_allclose(w, [1.0, 5.0, -5.0])


def test_default_temperature_concentration():
    # tau = 5: one of 20 assets reaches e^10 / (e^10 + 20) = 99.9 % (the module docstring)
    m = SimplexMap()
    assert m.temperature == 5.0
    expected = math.exp(10.0) / (math.exp(10.0) + 20)
    assert m.max_concentration(20) == pytest.approx(expected, rel=1e-15)
    assert round(expected, 4) == 0.9991
    w = m.to_weights(corner(21, 7), np.ones(21), np.empty(21))
    assert w[7] == pytest.approx(expected, rel=1e-6)  # exp is taken in float32
    np.testing.assert_allclose(np.delete(w, 7), (1 - expected) / 20, rtol=1e-6)


def test_smallest_allowed_temperature_is_log_19n_over_2():
    # the documented threshold tau = log(19 n) / 2 reaches exactly 95 % and is accepted
    n = 5
    tau = math.log(19 * n) / 2
    assert SimplexMap(tau).max_concentration(n) == 0.95
    assert SimplexMap(tau).space(n).shape == (n + 1,)
    with pytest.raises(ValueError, match=r"reach only 94\.8%.*temperature >= 2\.28"):
        SimplexMap(tau - 0.02).space(n)


@pytest.mark.parametrize("m", [SimplexMap(), SimplexMap(2.5), LongShortMap(), LongShortMap(3.0)])
def test_max_leverage_is_the_largest_gross_exposure_produced(m):
    # the attribute the env uses to bound weights is the sup of sum_{i>=1} |w_i|
    n_assets = 4
    dim = m.space(n_assets).shape[0]
    cash_last = -np.ones(dim)
    cash_last[dim - n_assets :] = 1.0  # every asset at +1, cash (if any) at -1
    w = m.to_weights(cash_last, np.ones(n_assets + 1), np.empty(n_assets + 1))
    assert np.abs(w[1:]).sum() == pytest.approx(m.max_leverage, rel=0.002)


@pytest.mark.parametrize("m", [SimplexMap(), LongShortMap(2.0)])
def test_huge_finite_actions_are_clipped_not_rejected(m):
    # a.dot(a) overflows to inf, but the action is finite: it is clipped to [-1, 1]
    dim = m.space(2).shape[0]
    huge = np.full(dim, -1e200)
    huge[-1] = 1e200
    with np.errstate(over="ignore"):  # numpy's warning from the overflowing dot
        w = m.to_weights(huge, np.ones(3), np.empty(3))
    np.testing.assert_array_equal(w, m.to_weights(np.sign(huge), np.ones(3), np.empty(3)))


@pytest.mark.parametrize("m", [SimplexMap(), LongShortMap()])
def test_non_finite_actions_are_reported_by_position(m):
    dim = m.space(3).shape[0]
    a = np.zeros(dim)
    a[1], a[2] = np.nan, -np.inf
    with pytest.raises(ValueError, match=r"positions \[1, 2\] \(\[nan, -inf\]\)"):
        m.to_weights(a, np.ones(4), np.empty(4))
    batch = np.zeros((3, dim))
    batch[2, 0] = np.inf
    with pytest.raises(ValueError, match=r"non-finite values in rows \[2\]"):
        m.to_weights_batch(batch, np.ones((3, 4)))


@pytest.mark.parametrize("m", [SimplexMap(), LongShortMap()])
def test_actions_of_the_wrong_shape_or_type_are_rejected(m):
    dim = m.space(3).shape[0]
    tradable = np.ones(4)
    for bad in (np.zeros(1), np.zeros(dim + 1), np.zeros((1, dim))):  # floats, wrong shape
        with pytest.raises(ValueError, match=rf"action has shape {re.escape(str(bad.shape))}"):
            m.to_weights(bad, tradable, np.empty(4))
    for bad in (np.ones(dim, dtype=bool), np.ones(dim, dtype=complex), np.array(["1"] * dim)):
        with pytest.raises(ValueError, match=f"dtype {bad.dtype}; expected a numeric array"):
            m.to_weights(bad, tradable, np.empty(4))
    np.testing.assert_allclose(  # integers are numbers
        m.to_weights(np.ones(dim, dtype=int), tradable, np.empty(4)),
        m.to_weights(np.ones(dim), tradable, np.empty(4)),
    )
    batch_tradable = np.ones((2, 4))
    for bad in (np.zeros((2, 1)), np.zeros((2, dim + 1)), np.zeros((3, dim))):
        with pytest.raises(ValueError, match=rf"actions have shape {re.escape(str(bad.shape))}"):
            m.to_weights_batch(bad, batch_tradable)
    with pytest.raises(ValueError, match="dtype bool"):
        m.to_weights_batch(np.ones((2, dim), dtype=bool), batch_tradable)


def test_every_name_builds_its_map_and_is_listed():
    names = ["band", "long_short", "partial", "residual", "residual_current", "simplex"]
    assert sorted(ACTION_MAPS) == names and list(list_action_maps()) == names
    for name in names:
        assert isinstance(make_action_map(name), ActionMap)
    assert isinstance(make_action_map("Long-Short"), LongShortMap)  # as every registry
    m = SimplexMap(2.5)
    assert make_action_map(m) is m


def test_unknown_action_names_and_parameters_are_reported(small_market):
    with pytest.raises(ConfigError, match=r"unknown action map 'bnad' \(did you mean 'band'\?\)"):
        make_action_map("bnad")
    with pytest.raises(ConfigError, match=r"'fractoin' \(did you mean 'fraction'\?\)"):
        make_action_map("partial", fractoin=0.5)
    with pytest.raises(TypeError, match="action must be a str or an ActionMap; got int"):
        make_action_map(3)
    with pytest.raises(ConfigError, match="unknown action map"):
        PortfolioEnv(small_market, features=None, action="softmax")
