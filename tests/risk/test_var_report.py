"""The per-policy VaR backtest table of a Results object and the exceedance plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocgym.backtest import Results
from allocgym.risk import (
    VaRConfig,
    backtest_var,
    forecast_var,
    plot_var_exceedances,
    var_backtest_table,
)

CFG = VaRConfig(window=250, min_obs=250)


@pytest.fixture(scope="module")
def results() -> Results:
    dates = pd.bdate_range("2015-01-01", periods=700)
    rng = np.random.default_rng(0)
    returns = pd.DataFrame(
        {"1/N": rng.normal(3e-4, 0.01, 700), "PPO": rng.standard_t(4, 700) * 0.008}, index=dates
    )
    returns.iloc[:20, 1] = np.nan  # a track that starts later
    zeros = returns * 0.0
    weights = {p: pd.DataFrame({"cash": 1.0}, index=dates) for p in returns}
    metrics = pd.DataFrame({"sharpe": [0.5, 0.4]}, index=pd.Index(returns.columns, name="policy"))
    return Results(metrics, returns, returns, zeros, zeros, weights, {"1/N": 0, "PPO": 0})


def test_table_has_a_row_per_policy_method_and_level(results):
    table = var_backtest_table(results, ("historical", "gaussian"), CFG, n_sims=50)
    assert table.index.names == ["policy", "method", "level"]
    assert len(table) == 2 * 2 * 2
    assert table.loc[("PPO", "gaussian", 0.99), "n_obs"] == 700 - 20 - 250
    one = backtest_var(forecast_var(results.returns["1/N"], "historical", CFG), n_sims=50)
    pd.testing.assert_frame_equal(table.sort_index().loc[("1/N", "historical")], one)


def test_table_accepts_a_returns_frame_and_refuses_unknown_methods(results):
    table = var_backtest_table(results.returns[["1/N"]], ("gaussian",), CFG, n_sims=20)
    assert list(table.index.get_level_values("policy").unique()) == ["1/N"]
    with pytest.raises(ValueError, match="not VaR methods"):
        var_backtest_table(results, ("garch",), CFG)
    with pytest.raises(TypeError, match="Results or a DataFrame"):
        var_backtest_table(results.returns["1/N"], ("gaussian",), CFG)


def test_plot_writes_a_png(results, tmp_path):
    f = forecast_var(results.returns["1/N"], "historical", CFG)
    path = plot_var_exceedances(f, tmp_path / "plots", level=0.99)
    assert path == tmp_path / "plots" / "var_historical_99.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    named = plot_var_exceedances(f, tmp_path, level=0.95, filename="x.png")
    assert named.name == "x.png" and named.exists()
    with pytest.raises(ValueError, match="plain file name"):
        plot_var_exceedances(f, tmp_path, filename="../x.png")
    with pytest.raises(ValueError, match="not among"):
        plot_var_exceedances(f, tmp_path, level=0.9)
    with pytest.raises(ValueError, match="confidence level in"):
        plot_var_exceedances(f, tmp_path, level=99)
