"""`load_market`: the embedded default data set, CSV/Parquet files and DataFrames.

Every path (file, DataFrame, volume and risk-free tables) follows the checks and the
date policy of :mod:`allocgym.data.validation`: dates are calendar dates, and a
time-zone-aware timestamp becomes its date as written in its own zone.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from allocgym.data.market import MarketData
from allocgym.data.validation import (
    DEFAULT_MAX_FILL,
    calendar_dates,
    check_unique_columns,
    find_date_column,
    validate_prices,
)
from allocgym.exceptions import DataError

__all__ = ["EMBEDDED_SOURCE", "load_market", "read_table"]

EMBEDDED_SOURCE = "embedded S&P 500 (20 stocks, 1990-2022)"
_CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_ASSET_NAMES = ("asset", "ticker", "symbol")
_PRICE_NAMES = ("price", "close", "adj_close", "adj close", "adjclose")
_VOLUME_NAMES = ("volume",)

MarketSource = str | os.PathLike | pd.DataFrame | MarketData | None


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV or Parquet file as raw cells, with errors that name the file.

    CSV cells are read as strings so that validation can name any cell that is not a
    number; empty cells and NA markers become missing values. Repeated names in a CSV
    header are refused (pandas would rename the second ``AAA`` to ``AAA.1``).
    """
    path = Path(path)
    name = path.name.lower()
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory; expected a CSV or Parquet file")
    try:
        if name.endswith(_PARQUET_SUFFIXES):
            # pyarrow is heavy and only Parquet needs it; its own error on repeated names
            # ("Multiple matches for FieldRef") does not say what to do.
            import pyarrow.parquet as pq

            check_unique_columns(pq.read_schema(path).names, str(path))
            return pd.read_parquet(path)
        if name.endswith(_CSV_SUFFIXES):
            return _read_csv(path, "\t" if name.endswith(".tsv") else ",")
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path}: the file is empty; expected a header line with a date column and "
            "one price column per asset"
        ) from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read the file: {exc}") from exc
    except Exception as exc:  # pyarrow raises its own error types on corrupt files
        raise DataError(f"{path}: cannot read the file: {type(exc).__name__}: {exc}") from exc
    raise DataError(
        f"{path}: unknown file type {path.suffix!r}; expected one of "
        f"{', '.join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)}"
    )


def _read_csv(path: Path, sep: str) -> pd.DataFrame:
    """A CSV as strings, after checking its header line as written.

    pandas renames a repeated ``AAA`` to ``AAA.1``, an empty name to ``Unnamed: 3``,
    and turns the first field of rows longer than the header into an index; each
    would load as something the file does not say, so each is refused here.
    """
    options = {"dtype": str, "sep": sep, "skipinitialspace": True}
    header = pd.read_csv(path, header=None, nrows=1, **options).iloc[0]
    empty = [i + 1 for i, v in enumerate(header) if pd.isna(v) or not str(v).strip()]
    if empty:
        hint = (
            "name it 'date' if it holds the dates (DataFrame.to_csv writes an unnamed "
            "index like this)"
            if empty[0] == 1
            else "name it, or remove it (a delimiter at the end of every line makes an "
            "empty column)"
        )
        raise DataError(
            f"{path}: column {empty[0]} of the header line has no name; expected a date "
            f"column and one named column per asset: {hint}"
        )
    check_unique_columns(header, str(path), " in the header line")
    frame = pd.read_csv(path, **options)
    if not isinstance(frame.index, pd.RangeIndex):
        extra = frame.index.nlevels
        raise DataError(
            f"{path}: line 2 has {extra} more field(s) than the {len(header)} names of the "
            f"header line; expected one value per column. Check the delimiter ({sep!r}) "
            "and the number of values on each line"
        )
    return frame


def _find(columns, names) -> str | None:
    for c in columns:
        if str(c).strip().lower() in names:
            return c
    return None


def _pivot_long(raw: pd.DataFrame, source: str, date_column: str | None, from_file: bool):
    """Long format (date, asset, price[, volume]) to wide prices (+ wide volume)."""
    dcol = find_date_column(list(raw.columns), source, date_column)
    acol = _find(raw.columns, _ASSET_NAMES)
    pcol = _find(raw.columns, _PRICE_NAMES)
    if pcol is None:
        raise DataError(
            f"{source}: long format (column {acol!r}) but no price column; found "
            f"{list(raw.columns)}; expected one named {' or '.join(_PRICE_NAMES[:3])}"
        )
    key = raw[[dcol, acol]].astype(str)
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"{source}: duplicate (date, asset) pair {tuple(key.iloc[pos])} at row {pos + 1}; "
            "expected one price per asset per date"
        )
    wide = raw.pivot(index=dcol, columns=acol, values=pcol).reset_index()
    vcol = _find(raw.columns, _VOLUME_NAMES)
    volume = None
    if vcol is not None:
        volume = raw.pivot(index=dcol, columns=acol, values=vcol)
    return wide, dcol, volume


def _unique_dates(index: pd.Index, what: str) -> pd.DatetimeIndex:
    """The index of a volume or risk-free table under the date policy, duplicates refused."""
    try:
        if pd.api.types.is_numeric_dtype(index.dtype):  # not nanoseconds since 1970
            raise TypeError(f"it holds numbers (first {index[0]})")
        dates = calendar_dates(index)
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"{what}: the index is not dates: {exc}; expected a DatetimeIndex"
        ) from None
    dup = dates[dates.duplicated()].unique()
    if len(dup):
        raise DataError(
            f"{what}: duplicate dates {[str(d.date()) for d in dup[:3]]} after reducing "
            "timestamps to their calendar date in their own time zone; expected one row per day"
        )
    return dates


def _daily_risk_free(risk_free, dates: pd.DatetimeIndex) -> np.ndarray | None:
    if risk_free is None:
        return None
    if np.isscalar(risk_free):
        rate = float(risk_free)
        if not -0.5 < rate < 1.0:
            raise ValueError(f"risk_free={rate!r} as an annual rate is implausible")
        return np.full(len(dates), (1.0 + rate) ** (1.0 / 252.0) - 1.0)
    if isinstance(risk_free, pd.Series):
        risk_free = risk_free.set_axis(_unique_dates(risk_free.index, "risk_free"))
        aligned = risk_free.reindex(dates).ffill()
        if aligned.isna().any():
            first = aligned.index[aligned.isna().to_numpy()][0]
            raise DataError(f"risk_free series has no value on or before {first.date()}")
        return aligned.to_numpy(dtype=np.float64)
    arr = np.asarray(risk_free, dtype=np.float64)
    if arr.shape != (len(dates),):
        raise ValueError(
            f"risk_free has shape {arr.shape}; expected a scalar annual rate, a Series "
            f"indexed by date, or a daily array of shape ({len(dates)},)"
        )
    return arr


@functools.lru_cache(maxsize=1)
def _load_embedded() -> MarketData:
    ref = resources.files("allocgym.data").joinpath("_embedded/sp500.csv.gz")
    with resources.as_file(ref) as path:
        raw = pd.read_csv(path, index_col=0, parse_dates=True)
    frame, repairs = validate_prices(raw, EMBEDDED_SOURCE)
    return MarketData.from_prices(frame, source=EMBEDDED_SOURCE, repairs=tuple(repairs))


def load_market(
    source: MarketSource = None,
    *,
    date_column: str | None = None,
    max_fill: int = DEFAULT_MAX_FILL,
    min_rows: int | None = None,
    volume: pd.DataFrame | None = None,
    risk_free: float | pd.Series | np.ndarray | None = None,
) -> MarketData:
    """Load daily prices into a validated :class:`MarketData`.

    Parameters
    ----------
    source : None, path, DataFrame or MarketData
        ``None``: the embedded default (20 S&P 500 stocks, daily adjusted closes,
        1990-01-02 to 2022-12-28). A path to a CSV (``.csv``, ``.csv.gz``, ``.tsv``) or
        Parquet file, or a DataFrame, in *wide* format (a date column, or a
        DatetimeIndex, and one price column per asset) or *long* format (columns
        date, asset/ticker/symbol, price/close[, volume]).
    date_column : str, optional
        Name of the date column if it is not called date/datetime/timestamp/time/day.
    max_fill : int, default 5
        Longest run of missing prices after an asset's first price that is
        forward-filled (a repair that is warned about and recorded); longer is an error.
    min_rows : int, optional
        Require at least this many trading days (e.g. a look-back window).
    volume : DataFrame, optional
        Wide volume table aligned with the prices (long format may carry a volume column).
    risk_free : float, Series or array, optional
        Annual rate (scalar), or daily simple rates by date.

    Returns
    -------
    MarketData

    Raises
    ------
    DataError
        With the file, column, row and offending value; see
        :mod:`allocgym.data.validation` for what is refused and what is repaired.
    """
    if source is None:
        market = _load_embedded()
    elif isinstance(source, MarketData):
        market = source
    elif not isinstance(source, str | os.PathLike | pd.DataFrame):
        raise TypeError(
            f"source must be None, a path, a DataFrame or MarketData; got {type(source).__name__}"
        )
    else:
        from_file = not isinstance(source, pd.DataFrame)
        name = str(source) if from_file else "<DataFrame>"
        raw = read_table(source) if from_file else source
        check_unique_columns(raw.columns, name)
        if _find(raw.columns, _ASSET_NAMES) is not None:
            raw, date_column, long_volume = _pivot_long(raw, name, date_column, from_file)
            volume = long_volume if volume is None else volume
            from_file = False  # row numbers refer to the pivoted table now
        frame, repairs = validate_prices(
            raw, name, date_column=date_column, max_fill=max_fill, from_file=from_file
        )
        vol = None
        if volume is not None:
            volume = volume.copy()
            volume.index = _unique_dates(volume.index, "volume")
            vol = volume.reindex(index=frame.index, columns=frame.columns)
            vol = vol.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        market = MarketData.from_prices(
            frame,
            volume=vol,
            risk_free=_daily_risk_free(risk_free, frame.index),
            source=name,
            repairs=tuple(repairs),
        )
    if source is None and risk_free is not None:
        market = dataclasses.replace(market, risk_free=_daily_risk_free(risk_free, market.dates))
    if min_rows is not None:
        market.require_rows(min_rows, "min_rows")
    return market
