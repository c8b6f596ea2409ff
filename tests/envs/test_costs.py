"""The transaction remainder factor: hand-computed cases, references, approximations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from allocgym.envs import CostModel


def jiang_eq14(w_before, w_after, c, tol=1e-15):
    """Jiang, Xu & Liang (2017) eq. (14) iterated literally: mu0 = 1 - 2c + c^2."""
    wd, wt = np.asarray(w_before), np.asarray(w_after)
    mu = 1 - 2 * c + c * c
    for _ in range(1000):
        sold = np.maximum(wd[1:] - mu * wt[1:], 0.0).sum()
        new = (1 - c * wd[0] - (2 * c - c * c) * sold) / (1 - c * wt[0])
        if abs(new - mu) < tol:
            return new
        mu = new
    raise AssertionError("no convergence")


def cash_balance_root(w_before, w_after, buy, sell):
    """mu from the cash-balance equation by bracketing (independent of the fixed point)."""
    wd, wt = np.asarray(w_before), np.asarray(w_after)
    p = np.broadcast_to(buy, wd[1:].shape)
    s = np.broadcast_to(sell, wd[1:].shape)

    def f(mu):
        sold = np.maximum(wd[1:] - mu * wt[1:], 0.0)
        bought = np.maximum(mu * wt[1:] - wd[1:], 0.0)
        return wd[0] + ((1 - s) * sold).sum() - (bought / (1 - p)).sum() - mu * wt[0]

    return brentq(f, 1e-9, 1.0 + 1e-12, xtol=1e-16, rtol=1e-15)


def impact_root(w_before, w_after, buy, sell, b, sigma):
    """mu from the cash balance with market impact, by bracketing.

    Written from the module docstring of costs.py, independently of its fixed point::

        mu w_0 = w'_0 + sum_i (1 - s_i) (w'_i - mu w_i)^+ - sum_i (mu w_i - w'_i)^+ / (1 - p_i)
                 - b sum_i sigma_i |mu w_i - w'_i|^{3/2}
    """
    wd, wt = np.asarray(w_before), np.asarray(w_after)

    def f(mu):
        z = mu * wt[1:] - wd[1:]
        proceeds = ((1 - sell) * np.maximum(-z, 0.0)).sum()
        purchases = (np.maximum(z, 0.0) / (1 - buy)).sum()
        impact = b * (sigma * np.abs(z) ** 1.5).sum()
        return wd[0] + proceeds - purchases - impact - mu * wt[0]

    return brentq(f, 1e-6, 1.0 + 1e-12, xtol=1e-16, rtol=1e-15)


def random_weights(rng, n, size, long_short=False):
    w = rng.dirichlet(np.full(n + 1, 0.4), size=size)
    if long_short:
        w[:, 1:] = rng.normal(0.0, 0.4, size=(size, n))
        w[:, 0] = 1.0 - w[:, 1:].sum(axis=1)
    return w


# ------------------------------------------------------------------ hand-computed cases
@pytest.mark.parametrize("bps", [1.0, 10.0, 100.0])
def test_buy_from_cash_costs_the_buy_rate(bps):
    c = bps * 1e-4
    mu, cost = CostModel(bps).remainder([1.0, 0.0], [0.0, 1.0])
    assert mu == pytest.approx(1 - c, abs=1e-15)
    assert cost == pytest.approx(c, abs=1e-15)


def test_sell_to_cash_costs_the_sell_rate():
    mu, _ = CostModel(10.0, sell_bps=30.0).remainder([0.0, 1.0], [1.0, 0.0])
    assert mu == pytest.approx(1 - 0.003, abs=1e-15)


def test_switching_assets_pays_both_legs():
    # sell asset 1 (keep 1 - s), buy asset 2 with the proceeds (keep 1 - p of them)
    mu, _ = CostModel(20.0, sell_bps=50.0).remainder([0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    assert mu == pytest.approx((1 - 0.005) * (1 - 0.002), abs=1e-15)


def test_partial_rebalance_by_hand():
    # 50/50 -> 25/75 at 1 %: cash left 0.5 - (0.75 mu - 0.5) / 0.99 = 0.25 mu
    # => 0.995 = 0.9975 mu
    mu, _ = CostModel(100.0).remainder([0.5, 0.5], [0.25, 0.75])
    assert mu == pytest.approx(0.995 / 0.9975, abs=1e-15)


def test_per_asset_rates_by_hand():
    # sell asset 1 at 10 bps into asset 2 bought at 40 bps; asset 3 untouched
    cm = CostModel([10.0, 40.0, 5.0])
    mu, _ = cm.remainder([0.0, 0.6, 0.0, 0.4], [0.0, 0.0, 0.6 / 1.0, 0.4])
    # unknown mu: solve 0 + 0.999*0.6 - (0.6 mu - 0)/(1-0.004) - 0 = 0 on assets 1, 2 and
    # 0.4 -> 0.4 mu for asset 3 (a sale of 0.4 (1 - mu) at 5 bps).
    expected = cash_balance_root(
        [0.0, 0.6, 0.0, 0.4], [0.0, 0.0, 0.6, 0.4], np.array([1e-3, 4e-3, 5e-4]),
        np.array([1e-3, 4e-3, 5e-4]),
    )  # fmt: skip
    assert mu == pytest.approx(expected, abs=1e-14)
    assert 1 - mu == pytest.approx(0.6 * (1e-3 + 4e-3), rel=2e-2)  # first order


def test_zero_cost_identity_and_no_trade():
    rng = np.random.default_rng(1)
    w = random_weights(rng, 6, 50)
    v = random_weights(rng, 6, 50)
    zero = CostModel(0.0)
    for a, b in zip(w, v, strict=True):
        assert zero.remainder(a, b) == (1.0, 0.0)
        assert CostModel(25.0).remainder(a, a) == (1.0, 0.0)


# ------------------------------------------------------------------ references
@pytest.mark.parametrize("bps", [0.5, 10.0, 100.0, 500.0])
def test_newton_equals_literal_jiang_iteration(bps):
    rng = np.random.default_rng(2)
    cm = CostModel(bps)
    for a, b in zip(random_weights(rng, 8, 300), random_weights(rng, 8, 300), strict=True):
        assert cm.remainder(a, b)[0] == pytest.approx(jiang_eq14(a, b, bps * 1e-4), abs=1e-12)


@pytest.mark.parametrize("long_short", [False, True])
@pytest.mark.parametrize(("buy", "sell"), [(10.0, 10.0), (5.0, 40.0), (80.0, 20.0)])
def test_newton_equals_reference_and_cash_balance(buy, sell, long_short):
    rng = np.random.default_rng(3)
    cm = CostModel(buy, sell_bps=sell)
    w, v = random_weights(rng, 7, 200, long_short), random_weights(rng, 7, 200, long_short)
    for a, b in zip(w, v, strict=True):
        mu = cm.remainder(a, b)[0]
        assert mu == pytest.approx(cm.remainder_reference(a, b), abs=1e-12)
        assert mu == pytest.approx(cash_balance_root(a, b, buy * 1e-4, sell * 1e-4), abs=1e-12)


def test_batch_equals_single():
    rng = np.random.default_rng(4)
    cm = CostModel(np.linspace(2.0, 60.0, 9), sell_bps=15.0)
    w, v = random_weights(rng, 9, 500), random_weights(rng, 9, 500)
    mu, cost = cm.remainder_batch(w, v)
    single = np.array([cm.remainder(a, b)[0] for a, b in zip(w, v, strict=True)])
    np.testing.assert_allclose(mu, single, rtol=0, atol=1e-14)
    np.testing.assert_allclose(cost, 1 - single, rtol=0, atol=1e-14)


@pytest.mark.parametrize("bps", [0.1, 1.0, 10.0])
def test_first_order_approximation_for_small_c(bps):
    # mu ~= 1 - c sum_{i>=1} |w'_i - w_i|, error O(c^2)
    c = bps * 1e-4
    rng = np.random.default_rng(5)
    w, v = random_weights(rng, 10, 300), random_weights(rng, 10, 300)
    for a, b in zip(w, v, strict=True):
        turnover = np.abs(a[1:] - b[1:]).sum()
        mu = CostModel(bps).remainder(a, b)[0]
        assert abs(mu - (1 - c * turnover)) <= 4 * c * c
        assert (1 - mu) / (c * turnover) == pytest.approx(1.0, abs=3 * c)


# ------------------------------------------------------------------ market impact
def test_market_impact_solves_its_equation():
    # all cash into one asset, no proportional cost: mu + b sigma mu^{3/2} = 1
    b, sigma = 0.5, 0.02
    cm = CostModel(0.0, impact=b)
    mu, _ = cm.remainder([1.0, 0.0], [0.0, 1.0], sigma=np.array([sigma]))
    assert mu + b * sigma * mu**1.5 == pytest.approx(1.0, abs=1e-12)
    with_prop = CostModel(10.0, impact=b).remainder([1.0, 0.0], [0.0, 1.0], np.array([sigma]))
    assert with_prop[0] < CostModel(10.0).remainder([1.0, 0.0], [0.0, 1.0])[0]
    mu_b, _ = CostModel(0.0, impact=b).remainder_batch(
        np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), sigma=np.array([[sigma]])
    )
    assert mu_b[0] == pytest.approx(mu, abs=1e-12)


# Two assets with very different volatilities, different buy and sell rates per asset.
IMPACT_B = 0.8
IMPACT_BUY_BPS, IMPACT_SELL_BPS = np.array([10.0, 30.0]), np.array([20.0, 5.0])
IMPACT_CASES = [  # (w_before, w_after, sigma); rows 0 and 1 differ only by sigma's order
    ([0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.01, 0.04]),
    ([0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.04, 0.01]),
    ([0.0, 0.9, 0.1], [0.3, 0.1, 0.6], [0.03, 0.005]),
]


def impact_expected():
    return np.array(
        [
            impact_root(
                wd, wt, IMPACT_BUY_BPS * 1e-4, IMPACT_SELL_BPS * 1e-4, IMPACT_B, np.array(s)
            )
            for wd, wt, s in IMPACT_CASES
        ]
    )


def test_impact_by_hand_single_path():
    cm = CostModel(IMPACT_BUY_BPS, sell_bps=IMPACT_SELL_BPS, impact=IMPACT_B)
    expected = impact_expected()
    # first order for row 0: sell 0.3 of asset 1 at 20 bps, buy 0.4 of asset 2 at 30 bps,
    # impact 0.8 (0.01 * 0.3^1.5 + 0.04 * 0.4^1.5)
    rough = 0.002 * 0.3 + 0.003 / 0.997 * 0.4 + 0.8 * (0.01 * 0.3**1.5 + 0.04 * 0.4**1.5)
    assert 1 - expected[0] == pytest.approx(rough, rel=0.05)
    assert abs(expected[0] - expected[1]) > 1e-3  # sigma's order matters here
    for (wd, wt, sigma), mu in zip(IMPACT_CASES, expected, strict=True):
        got, cost = cm.remainder(wd, wt, np.array(sigma))
        assert got == pytest.approx(mu, abs=1e-12)
        assert cost == pytest.approx(1 - mu, abs=1e-12)
        assert cm.remainder_reference(wd, wt, np.array(sigma)) == pytest.approx(mu, abs=1e-12)
        trade = np.empty(3)
        assert cm.solve(np.array([wd, wt]), np.array(sigma), trade) == pytest.approx(mu, abs=1e-12)
        np.testing.assert_allclose(trade, mu * np.array(wt) - wd, atol=1e-12)


def test_impact_by_hand_batched_path():
    cm = CostModel(IMPACT_BUY_BPS, sell_bps=IMPACT_SELL_BPS, impact=IMPACT_B)
    wd, wt, sigma = (np.array(part) for part in zip(*IMPACT_CASES, strict=True))
    expected = impact_expected()
    mu, cost = cm.remainder_batch(wd, wt, sigma)
    np.testing.assert_allclose(mu, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cost, 1 - expected, rtol=0, atol=1e-12)
    trade = np.empty_like(wd)
    np.testing.assert_allclose(cm.solve_batch(wd, wt, sigma, trade), expected, atol=1e-12)
    np.testing.assert_allclose(trade, expected[:, None] * wt - wd, atol=1e-12)
    for i in range(len(wd)):  # each row alone too: no dependence on the other rows
        np.testing.assert_allclose(
            cm.remainder_batch(wd[i : i + 1], wt[i : i + 1], sigma[i : i + 1])[0],
            expected[i : i + 1],
            atol=1e-12,
        )


def test_batched_impact_uses_each_assets_own_volatility():
    # five assets, trades of very different size, B = 4 rows with their own sigma
    rng = np.random.default_rng(6)
    cm = CostModel(np.linspace(1.0, 40.0, 5), sell_bps=12.0, impact=1.5)
    w, v = random_weights(rng, 5, 4), random_weights(rng, 5, 4)
    sigma = rng.uniform(0.002, 0.06, (4, 5))
    mu, _ = cm.remainder_batch(w, v, sigma)
    single = [cm.remainder(a, b, s)[0] for a, b, s in zip(w, v, sigma, strict=True)]
    np.testing.assert_allclose(mu, single, rtol=0, atol=1e-12)
    reversed_mu, _ = cm.remainder_batch(w, v, sigma[:, ::-1])
    assert np.abs(reversed_mu - mu).max() > 1e-5  # the test can tell the assets apart


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cost_bps": -1.0}, "cost_bps"),
        ({"cost_bps": float("nan")}, "cost_bps"),
        ({"cost_bps": 10.0, "sell_bps": [[1.0]]}, "sell_bps"),
        ({"cost_bps": 6000.0}, r"cost_bps=6000\.0 is out of range; expected 0 <= bps < 5000"),
        ({"cost_bps": 5000.0}, "cost_bps=5000.0 is out of range"),
        ({"cost_bps": 10.0, "sell_bps": 5000.0}, "sell_bps=5000.0 is out of range"),
        ({"cost_bps": [1.0, 5000.0]}, r"cost_bps=\[1\.0, 5000\.0\] is out of range"),
        ({"tol": 0.0}, "tol=0.0 is invalid"),
        ({"tol": 1e-3}, "tol=0.001 is invalid"),
        ({"impact": float("inf")}, "impact=inf is invalid"),
        ({"impact": -0.1}, "impact"),
    ],
)
def test_invalid_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CostModel(**kwargs)


def test_per_asset_length_and_missing_sigma():
    with pytest.raises(ValueError, match="3 per-asset rates; the market has 2"):
        CostModel([1.0, 2.0, 3.0]).remainder([1.0, 0.0, 0.0], [0.0, 0.5, 0.5])
    with pytest.raises(ValueError, match="needs sigma"):
        CostModel(10.0, impact=1.0).remainder([1.0, 0.0], [0.0, 1.0])


def test_largest_accepted_rates_and_tolerance():
    CostModel(4999.99, sell_bps=4999.99, tol=0.000999)  # just inside every bound
    CostModel([0.0, 4999.0])


def test_defaults_and_repr():
    cm = CostModel()
    assert cm.remainder([1.0, 0.0], [0.0, 1.0])[0] == pytest.approx(1 - 10e-4, abs=1e-15)
    # the derived arrays and the cache stay out of the repr (and out of config dumps)
    assert (
        repr(cm) == "CostModel(cost_bps=10.0, sell_bps=None, impact=0.0, tol=1e-13, max_iter=200)"
    )


def test_zero_cost_reports_the_trade_and_a_batch_of_ones():
    cm = CostModel(0.0)
    wd = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5], [0.0, 0.0, 1.0]])
    wt = np.array([[0.0, 0.5, 0.5], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    trade = np.full_like(wd, np.nan)
    mu = cm.solve_batch(wd, wt, None, trade)
    assert mu.shape == (4,) and (mu == 1.0).all()
    np.testing.assert_array_equal(trade, wt - wd)
    one = np.full(3, np.nan)
    assert cm.solve(np.array([wd[0], wt[0]]), None, one) == 1.0
    np.testing.assert_array_equal(one, wt[0] - wd[0])


def _hard_batch(rng, b=600, n=6):
    """Random rebalances with high, unequal buy/sell rates: many rows need several Newton
    steps (the first guess of the sell set, ``w' > w``, is wrong where mu matters)."""
    wd = rng.dirichlet(np.full(n + 1, 0.3), b)
    wt = rng.dirichlet(np.full(n + 1, 0.3), b)
    near = rng.random(b) < 0.5  # targets close to the drifted weights: mu decides the sign
    wt[near] = wd[near] * (1 + rng.normal(0, 0.02, (near.sum(), n + 1)))
    wt[near] /= wt[near].sum(axis=1, keepdims=True)
    buy = rng.uniform(100, 4000, n)
    sell = rng.uniform(100, 4000, n)
    return wd, wt, CostModel(buy, sell_bps=sell)


def test_newton_paths_equal_the_reference_where_several_steps_are_needed():
    rng = np.random.default_rng(5)
    wd, wt, cm = _hard_batch(rng)
    trade = np.empty_like(wd)
    mu = cm.solve_batch(wd, wt, None, trade)
    ref = np.array([cm.remainder_reference(a, b) for a, b in zip(wd, wt, strict=True)])
    np.testing.assert_allclose(mu, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(trade, mu[:, None] * wt - wd, rtol=0, atol=1e-15)
    # the one-portfolio path on the same rows, and the number of rows whose first sell set
    # was wrong (so the test does exercise the iterations)
    row_trade = np.empty(wd.shape[1])
    wrong_first_guess = 0
    for i in range(len(wd)):
        m = cm.solve(np.array([wd[i], wt[i]]), None, row_trade)
        assert m == pytest.approx(ref[i], abs=1e-12)
        np.testing.assert_allclose(row_trade, m * wt[i] - wd[i], rtol=0, atol=1e-15)
        wrong_first_guess += bool(((wd[i] > wt[i]) != (wd[i] > m * wt[i]))[1:].any())
    assert wrong_first_guess > 50


def test_batch_trade_of_a_portfolio_that_does_not_trade_is_zero():
    # a row with nothing to sell takes no Newton iteration: its trade must still be
    # w_after - w_before (zero), not w_after
    cm = CostModel(25.0, sell_bps=40.0)
    wd = np.array([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]])
    wt = np.array([[0.2, 0.3, 0.5], [0.4, 0.3, 0.3]])
    trade = np.full_like(wd, np.nan)
    mu = cm.solve_batch(wd, wt, None, trade)
    assert mu[0] == 1.0
    np.testing.assert_array_equal(trade[0], np.zeros(3))
    np.testing.assert_allclose(trade, mu[:, None] * wt - wd, rtol=0, atol=1e-16)
