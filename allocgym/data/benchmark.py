"""A market benchmark: the embedded S&P 500 index, or a user's column or file, by date.

:func:`load_benchmark` returns daily index *levels* (prices of a total-return or price
index, as a pandas Series); aligned to a :class:`MarketData` (``market=``) it has
exactly the market's dates. :func:`benchmark_returns` turns levels into the daily
simple returns that :mod:`allocgym.backtest.metrics` compares a policy with.

The embedded series is the S&P 500 price index (no dividends) on the same 8,313 days
as the embedded stocks; see ``allocgym/data/_embedded/README.md`` for its source and
licence.
"""

from __future__ import annotations

import functools
import os
import warnings
from importlib import resources

import numpy as np
import pandas as pd

from allocgym.data.loaders import read_table
from allocgym.data.market import MarketData
from allocgym.data.validation import DEFAULT_MAX_FILL, validate_prices
from allocgym.exceptions import AllocgymWarning, DataError

__all__ = [
    "EMBEDDED_BENCHMARK",
    "BenchmarkCoverageWarning",
    "align_benchmark",
    "benchmark_returns",
    "load_benchmark",
]

EMBEDDED_BENCHMARK = "embedded S&P 500 index (1990-2022)"

BenchmarkSource = str | os.PathLike | pd.Series | pd.DataFrame | MarketData | None


class BenchmarkCoverageWarning(AllocgymWarning):
    """The benchmark covers only part of the market's dates (the rest are NaN)."""


@functools.lru_cache(maxsize=1)
def _load_embedded() -> pd.Series:
    ref = resources.files("allocgym.data").joinpath("_embedded/sp500_index.csv.gz")
    with resources.as_file(ref) as path:
        raw = pd.read_csv(path, index_col=0, parse_dates=True)
    frame, _ = validate_prices(raw, EMBEDDED_BENCHMARK)
    return frame["SP500"].rename("SP500")


def _pick_column(frame: pd.DataFrame, column: str | None, source: str) -> pd.Series:
    if column is None:
        if frame.shape[1] != 1:
            raise DataError(
                f"{source}: {frame.shape[1]} value columns {list(frame.columns)}; pass "
                "column=NAME to say which one is the benchmark"
            )
        return frame.iloc[:, 0]
    if column not in frame.columns:
        raise DataError(
            f"{source}: no column {column!r}; found {list(frame.columns)}; expected the "
            "benchmark's levels in the named column"
        )
    return frame[column]


def _read(
    source: BenchmarkSource, column: str | None, date_column: str | None, max_fill: int
) -> pd.Series:
    """Validated levels (float64, sorted unique dates) from any accepted source."""
    if source is None:
        if column not in (None, "SP500"):
            raise DataError(f"column={column!r}: the embedded benchmark has one column, 'SP500'")
        return _load_embedded()
    if isinstance(source, MarketData):
        if column not in source.assets:
            raise DataError(
                f"column={column!r} is not an asset of {source.source}; expected one of "
                f"{list(source.assets)}"
            )
        i = source.assets.index(column)
        return pd.Series(source.prices[:, i], index=source.dates, name=column).dropna()
    if isinstance(source, pd.Series):
        name = str(source.name) if source.name is not None else "benchmark"
        source, column = source.to_frame(name), name
    if not isinstance(source, str | os.PathLike | pd.DataFrame):
        raise TypeError(
            "benchmark source must be None, a path, a Series, a DataFrame or MarketData; "
            f"got {type(source).__name__}"
        )
    from_file = not isinstance(source, pd.DataFrame)
    name = str(source) if from_file else "<benchmark DataFrame>"
    raw = read_table(source) if from_file else source
    frame, _ = validate_prices(
        raw, name, date_column=date_column, max_fill=max_fill, from_file=from_file
    )
    series = _pick_column(frame, column, name).dropna()
    if series.empty:
        raise DataError(f"{name}: the benchmark column has no values")
    return series.rename(str(series.name))


def align_benchmark(
    levels: pd.Series, dates: pd.DatetimeIndex, *, max_fill: int = DEFAULT_MAX_FILL
) -> pd.Series:
    """Benchmark levels on exactly ``dates``.

    A date the benchmark lacks takes the last level before it (exchange holidays differ),
    up to ``max_fill`` consecutive dates; dates before the benchmark's first level or
    after its last are NaN, with a :class:`BenchmarkCoverageWarning`.

    Raises
    ------
    DataError
        No date in common (the message shows both ranges), or a gap longer than
        ``max_fill`` dates inside the benchmark's range.
    """
    dates = pd.DatetimeIndex(dates)
    first, last = levels.index[0], levels.index[-1]
    if len(dates) == 0 or dates[-1] < first or dates[0] > last:
        span = f"{dates[0].date()}..{dates[-1].date()}" if len(dates) else "no dates"
        raise DataError(
            f"the benchmark ({first.date()}..{last.date()}) has no dates overlapping the "
            f"market's ({span}); expected a benchmark covering the market's dates"
        )
    union = levels.reindex(levels.index.union(dates))
    inside = (union.index >= first) & (union.index <= last)
    filled = union.ffill(limit=max_fill).where(inside)
    aligned = filled.reindex(dates)
    within = (dates >= first) & (dates <= last)
    gap = aligned.isna().to_numpy() & within
    if gap.any():
        raise DataError(
            f"the benchmark has no level within {max_fill} days before {dates[gap][0].date()} "
            f"(inside its range {first.date()}..{last.date()}); expected daily levels"
        )
    outside = int((~within).sum())
    if outside:
        warnings.warn(
            f"the benchmark ({first.date()}..{last.date()}) covers {len(dates) - outside} of "
            f"the market's {len(dates)} dates; the other {outside} are NaN",
            BenchmarkCoverageWarning,
            stacklevel=3,
        )
    return aligned.rename(levels.name)


def load_benchmark(
    source: BenchmarkSource = None,
    market: MarketData | None = None,
    *,
    column: str | None = None,
    date_column: str | None = None,
    max_fill: int = DEFAULT_MAX_FILL,
) -> pd.Series:
    """Daily benchmark levels, optionally aligned to a market's dates.

    Parameters
    ----------
    source : None, path, Series, DataFrame or MarketData
        ``None``: the embedded S&P 500 index (column ``SP500``, 1990-01-02 to
        2022-12-28, the dates of the embedded stocks). A CSV/Parquet file or a
        DataFrame: a date column (or DatetimeIndex) and the levels, in ``column`` if
        there are several. A Series of levels indexed by date. A :class:`MarketData`:
        the prices of its asset ``column`` (e.g. an index ETF in the user's data).
    market : MarketData, optional
        Align to ``market.dates`` (see :func:`align_benchmark`).
    column : str, optional
        Which column holds the benchmark.
    date_column : str, optional
        Name of the date column of a file or DataFrame.
    max_fill : int, default 5
        Longest run of missing levels forward-filled (in the file, and when aligning).

    Returns
    -------
    pandas.Series
        Levels (float64) indexed by date, named after the column.

    Raises
    ------
    DataError
        Unreadable or invalid levels (as :func:`~allocgym.load_market` reports them),
        an unknown ``column``, or no date in common with ``market``.
    """
    levels = _read(source, column, date_column, max_fill)
    if market is None:
        return levels
    return align_benchmark(levels, market.dates, max_fill=max_fill)


def benchmark_returns(levels: pd.Series) -> pd.Series:
    """Daily simple returns ``b_t = L_t / L_{t-1} - 1`` (NaN on the first day)."""
    values = levels.to_numpy(dtype=np.float64)
    out = np.full(len(values), np.nan)
    out[1:] = values[1:] / values[:-1] - 1.0
    return pd.Series(out, index=levels.index, name=levels.name)
