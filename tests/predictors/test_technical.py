from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocgym.data import MarketData
from allocgym.predictors import TechnicalFeatures
from tests.predictors.conftest import assert_identical_until, perturb_after


def _market(prices: np.ndarray, volume: np.ndarray | None = None) -> MarketData:
    prices = np.asarray(prices, dtype=float)
    if prices.ndim == 1:
        prices = prices[:, None]
    dates = pd.bdate_range("2020-01-01", periods=len(prices))
    assets = tuple(f"A{i}" for i in range(prices.shape[1]))
    return MarketData.from_prices(prices, dates, assets, volume=volume)


def _feature(market: MarketData, name: str) -> np.ndarray:
    tech = TechnicalFeatures().fit(market)
    return tech.transform(market)[:, :, tech.feature_names_.index(name)]


def test_feature_names_and_shape(synthetic_market):
    tech = TechnicalFeatures().fit(synthetic_market)
    out = tech.transform(synthetic_market)
    assert out.shape == (synthetic_market.n_dates, synthetic_market.n_assets, 15)
    assert tech.feature_names_[:4] == ("rsi_14", "macd", "macd_signal", "bollinger_pb")
    assert "volume_ratio" not in tech.feature_names_


def test_reference_values_against_plain_loops():
    rng = np.random.default_rng(3)
    p = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 300)))
    m = _market(p)
    t = 260
    np.testing.assert_allclose(
        _feature(m, "ma_ratio_50")[t, 0], p[t] / p[t - 49 : t + 1].mean() - 1
    )
    np.testing.assert_allclose(
        _feature(m, "ma_ratio_200")[t, 0], p[t] / p[t - 199 : t + 1].mean() - 1
    )
    np.testing.assert_allclose(_feature(m, "mom_21")[t, 0], p[t] / p[t - 21] - 1)
    r = np.log(p[1:] / p[:-1])
    np.testing.assert_allclose(_feature(m, "rvol_21")[t, 0], np.std(r[t - 21 : t], ddof=1))
    w = p[t - 19 : t + 1]
    pb = (p[t] - (w.mean() - 2 * w.std())) / (4 * w.std())
    np.testing.assert_allclose(_feature(m, "bollinger_pb")[t, 0], pb)


def test_rsi_reference_and_bounds():
    # Wilder smoothing by hand: seed with the first value, then avg = avg + (x - avg) / 14.
    rng = np.random.default_rng(4)
    p = 100 + np.cumsum(rng.normal(0, 1, 120))
    d = np.diff(p)
    g, lo = np.clip(d, 0, None), np.clip(-d, 0, None)
    ag, al = g[0], lo[0]
    for i in range(1, len(d)):
        ag += (g[i] - ag) / 14
        al += (lo[i] - al) / 14
    rsi = _feature(_market(p), "rsi_14")[:, 0]
    np.testing.assert_allclose(rsi[-1], ag / (ag + al))
    assert np.isnan(rsi[:14]).all() and np.isfinite(rsi[14:]).all()
    assert _feature(_market(np.linspace(10, 20, 60)), "rsi_14")[-1, 0] == 1.0
    assert _feature(_market(np.full(60, 10.0)), "rsi_14")[-1, 0] == 0.5


def test_macd_is_relative_to_price():
    p = np.linspace(10, 30, 200)
    a, b = _feature(_market(p), "macd"), _feature(_market(3 * p), "macd")
    np.testing.assert_allclose(a[50:], b[50:])
    assert (a[50:] > 0).all()  # rising price: short EMA above long EMA
    assert np.isnan(a[:25]).all()


def test_nan_before_first_price_and_in_warmup():
    p = np.full((300, 2), np.nan)
    p[:, 0] = np.linspace(10, 20, 300)
    p[100:, 1] = np.linspace(5, 6, 200)
    tech = TechnicalFeatures().fit(_market(p))
    out = tech.transform(_market(p))
    assert np.isnan(out[:100, 1]).all()
    k = tech.feature_names_.index("mom_5")
    assert np.isnan(out[100:105, 1, k]).all() and np.isfinite(out[105:, 1, k]).all()
    assert np.isfinite(out[250:, 0]).all()


def test_volume_ratio_when_volume_exists():
    n = 60
    vol = np.full((n, 1), 1000.0)
    vol[-1] = 2000.0
    m = _market(np.linspace(10, 11, n), volume=vol)
    tech = TechnicalFeatures().fit(m)
    assert tech.feature_names_[-1] == "volume_ratio"
    np.testing.assert_allclose(tech.transform(m)[-1, 0, -1], 2000 / (19_000 / 20 + 100) - 1)
    assert "volume_ratio" not in TechnicalFeatures(volume=False).fit(m).feature_names_


@pytest.mark.parametrize("which", ["synthetic", "embedded"])
def test_point_in_time(which, synthetic_market, embedded_slice):
    market = synthetic_market if which == "synthetic" else embedded_slice
    for t in (250, 600):
        base, changed = perturb_after(market, t)
        a = TechnicalFeatures().transform(base)
        b = TechnicalFeatures().transform(changed)
        assert_identical_until(a, b, t)
        assert not np.allclose(a[t + 1 :], b[t + 1 :], equal_nan=True)


def test_predict_slices_rows(synthetic_market):
    tech = TechnicalFeatures().fit(synthetic_market, until=99)
    full = tech.transform(synthetic_market)
    np.testing.assert_array_equal(tech.predict(synthetic_market, 100, 150), full[100:150])
