"""Training callbacks: financial metrics of every finished episode in TensorBoard, and
the progress of training for a progress bar."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from allocgym.backtest.metrics import sample_std

__all__ = ["FinancialMetricsCallback", "ProgressCallback", "episode_metrics"]

_DAYS = 252


def episode_metrics(
    net_returns: Sequence[float], turnover: Sequence[float], costs: Sequence[float],
    hhi: Sequence[float], days_per_step: int = 1,
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
        "concentration": float(np.mean(hhi)) if len(hhi) else 0.0,
        "length": float(r.size),
    }


class FinancialMetricsCallback(BaseCallback):
    """Log ``episode/{wealth,sharpe,turnover,cost,max_drawdown,concentration}`` per episode.

    Works with any number of parallel envs. Each step's figures come from the ``info``
    dicts that :class:`~allocgym.envs.PortfolioEnv` returns (one env, or SB3's
    DummyVecEnv/SubprocVecEnv of them) or, for a
    :class:`~allocgym.envs.vector.PortfolioVecEnv` (whose infos carry only SB3's
    auto-reset keys), from its batch of per-step figures ``last``, read in one go. The
    callback records the mean over the episodes that finished since the last log with
    the SB3 logger, so the values land in the same TensorBoard run as SB3's own curves.
    Steps of envs that report neither are not recorded.
    """

    def __init__(self, days_per_step: int = 1, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.days_per_step = days_per_step
        self._batch: Any = None
        self._rows: list[np.ndarray] = []  # per step: (4, n_envs) net, turnover, cost, hhi
        self._first = np.zeros(1, dtype=np.int64)  # step index where each env's episode began
        self._offset = 0  # step index of self._rows[0]
        self._finished: list[dict[str, float]] = []
        self.episodes_: list[dict[str, float]] = []

    def _on_training_start(self) -> None:
        env = self.training_env
        n = env.num_envs if env is not None else 1
        base = getattr(env, "unwrapped", None)
        self._batch = base if isinstance(getattr(base, "last", None), dict) else None
        self._rows, self._offset = [], 0
        self._first = np.zeros(n, dtype=np.int64)

    def _step_figures(self) -> np.ndarray | None:
        """This step's (4, n_envs) net return, turnover, cost and Herfindahl index."""
        if self._batch is not None:
            last = self._batch.last
            w = np.asarray(last["weights_after"])[:, 1:]
            hhi = np.einsum("ij,ij->i", w, w)
            return np.stack([last["net_return"], last["turnover"], last["cost"], hhi])
        infos: list[dict[str, Any]] = self.locals.get("infos", [])
        if not infos or not all("net_return" in info for info in infos):
            return None
        rows = []
        for info in infos:
            w = np.asarray(info["weights_after"])[1:]
            rows.append((info["net_return"], info["turnover"], info["cost"], np.dot(w, w)))
        return np.array(rows, dtype=np.float64).T

    def _on_step(self) -> bool:
        row = self._step_figures()
        if row is None:
            return True
        self._rows.append(row)
        dones = np.asarray(self.locals.get("dones", np.zeros(row.shape[1], dtype=bool)))
        if not dones.any():
            return True
        path = np.stack(self._rows)  # (steps, 4, n_envs)
        end = self._offset + len(self._rows)
        for i in np.flatnonzero(dones):
            net, turnover, cost, hhi = path[self._first[i] - self._offset :, :, i].T
            m = episode_metrics(net, turnover, cost, hhi, self.days_per_step)
            self._finished.append(m)
            self.episodes_.append(m)
            self._first[i] = end
        used = int(self._first.min()) - self._offset  # rows no running episode needs
        if used > 0:
            del self._rows[:used]
            self._offset += used
        return True

    def _on_rollout_end(self) -> None:
        if not self._finished:
            return
        for key in self._finished[0]:
            self.logger.record(f"episode/{key}", float(np.mean([m[key] for m in self._finished])))
        self._finished = []


class ProgressCallback(BaseCallback):
    """Report training steps to a progress bar every ``every`` steps."""

    def __init__(self, report: Callable[[int], None], limit: int, every: int = 256) -> None:
        super().__init__()
        self.report, self.limit, self.every, self._last = report, limit, every, 0
        self._start = 0  # the model's step count when this learn() began

    def _on_training_start(self) -> None:
        # a later block of fit_blocks continues the model's count (reset_num_timesteps=False)
        self._start = self.num_timesteps

    def _flush(self) -> None:
        # SB3 rounds training up to whole rollouts; the bar counts the requested steps
        done = min(self.num_timesteps - self._start, self.limit)
        if done > self._last:
            self.report(done - self._last)
            self._last = done

    def _on_step(self) -> bool:
        if self.num_timesteps - self._start - self._last >= self.every:
            self._flush()
        return True

    def _on_training_end(self) -> None:
        self._flush()
