"""Action maps: concentration is reachable in every SB3 algorithm's action range."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3 import A2C, DDPG, PPO, SAC, TD3

from allocgym.envs import LongShortMap, PortfolioEnv, SimplexMap


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
    env = PortfolioEnv(small_market, features=False)
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


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"temperature": 0}, "temperature"), ({"temperature": 99}, "temperature")]
)
def test_invalid_temperature(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SimplexMap(**kwargs)


def test_invalid_leverage():
    with pytest.raises(ValueError, match="max_leverage"):
        LongShortMap(0.0)
