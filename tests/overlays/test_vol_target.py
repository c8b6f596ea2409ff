"""VolatilityTarget and the risk profiles: the scaled forecast volatility is the target."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.covariance import ledoit_wolf

from allocgym.baselines import EqualWeight
from allocgym.overlays import OVERLAYS, RISK_PROFILES, VolatilityTarget, risk_profile
from allocgym.policy import PolicyState
from tests.overlays._helpers import Scripted, drive, market, panel

GARCH = ("garch_vol", "garch_vol_21d")  # what the GARCH predictor makes
SIGMA = np.array([0.0078125, 0.01171875, 0.015625])  # daily forecasts, exact in float32
T = 200


@pytest.fixture(scope="module")
def mkt():
    return market(260, n_assets=3)


@pytest.fixture(scope="module")
def features(mkt):
    return panel(mkt, vol=np.broadcast_to(SIGMA, (mkt.n_dates, 3)), vol_name=GARCH)


def _forecast(mkt, w, lookback=252):
    """Independent forecast: GARCH vols and the Ledoit-Wolf correlation of the window."""
    window = mkt.returns[1 : T + 1][-lookback:]
    cov = ledoit_wolf(window)[0]
    sd = np.sqrt(np.diag(cov))
    x = w[1:] * SIGMA
    return float(np.sqrt(252 * x @ (cov / np.outer(sd, sd)) @ x))


def _act(overlay, mkt, features, weights=(1.0, 0.0, 0.0, 0.0)):
    return overlay.act(PolicyState.at(mkt, T, np.array(weights), features))


@pytest.mark.parametrize("target", [0.05, 0.08, 0.11])
def test_scaled_forecast_volatility_equals_the_target(mkt, features, target):
    ov = VolatilityTarget(EqualWeight(), target=target, high_vol=None, low_vol=None)
    w = _act(ov, mkt, features)
    assert _forecast(mkt, w) == pytest.approx(target, rel=1e-12)
    assert w[0] == pytest.approx(1 - w[1:].sum()) and w[0] > 0  # the rest in cash
    np.testing.assert_allclose(w[1:] / w[1:].sum(), 1 / 3)  # the mix is the policy's
    ((_, forecast, tau, scale),) = ov.scales_
    assert tau == target and scale == pytest.approx(target / forecast, rel=1e-12)


def test_no_leverage_a_high_target_leaves_the_policy_fully_invested(mkt, features):
    ov = VolatilityTarget(EqualWeight(), target=0.9, high_vol=None, low_vol=None)
    w = _act(ov, mkt, features)
    np.testing.assert_allclose(w, [0, 1 / 3, 1 / 3, 1 / 3], atol=1e-15)


def test_cash_of_the_policy_is_kept_and_gross_exposure_capped(mkt, features):
    inner = Scripted(lambda t: np.array([0.5, 0.5, 0.0, 0.0]))
    w = _act(VolatilityTarget(inner, target=0.9, high_vol=None, low_vol=None), mkt, features)
    np.testing.assert_allclose(w, [0.0, 1.0, 0.0, 0.0])  # scaled up to gross 1, not beyond


def test_regime_dependent_target(mkt, features):
    base = VolatilityTarget(EqualWeight(), target=0.05, high_vol=None, low_vol=None)
    forecast = _forecast(mkt, _act(base, mkt, features)) / base.scales_[0][3]
    high = VolatilityTarget(EqualWeight(), target=0.05, high_vol=forecast * 0.99)
    low = VolatilityTarget(EqualWeight(), target=0.05, high_vol=None, low_vol=forecast * 1.01)
    assert _forecast(mkt, _act(high, mkt, features)) == pytest.approx(0.04, rel=1e-12)
    assert _forecast(mkt, _act(low, mkt, features)) == pytest.approx(0.06, rel=1e-12)
    assert high.regimes_["high"] == low.regimes_["low"] == 1
    assert high.regime_target(0.3) == ("high", pytest.approx(0.04))


def test_missing_forecast_falls_back_to_sample_volatility(mkt):
    vol = np.full((mkt.n_dates, 3), np.nan)
    ov = VolatilityTarget(EqualWeight(), target=0.05, vol_feature="garch_vol_21d",
                          high_vol=None, low_vol=None)  # fmt: skip
    w = _act(ov, mkt, panel(mkt, vol=vol, vol_name=GARCH))
    assert ov.n_vol_fallbacks_ == 3
    window = mkt.returns[1 : T + 1]
    cov = ledoit_wolf(window)[0]
    sd, sample = np.sqrt(np.diag(cov)), window.std(axis=0, ddof=1)
    x = w[1:] * sample
    assert np.sqrt(252 * x @ (cov / np.outer(sd, sd)) @ x) == pytest.approx(0.05, rel=1e-12)


def test_holds_between_decisions_and_runs_in_the_env(mkt, features):
    ov = VolatilityTarget(EqualWeight(rebalance_every=21), target=0.08)
    held, targets = drive(ov, mkt, features, 40, cost_bps=10.0)
    traded = [not np.array_equal(h, w) for h, w in zip(held, targets, strict=True)]
    assert sum(traded) == len(ov.scales_) == -(-(mkt.n_dates - 41) // 21)
    assert all(w[0] > 0 for w in targets)  # cash is a real position
    assert ov.kind == "ML-enhanced"


def test_risk_profiles_are_presets():
    assert RISK_PROFILES == {"conservative": 0.06, "balanced": 0.10, "aggressive": 0.15}
    for name, target in RISK_PROFILES.items():
        made = OVERLAYS.create(name, policy=EqualWeight(), lookback=126)
        assert isinstance(made, VolatilityTarget) and made.target == target
        assert made.lookback == 126
        assert "target" not in OVERLAYS.entry(name).parameters()
    with pytest.raises(ValueError, match=r"target=0\.2 cannot be given"):
        risk_profile(EqualWeight(), "balanced", target=0.2)
    with pytest.raises(ValueError, match="profile='bold'"):
        risk_profile(EqualWeight(), "bold")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target": 0.0}, "target=0.0"),
        ({"target": -0.1}, "target=-0.1"),
        ({"low_vol": 0.3, "high_vol": 0.2}, "low_vol=0.3 >= high_vol=0.2"),
        ({"high_scale": 0}, "high_scale=0"),
        ({"max_leverage": -1}, "max_leverage=-1"),
        ({"vol_feature": ""}, "vol_feature=''"),
    ],
)
def test_errors_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VolatilityTarget(EqualWeight(), **kwargs)
