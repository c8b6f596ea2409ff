"""TensorBoard runs of a backtest: one event file per policy, each metric once, hparams."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from allocgym.backtest.results import Results
from allocgym.backtest.tensorboard import read_scalars, write_tensorboard


def test_one_event_file_per_run_each_metric_once_with_hparams(tmp_path):
    idx = pd.bdate_range("2021-01-01", periods=40)
    r = pd.DataFrame({"1/N": np.linspace(-0.01, 0.01, 40)}, index=idx)
    metrics = pd.DataFrame({"sharpe": [0.8], "kind": ["traditional"]}, index=["1/N"])
    res = Results(
        metrics=metrics, returns=r, gross_returns=r, costs=r * 0, turnover=r * 0,
        weights={}, fallbacks={}, config={"benchmark": "1/N", "cost_bps": 10.0},
    )  # fmt: skip
    for _ in range(2):  # a rewrite replaces the old events
        runs = write_tensorboard(res, tmp_path)
    folder = runs["1/N"]
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    assert [p for p in folder.iterdir() if p.is_dir()] == []
    scalars = read_scalars(folder)
    assert scalars["metrics/sharpe"].tolist() == [np.float32(0.8)]  # once, as float32
    np.testing.assert_allclose(scalars["backtest/wealth"], np.cumprod(1 + r["1/N"]), rtol=1e-6)
    acc = EventAccumulator(str(folder))
    acc.Reload()
    assert set(acc.PluginTagToContent("hparams")) >= {"_hparams_/experiment"}
