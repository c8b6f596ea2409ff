"""VaR backtests of every policy of a run, and the returns-against-VaR plot, for reports."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from allocgym._io import atomic_write, check_component
from allocgym.risk.var import VAR_METHODS, VaRForecast, forecast_var
from allocgym.risk.var_backtest import backtest_var
from allocgym.risk.var_config import VaRConfig, check_level

__all__ = ["plot_var_exceedances", "var_backtest_table"]


def var_backtest_table(
    results: Any,
    methods: Sequence[str] = VAR_METHODS,
    config: VaRConfig | None = None,
    *,
    n_sims: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """VaR/ES backtests of each policy's daily net returns, by method and level.

    Parameters
    ----------
    results : Results or DataFrame
        A backtest's :class:`~allocgym.backtest.Results` (anything with a ``returns``
        table, dates x policies, is read the same way) or such a table. Each policy's
        leading missing days (before its track starts) are dropped.
    methods : sequence of str
        Forecast methods (:data:`~allocgym.risk.VAR_METHODS`).
    config : VaRConfig, optional
    n_sims, seed
        Simulations and seed of the Acerbi-Szekely p-value.

    Returns
    -------
    pandas.DataFrame
        Index (policy, method, level); the columns of
        :func:`~allocgym.risk.backtest_var`.
    """
    # duck-typed: allocgym.backtest's report imports this module, so no import back
    returns = getattr(results, "returns", results)
    if not isinstance(returns, pd.DataFrame):
        raise TypeError(f"results must be Results or a DataFrame; got {type(results).__name__}")
    unknown = [m for m in methods if m not in VAR_METHODS]
    if unknown:
        raise ValueError(f"methods {unknown} are not VaR methods; expected some of {VAR_METHODS}")
    parts = {}
    for policy in returns.columns:
        series = returns[policy]
        start = series.first_valid_index()
        series = series.loc[start:] if start is not None else series.iloc[:0]
        for method in methods:
            forecast = forecast_var(series, method, config)
            parts[(str(policy), method)] = backtest_var(forecast, n_sims=n_sims, seed=seed)
    if not parts:
        raise ValueError("results has no policies; expected at least one column of returns")
    table = pd.concat(parts, names=["policy", "method"])
    return table


def plot_var_exceedances(
    forecast: VaRForecast,
    folder: str | os.PathLike,
    *,
    level: float = 0.99,
    filename: str | None = None,
    title: str | None = None,
) -> Path:
    """Daily returns against ``-VaR`` at ``level``, violations marked; a PNG in ``folder``.

    Uses :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot), so it works headless.
    Returns the path written (``var_<method>_<level>.png`` unless ``filename``); the
    file is written atomically.
    """
    level = check_level(level)
    if forecast.horizon != 1:
        raise ValueError(
            f"the forecast covers {forecast.horizon} days; the plot compares daily returns "
            "with 1-day forecasts"
        )
    if level not in forecast.levels:
        raise ValueError(f"level={level} is not among the forecast's levels {forecast.levels}")
    name = filename or f"var_{forecast.method}_{round(level * 100, 2):g}.png"
    why = check_component(name)
    if why or not name.endswith(".png"):
        raise ValueError(
            f"filename={name!r} is invalid ({why or 'not .png'}); expected a plain file name "
            "ending in .png"
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    r, var = forecast.returns, forecast.var[level]
    hits = forecast.violations[level].to_numpy()
    x = r.index if isinstance(r.index, pd.DatetimeIndex) else np.arange(len(r))
    fig = Figure(figsize=(10, 4))  # no pyplot: no GUI backend, no global figure state
    ax = fig.subplots()
    ax.plot(x, r.to_numpy(), lw=0.5, color="0.55", label="daily return")
    ax.plot(x, -var.to_numpy(), lw=0.9, color="C0", label=f"-VaR {level:.0%} ({forecast.method})")
    ax.scatter(
        np.asarray(x)[hits], r.to_numpy()[hits], s=10, color="C3", zorder=3,
        label=f"violations ({int(hits.sum())} of {int(var.notna().sum())} days)",
    )  # fmt: skip
    ax.set_ylabel("daily return")
    ax.set_title(title or f"Returns against {level:.0%} VaR, {forecast.method}")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path = folder / name
    atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    return path
