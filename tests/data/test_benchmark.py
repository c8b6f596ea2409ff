"""The embedded S&P 500 index and user benchmarks: checksum, alignment, errors."""

from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from allocgym.data import (
    BenchmarkCoverageWarning,
    align_benchmark,
    benchmark_returns,
    load_benchmark,
    load_market,
)
from allocgym.exceptions import DataError

# sha256 of skfolio 1.12.2's sp500_index.csv.gz (see allocgym/data/_embedded/README.md)
SP500_INDEX_SHA256 = "894c34431c284f86aa64a467e176e2a3c9b697c857eb9ab35006c2dd55d3fdf2"


def _embedded_bytes() -> bytes:
    return resources.files("allocgym.data").joinpath("_embedded/sp500_index.csv.gz").read_bytes()


def test_embedded_index_checksum_is_pinned():
    assert hashlib.sha256(_embedded_bytes()).hexdigest() == SP500_INDEX_SHA256


def test_embedded_index_is_skfolios_file_byte_for_byte():
    datasets = pytest.importorskip("skfolio.datasets")
    ref = resources.files(datasets).joinpath("data/sp500_index.csv.gz")
    assert ref.read_bytes() == _embedded_bytes()


def test_embedded_index_has_the_dates_of_the_embedded_stocks(embedded):
    levels = load_benchmark()
    assert levels.name == "SP500" and levels.dtype == np.float64
    assert levels.index.equals(embedded.dates)
    assert levels.iloc[0] == 359.69 and levels.iloc[-1] == 3783.22  # 1990-01-02, 2022-12-28
    aligned = load_benchmark(market=embedded)
    assert aligned.index.equals(embedded.dates) and aligned.notna().all()


def test_aligned_to_a_slice(embedded_slice):
    aligned = load_benchmark(market=embedded_slice)
    assert aligned.index.equals(embedded_slice.dates)
    assert aligned.loc["2020-03-23"] == pytest.approx(2237.40)  # the COVID low close


def test_loadable_by_load_market():
    market = load_market(load_benchmark().to_frame())
    assert market.assets == ("SP500",) and market.n_dates == 8313


def test_returns_are_simple_daily_returns():
    levels = pd.Series([100.0, 110.0, 99.0], index=pd.bdate_range("2021-01-01", periods=3))
    np.testing.assert_allclose(benchmark_returns(levels).to_numpy(), [np.nan, 0.1, -0.1])


def test_user_file_column_series_and_market_column(tmp_path, embedded_slice):
    dates = pd.bdate_range("2021-01-04", periods=5)
    frame = pd.DataFrame({"date": dates, "SPY": [1.0, 2, 3, 4, 5], "QQQ": [5.0, 4, 3, 2, 1]})
    path = tmp_path / "bench.csv"
    frame.to_csv(path, index=False)
    spy = load_benchmark(path, column="SPY")
    assert spy.name == "SPY" and spy.tolist() == [1, 2, 3, 4, 5] and spy.index.equals(dates)
    with pytest.raises(DataError, match="pass column=NAME"):
        load_benchmark(path)
    with pytest.raises(DataError, match="no column 'DIA'"):
        load_benchmark(path, column="DIA")
    series = pd.Series([3.0, 4.0], index=dates[:2], name="idx")
    assert load_benchmark(series).tolist() == [3.0, 4.0]
    aapl = load_benchmark(embedded_slice, column="AAPL")
    np.testing.assert_array_equal(aapl.to_numpy(), embedded_slice.prices[:, 0])
    with pytest.raises(DataError, match="not an asset"):
        load_benchmark(embedded_slice, column="SPY")


def test_holidays_are_filled_and_partial_cover_warns():
    levels = pd.Series(
        [1.0, 2.0, 3.0], index=pd.to_datetime(["2021-01-04", "2021-01-06", "2021-01-07"])
    )
    dates = pd.to_datetime(["2021-01-01", "2021-01-04", "2021-01-05", "2021-01-06", "2021-01-08"])
    with pytest.warns(BenchmarkCoverageWarning, match="covers 3 of the market's 5 dates"):
        out = align_benchmark(levels, pd.DatetimeIndex(dates))
    np.testing.assert_array_equal(out.to_numpy(), [np.nan, 1.0, 1.0, 2.0, np.nan])


def test_no_overlap_and_long_gaps_are_refused(embedded_slice):
    early = pd.Series([1.0, 2.0], index=pd.to_datetime(["1980-01-02", "1980-01-03"]))
    with pytest.raises(DataError, match="no dates overlapping the market's"):
        load_benchmark(early, market=embedded_slice)
    sparse = pd.Series(
        [1.0, 2.0], index=pd.to_datetime(["2021-01-04", "2021-02-01"]), name="monthly"
    )
    with pytest.raises(DataError, match="no level within 5 days before 2021-01-12"):
        align_benchmark(sparse, pd.bdate_range("2021-01-04", "2021-02-01"))


def test_bad_sources_are_refused():
    with pytest.raises(TypeError, match="benchmark source must be"):
        load_benchmark(42)
    with pytest.raises(DataError, match="one column, 'SP500'"):
        load_benchmark(column="SPX")
    with pytest.raises(DataError):
        load_benchmark(pd.Series([1.0, -2.0], index=pd.bdate_range("2021-01-04", periods=2)))
