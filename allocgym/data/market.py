"""`MarketData`: the aligned price panel every other stage consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocgym._typing import BoolArray, FloatArray
from allocgym.data.validation import as_date, calendar_dates
from allocgym.exceptions import DataError

__all__ = ["MarketData"]


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False, repr=False)
class MarketData:
    """Daily prices of ``n_assets`` assets on ``n_dates`` trading days, aligned.

    Build it with :meth:`from_prices` (or :func:`allocgym.load_market`), which derives
    the returns and the availability mask; the constructor only checks that the
    arrays it is given agree.

    Attributes
    ----------
    dates : pandas.DatetimeIndex, shape (n_dates,)
        Trading days, strictly increasing, naive and at midnight: the constructor turns
        time-zone-aware or intraday timestamps into their calendar date in their own
        zone (the policy of :mod:`allocgym.data.validation`).
    assets : tuple of str, shape (n_assets,)
    prices : ndarray of float64, shape (n_dates, n_assets)
        Close prices; NaN where the asset is not available (before its first price).
    returns : ndarray of float64, shape (n_dates, n_assets)
        Simple returns ``r[t] = p[t] / p[t-1] - 1`` earned from close t-1 to close t;
        NaN where either price is missing (row 0, an asset's first day).
    log_returns : ndarray of float64, shape (n_dates, n_assets)
        ``log(p[t] / p[t-1])``, NaN where ``returns`` is NaN.
    available : ndarray of bool, shape (n_dates, n_assets)
        True where the asset has a price at t (it can be traded at the close of t).
    volume : ndarray of float64, shape (n_dates, n_assets), optional
    risk_free : ndarray of float64, shape (n_dates,), optional
        Daily simple risk-free rate earned by cash from close t-1 to close t.
    source : str
        Where the data came from (file path, ``"embedded S&P 500"``, ...).
    repairs : tuple of str
        Every repair the loader made (sorting, forward fills), in words.

    All arrays are read-only; slicing (``market[10:500]``, :meth:`between`) returns
    views that stay aligned.
    """

    dates: pd.DatetimeIndex
    assets: tuple[str, ...]
    prices: FloatArray
    returns: FloatArray
    log_returns: FloatArray
    available: BoolArray
    volume: FloatArray | None = None
    risk_free: FloatArray | None = None
    source: str = "<memory>"
    repairs: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "dates", calendar_dates(self.dates))
        n, m = len(self.dates), len(self.assets)
        for name in ("prices", "returns", "log_returns", "available", "volume"):
            arr = getattr(self, name)
            if arr is None:
                continue
            if arr.shape != (n, m):
                raise DataError(
                    f"MarketData.{name} has shape {arr.shape}; expected (n_dates, n_assets) "
                    f"= ({n}, {m})"
                )
            object.__setattr__(self, name, _readonly(arr))
        if self.risk_free is not None:
            if self.risk_free.shape != (n,):
                raise DataError(
                    f"MarketData.risk_free has shape {self.risk_free.shape}; expected ({n},)"
                )
            object.__setattr__(self, "risk_free", _readonly(self.risk_free))
        if len(set(self.assets)) != m:
            dup = sorted({a for a in self.assets if self.assets.count(a) > 1})
            raise DataError(f"MarketData.assets has duplicate names {dup}; expected unique names")
        if not self.dates.is_unique:
            dup = self.dates[self.dates.duplicated()].unique()
            raise DataError(
                f"MarketData.dates has duplicate dates {[str(d.date()) for d in dup[:3]]}"
                f"{' ...' if len(dup) > 3 else ''} (timestamps are reduced to their calendar "
                "date in their own time zone); expected one row per trading day"
            )
        if not self.dates.is_monotonic_increasing:
            raise DataError("MarketData.dates must be strictly increasing; sort them first")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_prices(
        cls,
        prices: FloatArray | pd.DataFrame,
        dates: pd.DatetimeIndex | None = None,
        assets: tuple[str, ...] | list[str] | None = None,
        *,
        volume: FloatArray | None = None,
        risk_free: FloatArray | None = None,
        source: str = "<memory>",
        repairs: tuple[str, ...] = (),
    ) -> MarketData:
        """Derive returns and availability from a clean price array.

        ``prices`` must already be validated: positive where present, and once an
        asset has a price it has one every later day (see
        :func:`allocgym.data.validate_prices` for the checks and repairs).
        """
        if isinstance(prices, pd.DataFrame):
            dates = pd.DatetimeIndex(prices.index) if dates is None else dates
            assets = tuple(str(c) for c in prices.columns) if assets is None else assets
            prices = prices.to_numpy(dtype=np.float64)
        if dates is None or assets is None:
            raise TypeError("from_prices needs dates and assets unless prices is a DataFrame")
        p = np.array(prices, dtype=np.float64, copy=True)
        available = np.isfinite(p)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.full_like(p, np.nan)
            ratio[1:] = p[1:] / p[:-1]
            returns = ratio - 1.0
            log_returns = np.log(ratio)
        return cls(
            dates=pd.DatetimeIndex(dates),
            assets=tuple(str(a) for a in assets),
            prices=p,
            returns=returns,
            log_returns=log_returns,
            available=available,
            volume=None if volume is None else np.asarray(volume, dtype=np.float64),
            risk_free=None if risk_free is None else np.asarray(risk_free, dtype=np.float64),
            source=source,
            repairs=tuple(repairs),
        )

    def with_prices(self, prices: FloatArray) -> MarketData:
        """A copy with new prices (same dates, assets, volume, risk-free), returns re-derived."""
        return MarketData.from_prices(
            prices,
            self.dates,
            self.assets,
            volume=self.volume,
            risk_free=self.risk_free,
            source=self.source,
            repairs=self.repairs,
        )

    # ------------------------------------------------------------------ shape & slicing
    @property
    def n_dates(self) -> int:
        return len(self.dates)

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    def __len__(self) -> int:
        return self.n_dates

    def __getitem__(self, rows: slice) -> MarketData:
        """Positional slice of the dates (``market[100:600]``); returns views, stays aligned."""
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError(
                f"MarketData supports contiguous positional slices like market[10:500]; "
                f"got {rows!r}"
            )
        return self._rows(rows)

    def _rows(self, rows: slice) -> MarketData:
        """``self[rows]`` built without re-running the checks of ``__post_init__``.

        A contiguous slice of a validated ``MarketData`` is valid by construction: every
        array loses the same rows, so the shapes still agree; a subset of strictly
        increasing dates is strictly increasing; the asset names are unchanged; and a
        view of a read-only array is read-only. The backtester slices ``market[: t + 1]``
        at every step of every policy (:meth:`allocgym.policy.PolicyState.at`), where
        the checks cost more than the slice. ``tests/data/test_market.py`` checks that
        this equals the validated ``dataclasses.replace`` slice field by field.
        """
        view = object.__new__(type(self))
        fields = view.__dict__  # frozen: fill the instance dict, as __init__ would
        fields.update({name: self.__dict__[name] for name in self.__dataclass_fields__})
        fields["dates"] = self.dates[rows]
        for name in ("prices", "returns", "log_returns", "available"):
            fields[name] = fields[name][rows]
        if self.volume is not None:
            fields["volume"] = self.volume[rows]
        if self.risk_free is not None:
            fields["risk_free"] = self.risk_free[rows]
        return view

    def between(self, start: str | pd.Timestamp | None = None, end=None) -> MarketData:
        """Dates in ``[start, end]`` (both inclusive, either may be None).

        A bound is reduced to its calendar date like the data (a time of day is
        dropped, a time-zone-aware bound keeps its date in its own zone).
        """
        i0 = 0 if start is None else int(self.dates.searchsorted(as_date(start, "start"), "left"))
        i1 = (
            self.n_dates
            if end is None
            else int(self.dates.searchsorted(as_date(end, "end"), "right"))
        )
        if i1 <= i0:
            raise DataError(
                f"no trading days between start={start!s} and end={end!s}; data covers "
                f"{self.dates[0].date()} to {self.dates[-1].date()}"
            )
        return self[i0:i1]

    def index_of(self, date: str | pd.Timestamp) -> int:
        """Position of the last trading day on or before ``date``."""
        i = int(self.dates.searchsorted(as_date(date, "date"), "right")) - 1
        if i < 0:
            raise DataError(f"date {date!s} is before the first trading day {self.dates[0].date()}")
        return i

    def require_rows(self, window: int, what: str = "window") -> None:
        """Raise a :class:`DataError` unless there are at least ``window`` dates."""
        if self.n_dates < window:
            raise DataError(
                f"{self.source}: {self.n_dates} rows of data, fewer than the requested "
                f"{what}={window}; supply at least {window} trading days or lower {what}"
            )

    # ------------------------------------------------------------------ views
    @property
    def rf(self) -> FloatArray:
        """Daily risk-free rate, zeros if none was given. Shape (n_dates,)."""
        return np.zeros(self.n_dates) if self.risk_free is None else self.risk_free

    def first_valid_dates(self) -> dict[str, pd.Timestamp]:
        """First date each asset has a price."""
        first = self.available.argmax(axis=0)
        return {a: self.dates[i] for a, i in zip(self.assets, first, strict=True)}

    def to_frame(self, what: str = "prices") -> pd.DataFrame:
        """``prices``, ``returns``, ``log_returns``, ``available`` or ``volume`` as a DataFrame."""
        arr = getattr(self, what, None)
        if arr is None or what not in ("prices", "returns", "log_returns", "available", "volume"):
            raise ValueError(
                f"what={what!r} is not available; expected one of 'prices', 'returns', "
                "'log_returns', 'available'" + (", 'volume'" if self.volume is not None else "")
            )
        return pd.DataFrame(np.array(arr), index=self.dates, columns=list(self.assets))

    def summary(self) -> str:
        """A human-readable summary: assets, date range, gaps, first date per asset, repairs."""
        lines = [
            f"source:      {self.source}",
            f"assets:      {self.n_assets} ({', '.join(self.assets)})",
            f"date range:  {self.dates[0].date()} to {self.dates[-1].date()} "
            f"({self.n_dates} trading days)",
        ]
        if self.n_dates > 1:
            gaps = np.diff(self.dates.values).astype("timedelta64[D]").astype(int)
            k = int(np.argmax(gaps))
            lines.append(
                f"calendar:    longest gap {gaps[k]} days "
                f"({self.dates[k].date()} to {self.dates[k + 1].date()}); "
                f"{int((gaps > 4).sum())} gaps longer than 4 days"
            )
        first = self.first_valid_dates()
        late = {a: d for a, d in first.items() if d > self.dates[0]}
        lines.append(
            "first price: all assets on the first date"
            if not late
            else "first price: " + ", ".join(f"{a} {d.date()}" for a, d in late.items())
        )
        lines.append(f"volume:      {'yes' if self.volume is not None else 'no'}")
        lines.append(f"risk-free:   {'yes' if self.risk_free is not None else 'no (cash earns 0)'}")
        if self.repairs:
            lines.append(f"repairs:     {len(self.repairs)}")
            lines.extend(f"  - {r}" for r in self.repairs)
        else:
            lines.append("repairs:     none")
        return "\n".join(lines)

    def __repr__(self) -> str:
        if self.n_dates == 0:
            return f"MarketData({self.n_assets} assets, 0 trading days, source={self.source!r})"
        return (
            f"MarketData({self.n_assets} assets, {self.n_dates} trading days, "
            f"{self.dates[0].date()} to {self.dates[-1].date()}, source={self.source!r})"
        )
