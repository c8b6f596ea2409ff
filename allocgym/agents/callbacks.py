"""Training callbacks: financial metrics of every finished episode in TensorBoard."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from allocgym.backtest.metrics import sample_std

__all__ = ["FinancialMetricsCallback", "episode_metrics"]

_DAYS = 252


def episode_metrics(
    net_returns: list[float], turnover: list[float], costs: list[float], hhi: list[float],
    days_per_step: int = 1,
) -> dict[str, float]:  # fmt: skip
    """Summary of one training episode from its per-step records.

    ``sharpe`` is annualised with ``sqrt(252 / days_per_step)``; ``concentration`` is
    the mean Herfindahl index ``sum_i w_i^2`` of the target asset weights (1/N for
    equal weight, 1 for a single asset).
    """
    r = np.asarray(net_returns, dtype=np.float64)
    wealth = np.cumprod(1.0 + r)
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    sd = sample_std(r) if r.size > 1 else 0.0
    return {
        "wealth": float(wealth[-1]) if r.size else 1.0,
        "sharpe": float(r.mean() / sd * math.sqrt(_DAYS / days_per_step)) if sd > 0 else 0.0,
        "turnover": float(np.sum(turnover)),
        "cost": float(np.sum(costs)),
        "max_drawdown": float(np.max(1.0 - wealth / peak)) if r.size else 0.0,
        "concentration": float(np.mean(hhi)) if hhi else 0.0,
        "length": float(r.size),
    }


class FinancialMetricsCallback(BaseCallback):
    """Log ``episode/{wealth,sharpe,turnover,cost,max_drawdown,concentration}`` per episode.

    Reads the ``info`` dicts that :class:`~allocgym.envs.PortfolioEnv` returns (works
    with any number of parallel envs) and records the mean over the episodes that
    finished since the last log, with the SB3 logger, so the values land in the same
    TensorBoard run as SB3's own training curves.
    """

    def __init__(self, days_per_step: int = 1, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.days_per_step = days_per_step
        self._buffers: list[dict[str, list[float]]] = []
        self._finished: list[dict[str, float]] = []
        self.episodes_: list[dict[str, float]] = []

    def _on_training_start(self) -> None:
        n = self.training_env.num_envs if self.training_env is not None else 1
        self._buffers = [self._empty() for _ in range(n)]

    @staticmethod
    def _empty() -> dict[str, list[float]]:
        return {"net": [], "turnover": [], "cost": [], "hhi": []}

    def _on_step(self) -> bool:
        infos: list[dict[str, Any]] = self.locals.get("infos", [])
        dones = self.locals.get("dones", np.zeros(len(infos), dtype=bool))
        for i, info in enumerate(infos):
            if "net_return" not in info:
                continue
            buf = self._buffers[i]
            buf["net"].append(info["net_return"])
            buf["turnover"].append(info["turnover"])
            buf["cost"].append(info["cost"])
            w = np.asarray(info["weights_after"])[1:]
            buf["hhi"].append(float(np.dot(w, w)))
            if dones[i]:
                m = episode_metrics(
                    buf["net"], buf["turnover"], buf["cost"], buf["hhi"], self.days_per_step
                )
                self._finished.append(m)
                self.episodes_.append(m)
                self._buffers[i] = self._empty()
        return True

    def _on_rollout_end(self) -> None:
        if not self._finished:
            return
        for key in self._finished[0]:
            self.logger.record(f"episode/{key}", float(np.mean([m[key] for m in self._finished])))
        self._finished = []
