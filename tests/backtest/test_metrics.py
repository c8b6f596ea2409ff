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
    # skfolio's drawdowns on compounded returns are W / peak - 1 as well
    dd = m.get_drawdowns(r, compounded=True)
    assert metrics.max_drawdown(r) == pytest.approx(dd.min(), rel=1e-9)
    assert metrics.cvar(r, 0.95) == pytest.approx(m.cvar(r, beta=0.95), rel=1e-2)


def test_hand_computed_cases() -> None:
    r = np.array([0.10, -0.50, 0.20, 0.0, 0.05])
    wealth = np.cumprod(1 + r)
    assert metrics.max_drawdown(r) == pytest.approx(wealth[1] / wealth[0] - 1)
    assert metrics.win_rate(r) == pytest.approx(3 / 4)
    assert metrics.annualized_return(r, 5) == pytest.approx(wealth[-1] - 1)
    assert metrics.cvar(r, 0.8) == pytest.approx(0.5)
    down = np.sqrt(np.mean(np.minimum(r, 0) ** 2))
    assert metrics.sortino_ratio(r, periods_per_year=1) == pytest.approx(r.mean() / down)
    assert metrics.calmar_ratio(r, 5) == pytest.approx((wealth[-1] - 1) / 0.5)
    np.testing.assert_allclose(metrics.drawdowns(np.array([0.1, 0.1])), 0.0)
    assert metrics.max_drawdown(np.array([-0.1])) == pytest.approx(-0.1)


def test_relative_metrics(r: np.ndarray) -> None:
    b = r * 0.5 + 1e-4
    active = r - b
    te = active.std(ddof=1) * np.sqrt(252)
    assert metrics.tracking_error(r, b) == pytest.approx(te)
    assert metrics.information_ratio(r, b) == pytest.approx(active.mean() * 252 / te)
    assert np.isnan(metrics.information_ratio(r, r))


def test_metrics_table(r: np.ndarray) -> None:
    df = pd.DataFrame({"a": r, "b": r[::-1].copy()})
    turnover = pd.DataFrame({"a": np.full(r.size, 0.01), "b": np.zeros(r.size)})
    costs = turnover * 1e-3
    t = metrics.metrics_table(df, benchmark="a", turnover=turnover, costs=costs)
    assert t.loc["a", "turnover"] == pytest.approx(2.52)
    assert t.loc["a", "total_costs"] == pytest.approx(r.size * 1e-5)
    assert np.isnan(t.loc["a", "information_ratio"])
    assert t.loc["b", "sharpe"] == pytest.approx(metrics.sharpe_ratio(r))
    with pytest.raises(KeyError, match="benchmark"):
        metrics.metrics_table(df, benchmark="zz")
    with pytest.raises(ValueError, match="1-D"):
        metrics.sharpe_ratio(np.zeros((3, 2)))
