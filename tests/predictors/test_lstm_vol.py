from __future__ import annotations

import numpy as np
import pytest
import torch

import allocgym
from allocgym.predictors import LSTMConfig
from allocgym.predictors.evaluate import volatility_forecast_quality
from allocgym.predictors.lstm_vol import (
    VOL_INPUTS,
    LSTMVolatility,
    forward_realised_variance,
    volatility_inputs,
)
from tests.predictors.conftest import (
    assert_schedule_point_in_time,
    first_assets,
    perturb_after,
)

TINY = LSTMConfig(
    window=10, hidden=8, max_epochs=2, batch_size=64, max_samples=512, train_window=300
)


def test_forward_realised_variance_matches_a_loop():
    rng = np.random.default_rng(0)
    r = rng.normal(0, 0.01, size=(40, 3))
    r[0] = np.nan
    r[10, 1] = np.nan
    h = 4
    expected = np.full(r.shape, np.nan)
    for t in range(len(r) - h):
        expected[t] = np.mean(r[t + 1 : t + h + 1] ** 2, axis=0)
    np.testing.assert_allclose(forward_realised_variance(r, h), expected, rtol=1e-12)
    assert np.isnan(forward_realised_variance(r, h)[6:10, 1]).all()  # window meets the gap


def test_inputs_shape(synthetic_market):
    x = volatility_inputs(synthetic_market)
    assert x.shape == (synthetic_market.n_dates, synthetic_market.n_assets, len(VOL_INPUTS))
    assert np.isfinite(x[63:]).all() and np.isnan(x[0]).all()


def test_fit_predict_shapes_and_refusals(synthetic_market):
    model = LSTMVolatility(TINY, horizons=(1, 5)).fit(synthetic_market, until=399)
    assert model.feature_names_for(synthetic_market) == ("lstm_var_1d", "lstm_var_5d")
    out = model.predict(synthetic_market, 400, 450)
    assert out.shape == (50, synthetic_market.n_assets, 2)
    assert np.isfinite(out).all() and (out > 0).all()
    assert model.n_train_[5] > 0 and model.n_val_[5] > 0 and model.smearing_[1] > 0
    with pytest.raises(ValueError, match="out of sample"):
        model.predict(synthetic_market, 399, 450)
    with pytest.raises(ValueError, match="horizons"):
        LSTMVolatility(TINY, horizons=(1, 1)).fit(synthetic_market, until=399)


def test_deterministic_and_leaves_torch_state_alone(synthetic_market):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = LSTMVolatility(TINY, horizons=(1,), seed=3).fit(synthetic_market, until=399)
    np.testing.assert_array_equal(torch.rand(3), expected)
    b = LSTMVolatility(TINY, horizons=(1,), seed=3).fit(synthetic_market, until=399)
    np.testing.assert_array_equal(
        a.predict(synthetic_market, 400, 500), b.predict(synthetic_market, 400, 500)
    )


def test_fit_ignores_prices_after_the_cut_off(synthetic_market):
    """A fit at ``until`` is bit-identical whatever the prices after it: no h-day target
    (nor input) reaches past the cut-off."""
    t = 420
    base, changed = perturb_after(first_assets(synthetic_market), t)
    a = LSTMVolatility(TINY, horizons=(1, 21)).fit(base, until=t)
    b = LSTMVolatility(TINY, horizons=(1, 21)).fit(changed, until=t)
    assert (a.smearing_, a.target_mean_, a.floor_) == (b.smearing_, b.target_mean_, b.floor_)
    for h in (1, 21):
        sa, sb = a.nets_[h].state_dict(), b.nets_[h].state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("which", ["synthetic", "embedded"])
def test_point_in_time(which, synthetic_market, embedded_slice):
    market = first_assets(synthetic_market if which == "synthetic" else embedded_slice)
    t = 520
    base, changed = perturb_after(market, t)
    factory = lambda: LSTMVolatility(TINY, horizons=(1, 5), seed=0)  # noqa: E731
    assert_schedule_point_in_time(factory, base, changed, t)


def test_beats_a_constant_forecast_on_clustered_volatility():
    """Regimes and GARCH clustering make the coming days' variance predictable from the
    past: out of sample the LSTM's QLIKE is below that of each asset's training mean
    squared return, at 1 and 5 days."""
    syn = allocgym.make_synthetic_market(n_assets=5, n_days=1300, seed=11, separation=2.0)
    market = syn.market
    cfg = LSTMConfig(
        window=10, hidden=8, batch_size=64, lr=3e-3, max_epochs=5, max_samples=2048,
        train_window=1000,
    )  # fmt: skip
    model = LSTMVolatility(cfg, horizons=(1, 5)).fit(market, until=999)
    pred = model.predict(market, 1000, 1300)
    r = np.asarray(market.returns)
    constant = np.broadcast_to(np.nanmean(r[1:1000] ** 2, axis=0), pred.shape[:2])
    for k, h in enumerate((1, 5)):
        realised = forward_realised_variance(r, h)[1000:1300]
        table = volatility_forecast_quality({"lstm": pred[:, :, k], "constant": constant}, realised)
        assert table.loc["lstm", "qlike"] < table.loc["constant", "qlike"] - 0.2, table
        assert table.loc["lstm", "mse"] < table.loc["constant", "mse"], table
