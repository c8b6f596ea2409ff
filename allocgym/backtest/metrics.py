"""Performance metrics of a daily return series (simple returns, net of costs).

Conventions: ``r`` are daily simple returns, ``P = periods_per_year`` (252); the
risk-free rate is zero unless ``rf`` (daily) is given. Annualised return is geometric
(CAGR), volatility and Sharpe are the usual ``√P`` scalings of daily moments.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from allocgym._typing import FloatArray

__all__ = [
    "annualized_return",
    "annualized_volatility",
    "beta",
    "calmar_ratio",
    "capture_ratio",
    "cvar",
    "drawdowns",
    "information_ratio",
    "max_drawdown",
    "metrics_table",
    "relative_metrics",
    "sample_std",
    "sharpe_ratio",
    "sortino_ratio",
    "summary",
    "tracking_error",
    "win_rate",
]

PERIODS = 252


def _r(returns: FloatArray) -> FloatArray:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"returns has shape {r.shape}; expected a 1-D series")
    return r


def annualized_return(returns: FloatArray, periods_per_year: int = PERIODS) -> float:
    """CAGR ``(Π(1 + r))^(P / T) − 1``."""
    r = _r(returns)
    if r.size == 0:
        return float("nan")
    growth = np.prod(1.0 + r)
    return float(growth ** (periods_per_year / r.size) - 1.0) if growth > 0 else -1.0


FLAT = 1e-7  # spread / root mean square below which a series counts as constant


def sample_std(x: FloatArray, axis: int | None = None) -> FloatArray | float:
    """``std(x, ddof=1)``, exactly 0 for a series that is constant up to rounding.

    A constant non-zero series computed in floating point has a standard deviation of a
    few ulps (e.g. 5e-20 for 1e-4 a day), and a Sharpe ratio of 1e16 or a perfect
    p-value divided out of it. A spread below ``FLAT = 1e-7`` times the series' root mean
    square is therefore taken as 0 (undefined ratios give NaN). Real return series sit
    many orders of magnitude above that bound (daily returns: spread/rms near 1; a cash
    rate that changes once in a year: about 1e-3).
    """
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(axis=axis, ddof=1)
    rms = np.sqrt(np.mean(x * x, axis=axis))
    flat = sd <= FLAT * rms
    if np.ndim(sd) == 0:
        return 0.0 if flat else float(sd)
    return np.where(flat, 0.0, sd)


def annualized_volatility(returns: FloatArray, periods_per_year: int = PERIODS) -> float:
    """``std(r, ddof=1) · √P``."""
    r = _r(returns)
    return float(r.std(ddof=1) * np.sqrt(periods_per_year)) if r.size > 1 else float("nan")


def sharpe_ratio(
    returns: FloatArray, rf: FloatArray | float = 0.0, periods_per_year: int = PERIODS
) -> float:
    """``mean(r − rf) / std(r − rf) · √P`` (0 volatility gives NaN)."""
    x = _r(returns) - rf
    sd = sample_std(x) if x.size > 1 else 0.0
    return float(x.mean() / sd * np.sqrt(periods_per_year)) if sd > 0 else float("nan")


def sortino_ratio(
    returns: FloatArray, rf: FloatArray | float = 0.0, periods_per_year: int = PERIODS
) -> float:
    """``mean(x) / √(mean(min(x, 0)²)) · √P`` with ``x = r − rf`` (Sortino & Price 1994)."""
    x = _r(returns) - rf
    dd = np.sqrt(np.mean(np.minimum(x, 0.0) ** 2)) if x.size else 0.0
    return float(x.mean() / dd * np.sqrt(periods_per_year)) if dd > 0 else float("nan")


def drawdowns(returns: FloatArray) -> FloatArray:
    """Drawdown path ``W_t / max_{s<=t} W_s − 1`` of wealth ``W = Π(1 + r)`` from 1."""
    wealth = np.cumprod(1.0 + _r(returns))
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    return wealth / peak - 1.0


def max_drawdown(returns: FloatArray) -> float:
    """Largest peak-to-trough loss, a negative number (0 if wealth never falls)."""
    d = drawdowns(returns)
    return float(d.min()) if d.size else float("nan")


def calmar_ratio(returns: FloatArray, periods_per_year: int = PERIODS) -> float:
    """Annualised return / |max drawdown|."""
    mdd = max_drawdown(returns)
    return float(annualized_return(returns, periods_per_year) / -mdd) if mdd < 0 else float("nan")


def win_rate(returns: FloatArray) -> float:
    """Fraction of days with a positive return (days with exactly 0 excluded)."""
    r = _r(returns)
    nz = r[r != 0]
    return float((nz > 0).mean()) if nz.size else float("nan")


def cvar(returns: FloatArray, alpha: float = 0.95) -> float:
    """Historical expected shortfall: minus the mean of the worst ``1 − alpha`` share of days.

    Uses the ``⌈(1 − alpha)·T⌉`` worst days (Rockafellar & Uryasev 2000), a positive loss.
    The product is rounded to 9 decimals before the ceiling: ``1 − 0.95`` is
    0.05000000000000004 in floating point, which would take one day too many whenever
    ``0.05 T`` is a whole number.
    """
    r = np.sort(_r(returns))
    k = max(1, int(np.ceil(round((1.0 - alpha) * r.size, 9))))
    return float(-r[:k].mean()) if r.size else float("nan")


def tracking_error(
    returns: FloatArray, benchmark: FloatArray, periods_per_year: int = PERIODS
) -> float:
    """``std(r − b, ddof=1) · √P``."""
    a = _r(returns) - _r(benchmark)
    return float(a.std(ddof=1) * np.sqrt(periods_per_year)) if a.size > 1 else float("nan")


def information_ratio(
    returns: FloatArray, benchmark: FloatArray, periods_per_year: int = PERIODS
) -> float:
    """``mean(r − b) / std(r − b) · √P``.

    NaN when the tracking error is below 1e-6 a year: the policy is the benchmark up to
    solver noise, and a ratio of noise to noise means nothing.
    """
    a = _r(returns) - _r(benchmark)
    sd = a.std(ddof=1) if a.size > 1 else 0.0
    if not sd * np.sqrt(periods_per_year) > 1e-6:
        return float("nan")
    return float(a.mean() / sd * np.sqrt(periods_per_year))


def _paired(returns: FloatArray, benchmark: FloatArray) -> tuple[FloatArray, FloatArray]:
    r, b = _r(returns), _r(benchmark)
    if r.shape != b.shape:
        raise ValueError(
            f"returns has {r.size} days and benchmark {b.size}; expected the same days (align "
            "them first, e.g. with relative_metrics)"
        )
    return r, b


def beta(returns: FloatArray, benchmark: FloatArray) -> float:
    """``cov(r, b) / var(b)`` (NaN when the benchmark is flat)."""
    r, b = _paired(returns, benchmark)
    if r.size < 2 or sample_std(b) == 0:
        return float("nan")
    bc = b - b.mean()
    return float(np.dot(r - r.mean(), bc) / np.dot(bc, bc))


def capture_ratio(returns: FloatArray, benchmark: FloatArray, side: str = "up") -> float:
    """Up or down capture: the policy's mean return on the benchmark's up (down) days
    over the benchmark's, as geometric means (the Morningstar definition, on days).

    ``side="up"``: days with ``b > 0``; ``"down"``: days with ``b < 0``; with
    ``g(x) = (prod(1 + x))^(1/n) - 1``, capture ``= g(r[days]) / g(b[days])``. An up
    capture above 1 and a down capture below 1 are both good. NaN without such days.
    """
    if side not in ("up", "down"):
        raise ValueError(f"side={side!r} is invalid; expected 'up' or 'down'")
    r, b = _paired(returns, benchmark)
    days = b > 0 if side == "up" else b < 0
    if not days.any():
        return float("nan")
    n = int(days.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        g_r = np.exp(np.log1p(r[days]).sum() / n) - 1.0
        g_b = np.exp(np.log1p(b[days]).sum() / n) - 1.0
    return float(g_r / g_b)


def relative_metrics(
    returns: pd.DataFrame | pd.Series,
    benchmark: pd.Series,
    periods_per_year: int = PERIODS,
) -> pd.DataFrame:
    """Each policy against a market benchmark, on the dates both have.

    Parameters
    ----------
    returns : DataFrame (dates x policies) or Series
        Daily simple returns.
    benchmark : Series
        The benchmark's daily simple returns by date (e.g.
        :func:`allocgym.data.benchmark_returns` of :func:`allocgym.data.load_benchmark`).

    Returns
    -------
    pandas.DataFrame
        One row per policy: ``excess_return`` (annualised return minus the
        benchmark's, same days), ``tracking_error``, ``information_ratio``, ``beta``,
        ``up_capture``, ``down_capture``, ``n_days``.

    Raises
    ------
    ValueError
        The benchmark and the returns have no date in common.
    """
    frame = returns.to_frame() if isinstance(returns, pd.Series) else returns
    rows = {}
    for name in frame.columns:
        both = pd.concat([frame[name], benchmark], axis=1, join="inner").dropna()
        if both.empty:
            raise ValueError(
                f"benchmark has no date in common with the returns of {name!r} "
                f"({_span(frame[name])} against {_span(benchmark)}); expected overlapping dates"
            )
        r, b = both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy()
        rows[name] = {
            "excess_return": annualized_return(r, periods_per_year)
            - annualized_return(b, periods_per_year),
            "tracking_error": tracking_error(r, b, periods_per_year),
            "information_ratio": information_ratio(r, b, periods_per_year),
            "beta": beta(r, b),
            "up_capture": capture_ratio(r, b, "up"),
            "down_capture": capture_ratio(r, b, "down"),
            "n_days": len(both),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "policy"
    return table


def _span(series: pd.Series) -> str:
    valid = series.dropna()
    return f"{valid.index[0]}..{valid.index[-1]}" if len(valid) else "no values"


def summary(
    returns: FloatArray,
    *,
    benchmark: FloatArray | None = None,
    turnover: FloatArray | None = None,
    costs: FloatArray | None = None,
    periods_per_year: int = PERIODS,
) -> dict[str, float]:
    """Every metric of one series in a dict (the columns of :func:`metrics_table`).

    ``turnover`` (daily one-way turnover) is reported annualised; ``costs`` (daily cost
    as a fraction of wealth) is summed over the whole track.
    """
    r = _r(returns)
    out = {
        "ann_return": annualized_return(r, periods_per_year),
        "ann_volatility": annualized_volatility(r, periods_per_year),
        "sharpe": sharpe_ratio(r, periods_per_year=periods_per_year),
        "sortino": sortino_ratio(r, periods_per_year=periods_per_year),
        "max_drawdown": max_drawdown(r),
        "calmar": calmar_ratio(r, periods_per_year),
        "win_rate": win_rate(r),
        "cvar_95": cvar(r, 0.95),
        "tracking_error": float("nan"),
        "information_ratio": float("nan"),
        "turnover": float("nan"),
        "total_costs": float("nan"),
    }
    if benchmark is not None:
        out["tracking_error"] = tracking_error(r, benchmark, periods_per_year)
        out["information_ratio"] = information_ratio(r, benchmark, periods_per_year)
    if turnover is not None:
        out["turnover"] = float(np.mean(turnover) * periods_per_year)
    if costs is not None:
        out["total_costs"] = float(np.sum(costs))
    return out


def metrics_table(
    returns: pd.DataFrame,
    *,
    benchmark: str | None = None,
    turnover: pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
    periods_per_year: int = PERIODS,
) -> pd.DataFrame:
    """One row per column of ``returns`` (dates × policies); ``benchmark`` is a column name."""
    if benchmark is not None and benchmark not in returns.columns:
        raise KeyError(f"benchmark={benchmark!r} is not a column; have {list(returns.columns)}")
    rows: Mapping[str, dict[str, float]] = {
        name: summary(
            returns[name].to_numpy(),
            benchmark=None if benchmark is None else returns[benchmark].to_numpy(),
            turnover=None if turnover is None else turnover[name].to_numpy(),
            costs=None if costs is None else costs[name].to_numpy(),
            periods_per_year=periods_per_year,
        )
        for name in returns.columns
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "policy"
    return table
