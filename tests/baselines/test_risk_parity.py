"""Risk budgeting / risk parity: exact contributions, closed forms, skfolio, the policy.

Cross-checks (same inputs, stated tolerances):

- risk contributions ``w_i(Σw)_i / wᵀΣw`` equal the normalised budgets to 1e-9 (the
  solver stops at 1e-10);
- closed forms: two assets, ``w₁ = σ₂/(σ₁ + σ₂)`` whatever ρ (Maillard et al. 2010);
  uncorrelated assets, ``w_i ∝ √b_i / σ_i``; both to 1e-12;
- skfolio's ``RiskBudgeting(risk_measure=VARIANCE)`` (a conic solve on the same returns,
  covariance by the same definition) agrees to 2e-5 in the weights; its own contributions
  miss the budgets by about 3e-6, so the tolerance is skfolio's accuracy, not ours.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocgym.baselines import BASELINES, RiskParity, risk_budgeting, risk_contributions
from allocgym.data import MarketData
from allocgym.exceptions import OptimizationError
from allocgym.policy import PolicyState
from tests.baselines.test_policies import _ledoit_wolf_2004, _window, make_panel, run

LB = 60


@pytest.fixture(scope="module")
def returns(embedded_slice: MarketData) -> np.ndarray:
    """252 daily returns of the 20 embedded assets (2018-2019)."""
    return np.asarray(embedded_slice.returns)[1:253]


@pytest.mark.parametrize("budgets", [None, np.linspace(1.0, 3.0, 20), np.r_[10.0, np.ones(19)]])
def test_risk_contributions_equal_the_budgets(returns: np.ndarray, budgets) -> None:
    cov = _ledoit_wolf_2004(returns)
    w = risk_budgeting(cov, budgets)
    b = np.full(20, 0.05) if budgets is None else budgets / budgets.sum()
    assert (w > 0).all() and w.sum() == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(risk_contributions(w, cov), b, rtol=1e-9, atol=0)
    # the weights ignore the scale of Σ (daily or annualised)
    np.testing.assert_allclose(risk_budgeting(252.0 * cov, budgets), w, rtol=1e-9)


def test_closed_forms() -> None:
    s1, s2 = 0.1, 0.3
    for rho in (-0.6, 0.0, 0.8):
        cov = np.array([[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]])
        np.testing.assert_allclose(
            risk_budgeting(cov), [s2 / (s1 + s2), s1 / (s1 + s2)], atol=1e-12
        )
    sd = np.array([0.1, 0.2, 0.25, 0.4])
    b = np.array([1.0, 2.0, 3.0, 4.0])
    expected = np.sqrt(b) / sd / (np.sqrt(b) / sd).sum()
    np.testing.assert_allclose(risk_budgeting(np.diag(sd**2), b), expected, atol=1e-12)


def test_matches_skfolio_risk_budgeting(returns: np.ndarray) -> None:
    from skfolio import RiskMeasure
    from skfolio.optimization import RiskBudgeting

    b = np.linspace(1.0, 3.0, 20)
    sk = RiskBudgeting(risk_measure=RiskMeasure.VARIANCE, risk_budget=b).fit(returns)
    ours = risk_budgeting(np.cov(returns, rowvar=False), b)
    np.testing.assert_allclose(ours, sk.weights_, atol=2e-5)
    sk_equal = RiskBudgeting(risk_measure=RiskMeasure.VARIANCE).fit(returns)
    np.testing.assert_allclose(
        risk_budgeting(np.cov(returns, rowvar=False)), sk_equal.weights_, atol=2e-5
    )


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30), log_cond=st.floats(0.0, 8.0))
def test_converges_on_ill_conditioned_covariances(seed: int, n: int, log_cond: float) -> None:
    """Random covariances with condition numbers up to 1e8 and budgets spanning 1:100."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    cov = (q * np.logspace(0, -log_cond, n)) @ q.T
    b = rng.uniform(0.01, 1.0, n)
    w = risk_budgeting(cov, b)
    # to tol = 1e-10, or to the stall floor of 1e-7 where rounding stops Newton short
    np.testing.assert_allclose(risk_contributions(w, cov), b / b.sum(), rtol=1e-7)


def test_singular_or_bad_covariance_is_an_optimisation_error() -> None:
    with pytest.raises(OptimizationError, match="variance"):
        risk_budgeting(np.diag([1.0, 0.0]))
    with pytest.raises(OptimizationError, match="non-finite"):
        risk_budgeting(np.array([[1.0, np.nan], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="cov has shape"):
        risk_budgeting(np.ones((2, 3)))


def test_policy_target_is_risk_budgeting_of_the_window(synthetic_market: MarketData) -> None:
    """At t: ``risk_budgeting(LW(returns t-LB+1..t), budgets)`` over the tradable assets."""
    t = 300
    budgets = [1.0, 2.0, 1.0, 3.0, 1.0]
    policy = RiskParity(lookback=LB, risk_budgets=budgets)
    w = policy.act(PolicyState.at(synthetic_market, t, np.eye(6)[0]))
    expected = risk_budgeting(_ledoit_wolf_2004(_window(synthetic_market, t, LB)), budgets)
    assert w[0] == 0.0
    np.testing.assert_allclose(w[1:], expected, rtol=1e-9)
    np.testing.assert_allclose(policy.risk_contributions_, np.array(budgets) / 8.0, rtol=1e-9)
    by_name = dict(zip(synthetic_market.assets, budgets, strict=True))
    named = RiskParity(lookback=LB, risk_budgets=by_name)
    np.testing.assert_array_equal(named.act(PolicyState.at(synthetic_market, t, np.eye(6)[0])), w)


def test_budgets_of_assets_not_yet_listed_are_dropped_and_renormalised(
    synthetic_market: MarketData,
) -> None:
    market = synthetic_market[:260]
    prices = np.array(market.prices)
    prices[:220, 0] = np.nan  # asset 0 lists at t = 220
    market = market.with_prices(prices)
    policy = RiskParity(lookback=LB, risk_budgets=[5.0, 1.0, 1.0, 2.0, 1.0])
    w = policy.act(PolicyState.at(market, 200, np.eye(6)[0]))
    assert w[1] == 0.0
    np.testing.assert_allclose(policy.risk_contributions_, [0.2, 0.2, 0.4, 0.2], rtol=1e-9)


def test_point_in_time(synthetic_market: MarketData) -> None:
    market = synthetic_market[:260]
    prices = np.array(market.prices)
    prices[221:] *= np.random.default_rng(1).uniform(0.5, 1.5, prices[221:].shape)
    for policy in (
        RiskParity(lookback=LB, rebalance_every=5),
        RiskParity(covariance="garch", lookback=LB),
    ):
        a = run(policy, market, make_panel(market), 150, 250)
        b = run(policy, market.with_prices(prices), make_panel(market), 150, 250)
        np.testing.assert_array_equal(a[: 220 - 150 + 1], b[: 220 - 150 + 1])
        assert not np.array_equal(a, b) and policy.n_fallbacks_ == 0


@pytest.mark.parametrize(
    ("budgets", "match"),
    [
        ([1.0, 0.0, 1.0], "non-positive"),
        ([1.0, -2.0], "non-positive"),
        ([1.0, np.nan], "non-finite"),
        ([[1.0, 2.0]], "shape"),
        ([], "shape"),
        ({"A": 1.0, "B": 0.0}, "non-positive"),
    ],
)
def test_bad_budgets_name_the_parameter(budgets, match: str) -> None:
    with pytest.raises(ValueError, match=f"risk_budgets.*{match}|{match}.*"):
        RiskParity(risk_budgets=budgets)


def test_budgets_of_the_wrong_length_or_names_are_refused(synthetic_market: MarketData) -> None:
    with pytest.raises(ValueError, match="risk_budgets has 3 entries; expected 5"):
        RiskParity(risk_budgets=[1.0, 2.0, 3.0]).fit(synthetic_market)
    with pytest.raises(ValueError, match="risk_budgets has 3 entries; expected 5"):
        RiskParity(lookback=LB, risk_budgets=[1.0, 2.0, 3.0]).act(
            PolicyState.at(synthetic_market, 300, np.eye(6)[0])
        )
    with pytest.raises(ValueError, match="unknown assets \\['ZZZ'\\]"):
        RiskParity(risk_budgets={"ZZZ": 1.0}).fit(synthetic_market)
    with pytest.raises(ValueError, match="tol"):
        RiskParity(tol=0.0)


def test_registered_and_listed() -> None:
    policy = BASELINES.create("risk_parity", lookback=63, covariance="sample")
    assert type(policy) is RiskParity and policy.lookback == 63
    assert BASELINES.entry("risk_parity").label == "Risk parity"
    assert policy.kind == "traditional"
    assert RiskParity(covariance="garch").kind == "ML-enhanced"
