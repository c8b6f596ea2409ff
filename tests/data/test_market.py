"""MarketData: derived arrays, immutability, aligned slicing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from allocgym.data import MarketData
from allocgym.exceptions import DataError


def test_returns_are_derived_from_prices(embedded):
    p = embedded.prices
    np.testing.assert_allclose(embedded.returns[1:], p[1:] / p[:-1] - 1)
    np.testing.assert_allclose(embedded.log_returns[1:], np.log(p[1:] / p[:-1]))
    assert np.isnan(embedded.returns[0]).all()
    assert embedded.prices.dtype == np.float64


def test_arrays_are_read_only(embedded):
    with pytest.raises(ValueError, match="read-only"):
        embedded.prices[0, 0] = 1.0
    with pytest.raises(AttributeError):
        embedded.source = "x"


def test_positional_slice_keeps_everything_aligned(embedded):
    part = embedded[100:200]
    assert part.n_dates == 100
    assert part.dates[0] == embedded.dates[100]
    np.testing.assert_array_equal(part.returns, embedded.returns[100:200])
    # a slice keeps the return into its first day (it is a view, not re-derived)
    assert np.isfinite(part.returns[0]).all()
    assert np.shares_memory(part.prices, embedded.prices)


def _validated_slice(market: MarketData, rows: slice) -> MarketData:
    """The reference: a slice that goes through every check of ``__post_init__``."""
    return dataclasses.replace(
        market,
        dates=market.dates[rows],
        prices=market.prices[rows],
        returns=market.returns[rows],
        log_returns=market.log_returns[rows],
        available=market.available[rows],
        volume=None if market.volume is None else market.volume[rows],
        risk_free=None if market.risk_free is None else market.risk_free[rows],
    )


@pytest.mark.parametrize("rows", [slice(None, 101), slice(7, 300), slice(0, 1), slice(50, 50)])
@pytest.mark.parametrize("extras", [False, True])
def test_fast_slice_equals_the_validated_slice(synthetic_market, rows, extras):
    market = synthetic_market
    if extras:  # every optional field and the metadata set, so none is dropped or mixed up
        rng = np.random.default_rng(0)
        market = MarketData.from_prices(
            market.prices,
            market.dates,
            market.assets,
            volume=rng.uniform(1e5, 1e6, market.prices.shape),
            risk_free=np.full(market.n_dates, 1e-4),
            source="test.csv",
            repairs=("sorted the dates", "forward-filled 3 prices"),
        )
    fast, ref = market[rows], _validated_slice(market, rows)
    assert type(fast) is MarketData
    for f in dataclasses.fields(MarketData):
        a, b = getattr(fast, f.name), getattr(ref, f.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f.name)
            assert a.dtype == b.dtype and not a.flags.writeable, f.name
            assert np.shares_memory(a, getattr(market, f.name)) or a.size == 0, f.name
        elif isinstance(a, pd.DatetimeIndex):
            assert a.equals(b) and a.dtype == b.dtype, f.name
        else:
            assert a == b, f.name
    assert set(vars(fast)) == set(vars(ref))  # nothing more, nothing less than a real one
    with pytest.raises(ValueError, match="read-only"):
        fast.prices[...] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.source = "x"
    if fast.n_dates:
        assert repr(fast) == repr(ref)


def test_between_is_inclusive_and_errors_name_the_range(embedded):
    part = embedded.between("2020-03-02", "2020-03-31")
    assert part.dates[0] == pd.Timestamp("2020-03-02")
    assert part.dates[-1] == pd.Timestamp("2020-03-31")
    with pytest.raises(DataError, match="no trading days between start=2030-01-01"):
        embedded.between("2030-01-01", "2031-01-01")


def test_index_of_last_day_on_or_before(embedded):
    assert embedded.dates[embedded.index_of("2020-03-01")] == pd.Timestamp("2020-02-28")
    with pytest.raises(DataError, match="before the first trading day"):
        embedded.index_of("1980-01-01")


def test_non_slice_indexing_is_refused(embedded):
    with pytest.raises(TypeError, match=r"market\[10:500\]"):
        embedded[5]


def test_with_prices_rederives_returns(synthetic_market):
    doubled = synthetic_market.with_prices(synthetic_market.prices * 2)
    np.testing.assert_allclose(doubled.returns[1:], synthetic_market.returns[1:])
    assert doubled.source == synthetic_market.source


def test_shape_mismatch_is_an_error():
    dates = pd.bdate_range("2020-01-01", periods=3)
    with pytest.raises(DataError, match=r"prices has shape \(2, 1\); expected"):
        MarketData(
            dates=dates,
            assets=("A",),
            prices=np.ones((2, 1)),
            returns=np.ones((3, 1)),
            log_returns=np.ones((3, 1)),
            available=np.ones((3, 1), bool),
        )


def test_duplicate_asset_names_are_an_error():
    with pytest.raises(DataError, match=r"duplicate names \['A'\]"):
        MarketData.from_prices(np.ones((3, 2)), pd.bdate_range("2020-01-01", periods=3), ["A", "A"])


def test_to_frame(synthetic_market):
    frame = synthetic_market.to_frame("returns")
    assert list(frame.columns) == list(synthetic_market.assets)
    with pytest.raises(ValueError, match="what='volume' is not available"):
        synthetic_market.to_frame("volume")
