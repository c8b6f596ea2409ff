"""Historical stress windows: how each policy of a run did in the crises we know.

A window ``(start, end)`` covers the daily returns dated ``start < d <= end``: wealth
goes from the close of ``start`` to the close of ``end`` (a bound that is not a trading
day stands for the last trading day on or before it). The defaults,
:data:`CRISIS_WINDOWS`, use the S&P 500's peak and trough closes where they are well
known, calendar months otherwise.

Two views:

- :func:`historical_stress`: each policy's own out-of-sample track over the window
  (its trades and costs included): return, maximum drawdown, trading days to recover,
  worst day, and the differences with 1/N and a benchmark.
- :func:`replay`: "what if it happened now": the window's daily asset returns applied to
  each policy's latest weights, bought and held through the window (weights drift with
  prices, no trade, hence no cost), through the environment's
  :meth:`~allocgym.envs.accounting.Accounting.settle`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocgym._io import read_yaml_mapping
from allocgym._typing import FloatArray
from allocgym.backtest.results import Results
from allocgym.data import MarketData
from allocgym.exceptions import ConfigError, DataError
from allocgym.risk._paths import daily_returns, hold

__all__ = [
    "CRISIS_WINDOWS",
    "StressTable",
    "Window",
    "equal_weight_policy",
    "historical_stress",
    "latest_weights",
    "load_windows",
    "replay",
    "resolve_windows",
    "window_growth",
]


@dataclass(frozen=True)
class Window:
    """A named crisis window: returns dated ``start < d <= end``."""

    name: str
    start: pd.Timestamp
    end: pd.Timestamp

    def __post_init__(self) -> None:
        for key in ("start", "end"):
            value = getattr(self, key)
            try:
                ts = pd.Timestamp(value)
            except (TypeError, ValueError):
                ts = pd.NaT
            if ts is pd.NaT:
                raise ValueError(
                    f"window {self.name!r}: {key}={value!r} is not a date; expected a date "
                    "like '2020-02-19'"
                )
            ts = ts.tz_localize(None) if ts.tz is not None else ts
            object.__setattr__(self, key, ts.normalize())
        if not self.start < self.end:
            raise ValueError(
                f"window {self.name!r}: start={self.start.date()} must be before "
                f"end={self.end.date()}"
            )

    def label(self) -> str:
        return f"{self.start.date()} to {self.end.date()}"


CRISIS_WINDOWS: dict[str, tuple[str, str]] = {
    "1998 LTCM": ("1998-07-31", "1998-10-30"),
    "2000-02 dot-com": ("2000-03-24", "2002-10-09"),
    "2008-09 GFC": ("2007-10-09", "2009-03-09"),
    "2011 euro crisis": ("2011-06-30", "2011-10-31"),
    "2020 COVID": ("2020-02-19", "2020-03-23"),
    "2022 rate shock": ("2022-01-03", "2022-10-12"),
}
"""Default windows for the embedded 1990-2022 data, ``name -> (start, end)``.

LTCM: August-October 1998 (close of 31 July to close of 30 October); dot-com: S&P 500
peak 24 March 2000 to trough 9 October 2002; GFC: peak 9 October 2007 to trough 9 March
2009; euro crisis: July-October 2011; COVID: peak 19 February to trough 23 March 2020;
rate shock: peak 3 January to trough 12 October 2022."""

WindowSpec = Mapping[str, Any] | None


def resolve_windows(windows: WindowSpec = None) -> list[Window]:
    """:class:`Window` objects from ``name -> (start, end)`` or ``name -> {start, end}``.

    ``None``: :data:`CRISIS_WINDOWS`.
    """
    spec = CRISIS_WINDOWS if windows is None else windows
    if not isinstance(spec, Mapping):
        raise TypeError(
            f"windows must be a mapping name -> (start, end); got {type(spec).__name__}"
        )
    out = []
    for name, value in spec.items():
        if isinstance(value, Window):
            out.append(value)
            continue
        if isinstance(value, Mapping):
            missing = [k for k in ("start", "end") if k not in value]
            if missing:
                raise ValueError(f"window {name!r}: missing {missing}; expected start and end")
            value = (value["start"], value["end"])
        if isinstance(value, str) or not hasattr(value, "__len__") or len(value) != 2:
            raise ValueError(
                f"window {name!r}: {value!r} is not a (start, end) pair or a mapping "
                "{start: ..., end: ...}"
            )
        out.append(Window(str(name), *value))
    if not out:
        raise ValueError("windows is empty; expected at least one name -> (start, end)")
    return out


def load_windows(path: str | os.PathLike) -> dict[str, tuple[Any, Any]]:
    """Windows from a YAML file.

    Either a top-level mapping or one under ``windows:``; each entry is
    ``name: [start, end]`` or ``name: {start: ..., end: ...}``::

        windows:
          2020 COVID: {start: 2020-02-19, end: 2020-03-23}
          my crash: [2018-09-20, 2018-12-24]
    """
    path = Path(path)
    shape = "write name: [start, end] pairs, optionally under 'windows:'"
    raw: Any = read_yaml_mapping(path, "the stress windows", shape)
    if set(raw) == {"windows"}:
        raw = raw["windows"]
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(
            f"{path}: expected a mapping name -> [start, end] (optionally under "
            f"'windows:'); got {type(raw).__name__}"
        )
    try:
        resolve_windows(raw)  # validate at the boundary, naming the file
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return dict(raw)


@dataclass(frozen=True)
class StressTable:
    """A stress table and what was left out of it.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (window, policy), indexed by ``window`` and ``policy``.
    notes : list of str
        Windows skipped (outside the data) and other simplifications, in words.
    """

    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- helpers
def _wealth_stats(returns: FloatArray) -> tuple[float, float, int, float, int]:
    """Return, max drawdown (<= 0), trough position, worst day and its position.

    ``returns`` has shape (n_days,); wealth starts at 1 before the first day.
    """
    wealth = np.cumprod(1.0 + returns)
    peak = np.maximum.accumulate(np.concatenate(([1.0], wealth)))[1:]
    dd = wealth / peak - 1.0
    trough = int(np.argmin(dd))
    worst = int(np.argmin(returns))
    return float(wealth[-1] - 1.0), float(min(dd.min(), 0.0)), trough, float(returns[worst]), worst


def _days_to_recover(full: FloatArray, first: int, last: int) -> float:
    """Trading days from the window's deepest trough until wealth regains its prior peak.

    ``full``: the whole track of daily returns; the window is positions
    ``first..last``. The peak is measured from the window's start (wealth 1 at the close
    of ``start``); recovery may happen after the window. NaN when it never does.
    """
    window = full[first : last + 1]
    _, mdd, trough, _, _ = _wealth_stats(window)
    if mdd == 0.0:
        return 0.0
    wealth = np.cumprod(1.0 + full[first:])
    peak = max(1.0, float(wealth[: trough + 1].max()))
    back = np.flatnonzero(wealth[trough + 1 :] >= peak * (1.0 - 1e-12))
    return float(back[0] + 1) if back.size else float("nan")


def equal_weight_policy(results: Results) -> str | None:
    """The name of the run's 1/N policy (class EqualWeight, else the label ``1/N``)."""
    policies = results.config.get("policies") or {}
    for name in results.policies:
        cls = str((policies.get(name) or {}).get("class", ""))
        if cls.rsplit(".", 1)[-1] == "EqualWeight":
            return name
    return "1/N" if "1/N" in results.policies else None


def _benchmark_series(
    results: Results, benchmark: str | pd.Series | None
) -> tuple[str | None, pd.Series | None]:
    if benchmark is None:
        return None, None
    if isinstance(benchmark, str):
        if benchmark not in results.policies:
            raise ValueError(
                f"benchmark={benchmark!r} is not a policy of the run; have {results.policies}"
            )
        return benchmark, results.returns[benchmark]
    if isinstance(benchmark, pd.Series):
        # NaN only at the ends (before or after the index's dates): the index covers less
        series = benchmark.dropna()
        series.index = pd.DatetimeIndex(series.index)
        return str(benchmark.name or "benchmark"), series
    raise TypeError(
        f"benchmark must be a policy name, a pandas Series of daily returns or None; got "
        f"{type(benchmark).__name__}"
    )


def _positions(dates: pd.DatetimeIndex, w: Window) -> tuple[int, int]:
    """Positions ``first..last`` of the dates ``start < d <= end`` (last < first: none)."""
    first = int(dates.searchsorted(w.start, "right"))
    last = int(dates.searchsorted(w.end, "right")) - 1
    return first, last


def _coverage(dates: pd.DatetimeIndex, w: Window) -> str | None:
    """Why ``dates`` do not cover the window (None if they do)."""
    span = f"{dates[0].date()} to {dates[-1].date()}" if len(dates) else "no dates"
    first, last = _positions(dates, w)
    if last < first:
        return f"window {w.name!r} ({w.label()}) is outside the data ({span})"
    if w.start < dates[0] or w.end > dates[-1]:
        return f"window {w.name!r} ({w.label()}) is only partly inside the data ({span})"
    return None


def _select(
    windows: WindowSpec, dates: pd.DatetimeIndex, skip_outside: bool | None
) -> tuple[list[Window], list[str]]:
    """The windows inside ``dates``; the others skipped with a note or refused."""
    skip = windows is None if skip_outside is None else skip_outside
    kept, notes = [], []
    for w in resolve_windows(windows):
        why = _coverage(dates, w)
        if why is None:
            kept.append(w)
        elif skip:
            notes.append(f"{why}: skipped")
        else:
            raise DataError(f"{why}; choose a window inside the data, or pass skip_outside=True")
    return kept, notes


# ---------------------------------------------------------------- historical stress
def historical_stress(
    results: Results,
    windows: WindowSpec = None,
    *,
    benchmark: str | pd.Series | None = None,
    skip_outside: bool | None = None,
) -> StressTable:
    """Each policy's out-of-sample track over each crisis window.

    Parameters
    ----------
    results : Results
    windows : mapping name -> (start, end) or {start, end}, optional
        Default :data:`CRISIS_WINDOWS`.
    benchmark : str or pandas.Series, optional
        A policy of the run or a series of daily returns (a market index) to compare with.
    skip_outside : bool, optional
        Skip, with a note, windows not entirely inside the run's out-of-sample dates;
        otherwise they raise :class:`~allocgym.exceptions.DataError`. Default: skip for
        the default windows (a run rarely spans 1990-2022), raise for given ones.

    Returns
    -------
    StressTable
        Columns ``start``, ``end``, ``days``, ``return``, ``max_drawdown`` (<= 0),
        ``days_to_recover`` (trading days from the window's deepest trough back to the
        prior peak, possibly after the window; NaN: not recovered by the end of the
        run), ``worst_day``, ``worst_day_date``, ``vs_1N`` (return minus 1/N's; absent
        without a 1/N policy) and ``vs_<benchmark>``; with a series (a market index),
        also ``market``: the index's own return over the window (NaN, with a note, where
        the index does not cover it).
    """
    dates = pd.DatetimeIndex(results.returns.index)
    kept, notes = _select(windows, dates, skip_outside)
    ew = equal_weight_policy(results)
    if ew is None:
        notes.append("the run has no 1/N policy: no vs_1N column")
    bname, bseries = _benchmark_series(results, benchmark)
    rows = []
    for w in kept:
        first, last = _positions(dates, w)
        ref = {}
        if ew is not None:
            ref["vs_1N"] = float(
                np.prod(1.0 + results.returns[ew].to_numpy()[first : last + 1]) - 1
            )
        market = _benchmark_return(bseries, w, notes) if bseries is not None else None
        if market is not None:
            ref[f"vs_{bname}"] = market
        for name in results.policies:
            full = results.returns[name].to_numpy(dtype=np.float64)
            ret, mdd, _, worst, at = _wealth_stats(full[first : last + 1])
            row = {
                "window": w.name, "policy": name, "start": w.start.date(), "end": w.end.date(),
                "days": last - first + 1, "return": ret, "max_drawdown": mdd,
                "days_to_recover": _days_to_recover(full, first, last), "worst_day": worst,
                "worst_day_date": dates[first + at].date(),
            }  # fmt: skip
            row.update({k: ret - v for k, v in ref.items()})
            if market is not None and not isinstance(benchmark, str):
                row["market"] = market
            rows.append(row)
    return StressTable(_frame(rows), notes)


def _benchmark_return(series: pd.Series, w: Window, notes: list[str]) -> float:
    dates = pd.DatetimeIndex(series.index)
    why = _coverage(dates, w)
    if why is not None:
        notes.append(f"benchmark {series.name!r}: {why}: no comparison")
        return float("nan")
    first, last = _positions(dates, w)
    return float(np.prod(1.0 + series.to_numpy(dtype=np.float64)[first : last + 1]) - 1.0)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(
            columns=["start", "end", "days", "return", "max_drawdown"],
            index=pd.MultiIndex.from_arrays([[], []], names=["window", "policy"]),
        )
    return pd.DataFrame(rows).set_index(["window", "policy"])


# ---------------------------------------------------------------- replay
def latest_weights(results: Results, assets: tuple[str, ...], date: Any = None) -> pd.DataFrame:
    """Each policy's end-of-day weights on ``date`` (default the run's last date).

    Returns
    -------
    pandas.DataFrame
        Policies x (``cash``, assets), rows summing to 1; the weights of the last date
        on or before ``date``.
    """
    columns = ["cash", *assets]
    out = {}
    for name in results.policies:
        w = results.weights[name]
        missing = [c for c in columns if c not in w.columns]
        if missing:
            raise DataError(
                f"policy {name!r}: the run's weights have no column for {missing}; the "
                f"market's assets are {list(assets)}"
            )
        w = w[columns]
        if date is not None:
            ts = pd.Timestamp(date)
            w = w[pd.DatetimeIndex(w.index) <= ts]
            if w.empty:
                raise DataError(f"date {ts.date()} is before the first weights of policy {name!r}")
        out[name] = w.iloc[-1].to_numpy(dtype=np.float64)
    return pd.DataFrame(out, index=columns).T


def window_growth(market: MarketData, w: Window) -> tuple[FloatArray, list[str]]:
    """``1 + return`` of the window's days, shape (n_days, n_assets + 1), and notes.

    Column 0 is cash (``1 + risk_free``, 1 without a risk-free rate). An asset without a
    price in the window (not yet listed) is held flat, with a note.
    """
    why = _coverage(pd.DatetimeIndex(market.dates), w)
    if why is not None:
        raise DataError(f"{why}; a replay needs the window's asset returns")
    first, last = _positions(pd.DatetimeIndex(market.dates), w)
    r = np.asarray(market.returns[first : last + 1], dtype=np.float64)
    notes = []
    flat = ~np.isfinite(r).all(axis=0)
    if flat.any():
        names = [market.assets[i] for i in np.flatnonzero(flat)]
        notes.append(f"window {w.name!r}: {names} had missing returns, held flat (0) on those days")
    rf = np.zeros(len(r)) if market.risk_free is None else market.risk_free[first : last + 1]
    growth = np.column_stack((1.0 + np.nan_to_num(rf), 1.0 + np.nan_to_num(r)))
    return growth, notes


def replay(
    results: Results,
    market: MarketData,
    windows: WindowSpec = None,
    *,
    date: Any = None,
    skip_outside: bool | None = None,
    market_returns: pd.Series | None = None,
) -> StressTable:
    """ "What if it happened now": each window's asset returns on each policy's weights.

    Each policy's end-of-day weights on ``date`` (default the run's last date) are
    bought and held through the window: the weights drift with prices and nothing is
    traded, so no cost is paid (the accounting is the environment's
    :meth:`~allocgym.envs.accounting.Accounting.settle` with a trade from the weights to
    themselves).

    Parameters
    ----------
    results : Results
    market : MarketData
        Must hold the window's dates and the run's assets.
    windows, skip_outside
        As in :func:`historical_stress`, against the market's dates.
    date : date-like, optional
    market_returns : pandas.Series, optional
        Daily simple returns of a market index by date: adds ``market`` (the index's
        return over the window) and ``vs_<name>`` (return minus it).

    Returns
    -------
    StressTable
        Columns ``start``, ``end``, ``days``, ``return``, ``max_drawdown``, ``worst_day``
        and ``vs_1N`` (return minus the replayed 1/N policy's, when the run has one),
        with ``market_returns`` also ``vs_<name>`` and ``market``.
    """
    weights = latest_weights(results, market.assets, date)
    kept, notes = _select(windows, pd.DatetimeIndex(market.dates), skip_outside)
    ew = equal_weight_policy(results)
    bname, bseries = _benchmark_series(results, market_returns)
    rows = []
    for w in kept:
        index = _benchmark_return(bseries, w, notes) if bseries is not None else None
        growth, more = window_growth(market, w)
        notes.extend(more)
        paths = hold(weights.to_numpy(), np.broadcast_to(growth, (len(weights), *growth.shape)))
        rets = daily_returns(paths)
        stats = {name: _wealth_stats(rets[k]) for k, name in enumerate(weights.index)}
        for name, (ret, mdd, _, worst, _) in stats.items():
            row = {
                "window": w.name, "policy": name, "start": w.start.date(), "end": w.end.date(),
                "days": len(growth), "return": ret, "max_drawdown": mdd, "worst_day": worst,
            }  # fmt: skip
            if ew is not None:
                row["vs_1N"] = ret - stats[ew][0]
            if index is not None:
                row[f"vs_{bname}"] = ret - index
                row["market"] = index
            rows.append(row)
    return StressTable(_frame(rows), notes)
