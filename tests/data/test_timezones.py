"""The date policy: a timestamp becomes its calendar date in its own time zone, on every path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocgym.cli import main
from allocgym.data import MarketData, load_market
from allocgym.exceptions import DataError

HEADER = "date,AAA,BBB\n"
DAYS = [pd.Timestamp("2021-03-12"), pd.Timestamp("2021-03-15"), pd.Timestamp("2021-03-16")]
# New York closes across the 2021-03-14 change from EST (-05:00) to EDT (-04:00).
NY_ROWS = (
    "2021-03-12 16:00:00-05:00,10,20\n2021-03-15 16:00:00-04:00,11,21\n"
    "2021-03-16 16:00:00-04:00,12,22\n"
)


def write(tmp_path, text: str, name: str = "prices.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_calendar_dates(market: MarketData, expected=DAYS) -> None:
    assert market.dates.tz is None
    assert list(market.dates) == expected


def test_csv_across_a_dst_change_loads_each_row_on_its_local_date(tmp_path):
    market = load_market(write(tmp_path, HEADER + NY_ROWS))
    assert_calendar_dates(market)
    np.testing.assert_array_equal(market.prices[:, 0], [10, 11, 12])


def test_data_check_cli_accepts_a_dst_change(tmp_path, capsys):
    assert main(["data", "check", str(write(tmp_path, HEADER + NY_ROWS))]) == 0
    assert "2021-03-12 to 2021-03-16" in capsys.readouterr().out


def test_offset_is_the_one_written_not_utc(tmp_path):
    # 20:00 at -05:00 is 01:00 UTC the next day; the exchange-local date is kept.
    path = write(tmp_path, HEADER + "2021-03-12 20:00-05:00,10,20\n2021-03-15 20:00-04:00,11,21\n")
    assert_calendar_dates(load_market(path), DAYS[:2])


def test_fixed_utc_offset_gives_naive_dates_and_between_works(tmp_path):
    rows = "".join(f"{d.date()}T00:00:00+00:00,{10 + i},20\n" for i, d in enumerate(DAYS))
    market = load_market(write(tmp_path, HEADER + rows))
    assert_calendar_dates(market)
    assert list(market.between("2021-03-13").dates) == DAYS[1:]
    assert market.index_of("2021-03-14") == 0


def test_offsets_and_plain_dates_mixed_in_one_column(tmp_path):
    path = write(tmp_path, HEADER + "2021-03-12,10,20\n2021-03-15 16:00-04:00,11,21\n")
    assert_calendar_dates(load_market(path), DAYS[:2])


def test_dataframe_with_timestamps_of_different_zones():
    frame = pd.DataFrame(
        {
            "date": [
                pd.Timestamp("2021-03-12 16:00", tz="America/New_York"),
                pd.Timestamp("2021-03-16 05:00", tz="Asia/Tokyo"),  # still 03-15 in NY
            ],
            "AAA": [1.0, 2.0],
        }
    )
    assert_calendar_dates(load_market(frame), [DAYS[0], DAYS[2]])


def test_tz_aware_index_and_parquet_column_keep_their_local_date(tmp_path):
    utc = pd.DatetimeIndex(["2021-03-12 20:00", "2021-03-15 20:00"], tz="UTC")
    tokyo = pd.DataFrame({"AAA": [1.0, 2.0]}, index=utc.tz_convert("Asia/Tokyo"))
    expected = [pd.Timestamp("2021-03-13"), pd.Timestamp("2021-03-16")]
    assert_calendar_dates(load_market(tokyo), expected)
    path = tmp_path / "prices.parquet"
    tokyo.rename_axis("date").reset_index().to_parquet(path)
    assert_calendar_dates(load_market(path), expected)


def test_market_data_constructor_applies_the_same_policy():
    dates = pd.DatetimeIndex(["2021-03-12 16:00", "2021-03-15 16:00"], tz="America/New_York")
    market = MarketData.from_prices(np.ones((2, 1)), dates, ["AAA"])
    assert_calendar_dates(market, DAYS[:2])
    assert list(market.between(pd.Timestamp("2021-03-15 09:00", tz="Asia/Tokyo")).dates) == [
        DAYS[1]
    ]


def test_duplicate_dates_after_conversion_are_refused_showing_the_values(tmp_path):
    # 23:00 UTC and 20:00 New York are the same day where each is written.
    path = write(tmp_path, HEADER + "2021-03-12 23:00+00:00,10,20\n2021-03-12 20:00-05:00,11,21\n")
    with pytest.raises(DataError) as err:
        load_market(path)
    msg = str(err.value)
    assert "duplicate dates: 2021-03-12 (row 1 (line 2): '2021-03-12 23:00+00:00')" in msg
    assert "'2021-03-12 20:00-05:00'" in msg and "own time zone" in msg


def test_naive_intraday_rows_are_reduced_to_dates_and_duplicates_refused(tmp_path):
    one_a_day = write(tmp_path, HEADER + "2021-03-12 16:00,10,20\n2021-03-15 16:00,11,21\n")
    assert_calendar_dates(load_market(one_a_day), DAYS[:2])
    intraday = write(
        tmp_path, HEADER + "2021-03-12 10:00,10,20\n2021-03-12 16:00,11,21\n", "intraday.csv"
    )
    with pytest.raises(DataError, match=r"row 2 \(line 3\): '2021-03-12 16:00'\).*one row"):
        load_market(intraday)


def test_market_data_constructor_names_dates_that_collide():
    dates = pd.DatetimeIndex(["2021-03-12 10:00", "2021-03-12 16:00"])
    with pytest.raises(DataError, match=r"duplicate dates \['2021-03-12'\]"):
        MarketData.from_prices(np.ones((2, 1)), dates, ["AAA"])


def test_risk_free_and_volume_with_tz_aware_index_align_by_local_date():
    dates = pd.bdate_range("2021-03-15", periods=3)
    frame = pd.DataFrame({"AAA": [1.0, 1.1, 1.2]}, index=dates)
    aware = dates.tz_localize("America/New_York") + pd.Timedelta(hours=16)
    rf = pd.Series([1e-4, 2e-4, 3e-4], index=aware)
    volume = pd.DataFrame({"AAA": [5.0, 6.0, 7.0]}, index=aware)
    market = load_market(frame, risk_free=rf, volume=volume)
    np.testing.assert_allclose(market.rf, [1e-4, 2e-4, 3e-4])
    np.testing.assert_allclose(market.volume[:, 0], [5, 6, 7])


@pytest.mark.parametrize(
    ("bound", "kept"),
    [
        ("2021-03-15 15:00", DAYS[1:]),  # a time of day is dropped: 03-15 is in
        (pd.Timestamp("2021-03-15 01:00", tz="Asia/Tokyo"), DAYS[1:]),  # its Tokyo date
    ],
)
def test_between_bounds_follow_the_policy(bound, kept):
    market = MarketData.from_prices(np.ones((3, 1)), pd.DatetimeIndex(DAYS), ["AAA"])
    assert list(market.between(bound).dates) == kept
    assert list(market.between(None, bound).dates) == DAYS[:2]


def test_between_refuses_a_bound_that_is_not_a_date():
    market = MarketData.from_prices(np.ones((3, 1)), pd.DatetimeIndex(DAYS), ["AAA"])
    with pytest.raises(DataError, match=r"start='2021-13-01' is not a date"):
        market.between("2021-13-01")
