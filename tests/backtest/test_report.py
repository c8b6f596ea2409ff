"""The report's plots and headings: readable titles, units, top holdings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocgym.backtest.report import comparison_table, seeds_table, top_holdings, write_report
from allocgym.backtest.results import Results
from allocgym.backtest.stats import seed_summary


def _results(n_assets: int = 12, days: int = 300) -> Results:
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2020-01-01", periods=days)
    r = pd.DataFrame(rng.normal(3e-4, 0.01, (days, 2)), index=idx, columns=["1/N", "PPO agent"])
    r["Cash"] = 1e-4  # constant: no Sharpe ratio, a blank rolling line, not 1e16
    w = rng.dirichlet(np.ones(n_assets + 1), days)
    weights = {c: pd.DataFrame(w, index=idx, columns=["cash", *map(str, range(n_assets))])
               for c in r.columns}  # fmt: skip
    metrics = pd.DataFrame(
        {"sharpe": [0.5, 0.7, np.nan], "total_costs": [0.012, 0.3, 0.0], "kind": "x"},
        index=r.columns,
    )
    zero = r * 0.0
    return Results(
        metrics=metrics, returns=r, gross_returns=r, costs=zero, turnover=zero,
        weights=weights, fallbacks={}, config={"benchmark": "1/N"},
    )  # fmt: skip


def test_top_holdings_keeps_cash_the_largest_assets_and_sums_the_rest():
    w = pd.DataFrame(
        [[0.1, 0.5, 0.2, 0.1, 0.05, 0.05], [0.2, 0.35, 0.1, 0.25, 0.05, 0.05]],
        columns=["cash", "a", "b", "c", "d", "e"],
    )
    top = top_holdings(w, k=2)
    assert list(top.columns) == ["cash", "a", "c", "other"]  # means: a .425, c .175, b .15
    np.testing.assert_allclose(top["other"], [0.2 + 0.05 + 0.05, 0.1 + 0.05 + 0.05])
    np.testing.assert_allclose(top.sum(axis=1), w.sum(axis=1))
    assert top_holdings(w, k=5) is w  # nothing to fold


def test_report_headings_units_and_plots(tmp_path):
    res = _results()
    write_report(res, tmp_path, rolling_window=60)
    text = (tmp_path / "report.md").read_text()
    for heading in ("Equity curves", "Drawdowns", "Rolling Sharpe ratio", "Weights: 1/N",
                    "Weights: PPO agent"):  # fmt: skip
        assert f"### {heading}\n" in text
    assert "Rolling_sharpe" not in text and "Weights ppo" not in text
    assert (tmp_path / "weights_PPO_agent.png").is_file()
    table = comparison_table(res)
    assert "Costs (sum, % of wealth)" in table and "30.00%" in table


def test_report_shows_each_seed_the_mean_with_its_t_interval_and_the_ensemble(tmp_path):
    res = _results()
    idx = res.returns.index
    rng = np.random.default_rng(1)
    seeds = ["PPO s0", "PPO s1", "PPO s2", "PPO ensemble"]
    returns = pd.DataFrame(rng.normal(3e-4, 0.01, (len(idx), 4)), index=idx, columns=seeds)
    metrics = pd.DataFrame(
        {"sharpe": [0.31, 0.92, -0.18, 0.55], "turnover": [4.0, 6.0, 8.0, 3.0],
         "total_costs": [0.01, 0.02, 0.03, 0.004], "kind": "RL"}, index=seeds,
    )  # fmt: skip
    res = Results(
        metrics=pd.concat([res.metrics, metrics]),
        returns=pd.concat([res.returns, returns], axis=1),
        gross_returns=pd.concat([res.returns, returns], axis=1),
        costs=pd.concat([res.costs, returns * 0.0], axis=1),
        turnover=pd.concat([res.turnover, returns * 0.0], axis=1),
        weights=res.weights,  # plots of three policies are enough here
        fallbacks={},
        config={"benchmark": "1/N", "n_trials": 7,
                "seed_groups": {"PPO": seeds[:3]}, "seed_ensembles": {"PPO": "PPO ensemble"}},
    )  # fmt: skip
    write_report(res, tmp_path, rolling_window=60)
    text = (tmp_path / "report.md").read_text()
    section = text.split("## Across seeds")[1].split("\n## ")[0]
    assert "t(0.975, n−1)·s/√n" in section
    for name, sharpe in (("PPO s0", "0.31"), ("PPO s1", "0.92"), ("PPO s2", "-0.18")):
        assert f"| {name} | {sharpe} |" in section
    s = seed_summary(res.metrics, {"PPO": seeds[:3]}).loc["PPO"]
    assert s["sharpe_mean"] == pytest.approx(0.35)
    mean_row = (
        f"| **PPO: mean of 3 seeds** | **0.35** | [{s['sharpe_ci_low']:.2f}, "
        f"{s['sharpe_ci_high']:.2f}] | {s['sharpe_std']:.2f} | 6.00 | 2.00% |"
    )
    assert mean_row in section
    assert "| PPO ensemble (average weights) | 0.55 |" in section
    assert (
        "Configurations tried (deflated Sharpe ratio, Bailey & López de Prado 2014): 7, "
        "every seed of every RL agent and every seed ensemble among them" in text
    )
    assert seeds_table(_results()) == ""  # no seed groups, no section
