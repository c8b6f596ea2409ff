"""RegimeCovariance: the mixture formula, shrinkage, fallbacks, errors, use by the baselines."""

from __future__ import annotations

import numpy as np
import pytest

import allocgym
from allocgym.baselines import (
    BlackLitterman,
    LedoitWolfCovariance,
    MinVariance,
    RegimeCovariance,
    get_covariance,
)
from allocgym.exceptions import ConfigError
from allocgym.policy import PolicyState
from tests.helpers import regime_panel


@pytest.fixture(scope="module")
def syn():
    return allocgym.make_synthetic_market(
        n_assets=4, n_days=600, n_regimes=2, seed=11, separation=3.0
    )


def _state(market, probs, t):
    return PolicyState.at(market, t, np.full(market.n_assets + 1, 0.2), regime_panel(market, probs))


def _window(market, t, lookback):
    return np.asarray(market.returns[1 : t + 1][-lookback:], dtype=np.float64)


def test_mixture_of_regime_moments(syn):
    market, truth = syn.market, syn.truth.regimes
    t, lb = 499, 300
    onehot = np.eye(2)[truth].astype(np.float64)
    x = _window(market, t, lb)
    est = RegimeCovariance(prior_obs=0.0)
    for pi in ([0.3, 0.7], [1.0, 0.0]):
        probs = _at(onehot, t, pi)  # the probabilities at t weight the regimes
        mu, cov = est.moments(x, _state(market, probs, t), np.arange(4))
        # reference: the panel stores float32; the window's last row is weighted by pi too
        w = probs[t - lb + 1 : t + 1].astype(np.float32).astype(np.float64)
        pi_t = w[-1] / w[-1].sum()
        mus = [w[:, j] @ x / w[:, j].sum() for j in (0, 1)]
        covs = [((x - mus[j]) * w[:, j, None]).T @ (x - mus[j]) / w[:, j].sum() for j in (0, 1)]
        mu_ref = sum(pi_t[j] * mus[j] for j in (0, 1))
        cov_ref = sum(pi_t[j] * (covs[j] + np.outer(mus[j], mus[j])) for j in (0, 1))
        cov_ref = cov_ref - np.outer(mu_ref, mu_ref)
        np.testing.assert_allclose(mu, mu_ref, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(cov, cov_ref, rtol=1e-10, atol=1e-15)
    # the crisis regime's covariance is larger than the calm one's
    calm = est.estimate(x, _state(market, _at(onehot, t, [1.0, 0.0]), t), np.arange(4))
    crisis = est.estimate(x, _state(market, _at(onehot, t, [0.0, 1.0]), t), np.arange(4))
    assert (np.diag(crisis) > 1.5 * np.diag(calm)).all()
    assert np.linalg.eigvalsh(cov).min() > 0


def _at(probs, t, pi):
    out = probs.copy()
    out[t] = pi
    return out


def test_constant_probabilities_give_the_pooled_moments(syn):
    market, t = syn.market, 400
    x = _window(market, t, 200)
    probs = np.tile([0.25, 0.75], (market.n_dates, 1))
    mu, cov = RegimeCovariance(prior_obs=0.0).moments(x, _state(market, probs, t), np.arange(4))
    np.testing.assert_allclose(mu, x.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False, ddof=0), rtol=1e-9, atol=1e-15)
    # shrinkage moves each regime towards Ledoit-Wolf; with c -> infinity it is Ledoit-Wolf
    lw = LedoitWolfCovariance().estimate(x, None, np.arange(4))
    far = RegimeCovariance(prior_obs=1e12).estimate(x, _state(market, probs, t), np.arange(4))
    np.testing.assert_allclose(far, lw, rtol=1e-6)


def test_missing_probabilities_fall_back_to_ledoit_wolf(syn):
    market, t = syn.market, 300
    x = _window(market, t, 100)
    probs = np.full((market.n_dates, 2), np.nan)
    probs[290:] = 0.5  # only 11 window rows known: fewer than min_rows
    mu, cov = RegimeCovariance().moments(x, _state(market, probs, t), np.arange(4))
    np.testing.assert_array_equal(cov, LedoitWolfCovariance().estimate(x, None, np.arange(4)))
    np.testing.assert_array_equal(mu, x.mean(axis=0))


def test_no_regime_features_is_a_config_error(syn):
    market, t = syn.market, 300
    state = PolicyState.at(market, t, np.full(5, 0.2))
    with pytest.raises(ConfigError, match="covariance='regime' needs the regime probabilities"):
        RegimeCovariance().estimate(_window(market, t, 100), state, np.arange(4))
    with pytest.raises(ValueError, match="prior_obs=-1"):
        RegimeCovariance(prior_obs=-1)


def test_usable_by_name_in_the_baselines(syn):
    market, truth = syn.market, syn.truth.regimes
    assert isinstance(get_covariance("regime"), RegimeCovariance)
    panel = regime_panel(market, np.eye(2)[truth])
    for policy in (
        MinVariance(lookback=120, covariance="regime"),
        BlackLitterman(views="none", lookback=120, covariance="regime"),
    ):
        w = policy.act(PolicyState.at(market, 450, np.full(5, 0.2), panel))
        assert policy.n_fallbacks_ == 0 and np.isclose(w.sum(), 1.0) and (w >= -1e-12).all()
    assert MinVariance(covariance="regime").kind == "ML-enhanced"
    assert BlackLitterman(views="none", covariance="regime").kind == "ML-enhanced"
