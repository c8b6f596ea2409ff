"""The report says in words whether each policy beats the benchmark."""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocgym.backtest.report import verdicts
from allocgym.backtest.results import Results


def _results(sharpes: dict[str, float], pvalues: dict[str, float], bench: str | None = "1/N"):
    metrics = pd.DataFrame({"sharpe": sharpes, "lw_p_value": pvalues})
    empty = pd.DataFrame(index=pd.DatetimeIndex([]), columns=list(sharpes), dtype=float)
    return Results(
        metrics=metrics, returns=empty, gross_returns=empty, costs=empty, turnover=empty,
        weights={}, fallbacks={}, config={"benchmark": bench},
    )  # fmt: skip


def test_verdict_words_follow_sharpe_and_p_value():
    res = _results(
        {"1/N": 0.9, "good": 1.5, "bad": 0.2, "same": 1.0, "odd": 1.0},
        {"1/N": np.nan, "good": 0.01, "bad": 0.02, "same": 0.4, "odd": np.nan},
    )
    lines = dict(zip(["good", "bad", "same", "odd"], verdicts(res), strict=True))
    assert "significantly better than 1/N." in lines["good"]
    assert "significantly worse than 1/N (it does not beat the benchmark)" in lines["bad"]
    assert "not significantly different from 1/N (it does not beat" in lines["same"]
    assert "could not be tested" in lines["odd"]
    assert "p = 0.010" in lines["good"]


def test_no_benchmark_is_said_plainly():
    res = _results({"a": 1.0}, {"a": np.nan}, bench=None)
    assert verdicts(res) == [
        "- No benchmark policy in this run, so no policy is tested against one."
    ]


def test_by_kind_table_groups_traditional_before_ml_and_rl():
    from allocgym.backtest.report import by_kind_table

    res = _results({"PPO": 1.0, "1/N": 0.9, "BL": 0.8}, {"PPO": 0.3, "1/N": np.nan, "BL": 0.5})
    res.metrics["kind"] = pd.Series({"PPO": "RL", "1/N": "traditional", "BL": "ML-enhanced"})
    lines = by_kind_table(res).splitlines()
    assert [ln.split("|")[1].strip() for ln in lines[2:]] == ["1/N", "BL", "PPO"]
    assert "| Sharpe |" in lines[0] and "Kind" in lines[0]
