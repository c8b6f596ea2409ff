"""The report's risk section: crisis windows, VaR backtests and the market, from Results."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from allocgym.backtest import WalkForward, backtest, write_report
from allocgym.baselines import EqualWeight, MinVariance
from allocgym.data import load_market
from allocgym.risk.report_section import default_market, risk_section


@pytest.fixture(scope="module")
def embedded_results():
    market = load_market().between("2005-01-01", "2012-12-31")
    policies = {"1/N": EqualWeight(), "MinVar": MinVariance()}
    return backtest(policies, market, None, splitter=WalkForward(252, 252), n_boot=20,
                    progress=False)  # fmt: skip


def test_report_has_crises_var_backtests_and_the_market(embedded_results, tmp_path):
    path = write_report(embedded_results, tmp_path)
    text = path.read_text()
    risk = text[text.index("## Risk") : text.index("## Plots")]
    # the GFC row of 1/N equals compounding its own daily returns over the window
    r = embedded_results.returns["1/N"]
    gfc = r[(r.index > "2007-10-09") & (r.index <= "2009-03-09")]
    expected = f"{np.prod(1 + gfc.to_numpy()) - 1:.1%}"
    assert f"| 2008-09 GFC | 1/N | 2007-10-09 | 2009-03-09 | {len(gfc)} | {expected} |" in risk
    assert "'2020 COVID'" in risk and "skipped" in risk  # outside the dates: said, not shown
    for policy in ("1/N", "MinVar"):
        for method in ("historical", "filtered_historical"):
            assert f"| {policy} | {method} | " in risk
    assert "### Against the S&P 500 index (price index)" in risk and "flattered" in risk
    assert "![VaR exceedances: 1/N](var_1_N.png)" in text
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "var_1_N.png" in manifest["files"]


def test_short_or_foreign_results_say_what_is_missing(embedded_results, tmp_path):
    short = dataclasses.replace(
        embedded_results, returns=embedded_results.returns.iloc[:200], config={}
    )
    lines, figs = risk_section(short, tmp_path)
    text = "\n".join(lines)
    assert "Too few out-of-sample days (200)" in text and not figs
    assert "Against" not in text  # no market given, none found for foreign data
    assert default_market(type("R", (), {"config": {"data": {"source": "prices.csv"}}})()) == (
        None,
        "the market",
    )
