"""Monte Carlo scenarios: seeded, point in time, and matching the fitted models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocgym.data import MarketData
from allocgym.envs.costs import CostModel
from allocgym.exceptions import DataError
from allocgym.risk.scenario_risk import evaluate_scenarios, expected_shortfall, value_at_risk
from allocgym.risk.scenarios import ScenarioModel, bootstrap_indices, regime_paths

DATE = "2002-06-28"  # row ~650 of the 800-day synthetic market (2000-2003)


@pytest.fixture(scope="module")
def model(synthetic_market):
    return ScenarioModel(train_window=600).fit(synthetic_market, DATE)


@pytest.fixture(scope="module")
def big(model):
    """Many paths, for the moment checks."""
    return model.simulate(4000, 30, seed=7)


def _weights(assets, rows: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, index=["cash", *assets]).T


# ---------------------------------------------------------------- reproducible
def test_same_seed_same_arrays_other_seed_other_arrays(model):
    a, b, c = (
        model.simulate(200, 10, seed=1),
        model.simulate(200, 10, seed=1),
        model.simulate(200, 10, seed=2),
    )
    for name in ("returns", "volatility", "regimes", "rows"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.returns, c.returns)
    assert a.returns.shape == (200, 10, 5)


def test_point_in_time_prices_after_the_date_do_not_matter(synthetic_market, model):
    frame = synthetic_market.to_frame()
    after = frame.index > DATE
    rng = np.random.default_rng(0)
    frame.loc[after] = frame.loc[after] * rng.uniform(0.5, 1.5, size=frame.loc[after].shape)
    changed = MarketData.from_prices(frame)
    other = ScenarioModel(train_window=600).fit(changed, DATE)
    for name in ("residuals_", "residual_regime_", "transmat_", "start_prob_", "next_var_",
                 "regime_means_", "regime_covs_"):  # fmt: skip
        np.testing.assert_array_equal(getattr(other, name), getattr(model, name))
    np.testing.assert_array_equal(
        other.simulate(50, 5, seed=3).returns, model.simulate(50, 5, seed=3).returns
    )
    assert model.date_ == pd.Timestamp(DATE)


# ---------------------------------------------------------------- fast path = plain loops
def _regimes_reference(start, trans, u):
    out = np.empty((u.shape[0], u.shape[1] - 1), dtype=int)
    for p in range(u.shape[0]):
        s = int(np.searchsorted(np.cumsum(start), u[p, 0], side="right"))
        for h in range(1, u.shape[1]):
            s = min(
                int(np.searchsorted(np.cumsum(trans[s]), u[p, h], side="right")), len(start) - 1
            )
            out[p, h - 1] = s
    return out


def _bootstrap_reference(regimes, pools, block, u_restart, u_pick):
    out = np.empty(regimes.shape, dtype=int)
    for p in range(regimes.shape[0]):
        pos = 0
        for h in range(regimes.shape[1]):
            k = regimes[p, h]
            pool = pools[k]
            if h == 0 or k != regimes[p, h - 1] or u_restart[p, h] < 1 / block:
                pos = int(u_pick[p, h] * len(pool))
            else:
                pos = (pos + 1) % len(pool)
            out[p, h] = pool[pos]
    return out


def test_vectorised_draws_equal_plain_loops():
    rng = np.random.default_rng(0)
    trans = np.array([[0.9, 0.08, 0.02], [0.1, 0.85, 0.05], [0.05, 0.25, 0.7]])
    start = np.array([0.5, 0.3, 0.2])
    u = rng.random((300, 16))
    regimes = regime_paths(start, trans, u)
    np.testing.assert_array_equal(regimes, _regimes_reference(start, trans, u))
    pools = [np.arange(0, 40), np.arange(40, 70), np.array([70, 75, 80])]
    ur, up = rng.random((2, 300, 15))
    np.testing.assert_array_equal(bootstrap_indices(regimes, pools, 4.0, ur, up),
                                  _bootstrap_reference(regimes, pools, 4.0, ur, up))  # fmt: skip


# ---------------------------------------------------------------- the fitted models' moments
def test_regime_persistence_matches_the_transition_matrix(model, big):
    """Transition frequencies within 4 binomial standard errors of the matrix."""
    a = model.transmat_
    prev, nxt = big.regimes[:, :-1].ravel(), big.regimes[:, 1:].ravel()
    checked = 0
    for k in range(len(a)):
        n = int((prev == k).sum())
        if n < 500:
            continue
        checked += 1
        for j in range(len(a)):
            freq = ((prev == k) & (nxt == j)).sum() / n
            se = np.sqrt(a[k, j] * (1 - a[k, j]) / n)
            assert abs(freq - a[k, j]) <= 4 * se + 1e-9, (k, j)
    assert checked >= 2  # the fixture visits several regimes
    # day 1's regime: p(s_d) A
    first = model.start_prob_ @ a
    freq = np.bincount(big.regimes[:, 0], minlength=len(a)) / big.n_paths
    np.testing.assert_allclose(freq, first, atol=4 * np.sqrt(0.25 / big.n_paths))


def test_residuals_drawn_in_a_regime_have_its_moments(model, big):
    """Per regime, the mean and std of the drawn residual vectors match the regime's
    pool within 5 standard errors (effective sample size: draws / (2 x block length),
    for the dependence within blocks)."""
    z = (100 * big.returns - model.garch_.params_["mu"]) / (100 * big.volatility)
    np.testing.assert_allclose(z, model.residuals_[big.rows], rtol=1e-9, atol=1e-9)
    checked = 0
    for k, pool in enumerate(model.pools_):
        drawn = z[big.regimes == k]
        if len(drawn) < 2000:
            continue
        checked += 1
        ref = model.residuals_[pool]
        n_eff = len(drawn) / (2 * model.block_length)
        se = ref.std(axis=0) / np.sqrt(n_eff)
        assert np.all(np.abs(drawn.mean(axis=0) - ref.mean(axis=0)) <= 5 * se), k
        np.testing.assert_allclose(drawn.std(axis=0), ref.std(axis=0), rtol=0.15)
    assert checked >= 2


def test_volatility_follows_the_garch_recursion(model, big):
    p = model.garch_.params_
    assert model.garch_.config is None  # the default: GARCH(1,1), no asymmetry
    np.testing.assert_allclose(
        big.volatility[:, 0], np.broadcast_to(np.sqrt(model.next_var_) / 100, (big.n_paths, 5))
    )
    s2 = (100 * big.volatility) ** 2
    e = 100 * big.returns - p["mu"]
    expected = np.fmax(
        p["omega"] + p["alpha"] * e[:, :-1] ** 2 + p["beta"] * s2[:, :-1], model.garch_.floor_
    )
    np.testing.assert_allclose(s2[:, 1:], expected, rtol=1e-10)
    g = model.garch_
    one_step = p["omega"] + p["alpha"] * g.last_resid_**2 + p["beta"] * g.last_var_
    np.testing.assert_allclose(model.next_var_, np.fmax(one_step, g.floor_))


def test_one_day_volatility_matches_the_model(model, big):
    """Std of day-1 returns = GARCH forecast x std of the regime-mixed residuals."""
    first = model.start_prob_ @ model.transmat_
    z = model.residuals_
    mix_mean = sum(f * z[p].mean(axis=0) for f, p in zip(first, model.pools_, strict=True))
    mix_sq = sum(f * (z[p] ** 2).mean(axis=0) for f, p in zip(first, model.pools_, strict=True))
    expected = np.sqrt(model.next_var_) / 100 * np.sqrt(mix_sq - mix_mean**2)
    np.testing.assert_allclose(big.returns[:, 0].std(axis=0), expected, rtol=0.1)


# ---------------------------------------------------------------- policies through scenarios
def test_hold_and_constant_mix_equal_hand_computations(model):
    sc = model.simulate(300, 8, seed=4)
    n = len(sc.assets)
    w = _weights(sc.assets, {"1/N": [0.0] + [1 / n] * n, "half cash": [0.5] + [0.5 / n] * n})
    held = evaluate_scenarios(sc, w)
    growth = 1 + sc.returns
    hand = (np.cumprod(growth, axis=1) * np.array([1 / n] * n)).sum(axis=-1)
    np.testing.assert_allclose(held.wealth["1/N"][:, 1:], hand, rtol=1e-12)
    np.testing.assert_allclose(held.table.loc["1/N", "mean"], (hand[:, -1] - 1).mean(), rtol=1e-12)
    assert held.table["mean_cost"].eq(0).all()
    # constant mix without costs: the compounded portfolio return (SPEC invariant 2)
    cm = evaluate_scenarios(sc, w, mode="constant_mix", cost_model=CostModel(0.0))
    compounded = np.cumprod(1 + 0.5 * sc.returns.mean(axis=-1), axis=1)
    np.testing.assert_allclose(cm.wealth["half cash"][:, 1:], compounded, rtol=1e-12)
    costly = evaluate_scenarios(sc, w, mode="constant_mix", cost_model=CostModel(10.0))
    assert (costly.table["mean_cost"] > 0).all()
    assert (costly.wealth["1/N"][:, -1] < cm.wealth["1/N"][:, -1]).all()


def test_risk_figures_by_hand():
    r = np.arange(1, 101) / 100.0 - 0.5  # -0.49 .. 0.50, shuffled below
    r = np.random.default_rng(0).permutation(r)
    # k = ceil(0.05 * 100) = 5 worst: -0.49 .. -0.45; VaR is the 5th worst loss
    assert value_at_risk(r, 0.95) == pytest.approx(0.45)
    assert expected_shortfall(r, 0.95) == pytest.approx(0.47)
    assert value_at_risk(r, 0.99) == pytest.approx(0.49)  # k = 1
    assert expected_shortfall(r, 0.99) == pytest.approx(0.49)


def test_drawdown_probability_and_worst_paths(model):
    sc = model.simulate(400, 10, seed=5)
    w = _weights(sc.assets, {"all in one": [0.0, 1.0] + [0.0] * (len(sc.assets) - 1)})
    risk = evaluate_scenarios(sc, w, drawdown=0.02)
    wealth = np.cumprod(1 + sc.returns[:, :, 0], axis=1)
    full = np.concatenate((np.ones((400, 1)), wealth), axis=1)
    mdd = (full / np.maximum.accumulate(full, axis=1) - 1).min(axis=1)
    row = risk.table.loc["all in one"]
    assert row["p_drawdown"] == pytest.approx((mdd < -0.02).mean())
    worst = np.sort(wealth[:, -1] - 1)[:20]
    assert row["worst5_return"] == pytest.approx(worst.mean())
    assert row["worst_return"] == pytest.approx(worst[0])


# ---------------------------------------------------------------- errors
def test_errors(model, synthetic_market):
    with pytest.raises(ValueError, match="horizon=0 is invalid"):
        model.simulate(10, 0)
    with pytest.raises(ValueError, match="paths=-1 is invalid"):
        model.simulate(-1, 5)
    with pytest.raises(DataError, match="date 2010-01-04 is outside the data"):
        ScenarioModel().fit(synthetic_market, "2010-01-04")
    with pytest.raises(DataError, match="outside the data"):
        ScenarioModel().fit(synthetic_market, "1999-01-04")
    sc = model.simulate(20, 3, seed=0)
    w = _weights(sc.assets, {"x": [1.0] + [0.0] * len(sc.assets)})
    for level in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=f"confidence level {level!r} is invalid"):
            evaluate_scenarios(sc, w, levels=(level,))
        with pytest.raises(ValueError, match="confidence level"):
            value_at_risk(np.zeros(5), level)
    with pytest.raises(ValueError, match=r"drawdown=1\.5 is invalid"):
        evaluate_scenarios(sc, w, drawdown=1.5)
    with pytest.raises(ValueError, match="mode='daily' is invalid"):
        evaluate_scenarios(sc, w, mode="daily")
    with pytest.raises(ValueError, match="no column for"):
        evaluate_scenarios(sc, w.drop(columns=sc.assets[0]))
    with pytest.raises(RuntimeError, match="fit"):
        ScenarioModel().simulate()
