"""The synthetic market's statistics match the process it claims to simulate."""

from __future__ import annotations

import numpy as np
import pytest

from allocgym import make_synthetic_market


@pytest.fixture(scope="module")
def big():
    return make_synthetic_market(
        n_assets=8, n_days=6000, n_regimes=3, seed=7, signal_strength=0.15, persistence=0.98
    )


def _autocorr(x: np.ndarray, lag: int) -> float:
    x = x - x.mean()
    return float((x[lag:] * x[:-lag]).sum() / (x * x).sum())


def test_same_seed_same_market_and_different_seed_differs():
    a = make_synthetic_market(3, 300, seed=1, signal_strength=0.1)
    b = make_synthetic_market(3, 300, seed=1, signal_strength=0.1)
    c = make_synthetic_market(3, 300, seed=2, signal_strength=0.1)
    np.testing.assert_array_equal(a.market.prices, b.market.prices)
    np.testing.assert_array_equal(a.truth.regimes, b.truth.regimes)
    assert not np.array_equal(a.market.prices, c.market.prices)


def test_shapes_and_availability(big):
    m, t = big.market, big.truth
    assert m.prices.shape == (6000, 8) and m.available.all()
    assert t.regimes.shape == (6000,) and set(np.unique(t.regimes)) == {0, 1, 2}
    assert t.volatility.shape == t.expected_returns.shape == (6000, 8)
    np.testing.assert_allclose(t.transition.sum(axis=1), 1.0)


def test_regime_persistence_matches_transition_matrix(big):
    s = big.truth.regimes
    stay = np.mean(s[1:] == s[:-1])
    # 5999 transitions with p = 0.98: binomial sd ~ 0.0018
    assert stay == pytest.approx(0.98, abs=0.01)
    lengths = np.diff(np.flatnonzero(np.diff(s) != 0))
    assert lengths.mean() == pytest.approx(1 / 0.02, rel=0.35)


def test_regimes_are_ordered_calm_to_crisis(big):
    r, s = big.market.returns[1:], big.truth.regimes[1:]
    vols = [np.std(r[s == k]) for k in range(3)]
    assert vols[0] < vols[1] < vols[2]
    corr = [np.corrcoef(r[s == k].T)[np.triu_indices(8, 1)].mean() for k in range(3)]
    assert corr[0] < corr[2]


def test_true_volatility_standardises_returns(big):
    z = (big.market.returns[1:] - big.market.returns[1:].mean()) / big.truth.volatility[1:]
    assert np.std(z) == pytest.approx(1.0, abs=0.05)


def test_volatility_clusters(big):
    # within one regime too (GARCH), not only through regime switches
    z = big.market.returns[1:, 0] / big.truth.volatility[1:, 0]
    r = big.market.returns[1:, 0]
    assert _autocorr(np.abs(r), 1) > 0.1
    assert _autocorr(z**2, 1) < 0.05  # the true volatility explains the clustering
    shuffled = np.random.default_rng(0).permutation(np.abs(r))
    assert _autocorr(np.abs(r), 1) > _autocorr(shuffled, 1) + 0.08


def test_planted_signal_predicts_next_day_return(big):
    s = 0.15
    x = big.truth.signal[:-1].ravel()
    z = (big.market.returns[1:] / big.truth.volatility[1:]).ravel()
    corr = np.corrcoef(x, z)[0, 1]
    # the regime drift adds a little noise to the standardised return
    assert corr == pytest.approx(s / np.sqrt(1 + s**2), abs=0.02)
    # the truth's expected return is the best predictor we know: positive correlation
    mu = big.truth.expected_returns[:-1].ravel()
    r = big.market.returns[1:].ravel()
    assert np.corrcoef(mu, r)[0, 1] > 0.05
    assert np.isnan(big.truth.expected_returns[-1]).all()


def test_no_signal_means_no_predictability():
    sm = make_synthetic_market(8, 6000, seed=3, signal_strength=0.0)
    x = sm.truth.signal[:-1].ravel()
    z = (sm.market.returns[1:] / sm.truth.volatility[1:]).ravel()
    assert abs(np.corrcoef(x, z)[0, 1]) < 0.02


def test_signal_is_known_from_past_prices(big):
    # x_t is an AR(1) of the asset's own standardised shocks up to t: with the true
    # volatility and drift, it is recovered exactly from returns <= t.
    t = big.truth
    phi = 0.9
    mu = t.regime_means[t.regimes][:, None]
    signal_part = np.zeros_like(t.signal)
    signal_part[1:] = 0.15 * t.volatility[1:] * t.signal[:-1]
    e = (big.market.returns - mu - signal_part) / t.volatility
    e[0] = 0.0
    x = np.zeros_like(e)
    for i in range(1, len(e)):
        x[i] = phi * x[i - 1] + np.sqrt(1 - phi**2) * e[i]
    np.testing.assert_allclose(x[200:], t.signal[200:], atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_assets": 0}, r"n_assets=0 is out of range"),
        ({"n_regimes": 9}, r"n_regimes=9 is out of range"),
        ({"persistence": 1.5}, r"persistence=1.5 is out of range"),
        ({"garch_alpha": 0.5, "garch_beta": 0.6}, r"alpha \+ beta < 1"),
        ({"n_days": 2.5}, r"n_days must be an integer"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_synthetic_market(**kwargs)
