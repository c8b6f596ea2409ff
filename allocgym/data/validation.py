"""Checks and documented repairs of raw price tables.

Policy (what is refused, what is repaired, and how each repair is reported):

- refused with a :class:`~allocgym.exceptions.DataError`: an empty table, a missing
  or unparseable date column, a date column of plain numbers, duplicate column names,
  duplicate dates, non-numeric or infinite cells, zero or negative prices, a column
  with no prices at all, and runs of missing prices longer than ``max_fill`` trading
  days after an asset's first price;
- repaired, with a :class:`~allocgym.exceptions.DataRepairWarning` and a line in
  ``MarketData.repairs``: rows out of date order are sorted, and runs of at most
  ``max_fill`` missing prices after an asset's first price are forward-filled (the
  price is carried, so the asset earns 0 on those days, which is what a holder of a
  halted stock experiences);
- kept as they are: missing prices *before* an asset's first price. The asset is
  simply unavailable until then (``MarketData.available``).

Dates (one policy on every path: CSV, Parquet, DataFrame, ``MarketData`` and the
bounds of :meth:`MarketData.between`, see :func:`calendar_dates`): daily data are
calendar dates, naive and at midnight. A timestamp with a time zone or a UTC offset
becomes its exchange-local calendar date, the date as written in its own zone
(``2021-03-12 16:00-05:00`` is 2021-03-12, whatever offsets other rows carry, so a
file that crosses a daylight-saving change loads), and the zone is then dropped. A
time of day, with or without a zone, is dropped the same way. Two rows that fall on
the same date after this (intraday rows, or one day written in two zones) are
refused as duplicate dates, with the values as written.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter

import numpy as np
import pandas as pd

from allocgym.exceptions import DataError, DataRepairWarning

__all__ = [
    "DATE_COLUMN_NAMES",
    "DEFAULT_MAX_FILL",
    "as_date",
    "calendar_dates",
    "check_unique_columns",
    "find_date_column",
    "validate_prices",
]

DEFAULT_MAX_FILL = 5
DATE_COLUMN_NAMES = ("date", "datetime", "timestamp", "time", "day")
_MAX_EXAMPLES = 3
# A trailing UTC offset after a time of day ("16:00:00-05:00", "21:00Z"): stripping it
# leaves the wall-clock time as written in its own zone, which is what the date policy
# keeps. A time is required so that the "-12" of "2021-03-12" is never taken for one.
_OFFSET = re.compile(
    r"^(.*\d:\d\d(?::\d\d(?:[.,]\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d\d(?::?\d\d)?)$", re.I
)


def as_date(value: object, name: str) -> pd.Timestamp:
    """A date bound (``start``, ``end``, ``date``) as a naive midnight Timestamp, under
    the date policy above; a value that is not a date fails naming ``name``."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise DataError(f"{name}={value!r} is not a date; expected a date like '2010-01-01'")
    return calendar_dates([ts])[0]


def calendar_dates(dates) -> pd.DatetimeIndex:
    """Naive midnight dates: each timestamp's calendar date in its own time zone.

    A time-zone-aware timestamp keeps its wall-clock date (``tz_localize(None)``), a
    time of day is dropped (``normalize``). Values of different zones (an object
    array of Timestamps) are converted one by one.
    """
    if isinstance(dates, pd.DatetimeIndex):  # the same object keeps its cached checks
        index = dates
    else:
        try:
            index = pd.DatetimeIndex(dates)
        except (ValueError, TypeError):  # mixed zones: each value in its own
            index = pd.DatetimeIndex([_local(pd.Timestamp(d)) for d in dates])
    if index.tz is not None:
        index = index.tz_localize(None)
    return index if index.is_normalized else index.normalize()


def _local(ts: pd.Timestamp) -> pd.Timestamp:
    return ts if ts is pd.NaT or ts.tzinfo is None else ts.tz_localize(None)


def check_unique_columns(columns, source: str, where: str = "") -> None:
    """Refuse repeated column names (compared after stripping spaces), naming them."""
    counts = Counter(str(c).strip() for c in columns)
    dup = sorted(c for c, k in counts.items() if k > 1)
    if dup:
        raise DataError(
            f"{source}: duplicate column names {dup}{where}; expected one column per asset. "
            "Rename or drop the repeated columns"
        )


def find_date_column(columns: list[str], source: str, date_column: str | None = None) -> str:
    """The name of the date column: ``date_column`` if given, else a conventional name."""
    if date_column is not None:
        if date_column not in columns:
            raise DataError(
                f"{source}: date_column={date_column!r} is not a column; "
                f"columns are {list(columns)}"
            )
        return date_column
    for c in columns:
        if str(c).strip().lower() in DATE_COLUMN_NAMES:
            return c
    raise DataError(
        f"{source}: no date column; found columns {list(columns)[:8]}"
        f"{' ...' if len(columns) > 8 else ''}; expected one named 'date' (any case) "
        "or pass date_column='NAME'"
    )


def _row_label(pos: int, from_file: bool) -> str:
    # Data row pos (0-based) is line pos + 2 of a file with a header line.
    return f"row {pos + 1} (line {pos + 2})" if from_file else f"row {pos}"


def _parse_dates(raw: pd.Series, source: str, column: str, from_file: bool) -> pd.DatetimeIndex:
    """Calendar dates of a date column; see the policy in the module docstring."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        raise DataError(
            f"{source}: column {column!r} holds numbers (first {raw.iloc[0]}), which pandas "
            "would read as nanoseconds since 1970; expected dates. Convert it first, e.g. "
            "pd.to_datetime(column, format='%Y%m%d') or pd.to_datetime(column, unit='s')"
        )
    if isinstance(raw.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(raw.dtype):
        return calendar_dates(raw)
    # Strings, or objects of mixed zones: render as text and drop any UTC offset, so that
    # every row is parsed as its own wall-clock time with one inferred format.
    text = raw.map(lambda v: v if isinstance(v, str) or pd.isna(v) else str(v))
    text = text.astype("string").str.strip().str.replace(_OFFSET, r"\1", regex=True)
    try:
        parsed = pd.to_datetime(text, errors="coerce")
    except (ValueError, TypeError):  # named zones that differ between rows
        parsed = pd.Series([_parse_one(v) for v in text], dtype="datetime64[ns]")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size and parsed.notna().any():
        # The format is inferred from the first row; ISO 8601 rows of another precision
        # ("2021-03-12" beside "2021-03-15 16:00") are unambiguous, so parse them too.
        parsed = parsed.fillna(pd.to_datetime(text, format="ISO8601", errors="coerce"))
        bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        pos = int(bad[0])
        raise DataError(
            f"{source}: column {column!r}, {_row_label(pos, from_file)}: value "
            f"{raw.iloc[pos]!r} is not a date ({bad.size} such cells); expected dates like "
            "'2020-01-31'"
        )
    return calendar_dates(parsed)


def _parse_one(value) -> pd.Timestamp:
    try:
        return _local(pd.Timestamp(value))
    except (ValueError, TypeError):
        return pd.NaT


def _to_numeric(raw: pd.DataFrame, dates: pd.DatetimeIndex, source: str, from_file: bool):
    out = {}
    for col in raw.columns:
        series = raw[col]
        if pd.api.types.is_bool_dtype(series.dtype):
            raise DataError(
                f"{source}: column {col!r} holds booleans; expected prices (positive numbers)"
            )
        num = pd.to_numeric(series, errors="coerce")
        text = series.astype("string").str.strip()
        bad = np.flatnonzero((num.isna() & series.notna() & (text != "")).to_numpy())
        if bad.size:
            pos = int(bad[0])
            raise DataError(
                f"{source}: column {col!r}, {_row_label(pos, from_file)} (date "
                f"{dates[pos].date()}): value {series.iloc[pos]!r} is not a number "
                f"({bad.size} such cells in this column); expected a positive price"
            )
        out[col] = num.to_numpy(dtype=np.float64)
    return pd.DataFrame(out, index=dates)


def _check_unique_dates(
    dates: pd.DatetimeIndex, written: pd.Series, source: str, from_file: bool
) -> None:
    dup = dates.duplicated(keep=False)
    if not dup.any():
        return
    pos = np.flatnonzero(dup)
    shown, converted = [], False
    for p in pos[:_MAX_EXAMPLES]:
        label, value = _row_label(int(p), from_file), written.iloc[p]
        if str(value).strip() != str(dates[p].date()):
            label, converted = f"{label}: {str(value).strip()!r}", True
        shown.append(f"{dates[p].date()} ({label})")
    hint = (
        " Timestamps become their calendar date in their own time zone, so intraday rows "
        "or one day written in two zones collide; keep one row (e.g. the close) per day"
        if converted
        else ""
    )
    raise DataError(
        f"{source}: duplicate dates: {', '.join(shown)}"
        f"{' ...' if pos.size > _MAX_EXAMPLES else ''} ({pos.size} rows share a date); "
        f"expected one row per trading day.{hint}"
    )


def _check_values(frame: pd.DataFrame, source: str) -> None:
    values = frame.to_numpy()
    for j, col in enumerate(frame.columns):
        v = values[:, j]
        if np.isnan(v).all():
            raise DataError(
                f"{source}: column {col!r} has no prices at all (every cell is empty); "
                "drop the column or fill it"
            )
        bad = np.flatnonzero(np.isinf(v) | (v <= 0))
        if bad.size:
            pos = int(bad[0])
            date = frame.index[pos].date()
            raise DataError(
                f"{source}: column {col!r}, date {date}: price {float(v[pos])!r} "
                f"is not a positive finite number ({bad.size} such cells in this column); "
                "expected prices > 0"
            )


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-d boolean array."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(s), int(e - s)) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def _fill_gaps(frame: pd.DataFrame, source: str, max_fill: int) -> tuple[pd.DataFrame, list[str]]:
    values = frame.to_numpy(copy=True)
    repairs = []
    for j, col in enumerate(frame.columns):
        v = values[:, j]
        first = int(np.argmax(~np.isnan(v)))
        missing = np.isnan(v)
        missing[:first] = False
        runs = _runs(missing)
        if not runs:
            continue
        start, length = max(runs, key=lambda r: r[1])
        if length > max_fill:
            last = start + length - 1
            tail = " (to the end of the data: did it stop trading?)" if last == len(v) - 1 else ""
            raise DataError(
                f"{source}: column {col!r} has {length} consecutive missing prices from "
                f"{frame.index[start].date()} to {frame.index[last].date()}{tail}; at most "
                f"max_fill={max_fill} are forward-filled. Fill or trim the data, or raise "
                "max_fill"
            )
        idx = np.where(missing, 0, np.arange(len(v)))
        np.maximum.accumulate(idx, out=idx)
        values[:, j] = np.where(missing, v[idx], v)
        repairs.append(
            f"{col}: forward-filled {int(missing.sum())} missing prices in {len(runs)} gaps "
            f"(longest {length} days, from {frame.index[start].date()})"
        )
    return pd.DataFrame(values, index=frame.index, columns=frame.columns), repairs


def validate_prices(
    raw: pd.DataFrame,
    source: str,
    *,
    date_column: str | None = None,
    max_fill: int = DEFAULT_MAX_FILL,
    from_file: bool = False,
) -> tuple[pd.DataFrame, list[str]]:
    """Check a wide price table and apply the documented repairs.

    Parameters
    ----------
    raw : DataFrame
        A date column (or a DatetimeIndex) and one price column per asset; cells may
        be strings (as read from a CSV) or numbers.
    source : str
        Name used in messages (the file path).
    date_column : str, optional
        Name of the date column; default: a column named date/datetime/timestamp/time/day.
    max_fill : int
        Longest run of missing prices, after an asset's first price, that is
        forward-filled; a longer run is an error.
    from_file : bool
        Report line numbers of a file with one header line.

    Returns
    -------
    prices : DataFrame
        float64, sorted DatetimeIndex, one column per asset; NaN only before an asset's
        first price.
    repairs : list of str
        Every repair made, in words (also warned as :class:`DataRepairWarning`).
    """
    if not isinstance(max_fill, int | np.integer) or max_fill < 0:
        raise ValueError(f"max_fill must be an integer >= 0; got {max_fill!r}")
    if raw.shape[0] == 0 or raw.shape[1] == 0:
        raise DataError(
            f"{source}: the table is empty ({raw.shape[0]} rows, {raw.shape[1]} columns); "
            "expected a date column and one price column per asset, one row per trading day"
        )
    if isinstance(raw.index, pd.DatetimeIndex) and date_column is None:
        written = raw.index.to_series().reset_index(drop=True)
        dates = _parse_dates(written, source, raw.index.name or "index", from_file)
        body = raw.reset_index(drop=True)
    else:
        check_unique_columns(raw.columns, source)
        dcol = find_date_column(list(raw.columns), source, date_column)
        written = raw[dcol].reset_index(drop=True)
        dates = _parse_dates(written, source, str(dcol), from_file)
        body = raw.drop(columns=[dcol]).reset_index(drop=True)
    if body.shape[1] == 0:
        raise DataError(f"{source}: no price columns besides the date column")
    check_unique_columns(body.columns, source)
    body.columns = [str(c).strip() for c in body.columns]

    frame = _to_numeric(body, dates, source, from_file)
    _check_unique_dates(dates, written, source, from_file)
    _check_values(frame, source)

    repairs: list[str] = []
    if not frame.index.is_monotonic_increasing:
        pos = int(np.flatnonzero(np.diff(frame.index.values) < np.timedelta64(0))[0]) + 1
        repairs.append(
            f"sorted {len(frame)} rows into date order (first out of order: "
            f"{_row_label(pos, from_file)}, date {frame.index[pos].date()} after "
            f"{frame.index[pos - 1].date()})"
        )
        frame = frame.sort_index(kind="stable")
    frame, filled = _fill_gaps(frame, source, max_fill)
    repairs.extend(filled)
    if repairs:
        warnings.warn(
            f"{source}: {len(repairs)} repairs: " + "; ".join(repairs),
            DataRepairWarning,
            stacklevel=3,
        )
    return frame, repairs
