from __future__ import annotations

import numpy as np

from allocgym.predictors.evaluate import (
    ewma_variance,
    forward_return,
    regime_accuracy,
    return_forecast_quality,
    volatility_forecast_quality,
)


def test_forward_return(synthetic_market):
    y = forward_return(synthetic_market, 2)
    p = synthetic_market.prices
    np.testing.assert_allclose(y[10], p[12] / p[10] - 1)
    assert np.isnan(y[-2:]).all()


def test_return_quality_perfect_and_reversed_forecasts():
    rng = np.random.default_rng(0)
    y = rng.normal(0, 0.01, size=(300, 8))
    table = return_forecast_quality({"oracle": y, "reversed": -y, "zero": 0 * y}, y)
    assert table.loc["oracle", "hit_rate"] == 1.0 and table.loc["oracle", "binom_p"] < 1e-100
    np.testing.assert_allclose(table.loc["oracle", "ic"], 1.0)
    assert table.loc["reversed", "hit_rate"] == 0.0 and table.loc["reversed", "ic"] < -0.99
    assert table.loc["oracle", "mae"] == 0.0
    np.testing.assert_allclose(table.loc["zero", "mae"], np.abs(y).mean())
    assert np.isnan(table.loc["zero", "hit_rate"])  # no direction
    assert (table["n"] == y.size).all()


def test_qlike_prefers_the_true_variance():
    rng = np.random.default_rng(1)
    var = np.exp(rng.normal(-9, 0.5, size=(5000, 3)))
    r2 = var * rng.standard_normal(var.shape) ** 2
    table = volatility_forecast_quality({"true": var, "flat": np.full_like(var, var.mean())}, r2)
    assert table.loc["true", "qlike"] < table.loc["flat", "qlike"]


def test_ewma_variance_recursion():
    r = np.array([[np.nan], [0.01], [0.02], [-0.01], [0.03]])
    out = ewma_variance(r, lam=0.9, warmup=2)
    s2 = (0.01**2 + 0.02**2) / 2
    s2 = 0.9 * s2 + 0.1 * 0.01**2
    np.testing.assert_allclose(out[3, 0], s2)
    np.testing.assert_allclose(out[4, 0], 0.9 * s2 + 0.1 * 0.03**2)
    assert np.isnan(out[:3]).all()


def test_regime_accuracy_ignores_missing_rows():
    probs = np.array([[np.nan, np.nan], [0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert regime_accuracy(probs, np.array([1, 0, 1, 1])) == 2 / 3
