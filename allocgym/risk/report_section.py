"""The "Risk" section of ``report.md``: crisis windows, VaR backtests, the market.

Built from a run's :class:`~allocgym.backtest.Results` alone (and, when given, the daily
returns of a market index), so ``write_report`` can add it to every report:

- **Crisis windows** (:func:`~allocgym.risk.historical_stress`): each policy's return,
  drawdown, recovery and worst day over the named crises inside the out-of-sample dates.
- **VaR backtests** (:func:`~allocgym.risk.var_backtest_table`): 1-day 99 % VaR of each
  policy's daily net returns, historical and GARCH-filtered historical, point in time;
  violations against the expected count, Kupiec and Christoffersen p-values, the
  Acerbi-Szekely Z2 test of expected shortfall and the Basel zone of the last 250 days;
  and a plot of the benchmark policy's returns against its VaR.
- **Against the market**: tracking error, information ratio, beta and up/down capture
  (:func:`~allocgym.backtest.metrics.relative_metrics`), and a verdict line per policy.

The `allocgym stress` command adds the Monte Carlo scenarios and the replay of crises on
today's weights, which need the market data.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from allocgym._io import safe_component
from allocgym.risk.market import EMBEDDED_INDEX as _EMBEDDED_INDEX
from allocgym.risk.market import run_market_spec

__all__ = ["VAR_REPORT_METHODS", "default_market", "risk_section"]

VAR_REPORT_METHODS = ("historical", "filtered_historical")
_LEVEL = 0.99
_EMBEDDED_CAVEAT = (
    "The S&P 500 series is a price index (no dividends, about 2 % a year), while the "
    "embedded stocks are dividend-adjusted closes of 20 of today's survivors: excess "
    "returns against it are flattered."
)
_VAR_COLUMNS = {
    "violations": "violations",
    "expected": "expected",
    "p_uc": "p Kupiec",
    "p_cc": "p Christoffersen cc",
    "p_z2": "p ES (Z2)",
    "zone": "Basel zone (last 250 d)",
}


def risk_section(
    results: Any,
    folder: str | os.PathLike,
    *,
    market: pd.Series | None = None,
    market_name: str = "the market",
    n_sims: int = 500,
) -> tuple[list[str], dict[str, str]]:
    """Markdown lines of the report's risk section, and its plots ``{title: file}``.

    Parameters
    ----------
    results : Results
    folder : path
        Where the plots go (the report's folder).
    market : pandas.Series, optional
        Daily simple returns of a market index by date (e.g.
        ``benchmark_returns(load_benchmark(market=...))``); without it the section has
        no market comparison.
    market_name : str
        How the report names it ("the S&P 500 index").
    n_sims : int
        Simulations of the Z2 test's p-value.
    """
    from allocgym.backtest.metrics import relative_metrics
    from allocgym.risk.stress import equal_weight_policy, historical_stress
    from allocgym.risk.stress_report import markdown
    from allocgym.risk.var import forecast_var
    from allocgym.risk.var_config import VaRConfig
    from allocgym.risk.var_report import plot_var_exceedances, var_backtest_table

    lines = ["## Risk", ""]
    figs: dict[str, str] = {}
    stress = historical_stress(results, benchmark=market, skip_outside=True)
    lines += ["### Crisis windows", ""]
    if len(stress.table):
        lines += [markdown(stress.table), ""]
    else:
        lines += ["No named crisis window lies inside the out-of-sample dates.", ""]
    lines += [f"- {note}" for note in stress.notes] + ([""] if stress.notes else [])

    config = VaRConfig(levels=(_LEVEL,))
    lines += [f"### 1-day VaR at {_LEVEL:.0%} and its backtests", ""]
    n_days = int(results.returns.notna().sum().max()) if len(results.returns) else 0
    if n_days <= config.min_obs:
        lines += [
            f"Too few out-of-sample days ({n_days}) for VaR backtests: the forecasts need "
            f"{config.min_obs} days of history first.",
            "",
        ]
    else:
        table = var_backtest_table(results, VAR_REPORT_METHODS, config, n_sims=n_sims)
        table = table.xs(_LEVEL, level="level")[list(_VAR_COLUMNS)].rename(columns=_VAR_COLUMNS)
        lines += [
            "Forecasts for day t+1 use returns up to t only (historical: the last "
            f"{config.window} days; filtered historical: GARCH(1,1) refit every "
            f"{config.refit_every} days). A correct 99 % VaR is violated on 1 % of days, "
            "independently (Kupiec 1995; Christoffersen 1998); Z2 tests the expected "
            "shortfall (Acerbi & Szekely 2014). Small p-values reject the forecast.",
            "",
            _format_var(table),
            "",
        ]
        policy = equal_weight_policy(results) or str(results.returns.columns[0])
        forecast = forecast_var(results.returns[policy].dropna(), "filtered_historical", config)
        name = f"var_{safe_component(policy)}.png"
        plot_var_exceedances(forecast, folder, level=_LEVEL, filename=name)
        figs[f"VaR exceedances: {policy}"] = name

    if market is not None:
        rel = relative_metrics(results.returns, market)
        lines += _market_lines(rel, market_name, len(results.returns))
    return lines, figs


def default_market(
    results: Any, spec: Any = None, dates: pd.DatetimeIndex | None = None
) -> tuple[pd.Series | None, str]:
    """The market index a run is compared with, as daily returns on ``dates`` (default:
    the run's out-of-sample dates), and its name in the text.

    ``spec`` (a ``--market`` value: ``sp500``, ``none``, ``FILE[:COLUMN]``) overrides the
    run's ``report.market``; by default (``auto``) the embedded S&P 500 index (a price
    index: no dividends) for runs on the embedded stocks, else none
    (:mod:`allocgym.risk.market`).
    """
    chosen = run_market_spec(results, spec)
    if chosen.kind == "none":
        return None, "the market"
    where = "--market" if spec is not None else "report.market"
    dates = pd.DatetimeIndex(results.returns.index if dates is None else dates)
    return chosen.returns(dates, where), chosen.name


def _format_var(table: pd.DataFrame) -> str:
    rows = ["| policy | method | " + " | ".join(table.columns) + " |",
            "|---|---|" + "---:|" * len(table.columns)]  # fmt: skip
    for (policy, method), row in table.iterrows():
        cells = [
            f"{int(row['violations'])}",
            f"{row['expected']:.1f}",
            *(_p(row[c]) for c in ("p Kupiec", "p Christoffersen cc", "p ES (Z2)")),
            str(row["Basel zone (last 250 d)"]),
        ]
        rows.append(f"| {policy} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _p(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.3f}"


def _market_lines(rel: pd.DataFrame, name: str, n_dates: int) -> list[str]:
    lines = [f"### Against {name}", ""]
    n_common = int(rel["n_days"].min()) if len(rel) else 0
    if n_common < n_dates:
        lines += [f"On the {n_common} of {n_dates} out-of-sample days that the index covers.", ""]
    lines.append(
        "| policy | excess return | tracking error | information ratio | beta | up capture "
        "| down capture |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for policy, r in rel.iterrows():
        lines.append(
            f"| {policy} | {r['excess_return']:+.1%} | {r['tracking_error']:.1%} | "
            f"{r['information_ratio']:.2f} | {r['beta']:.2f} | {r['up_capture']:.2f} | "
            f"{r['down_capture']:.2f} |"
        )
    lines.append("")
    for policy, r in rel.iterrows():
        ir = r["information_ratio"]
        verdict = "beats" if r["excess_return"] > 0 else "trails"
        lines.append(
            f"- **{policy}** {verdict} {name} by {r['excess_return']:+.1%} a year "
            f"(information ratio {ir:.2f}, beta {r['beta']:.2f})."
        )
    lines.append("")
    if name == _EMBEDDED_INDEX:
        lines += [_EMBEDDED_CAVEAT, ""]
    return lines
