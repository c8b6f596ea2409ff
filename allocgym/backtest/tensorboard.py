"""Backtest results as TensorBoard runs: one run per policy, the same tags for all.

``tensorboard --logdir runs/<experiment>`` then overlays every policy, RL agents and
baselines alike. Tags, indexed by trading day of the out-of-sample track (0, 1, ...):

- ``backtest/wealth``: growth of 1 net of costs;
- ``backtest/drawdown``: ``wealth / running peak - 1`` (<= 0, as ``max_drawdown``);
- ``backtest/turnover``: one-way turnover traded that day;
- ``backtest/cost``: cost paid that day, as a fraction of wealth;

and, at step 0, ``metrics/<name>`` for every numeric column of the metrics table plus
an hparams summary (the policy's class and parameters against its metrics).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocgym._io import safe_component

__all__ = ["BACKTEST_TAGS", "run_name", "write_tensorboard"]

BACKTEST_TAGS = ("backtest/wealth", "backtest/drawdown", "backtest/turnover", "backtest/cost")


def run_name(policy: str) -> str:
    """A folder name for a policy label (``"1/N"`` -> ``"1_N"``): the one label-to-folder
    mapping of :func:`allocgym._io.safe_component`, which configs check for collisions."""
    return safe_component(policy)


def _hparams(config: dict[str, Any], policy: str) -> dict[str, Any]:
    desc = config.get("policies", {}).get(policy, {})
    out: dict[str, Any] = {"policy": policy, "class": str(desc.get("class", ""))}
    for key, value in (desc.get("params") or {}).items():
        if isinstance(value, bool | int | float | str):
            out[key] = value
        else:
            out[key] = json.dumps(value, default=str)[:200]
    return out


def write_tensorboard(results: Any, logdir: str | Path) -> dict[str, Path]:
    """Write one TensorBoard run per policy of ``results`` under ``logdir``.

    Parameters
    ----------
    results : allocgym.backtest.Results
    logdir : path
        Each policy gets ``logdir/<run_name(policy)>``; existing event files there are
        replaced so a re-run does not duplicate curves.

    Returns
    -------
    dict of policy name to its run folder
    """
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    logdir = Path(logdir)
    runs = {}
    for policy in results.returns.columns:
        folder = logdir / run_name(policy)
        if folder.exists():
            for old in folder.glob("events.out.tfevents.*"):
                old.unlink()
        r = results.returns[policy].dropna().to_numpy()
        wealth = np.cumprod(1.0 + r)
        drawdown = wealth / np.maximum.accumulate(np.maximum(wealth, 1.0)) - 1.0
        turnover = results.turnover[policy].reindex(results.returns[policy].dropna().index)
        cost = results.costs[policy].reindex(turnover.index)
        series = {
            "backtest/wealth": wealth,
            "backtest/drawdown": drawdown,
            "backtest/turnover": turnover.fillna(0.0).to_numpy(),
            "backtest/cost": cost.fillna(0.0).to_numpy(),
        }
        writer = SummaryWriter(log_dir=str(folder))
        try:
            for tag, values in series.items():
                for step, value in enumerate(values):
                    writer.add_scalar(tag, float(value), step)
            row = results.metrics.loc[policy]
            metrics = {
                f"metrics/{k}": float(v)
                for k, v in row.items()
                if isinstance(v, int | float | np.number) and not isinstance(v, bool)
                and np.isfinite(v)
            }  # fmt: skip
            for tag, value in metrics.items():
                writer.add_scalar(tag, value, 0)
            # the HParams plugin's three summaries, through this run's writer: one event
            # file per run and each metric written once (SummaryWriter.add_hparams opens a
            # second writer in the folder and writes every metric again)
            file_writer = writer._get_file_writer()
            for summary in hparams(_hparams(results.config, policy), metrics):
                file_writer.add_summary(summary)
        finally:
            writer.close()
        runs[policy] = folder
    return runs


def read_scalars(run_dir: str | Path) -> dict[str, pd.Series]:
    """Every scalar tag of a TensorBoard run folder as a Series indexed by step."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {
        tag: pd.Series(
            [e.value for e in acc.Scalars(tag)], index=[e.step for e in acc.Scalars(tag)]
        )
        for tag in acc.Tags()["scalars"]
    }
