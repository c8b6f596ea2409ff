"""Loading embedded data, files and DataFrames; every bad input gets an actionable message."""

from __future__ import annotations

import gzip
import hashlib
import re
import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest

import allocgym
from allocgym.data import EMBEDDED_SOURCE, MarketData, load_market
from allocgym.exceptions import DataError, DataRepairWarning

HEADER = "date,AAA,BBB\n"
SP500_SHA256 = "ee21cac28befb1d0a739a9ceb22184f995394726aa0cfde9a21941d1ac04ac0d"


def write(tmp_path, text: str, name: str = "prices.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def good_csv(n: int = 10) -> str:
    dates = pd.bdate_range("2020-01-01", periods=n)
    rows = [f"{d.date()},{100 + i},{50 + 0.5 * i}" for i, d in enumerate(dates)]
    return HEADER + "\n".join(rows) + "\n"


def test_embedded_default_is_20_sp500_stocks_1990_to_2022(embedded):
    assert embedded.n_assets == 20
    assert embedded.dates[0] == pd.Timestamp("1990-01-02")
    assert embedded.dates[-1] == pd.Timestamp("2022-12-28")
    assert embedded.n_dates == 8313
    assert {"AAPL", "MSFT", "XOM"} <= set(embedded.assets)
    assert embedded.source == EMBEDDED_SOURCE
    assert embedded.available.all()
    assert embedded.repairs == ()
    text = repr(embedded)
    assert "20 assets" in text and "1990" in text and "2022" in text


def test_top_level_entry_point_matches_subpackage():
    assert allocgym.load_market is load_market


def test_embedded_file_is_the_documented_skfolio_copy():
    # sha256 of skfolio 1.12.2's sp500_dataset.csv.gz (see allocgym/data/_embedded/README.md)
    ref = resources.files("allocgym.data").joinpath("_embedded/sp500.csv.gz")
    digest = hashlib.sha256(ref.read_bytes()).hexdigest()
    assert digest == SP500_SHA256


def test_wide_csv_roundtrip(tmp_path):
    market = load_market(write(tmp_path, good_csv()))
    assert market.assets == ("AAA", "BBB")
    assert market.n_dates == 10
    np.testing.assert_allclose(market.returns[1, 0], 101 / 100 - 1)
    assert np.isnan(market.returns[0]).all()
    np.testing.assert_allclose(market.log_returns[1:], np.log1p(market.returns[1:]))


def test_gzipped_csv_and_parquet_and_dataframe_agree(tmp_path):
    path = write(tmp_path, good_csv())
    gz = tmp_path / "prices.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    frame = pd.read_csv(path, parse_dates=["date"])
    pq = tmp_path / "prices.parquet"
    frame.to_parquet(pq)
    a = load_market(path)
    for other in (load_market(gz), load_market(pq), load_market(frame)):
        np.testing.assert_array_equal(a.prices, other.prices)
        assert a.dates.equals(other.dates)


def test_dataframe_with_datetime_index():
    frame = pd.DataFrame(
        {"X": [1.0, 1.1, 1.2], "Y": [2.0, 2.2, 2.1]},
        index=pd.bdate_range("2021-01-04", periods=3),
    )
    market = load_market(frame)
    assert market.assets == ("X", "Y")
    np.testing.assert_allclose(market.returns[2, 1], 2.1 / 2.2 - 1)


def test_long_format_with_volume(tmp_path):
    text = (
        "Date,Ticker,Close,Volume\n"
        "2020-01-02,AAA,10,100\n2020-01-02,BBB,20,200\n"
        "2020-01-03,AAA,11,110\n2020-01-03,BBB,21,210\n"
        "2020-01-06,AAA,12,120\n"
    )
    with pytest.warns(DataRepairWarning, match="BBB: forward-filled 1"):
        market = load_market(write(tmp_path, text))
    assert market.assets == ("AAA", "BBB")
    np.testing.assert_array_equal(market.prices[:, 1], [20, 21, 21])
    assert market.volume is not None and market.volume[1, 0] == 110


def test_late_starting_asset_is_unavailable_before_first_price(tmp_path):
    text = HEADER + "2020-01-01,10,\n2020-01-02,11,\n2020-01-03,12,5\n2020-01-06,13,6\n"
    market = load_market(write(tmp_path, text))
    np.testing.assert_array_equal(market.available[:, 1], [False, False, True, True])
    assert np.isnan(market.returns[2, 1]) and market.returns[3, 1] == pytest.approx(0.2)
    assert market.first_valid_dates()["BBB"] == pd.Timestamp("2020-01-03")
    assert "BBB 2020-01-03" in market.summary()
    assert market.repairs == ()


def test_risk_free_scalar_is_converted_to_daily():
    market = load_market(risk_free=0.0252)
    np.testing.assert_allclose(market.rf, (1.0252) ** (1 / 252) - 1)
    assert load_market().risk_free is None


# --------------------------------------------------------------------- bad inputs
def test_non_numeric_cell_names_file_column_row_and_value(tmp_path):
    path = write(tmp_path, HEADER + "2020-01-01,10,20\n2020-01-02,abc,21\n")
    with pytest.raises(DataError) as err:
        load_market(path)
    msg = str(err.value)
    assert str(path) in msg and "'AAA'" in msg and "'abc'" in msg
    assert "line 3" in msg and "2020-01-02" in msg and "expected a positive price" in msg


@pytest.mark.parametrize(("value", "shown"), [("0", "0.0"), ("-3.5", "-3.5"), ("inf", "inf")])
def test_zero_negative_or_infinite_price(tmp_path, value, shown):
    path = write(tmp_path, HEADER + f"2020-01-01,10,20\n2020-01-02,11,{value}\n")
    with pytest.raises(
        DataError,
        match=rf"{re.escape(str(path))}: column 'BBB', date 2020-01-02: "
        rf"price {re.escape(shown)} is not a positive",
    ):
        load_market(path)


def test_duplicate_dates(tmp_path):
    path = write(tmp_path, HEADER + "2020-01-01,10,20\n2020-01-02,11,21\n2020-01-02,12,22\n")
    with pytest.raises(DataError, match=r"duplicate dates: 2020-01-02 \(row 2 \(line 3\)\)"):
        load_market(path)


def test_unsorted_dates_are_sorted_with_a_warning_and_recorded(tmp_path):
    path = write(tmp_path, HEADER + "2020-01-02,11,21\n2020-01-01,10,20\n2020-01-03,12,22\n")
    with pytest.warns(DataRepairWarning, match="sorted 3 rows into date order"):
        market = load_market(path)
    assert market.dates.is_monotonic_increasing
    np.testing.assert_array_equal(market.prices[:, 0], [10, 11, 12])
    assert any("sorted" in r for r in market.repairs)
    assert "repairs:     1" in market.summary()


def test_short_interior_gap_is_forward_filled_and_reported(tmp_path):
    path = write(tmp_path, HEADER + "2020-01-01,10,20\n2020-01-02,,21\n2020-01-03,12,22\n")
    with pytest.warns(DataRepairWarning, match="AAA: forward-filled 1 missing prices"):
        market = load_market(path)
    np.testing.assert_array_equal(market.prices[:, 0], [10, 10, 12])
    assert market.returns[1, 0] == 0.0
    assert market.repairs == (
        "AAA: forward-filled 1 missing prices in 1 gaps (longest 1 days, from 2020-01-02)",
    )


def test_long_interior_gap_is_an_error_naming_column_dates_and_limit(tmp_path):
    rows = ["2020-01-01,10,20"] + [f"2020-01-{d:02d},,2{d}" for d in range(2, 6)]
    path = write(tmp_path, HEADER + "\n".join(rows) + "\n2020-01-06,11,30\n")
    with pytest.raises(DataError) as err:
        load_market(path, max_fill=3)
    msg = str(err.value)
    assert "'AAA'" in msg and "4 consecutive missing prices" in msg
    assert "2020-01-02 to 2020-01-05" in msg and "max_fill=3" in msg


def test_all_nan_column(tmp_path):
    path = write(tmp_path, HEADER + "2020-01-01,10,\n2020-01-02,11,\n")
    with pytest.raises(DataError, match=r"column 'BBB' has no prices at all"):
        load_market(path)


def test_fewer_rows_than_requested_window(tmp_path):
    path = write(tmp_path, good_csv(10))
    with pytest.raises(DataError, match=r"10 rows of data, fewer than the requested min_rows=60"):
        load_market(path, min_rows=60)
    market = load_market(path)
    with pytest.raises(DataError, match=r"requested window=252"):
        market.require_rows(252)


def test_missing_date_column_lists_columns(tmp_path):
    path = write(tmp_path, "when,AAA\n2020-01-01,10\n")
    with pytest.raises(DataError, match=r"no date column; found columns \['when', 'AAA'\]"):
        load_market(path)
    assert load_market(path, date_column="when").n_dates == 1


def test_unparseable_date(tmp_path):
    path = write(tmp_path, HEADER + "2020-01-01,10,20\nyesterday,11,21\n")
    with pytest.raises(DataError, match=r"column 'date', row 2 \(line 3\): value 'yesterday' "):
        load_market(path)


@pytest.mark.parametrize("text", ["", HEADER])
def test_empty_file(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: the (file|table) is empty"):
        load_market(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_market(tmp_path / "nope.csv")


def test_unreadable_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match=r"broken\.parquet: cannot read the file"):
        load_market(path)


def test_unknown_suffix(tmp_path):
    path = write(tmp_path, good_csv(), name="prices.xlsx")
    with pytest.raises(DataError, match=r"unknown file type '\.xlsx'"):
        load_market(path)


def test_wrong_source_type():
    with pytest.raises(TypeError, match="got int"):
        load_market(42)


def test_clean_data_emits_no_warning(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_market(write(tmp_path, good_csv()))


def test_market_data_is_returned_unchanged(synthetic_market):
    assert load_market(synthetic_market) is synthetic_market
    assert isinstance(synthetic_market, MarketData)


# --------------------------------------------------------------------- column names
def test_duplicate_columns_in_csv_header_are_refused_not_renamed(tmp_path):
    path = write(tmp_path, "date,AAA,AAA,BBB\n2020-01-01,10,11,20\n2020-01-02,12,13,21\n")
    with pytest.raises(
        DataError, match=rf"{re.escape(str(path))}: duplicate column names \['AAA'\] in the header"
    ):
        load_market(path)


def test_duplicate_columns_in_long_csv_are_refused(tmp_path):
    path = write(tmp_path, "date,ticker,close,close\n2020-01-02,AAA,10,11\n")
    with pytest.raises(DataError, match=r"duplicate column names \['close'\]"):
        load_market(path)


def test_duplicate_columns_in_parquet_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "prices.parquet"
    columns = [pa.array(["2020-01-01", "2020-01-02"]), pa.array([1.0, 2.0]), pa.array([3.0, 4.0])]
    pq.write_table(pa.table(columns, names=["date", "AAA", "AAA"]), path)
    with pytest.raises(DataError, match=r"prices\.parquet: duplicate column names \['AAA'\]"):
        load_market(path)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame([["2020-01-01", 1.0, 2.0]], columns=["date", "AAA", "AAA"]),
        pd.DataFrame([["2020-01-01", 1.0, 2.0]], columns=["date", "AAA", " AAA"]),
        pd.DataFrame(
            [["2020-01-01", "AAA", 1.0, 2.0]], columns=["date", "ticker", "close", "close"]
        ),
    ],
)
def test_duplicate_columns_in_dataframe_are_refused(frame):
    with pytest.raises(DataError, match=r"<DataFrame>: duplicate column names"):
        load_market(frame)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,AAA,\n2020-01-01,10,\n", r"column 3 of the header line has no name.*remove it"),
        (",AAA\n2020-01-01,10\n", r"column 1 of the header line has no name.*name it 'date'"),
    ],
)
def test_unnamed_header_column_is_refused_by_position(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        load_market(write(tmp_path, text))


def test_row_longer_than_header_is_refused_not_taken_as_index(tmp_path):
    path = write(tmp_path, "date,AAA\n2020-01-01,10,11\n2020-01-02,12,13\n")
    with pytest.raises(DataError, match=r"line 2 has 1 more field\(s\) than the 2 names"):
        load_market(path)


def test_garbled_csv_is_a_data_error_naming_the_file(tmp_path):
    path = write(tmp_path, "date,AAA\n2020-01-01,10\n2020-01-02,11,12,13\n")
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: cannot read the file"):
        load_market(path)


def test_numeric_date_column_is_refused_with_a_conversion_hint():
    frame = pd.DataFrame({"date": [20200101, 20200102], "AAA": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"column 'date' holds numbers \(first 20200101\)"):
        load_market(frame)


def test_risk_free_series_indexed_by_numbers_is_refused():
    frame = pd.DataFrame({"AAA": [1.0, 2.0]}, index=pd.bdate_range("2021-01-04", periods=2))
    with pytest.raises(DataError, match=r"risk_free: the index is not dates: it holds numbers"):
        load_market(frame, risk_free=pd.Series([1e-4, 2e-4]))
