"""Options and conventions shared by the VaR/ES forecasts: :class:`VaRConfig`, levels, tails."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from allocgym._typing import FloatArray

__all__ = ["Simulator", "VaRConfig", "check_level", "first_row", "tail_count"]

Simulator = Callable[[np.random.Generator, int], FloatArray]
"""``simulate(rng, n_sims)``: (n_sims, n_dates) returns drawn from each day's forecast."""


def check_level(level: float, name: str = "level") -> float:
    """A confidence level in (0, 1), as a float; ValueError naming ``name`` otherwise."""
    if isinstance(level, bool) or not isinstance(level, int | float | np.floating):
        raise TypeError(f"{name}={level!r} must be a number in (0, 1), e.g. 0.99")
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"{name}={level!r} is invalid; expected a confidence level in (0, 1)")
    return float(level)


def tail_count(level: float, n: int) -> int:
    """``k = ceil((1 - level) n)``, at least 1: the tail observations of ``n``.

    Rounded to 9 decimals before the ceiling (``1 - 0.95`` is 0.05000000000000004), as in
    :func:`allocgym.backtest.metrics.cvar`.
    """
    return max(1, math.ceil(round((1.0 - level) * n, 9)))


def first_row(t: int, window: int | None) -> int:
    """First row of the estimation window of row t: ``max(0, t - window)`` (0 if expanding)."""
    return 0 if window is None else max(0, t - window)


def _positive_int(name: str, value: object, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name}={value!r} is invalid; expected a positive integer")


@dataclass(frozen=True)
class VaRConfig:
    """Options of :func:`forecast_var` (one typed object instead of many keywords).

    Attributes
    ----------
    levels : tuple of float
        Confidence levels, each in (0, 1).
    window : int or None
        Rolling estimation window in days; None for an expanding window.
    min_obs : int
        Fewest past returns before the first forecast (earlier rows are NaN).
    refit_every : int
        Days between refits of the Student-t and GARCH models (as the predictors).
    n_sims : int
        Monte Carlo draws per day (``monte_carlo``).
    horizon : int
        Days ahead simulated by ``monte_carlo`` (1 for the daily backtests; longer
        horizons give forecasts of the compounded h-day return).
    seed : int
        Seed of the Monte Carlo draws.
    """

    levels: tuple[float, ...] = (0.95, 0.99)
    window: int | None = 1000
    min_obs: int = 250
    refit_every: int = 252
    n_sims: int = 5000
    horizon: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        levels = self.levels if isinstance(self.levels, tuple | list) else (self.levels,)
        if not levels:
            raise ValueError("levels=() is empty; expected confidence levels such as (0.95, 0.99)")
        object.__setattr__(self, "levels", tuple(check_level(x, "levels") for x in levels))
        _positive_int("window", self.window, allow_none=True)
        for name in ("min_obs", "refit_every", "n_sims", "horizon"):
            _positive_int(name, getattr(self, name))
        if self.window is not None and self.min_obs > self.window:
            raise ValueError(
                f"min_obs={self.min_obs} exceeds window={self.window}; expected min_obs <= window"
            )
