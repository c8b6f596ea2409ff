from __future__ import annotations

import warnings

import numpy as np
import pytest
from arch import arch_model

from allocgym.predictors import GarchConfig
from allocgym.predictors import garch as garch_module
from allocgym.predictors.garch import GarchFallbackWarning, GarchVolatility
from tests.predictors.conftest import (
    assert_schedule_point_in_time,
    first_assets,
    perturb_after,
)

UNTIL, STOP = 599, 800


def _arch_reference(market, model: GarchVolatility, i: int, kind: str, horizon: int):
    """Forecasts of ``arch`` itself with the same fixed parameters (filtered forward)."""
    r = np.asarray(market.returns[1:STOP, i]) * 100
    vol = "EGARCH" if kind == "egarch" else "GARCH"
    am = arch_model(r, mean="Constant", vol=vol, p=1, o=0 if kind == "garch" else 1, q=1, dist="t")
    names = ["mu", "omega", "alpha"] + ([] if kind == "garch" else ["gamma"]) + ["beta"]
    params = np.array([model.params_[k][i] for k in names] + [8.0])
    fc = am.fix(params).forecast(horizon=horizon, start=UNTIL - 1, reindex=False)
    return fc.variance.values[1:]  # rows UNTIL+1 .. STOP-1 of the market


@pytest.mark.parametrize("kind", ["garch", "gjr", "egarch"])
def test_filter_matches_arch_with_fixed_parameters(synthetic_market, kind):
    cfg = GarchConfig(kind=kind, horizon=5, min_obs=100)
    model = GarchVolatility(cfg).fit(synthetic_market, until=UNTIL)
    out = model.predict(synthetic_market, UNTIL + 1, STOP)
    assert out.shape == (STOP - UNTIL - 1, synthetic_market.n_assets, 2)
    assert model.n_fallbacks_ == 0
    ref = _arch_reference(synthetic_market, model, 2, kind, 1 if kind == "egarch" else 5)
    np.testing.assert_allclose(out[:, 2, 0], np.sqrt(ref[:, 0]) / 100, rtol=1e-9)
    if kind != "egarch":  # arch has no analytic multi-step EGARCH forecast
        np.testing.assert_allclose(out[:, 2, 1], np.sqrt(ref.mean(axis=1)) / 100, rtol=1e-9)


def test_volatility_tracks_the_true_volatility(synthetic):
    model = GarchVolatility(GarchConfig(min_obs=100)).fit(synthetic.market, until=UNTIL)
    out = model.predict(synthetic.market, UNTIL + 1, STOP - 1)
    true_next = synthetic.truth.volatility[UNTIL + 2 : STOP]
    corr = np.corrcoef(np.log(out[:, :, 0]).ravel(), np.log(true_next).ravel())[0, 1]
    assert corr > 0.5


def test_fallback_to_ewma_is_counted_and_warned(synthetic_market, monkeypatch):
    def failing_fit(*args, **kwargs):
        raise RuntimeError("optimizer exploded")

    monkeypatch.setattr(garch_module, "_fit_arch", failing_fit)
    with pytest.warns(GarchFallbackWarning, match="EWMA"):
        model = GarchVolatility(GarchConfig(min_obs=100)).fit(synthetic_market, until=UNTIL)
    assert model.n_fallbacks_ == synthetic_market.n_assets and model.fallback_.all()
    out = model.predict(synthetic_market, UNTIL + 1, STOP)
    # Reference: RiskMetrics recursion started from the mean square of the training returns.
    r = np.asarray(synthetic_market.returns[1:STOP, 0]) * 100
    s2 = np.mean(r[:UNTIL] ** 2)
    path = []
    for x in r:
        s2 = 0.94 * s2 + 0.06 * x * x
        path.append(s2)
    np.testing.assert_allclose(out[:, 0, 0], np.sqrt(path[UNTIL:]) / 100, rtol=1e-10)
    np.testing.assert_allclose(out[:, 0, 0], out[:, 0, 1], rtol=1e-14)  # EWMA: flat term


def test_non_converged_fit_falls_back(synthetic_market, monkeypatch):
    real = garch_module._fit_arch

    def not_converged(*args, **kwargs):
        res = real(*args, **kwargs)
        return type("R", (), {**{k: getattr(res, k) for k in ("params", "resid",
                    "conditional_volatility")}, "convergence_flag": 4})()  # fmt: skip

    monkeypatch.setattr(garch_module, "_fit_arch", not_converged)
    with pytest.warns(GarchFallbackWarning):
        model = GarchVolatility(GarchConfig(min_obs=100)).fit(synthetic_market, until=UNTIL)
    assert model.n_fallbacks_ == synthetic_market.n_assets


def test_short_history_is_nan_and_predict_is_out_of_sample(synthetic_market):
    prices = np.array(synthetic_market.prices)
    prices[:500, 1] = np.nan
    market = synthetic_market.with_prices(prices)
    model = GarchVolatility(GarchConfig(min_obs=200)).fit(market, until=UNTIL)
    out = model.predict(market, UNTIL + 1, STOP)
    assert np.isnan(out[:, 1]).all() and np.isfinite(out[:, 0]).all()
    with pytest.raises(ValueError, match="out of sample"):
        model.predict(market, UNTIL, STOP)


@pytest.mark.filterwarnings("ignore::allocgym.predictors.garch.GarchFallbackWarning")
@pytest.mark.parametrize("which", ["synthetic", "embedded"])
def test_point_in_time(which, synthetic_market, embedded_slice):
    market = synthetic_market if which == "synthetic" else first_assets(embedded_slice)
    t = 530
    base, changed = perturb_after(market, t)

    assert_schedule_point_in_time(
        lambda: GarchVolatility(GarchConfig(min_obs=100)), base, changed, t
    )


def test_stale_prices_are_floored(synthetic_market):
    # Asset 0 trades only one day in ten (zero returns otherwise), like thin early data.
    prices = np.array(synthetic_market.prices)
    stale = np.arange(len(prices)) % 10 != 0
    for t in np.flatnonzero(stale)[1:]:
        prices[t, 0] = prices[t - 1, 0]
    market = synthetic_market.with_prices(prices)
    cfg = GarchConfig(min_obs=100, variance_floor=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GarchFallbackWarning)
        model = GarchVolatility(cfg).fit(market, until=UNTIL)
    out = model.predict(market, UNTIL + 1, STOP)
    r = np.asarray(market.returns[1 : UNTIL + 1, 0]) * 100
    floor = 0.05 * np.mean(r**2)
    np.testing.assert_allclose(model.floor_[0], floor)
    assert (out[:, 0, 0] ** 2 * 1e4 >= floor * (1 - 1e-12)).all()
    assert (out[:, 0, 0] ** 2 * 1e4 <= floor * (1 + 1e-12)).any()  # the floor binds
