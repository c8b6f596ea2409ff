"""Metrics against skfolio's independent implementation and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocgym.backtest import metrics


@pytest.fixture(scope="module")
def r() -> np.ndarray:
    return np.random.default_rng(0).standard_t(4, size=1500) * 0.01 + 3e-4


def test_against_skfolio(r: np.ndarray) -> None:
    m = pytest.importorskip("skfolio.measures")
    assert metrics.annualized_volatility(r) == pytest.approx(
        m.standard_deviation(r) * np.sqrt(252), rel=1e-12
    )
    assert metrics.sharpe_ratio(r) == pytest.approx(
        m.mean(r) / m.standard_deviation(r) * np.sqrt(252), rel=1e-12
    )
    # Sortino: downside deviation about 0, divisor T (skfolio's biased semi-variance)
    down = np.sqrt(m.semi_variance(r, min_acceptable_return=0.0, biased=True))
    assert metrics.sortino_ratio(r) == pytest.approx(m.mean(r) / down * np.sqrt(252), rel=1e-12)
    # skfolio's drawdowns on compounded returns are W / peak - 1 as well: the whole path
    dd = m.get_drawdowns(r, compounded=True)
    np.testing.assert_allclose(metrics.drawdowns(r), dd, rtol=0, atol=1e-12)
    assert metrics.max_drawdown(r) == pytest.approx(dd.min(), rel=1e-9)


@pytest.mark.parametrize("alpha", [0.75, 0.9])
def test_cvar_against_skfolio(r: np.ndarray, alpha: float) -> None:
    """With (1 − alpha)·T a whole number of days (375, 150 here), skfolio's interpolated
    CVaR is the plain mean of the worst days, as allocgym's."""
    m = pytest.importorskip("skfolio.measures")
    assert metrics.cvar(r, alpha) == pytest.approx(m.cvar(r, beta=alpha), rel=1e-12)


def test_cvar_95_uses_five_percent_of_the_days() -> None:
    """T = 20 and alpha = 0.95: the worst ⌈0.05 · 20⌉ = 1 day, not 2."""
    x = np.random.default_rng(1).normal(size=20)
    assert metrics.cvar(x, 0.95) == pytest.approx(-x.min())


def test_sharpe_of_a_constant_non_zero_series_is_nan() -> None:
    """Cash at a constant 2 bp a day has no volatility, hence no Sharpe ratio."""
    assert np.isnan(metrics.sharpe_ratio(np.full(150, 2e-4)))


def test_hand_computed_cases() -> None:
    r = np.array([0.10, -0.50, 0.20, 0.0, 0.05])
    wealth = np.cumprod(1 + r)
    assert metrics.max_drawdown(r) == pytest.approx(wealth[1] / wealth[0] - 1)
    np.testing.assert_allclose(metrics.drawdowns(r), wealth / np.maximum.accumulate(wealth) - 1)
    assert metrics.win_rate(r) == pytest.approx(3 / 4)  # the 0.0 day is excluded
    # CAGR over 5 days in a 252-day year (T != P, so P/T and T/P differ)
    cagr = wealth[-1] ** (252 / 5) - 1
    assert metrics.annualized_return(r) == pytest.approx(cagr)
    assert metrics.annualized_return(r, 5) == pytest.approx(wealth[-1] - 1)
    assert metrics.annualized_return(np.array([-1.0, 0.1])) == -1.0  # wealth wiped out
    assert metrics.cvar(r, 0.8) == pytest.approx(0.5)
    assert metrics.cvar(r, 0.5) == pytest.approx(np.mean([0.5, 0.0, -0.05]))  # ⌈2.5⌉ = 3 days
    down = np.sqrt(np.mean(np.minimum(r, 0) ** 2))
    assert metrics.sortino_ratio(r, periods_per_year=1) == pytest.approx(r.mean() / down)
    assert metrics.sortino_ratio(r) == pytest.approx(r.mean() / down * np.sqrt(252))
    assert metrics.calmar_ratio(r) == pytest.approx(cagr / 0.5)
    half_year = np.full(126, 1e-3)  # half a year at 0.1 % a day: 1.001^252 − 1 a year
    assert metrics.annualized_return(half_year) == pytest.approx(1.001**252 - 1, rel=1e-12)
    assert metrics.annualized_volatility(r, 4) == pytest.approx(r.std(ddof=1) * 2)
    np.testing.assert_allclose(metrics.drawdowns(np.array([0.1, 0.1])), 0.0)
    assert metrics.max_drawdown(np.array([-0.1])) == pytest.approx(-0.1)
    assert np.isnan(metrics.calmar_ratio(np.array([0.1, 0.1])))  # never a drawdown
    assert np.isnan(metrics.sharpe_ratio(np.zeros(5)))
    assert np.isnan(metrics.sortino_ratio(np.array([0.1, 0.2])))  # no downside


def test_risk_free_rate_is_subtracted(r: np.ndarray) -> None:
    """Sharpe and Sortino of ``r`` over ``rf`` are those of ``r − rf`` (array or scalar)."""
    rf = np.full(r.size, 1e-4)
    rf[::2] = 2e-4
    x = r - rf
    assert metrics.sharpe_ratio(r, rf) == pytest.approx(x.mean() / x.std(ddof=1) * np.sqrt(252))
    assert metrics.sharpe_ratio(r, rf) != pytest.approx(metrics.sharpe_ratio(r), rel=1e-3)
    assert metrics.sortino_ratio(r, 1e-4, periods_per_year=12) == pytest.approx(
        metrics.sortino_ratio(r - 1e-4, periods_per_year=12)
    )


def test_relative_metrics(r: np.ndarray) -> None:
    b = r * 0.5 + 1e-4
    active = r - b
    te = active.std(ddof=1) * np.sqrt(252)
    assert metrics.tracking_error(r, b) == pytest.approx(te)
    assert metrics.information_ratio(r, b) == pytest.approx(active.mean() * 252 / te)
    assert metrics.information_ratio(b, r) == pytest.approx(-active.mean() * 252 / te)
    assert metrics.tracking_error(r, b, 12) == pytest.approx(active.std(ddof=1) * np.sqrt(12))
    assert np.isnan(metrics.information_ratio(r, r))
    # below 1e-6 a year of tracking error the ratio is noise over noise: NaN
    tiny = r + 1e-9 * np.sin(np.arange(r.size))
    assert np.isnan(metrics.information_ratio(tiny, r))
    small = r + 1e-6 * np.sin(np.arange(r.size))  # about 1.1e-5 a year: defined
    assert np.isfinite(metrics.information_ratio(small, r))


def test_metrics_table_matches_summary_on_every_row(r: np.ndarray) -> None:
    """Every row and column, including the benchmark-relative ones and a custom year."""
    df = pd.DataFrame({"a": r, "b": r[::-1].copy(), "c": 0.5 * r + 1e-4})
    rng = np.random.default_rng(1)
    turnover = pd.DataFrame(rng.uniform(0, 0.02, (r.size, 3)), columns=df.columns)
    costs = turnover * 1e-3
    t = metrics.metrics_table(
        df, benchmark="a", turnover=turnover, costs=costs, periods_per_year=52
    )
    assert list(t.index) == ["a", "b", "c"]
    for name in df.columns:
        expected = metrics.summary(
            df[name].to_numpy(),
            benchmark=r,
            turnover=turnover[name].to_numpy(),
            costs=costs[name].to_numpy(),
            periods_per_year=52,
        )
        assert list(t.columns) == list(expected)
        np.testing.assert_allclose(t.loc[name].to_numpy(float), list(expected.values()), rtol=1e-12)
        assert t.loc[name, "turnover"] == pytest.approx(turnover[name].mean() * 52)
        assert t.loc[name, "total_costs"] == pytest.approx(costs[name].sum())
        assert t.loc[name, "sharpe"] == pytest.approx(
            metrics.sharpe_ratio(df[name], periods_per_year=52)
        )
    assert np.isnan(t.loc["a", "information_ratio"])
    assert t.loc["c", "tracking_error"] == pytest.approx(metrics.tracking_error(df["c"], r, 52))
    bare = metrics.metrics_table(df)
    assert (
        bare[["tracking_error", "information_ratio", "turnover", "total_costs"]].isna().all().all()
    )
    assert bare.loc["b", "sharpe"] == pytest.approx(metrics.sharpe_ratio(r))  # order-free
    with pytest.raises(KeyError, match="benchmark"):
        metrics.metrics_table(df, benchmark="zz")
    with pytest.raises(ValueError, match="1-D"):
        metrics.sharpe_ratio(np.zeros((3, 2)))


def test_sample_std_is_zero_only_for_rounding_level_spread() -> None:
    # constant series of any sign and size: exactly 0, whatever the rounding
    for c in (2e-4, -3e-3, 1e-9, 0.05):
        assert metrics.sample_std(np.full(97, c)) == 0.0
    # a cash rate that changes once in the window is a real (tiny) spread
    steps = np.r_[np.full(200, 1.0e-4), np.full(52, 1.01e-4)]
    assert metrics.sample_std(steps) == pytest.approx(np.std(steps, ddof=1), rel=1e-12)
    assert np.isfinite(metrics.sharpe_ratio(steps))
    # per column along an axis
    x = np.column_stack([np.full(30, 2e-4), np.linspace(-0.01, 0.01, 30)])
    sd = metrics.sample_std(x, axis=0)
    assert sd[0] == 0.0 and sd[1] == pytest.approx(np.std(x[:, 1], ddof=1), rel=1e-12)
