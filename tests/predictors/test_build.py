from __future__ import annotations

import numpy as np
import pytest

import allocgym.predictors.build as build_module
from allocgym.exceptions import AllocgymWarning, ConfigError
from allocgym.predictors import (
    CACHE_ENV_VAR,
    DEFAULT_PRESET,
    PRESETS,
    FeatureConfig,
    FeaturePanel,
    GarchConfig,
    LSTMConfig,
    RegimeConfig,
    build_features,
    cache_key,
    default_cache_dir,
    resolve_config,
)
from tests.predictors.conftest import assert_identical_until, first_assets, perturb_after


def test_technical_preset_panel(synthetic_market):
    panel = build_features(synthetic_market, "technical", cache_dir=False, progress=False)
    assert isinstance(panel, FeaturePanel)
    assert panel.feature_names == (
        "rsi_14", "macd", "macd_signal", "bollinger_pb",
        "ma_ratio_5", "ma_ratio_10", "ma_ratio_20", "ma_ratio_50", "ma_ratio_200",
        "mom_1", "mom_5", "mom_21", "mom_63", "rvol_21", "rvol_63",
    )  # fmt: skip
    assert panel.values.dtype == np.float32
    # the values are the documented formulas: mom_n = p_t / p_{t-n} - 1
    p = np.asarray(synthetic_market.prices)
    np.testing.assert_allclose(panel.feature("mom_5")[250:], p[250:] / p[245:-5] - 1, atol=1e-6)
    assert np.isnan(panel.feature("mom_5")[:5]).all()
    assert panel.values.shape == (synthetic_market.n_dates, synthetic_market.n_assets, 15)
    assert panel.market_values.shape == (synthetic_market.n_dates, 0)
    assert panel.dates.equals(synthetic_market.dates)
    rsi = panel.feature("rsi_14")
    assert np.nanmin(rsi) >= 0 and np.nanmax(rsi) <= 1
    # `available` = asset trades and every per-asset feature is finite.
    expected = synthetic_market.available & np.isfinite(panel.values).all(axis=-1)
    np.testing.assert_array_equal(panel.available, expected)
    assert not panel.available[:199].any() and panel.available[250:].all()


def test_panel_point_in_time_technical(embedded_slice):
    t = 400
    base, changed = perturb_after(embedded_slice, t)
    a = build_features(base, "technical", cache_dir=False, progress=False)
    b = build_features(changed, "technical", cache_dir=False, progress=False)
    assert_identical_until(a.values, b.values, t)
    np.testing.assert_array_equal(a.available[: t + 1], b.available[: t + 1])


def test_cache_hit_returns_identical_arrays(synthetic_market, tmp_path, monkeypatch):
    first = build_features(synthetic_market, "technical", cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("panel-*.npz"))) == 1

    def boom(*args, **kwargs):
        raise AssertionError("the cached panel should have been loaded")

    monkeypatch.setattr(build_module, "_compute", boom)
    second = build_features(synthetic_market, "technical", cache_dir=tmp_path, progress=False)
    assert second.key == first.key != ""
    np.testing.assert_array_equal(second.values, first.values)
    np.testing.assert_array_equal(second.available, first.available)
    np.testing.assert_array_equal(second.market_values, first.market_values)
    assert second.feature_names == first.feature_names
    assert second.dates.equals(first.dates) and second.assets == first.assets


def test_cache_key_depends_on_data_and_config(synthetic_market):
    tech = resolve_config("technical")
    key = cache_key(synthetic_market, tech)
    assert key == cache_key(synthetic_market, resolve_config("technical"))
    _, changed = perturb_after(synthetic_market, synthetic_market.n_dates - 2)
    assert cache_key(changed, tech) != key
    assert (
        cache_key(synthetic_market, FeatureConfig(garch=None, regime=None, lstm=None, seed=1))
        != key
    )
    assert cache_key(synthetic_market[1:], tech) != key


def test_cache_disabled_writes_nothing(synthetic_market, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path))
    assert default_cache_dir() == tmp_path
    build_features(synthetic_market, "technical", cache_dir=False, progress=False)
    assert list(tmp_path.iterdir()) == []
    build_features(synthetic_market, "technical", progress=False)  # default dir from env
    assert len(list(tmp_path.glob("panel-*.npz"))) == 1


def test_corrupt_cache_file_is_rebuilt(synthetic_market, tmp_path):
    panel = build_features(synthetic_market, "technical", cache_dir=tmp_path, progress=False)
    path = tmp_path / f"panel-{panel.key}.npz"
    path.write_bytes(b"not a zip file")
    with pytest.warns(AllocgymWarning, match=str(path.name)):
        again = build_features(synthetic_market, "technical", cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(again.values, panel.values)


def test_config_resolution_and_errors():
    assert resolve_config(DEFAULT_PRESET) is PRESETS["standard"]
    with pytest.raises(TypeError, match=r"config=None names no feature preset.*no features"):
        resolve_config(None)  # None means "no features" everywhere, never a preset
    assert resolve_config("standard").lstm is None and resolve_config("standard").garch
    assert resolve_config({"garch": None, "regime": {"n_states": 2}}).regime.n_states == 2
    with pytest.raises(ConfigError, match="not a feature preset"):
        resolve_config("fast")
    with pytest.raises(ConfigError, match="refit_every=0"):
        FeatureConfig(refit_every=0)
    with pytest.raises(ConfigError, match="unknown keys"):
        resolve_config({"lstm": {"hiden": 3}})
    with pytest.raises(TypeError, match="market must be a MarketData"):
        build_features("prices.csv", "technical", cache_dir=False)


SMALL = FeatureConfig(
    garch=GarchConfig(min_obs=100),
    regime=RegimeConfig(n_restarts=1, n_iter=30),
    lstm=LSTMConfig(
        window=10, hidden=8, max_epochs=1, batch_size=64, max_samples=512, train_window=300
    ),
    min_train=300,
    refit_every=150,
    train_window=400,
)


@pytest.mark.filterwarnings("ignore::allocgym.predictors.garch.GarchFallbackWarning")
@pytest.mark.parametrize("which", ["synthetic", "embedded"])
def test_full_panel_point_in_time(which, synthetic_market, embedded_slice):
    market = first_assets(synthetic_market if which == "synthetic" else embedded_slice)
    t = 520
    base, changed = perturb_after(market, t)
    a = build_features(base, SMALL, cache_dir=False, progress=False)
    b = build_features(changed, SMALL, cache_dir=False, progress=False)
    assert a.feature_names[-3:] == ("garch_vol", "garch_vol_21d", "lstm_forecast")
    assert a.market_feature_names == ("regime_p0", "regime_p1", "regime_p2")
    assert_identical_until(a.values, b.values, t)
    assert_identical_until(a.market_values, b.market_values, t)
    np.testing.assert_array_equal(a.available[: t + 1], b.available[: t + 1])
    # Predictor features are unknown before the first refit, known after it.
    assert np.isnan(a.feature("lstm_forecast")[:300]).all()
    assert np.isnan(a.market_values[:300]).all() and np.isfinite(a.market_values[300:]).all()
    assert a.available[300:].all() and not a.available[:300].any()
    assert a.diagnostics["refits"] == len(range(300, market.n_dates, 150))
    assert a.diagnostics["garch_fallbacks"] == 0  # clean data: every GARCH fit is kept
    assert not np.allclose(a.values[t + 1 :], b.values[t + 1 :])


def test_too_short_market_warns_and_leaves_predictors_nan(synthetic_market):
    short = synthetic_market[:200]
    with pytest.warns(AllocgymWarning, match="min_train=504"):
        panel = build_features(short, "standard", cache_dir=False, progress=False)
    assert np.isnan(panel.feature("garch_vol")).all() and np.isnan(panel.market_values).all()
    assert not panel.available.any()


def test_garch_fallbacks_are_counted_in_the_panel(synthetic_market, monkeypatch):
    from allocgym.predictors import garch

    def failing_fit(*args, **kwargs):
        raise RuntimeError("no convergence")

    monkeypatch.setattr(garch, "_fit_arch", failing_fit)
    cfg = FeatureConfig(
        garch=GarchConfig(min_obs=100), regime=None, lstm=None, min_train=300, refit_every=250
    )
    with pytest.warns(garch.GarchFallbackWarning):
        panel = build_features(synthetic_market, cfg, cache_dir=False, progress=False)
    assert panel.diagnostics["refits"] == 2
    assert panel.diagnostics["garch_fallbacks"] == 2 * synthetic_market.n_assets
    assert np.isfinite(panel.feature("garch_vol")[300:]).all()


def test_an_asset_whose_price_never_moves_falls_back_at_every_refit(synthetic_market):
    """Real (not mocked) failures: GARCH cannot fit all-zero returns; EWMA replaces it."""
    from allocgym.data import MarketData
    from allocgym.predictors import garch

    cfg = FeatureConfig(
        garch=GarchConfig(min_obs=100), regime=None, lstm=None, min_train=300, refit_every=250
    )
    clean = first_assets(synthetic_market, 3)
    panel = build_features(clean, cfg, cache_dir=False, progress=False)
    assert (panel.diagnostics["refits"], panel.diagnostics["garch_fallbacks"]) == (2, 0)
    prices = np.column_stack([clean.prices, np.full(clean.n_dates, 50.0)])
    stale = MarketData.from_prices(prices, clean.dates, (*clean.assets, "STALE"))
    with pytest.warns(garch.GarchFallbackWarning) as warned:
        panel = build_features(stale, cfg, cache_dir=False, progress=False)
    # refits at rows 300 and 550 (on rows 0..299 and 0..549), one failed asset each
    assert [str(w.message).split(";")[0] for w in warned] == [
        "GARCH fit failed for 1 asset(s) ['STALE'] on rows 0..299",
        "GARCH fit failed for 1 asset(s) ['STALE'] on rows 0..549",
    ]
    assert (panel.diagnostics["refits"], panel.diagnostics["garch_fallbacks"]) == (2, 2)
    assert np.isfinite(panel.feature("garch_vol")[300:]).all()
