"""`Accounting.settle`: one rebalance-and-hold period, for one portfolio or a batch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from allocgym.envs import CostModel, PortfolioEnv
from allocgym.envs.accounting import Accounting
from allocgym.envs.vector import PortfolioVecEnv
from allocgym.exceptions import DataError


def _growth(rng: np.random.Generator, n_days: int, n1: int) -> np.ndarray:
    g = np.ones((n_days + 1, n1))
    g[:n_days] += rng.normal(0.0, 0.02, (n_days, n1))
    g[:n_days, 0] = 1.0001
    return g


@pytest.mark.parametrize("k", [1, 4])
def test_settle_by_hand(k):
    rng = np.random.default_rng(0)
    growth = _growth(rng, 12, 4)
    acc = Accounting(CostModel(10.0), growth, None, k)
    before = np.array([0.1, 0.5, 0.2, 0.2])
    target = np.array([0.25, 0.25, 0.25, 0.25])
    t, t1 = 3, 3 + k
    out, trade = np.empty(4), np.empty(4)
    mu, g, turnover, values = acc.settle(np.array([before, target]), t, t1, out, trade, paths=True)
    assert mu == pytest.approx(CostModel(10.0).remainder_reference(before, target), abs=1e-14)
    # hand computation: V_d = w * prod_{u=t+1}^{d} (1 + r_u)
    v = target * np.prod(growth[t + 1 : t1 + 1], axis=0)
    assert g == pytest.approx(v.sum(), rel=1e-15)
    np.testing.assert_allclose(out, v / v.sum(), rtol=1e-15)
    np.testing.assert_allclose(trade, np.abs(mu * target - before), atol=1e-16)
    assert turnover == pytest.approx(np.abs(mu * target - before)[1:].sum(), rel=1e-14)
    if k == 1:
        assert values is None
    else:
        expected = target * np.cumprod(growth[t + 1 : t1 + 1], axis=0)
        np.testing.assert_allclose(values, expected, rtol=1e-15)


def test_a_period_cut_short_reads_no_return_after_its_end():
    rng = np.random.default_rng(1)
    growth = _growth(rng, 12, 3)
    acc = Accounting(CostModel(0.0), growth, None, 5)
    target = np.array([0.2, 0.3, 0.5])
    out, trade = np.empty(3), np.empty(3)
    _, g, _, values = acc.settle(np.array([target, target]), 8, 10, out, trade, paths=True)
    v = target * growth[9] * growth[10]
    assert g == pytest.approx(v.sum(), rel=1e-15)
    # the days after t1 = 10 repeat day 10: the padding row, not days 11 and 12
    np.testing.assert_allclose(values[2:], np.tile(v, (3, 1)), rtol=1e-15)
    poisoned = growth.copy()
    poisoned[11:-1] = 1e6
    _, g2, _, _ = Accounting(CostModel(0.0), poisoned, None, 5).settle(
        np.array([target, target]), 8, 10, out, trade
    )
    assert g2 == g


@pytest.mark.parametrize("k", [1, 3])
def test_batch_rows_equal_single_settles(k):
    rng = np.random.default_rng(2)
    growth = _growth(rng, 40, 5)
    sigma = rng.uniform(0.005, 0.03, (40, 4))
    costs = CostModel([5.0, 10.0, 20.0, 2.0], sell_bps=[1.0, 30.0, 8.0, 8.0], impact=0.5)
    acc = Accounting(costs, growth, sigma, k)
    before = rng.dirichlet(np.ones(5), 6)
    target = rng.dirichlet(np.ones(5), 6)
    t = np.array([0, 5, 11, 20, 30, 36])
    t1 = np.minimum(t + k, 38)
    out, trade = np.empty_like(before), np.empty_like(before)
    mu, g, turnover, _ = acc.settle(np.array([before, target]), t, t1, out, trade)
    for b in range(6):
        o, tr = np.empty(5), np.empty(5)
        m, gb, tb, _ = acc.settle(np.array([before[b], target[b]]), int(t[b]), int(t1[b]), o, tr)
        assert mu[b] == pytest.approx(m, abs=1e-15)
        assert g[b] == pytest.approx(gb, rel=1e-15)
        assert turnover[b] == pytest.approx(tb, rel=1e-14)
        np.testing.assert_allclose(out[b], o, rtol=1e-14)
        # the impact of row b uses the volatility known at its own t
        assert m == pytest.approx(
            costs.remainder_reference(before[b], target[b], sigma[t[b]]), abs=1e-13
        )


def test_a_wiped_out_portfolio_keeps_its_target_weights_without_warnings():
    growth = np.ones((4, 3))
    growth[1, 1] = 0.0  # asset 1 loses everything on day 1
    acc = Accounting(CostModel(0.0), growth, None, 1)
    target = np.array([0.0, 1.0, 0.0])  # all in asset 1
    other = np.array([0.0, 0.5, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 or 1/0 on the way
        out, trade = np.empty(3), np.empty(3)
        _, g, _, _ = acc.settle(np.array([target, target]), 0, 1, out, trade)
        assert g == 0.0
        np.testing.assert_array_equal(out, target)
        pair = np.array([[target, other], [target, other]])
        out, trade = np.empty((2, 3)), np.empty((2, 3))
        _, g, _, _ = acc.settle(pair, np.array([0, 0]), np.array([1, 1]), out, trade)
    np.testing.assert_array_equal(g, [0.0, 0.5])
    np.testing.assert_array_equal(out[0], target)  # the ruined row keeps its target
    np.testing.assert_allclose(out[1], [0.0, 0.0, 1.0])  # the other row drifts as usual


@pytest.mark.parametrize("length", [0, -1, 2.5, True, 10_000])
def test_both_envs_refuse_the_same_episode_lengths(small_market, length):
    for cls in (PortfolioEnv, PortfolioVecEnv):
        with pytest.raises(DataError, match=rf"episode_length={length!r} decisions"):
            cls(small_market, features=None, episode_length=length)
