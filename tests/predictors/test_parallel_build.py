"""``n_jobs`` changes how the panel is built, never what it contains."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import allocgym
from allocgym.data import MarketData
from allocgym.predictors import (
    FeatureConfig,
    GarchConfig,
    LSTMConfig,
    RegimeConfig,
    build_features,
    cache_key,
)
from allocgym.predictors.garch import GarchVolatility

# Two refits (rows 300 and 450) on a 600-day window. Most of a parallel build's time
# is its worker processes starting (importing arch, hmmlearn, torch), so the fast test
# builds GARCH only and the slow one every predictor.
GARCH_ONLY = FeatureConfig(
    garch=GarchConfig(min_obs=100),
    regime=None,
    lstm=None,
    min_train=300,
    refit_every=150,
    train_window=600,
)
EVERY_PREDICTOR = replace(
    GARCH_ONLY,
    regime=RegimeConfig(n_restarts=2, n_iter=30),
    lstm=LSTMConfig(
        window=10, hidden=8, max_epochs=2, batch_size=64, max_samples=512, train_window=300
    ),
)


@pytest.fixture(scope="module")
def market() -> MarketData:
    return allocgym.make_synthetic_market(n_assets=6, n_days=600, seed=3).market


def _assert_same_panel_for_n_jobs(market: MarketData, config: FeatureConfig) -> None:
    serial = build_features(market, config, cache_dir=False, progress=False, n_jobs=1)
    parallel = build_features(market, config, cache_dir=False, progress=False, n_jobs=2)
    assert np.isfinite(serial.values[300:]).all()
    assert np.isfinite(serial.market_values[300:]).all()
    np.testing.assert_array_equal(parallel.values, serial.values)
    np.testing.assert_array_equal(parallel.market_values, serial.market_values)
    np.testing.assert_array_equal(parallel.available, serial.available)
    assert parallel.feature_names == serial.feature_names
    assert parallel.market_feature_names == serial.market_feature_names
    assert parallel.key == serial.key == cache_key(market, config)


def test_garch_panel_is_bit_identical_for_any_n_jobs(market):
    _assert_same_panel_for_n_jobs(market, GARCH_ONLY)


@pytest.mark.slow  # the worker processes import hmmlearn and torch: 15-30 s on two busy cores
def test_panel_of_every_predictor_is_bit_identical_for_any_n_jobs(market):
    _assert_same_panel_for_n_jobs(market, EVERY_PREDICTOR)


def test_garch_params_are_bit_identical_for_any_n_jobs(market):
    serial = GarchVolatility(GarchConfig(min_obs=100)).fit(market, until=449)
    parallel = GarchVolatility(GarchConfig(min_obs=100), n_jobs=2).fit(market, until=449)
    for name, values in serial.params_.items():
        np.testing.assert_array_equal(parallel.params_[name], values, err_msg=name)
    np.testing.assert_array_equal(parallel.last_var_, serial.last_var_)
    np.testing.assert_array_equal(
        parallel.predict(market, 450, 600), serial.predict(market, 450, 600)
    )


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2", None])
def test_bad_n_jobs_is_refused_with_its_value(market, bad):
    error = TypeError if not isinstance(bad, int) or isinstance(bad, bool) else ValueError
    with pytest.raises(error, match=f"n_jobs={bad!r}"):
        build_features(market, "technical", cache_dir=False, progress=False, n_jobs=bad)
    with pytest.raises(error, match=f"n_jobs={bad!r}"):
        GarchVolatility(n_jobs=bad).fit(market, until=449)
