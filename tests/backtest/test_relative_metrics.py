"""Benchmark-relative metrics (beta, capture ratios, the relative table) by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocgym.backtest import metrics

R = np.array([0.02, -0.01, 0.03, -0.02, 0.01])
B = np.array([0.01, -0.02, 0.02, -0.01, 0.00])


def test_beta_by_hand():
    # mean r = 0.006, mean b = 0.0; cov = sum((r - 0.006) b), var = sum(b^2)
    cov = 0.014 * 0.01 + -0.016 * -0.02 + 0.024 * 0.02 + -0.026 * -0.01 + 0.004 * 0.0
    var = 0.01**2 + 0.02**2 + 0.02**2 + 0.01**2
    assert metrics.beta(R, B) == pytest.approx(cov / var, rel=1e-12)
    assert metrics.beta(2 * B + 0.001, B) == pytest.approx(2.0, rel=1e-12)
    assert np.isnan(metrics.beta(R, np.full(5, 0.01)))


def test_capture_ratios_by_hand():
    # up days (b > 0): 0 and 2; down days (b < 0): 1 and 3; day 4 (b = 0) in neither
    up = (np.sqrt(1.02 * 1.03) - 1) / (np.sqrt(1.01 * 1.02) - 1)
    down = (np.sqrt(0.99 * 0.98) - 1) / (np.sqrt(0.98 * 0.99) - 1)
    assert metrics.capture_ratio(R, B, "up") == pytest.approx(up, rel=1e-12)
    assert metrics.capture_ratio(R, B, "down") == pytest.approx(down, rel=1e-12)
    assert metrics.capture_ratio(B, B, "up") == pytest.approx(1.0)
    assert np.isnan(metrics.capture_ratio(R, np.abs(B) + 0.01, "down"))
    with pytest.raises(ValueError, match="side='sideways'"):
        metrics.capture_ratio(R, B, "sideways")
    with pytest.raises(ValueError, match="the same days"):
        metrics.beta(R, B[:4])


def test_relative_table_aligns_on_common_dates():
    dates = pd.bdate_range("2021-01-04", periods=6)
    returns = pd.DataFrame({"a": np.r_[np.nan, R], "b": np.r_[0.0, B]}, index=dates)
    bench = pd.Series(np.r_[B, 0.05], index=dates.shift(1, freq="B"))  # days 1..6
    table = metrics.relative_metrics(returns, bench)
    assert list(table.columns) == [
        "excess_return", "tracking_error", "information_ratio", "beta", "up_capture",
        "down_capture", "n_days",
    ]  # fmt: skip
    # common dates with a value: days 1..5 for both policies
    assert table.loc["a", "n_days"] == 5
    assert table.loc["a", "beta"] == pytest.approx(metrics.beta(R, B))
    assert table.loc["a", "tracking_error"] == pytest.approx(metrics.tracking_error(R, B))
    assert table.loc["a", "information_ratio"] == pytest.approx(metrics.information_ratio(R, B))
    ann = metrics.annualized_return(R) - metrics.annualized_return(B)
    assert table.loc["a", "excess_return"] == pytest.approx(ann)
    assert table.loc["b", "beta"] == pytest.approx(1.0)
    assert table.loc["b", "tracking_error"] == pytest.approx(0.0, abs=1e-15)


def test_relative_table_refuses_a_benchmark_without_common_dates():
    returns = pd.Series(R, index=pd.bdate_range("2021-01-04", periods=5), name="p")
    bench = pd.Series(B, index=pd.bdate_range("2010-01-04", periods=5))
    with pytest.raises(ValueError, match="no date in common with the returns of 'p'"):
        metrics.relative_metrics(returns, bench)
