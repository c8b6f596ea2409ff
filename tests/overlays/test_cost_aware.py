"""CostAwareRebalancing: hold when the exact cost beats the gain, trade when not."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.covariance import ledoit_wolf

from allocgym.baselines import EqualWeight, MinVariance
from allocgym.envs.costs import CostModel
from allocgym.overlays import CostAwareRebalancing, best_fraction, move_value
from allocgym.policy import PolicyState
from tests.overlays._helpers import Scripted, drive, market

C = 10e-4  # 10 bps
K = 2 * C - C**2
W_DRIFT = np.array([0.0, 0.6, 0.4])
W_TARGET = np.array([0.0, 0.5, 0.5])
# Selling 0.1 of asset 1 and buying asset 2 with c = 10 bps each way: Jiang et al.'s
# eq. (14) with w'_0 = w_0 = 0 and asset 1 the only one sold:
# mu = 1 - K (0.6 - 0.5 mu)  =>  mu = (1 - 0.6 K) / (1 - 0.5 K).
HAND_COST = 1 - (1 - 0.6 * K) / (1 - 0.5 * K)
YEARS = 21 / 252


class WithEstimates(Scripted):
    """Always targets W_TARGET; exposes (mu, Sigma) as ``estimates`` (annualised)."""

    def __init__(self, mu, cov):
        super().__init__(lambda t: W_TARGET)
        self.mu, self.cov = np.asarray(mu, float), np.asarray(cov, float)

    def estimates(self, state):
        return np.arange(2), self.cov, self.mu


@pytest.fixture(scope="module")
def mkt():
    return market(120, n_assets=2)


def _state(mkt, weights=W_DRIFT):
    return PolicyState.at(mkt, 100, weights)


def test_hand_cost_is_the_exact_cost_model():
    _, cost = CostModel(10.0).remainder(W_DRIFT, W_TARGET)
    assert cost == pytest.approx(HAND_COST, rel=1e-12)
    assert cost != pytest.approx(C * 0.2, rel=1e-6)  # not the first-order approximation


@pytest.mark.parametrize(("factor", "trades"), [(0.99, False), (1.01, True)])
def test_trades_only_when_the_gain_exceeds_the_exact_cost(mkt, factor, trades):
    # zero risk, mu = (0, m): gain of the move = YEARS * m * 0.1; choose m = factor * cost
    m = factor * HAND_COST / (YEARS * 0.1)
    ov = CostAwareRebalancing(WithEstimates([0.0, m], np.zeros((2, 2))), cost_bps=10.0)
    out = ov.act(_state(mkt))
    np.testing.assert_array_equal(out, W_TARGET if trades else W_DRIFT)
    ((_, _, gain, cost),) = ov.decisions_
    assert cost == pytest.approx(HAND_COST, rel=1e-12)
    assert gain == pytest.approx(factor * HAND_COST, rel=1e-12)
    assert (ov.n_trades_, ov.n_holds_) == ((1, 0) if trades else (0, 1))


def test_risk_term_counts_in_the_gain(mkt):
    # equal means, asset 1 riskier: moving to 50/50 lowers variance
    cov = np.diag([0.09, 0.01])
    ov = CostAwareRebalancing(WithEstimates([0.1, 0.1], cov), risk_aversion=4.0)
    ov.act(_state(mkt))
    ((_, _, gain, _),) = ov.decisions_
    x0, x1 = W_DRIFT[1:], W_TARGET[1:]
    expected = YEARS * (-2.0 * x1 @ cov @ x1 + 2.0 * x0 @ cov @ x0)
    assert gain == pytest.approx(expected, rel=1e-12)


def test_partial_move_matches_a_brute_force_grid():
    rng = np.random.default_rng(3)
    cm = CostModel(25.0)
    for _ in range(5):
        w_from = rng.dirichlet(np.ones(5))
        w_to = rng.dirichlet(np.ones(5))
        a = rng.normal(size=(4, 4))
        cov, mu = a @ a.T * 0.02, rng.normal(0.05, 0.1, 4)

        def value(alpha, w_from=w_from, w_to=w_to, cov=cov, mu=mu):
            g, c = move_value(alpha, w_from, w_to, np.arange(4), mu, cov, 3.0, 0.25, cm)
            return g - c

        alpha, best = best_fraction(value)
        grid = np.linspace(0, 1, 4001)
        values = np.array([value(x) for x in grid])
        assert best >= values.max() - 1e-12
        assert alpha == pytest.approx(grid[values.argmax()], abs=1e-3)
        assert best == pytest.approx(value(alpha), abs=0)


def test_partial_overlay_trades_the_best_fraction(mkt):
    # variance only; the minimum-variance mix (10 % in asset 1) lies on the segment from
    # all-in-asset-2 to 50/50 at alpha = 0.2: the optimum is inside (0, 1)
    cov = np.diag([0.09, 0.01])
    ov = CostAwareRebalancing(WithEstimates([0.0, 0.0], cov), partial=True, horizon=252,
                              risk_aversion=4.0)  # fmt: skip
    w_drift = np.array([0.0, 0.0, 1.0])
    out = ov.act(_state(mkt, w_drift))
    ((_, alpha, _, _),) = ov.decisions_
    assert 0.15 < alpha < 0.2 and ov.n_partial_ == 1  # the cost pulls it below 0.2
    np.testing.assert_allclose(out, (1 - alpha) * w_drift + alpha * W_TARGET, atol=1e-15)


def test_no_cost_trades_whenever_the_gain_is_positive(mkt):
    ov = CostAwareRebalancing(WithEstimates([0.0, 1e-6], np.zeros((2, 2))), cost_bps=0.0)
    np.testing.assert_array_equal(ov.act(_state(mkt)), W_TARGET)


def test_implied_returns_make_the_gain_the_tracking_variance_reduction(mkt):
    ov = CostAwareRebalancing(EqualWeight(), risk_aversion=3.0, expected_returns="implied")
    w_drift = np.array([0.0, 0.7, 0.3])
    ov.act(_state(mkt, w_drift))
    ((_, _, gain, _),) = ov.decisions_
    window = mkt.returns[1:101]
    cov = ledoit_wolf(window)[0] * 252
    d = w_drift[1:] - 0.5
    assert gain == pytest.approx(YEARS * 1.5 * d @ cov @ d, rel=1e-10)


def test_zero_returns_never_leave_cash(mkt):
    ov = CostAwareRebalancing(EqualWeight(), expected_returns="zero")
    cash = np.array([1.0, 0.0, 0.0])
    np.testing.assert_array_equal(ov.act(_state(mkt, cash)), cash)  # documented behaviour


def test_own_estimates_and_monitoring_in_a_run():
    mkt = market(260, n_assets=4, seed=2)
    ov = CostAwareRebalancing(EqualWeight(rebalance_every=21))
    held, targets = drive(ov, mkt, None, 40, cost_bps=10.0)
    traded = [not np.array_equal(h, w) for h, w in zip(held, targets, strict=True)]
    assert traded[0] and sum(traded) == ov.n_trades_
    assert len(ov.decisions_) == ov.n_trades_ + ov.n_holds_
    assert ov.kind == "traditional"
    quiet = CostAwareRebalancing(EqualWeight(rebalance_every=21), monitor=False)
    drive(quiet, mkt, None, 40, cost_bps=10.0)
    assert len(quiet.decisions_) <= -(-(260 - 41) // 21)  # only on the inner's decisions


def test_estimates_fail_softly_with_too_little_history():
    mkt = market(60, n_assets=3)
    ov = CostAwareRebalancing(MinVariance(lookback=20), lookback=252)
    state = PolicyState.at(mkt, 10, np.array([1.0, 0, 0, 0]))
    ov.act(state)  # the inner holds (fallback) too: nothing to do
    ov2 = CostAwareRebalancing(EqualWeight())
    np.testing.assert_array_equal(ov2.act(state), state.weights)
    assert ov2.n_fallbacks_ == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cost_bps": -1.0}, "cost_bps=-1.0"),
        ({"risk_aversion": 0}, "risk_aversion=0"),
        ({"horizon": 0}, "horizon=0"),
        ({"expected_returns": "lstm"}, "expected_returns='lstm'"),
        ({"partial": "yes"}, "partial='yes'"),
    ],
)
def test_errors_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CostAwareRebalancing(EqualWeight(), **kwargs)
