"""``stress.md`` and its plots: crisis table, replay table, scenario table and fan chart."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from allocgym._io import atomic_write
from allocgym.backtest.manifest import write_manifest
from allocgym.backtest.results import Results
from allocgym.data import MarketData
from allocgym.envs.costs import CostModel
from allocgym.risk.scenario_risk import ScenarioRisk, evaluate_scenarios
from allocgym.risk.scenarios import ScenarioModel, date_row
from allocgym.risk.stress import StressTable, historical_stress, latest_weights, replay

__all__ = ["StressReport", "fan_chart", "run_stress", "write_stress"]

FAN_PNG = "stress_fan.png"
WINDOWS_PNG = "stress_windows.png"


@dataclass(frozen=True, eq=False)
class StressReport:
    """Everything ``allocgym stress`` computes for a run."""

    historical: StressTable
    replay: StressTable
    scenarios: ScenarioRisk
    model: ScenarioModel
    date: pd.Timestamp
    n_paths: int
    horizon: int
    seed: int | None
    market_name: str | None = None


def run_stress(
    results: Results,
    market: MarketData,
    *,
    date: Any = None,
    n_paths: int = 1000,
    horizon: int = 21,
    seed: int | None = 0,
    windows: Mapping[str, Any] | None = None,
    mode: str = "hold",
    drawdown: float = 0.10,
    cost_model: CostModel | None = None,
    market_returns: pd.Series | None = None,
    market_name: str = "the market",
) -> StressReport:
    """Crisis windows, replay and scenarios for every policy of ``results``.

    ``date`` (default the run's last date) is where the scenario model stands and whose
    weights the policies carry into the replay and the scenarios. Given ``windows`` must
    lie inside ``market``; the historical table covers those inside the run's
    out-of-sample dates and notes the others. The default windows outside are skipped.
    ``market_returns`` (daily simple returns of a market index by date, e.g.
    :meth:`allocgym.risk.market.MarketSpec.returns` on ``market.dates``; named
    ``market_name`` in the text) adds the index's return over each window to the
    historical and replay tables.
    """
    date = market.dates[date_row(market, results.returns.index[-1] if date is None else date)]
    # the cheap parts first: a bad window fails before the models are fitted
    hist = historical_stress(results, windows, benchmark=market_returns, skip_outside=True)
    rep = replay(results, market, windows, date=date, skip_outside=windows is None,
                 market_returns=market_returns)  # fmt: skip
    weights = latest_weights(results, market.assets, date)
    model = ScenarioModel().fit(market, date)
    last = results.returns.index[-1]
    if date > last:
        model.notes_.append(f"the run ends on {last.date()}: its weights of that day are used")
    scenarios = model.simulate(n_paths, horizon, seed)
    risk = evaluate_scenarios(
        scenarios, weights, mode=mode, drawdown=drawdown, cost_model=cost_model
    )
    name = None if market_returns is None else market_name
    return StressReport(hist, rep, risk, model, date, n_paths, horizon, seed, name)


# ---------------------------------------------------------------- tables
_FORMATS = {
    "return": "{:+.1%}", "max_drawdown": "{:.1%}", "worst_day": "{:+.1%}", "vs_1N": "{:+.1%}",
    "days_to_recover": "{:.0f}", "days": "{:d}", "mean": "{:+.2%}", "std": "{:.2%}",
    "p_drawdown": "{:.1%}", "worst5_return": "{:+.1%}", "worst5_drawdown": "{:.1%}",
    "worst_return": "{:+.1%}", "mean_cost": "{:.3%}", "market": "{:+.1%}",
}  # fmt: skip


def _cell(col: str, value: Any) -> str:
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return "not recovered" if col == "days_to_recover" else "–"
    pattern = _FORMATS.get(col)
    if pattern is None and (col.startswith(("q", "VaR", "ES")) or col.startswith("vs_")):
        pattern = "{:+.1%}" if col.startswith(("q", "vs_")) else "{:.1%}"
    try:
        return (pattern or "{}").format(value)
    except (TypeError, ValueError):
        return str(value)


def markdown(frame: pd.DataFrame) -> str:
    """A table in Markdown; the index levels become the first columns."""
    flat = frame.reset_index()
    head = "| " + " | ".join(map(str, flat.columns)) + " |"
    rule = "|" + "---|" * len(flat.columns)
    rows = ["| " + " | ".join(_cell(c, v) for c, v in zip(flat.columns, r, strict=True)) + " |"
            for r in flat.itertuples(index=False)]  # fmt: skip
    return "\n".join([head, rule, *rows])


# ---------------------------------------------------------------- plots
def fan_chart(risk: ScenarioRisk, path: Path) -> str:
    """Median, 25-75 % and 5-95 % bands of the wealth paths, one panel per policy."""
    names = list(risk.wealth)
    cols = min(3, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False,
                             sharey=True)  # fmt: skip
    for ax, name in zip(axes.flat, names, strict=False):
        w = risk.wealth[name]
        days = np.arange(w.shape[1])
        q = np.quantile(w, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        ax.fill_between(days, q[0], q[4], alpha=0.2, color="C0", label="5-95 %")
        ax.fill_between(days, q[1], q[3], alpha=0.4, color="C0", label="25-75 %")
        ax.plot(days, q[2], color="C0", label="median")
        ax.axhline(1.0, color="grey", lw=0.6)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("days ahead")
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    axes[0, 0].set_ylabel("wealth")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Monte Carlo scenarios ({risk.mode})", fontsize=10)
    return _save(fig, path)


def _windows_chart(table: pd.DataFrame, title: str, path: Path) -> str:
    ret = table["return"].unstack("policy")  # sorts both levels: restore their order
    ret = ret.loc[table.index.unique("window"), table.index.unique("policy")]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(ret) + 2), 3.4))
    ret.plot.bar(ax=ax, rot=20, width=0.8)
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("")
    ax.legend(fontsize=7)
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> str:
    atomic_write(path, lambda p: fig.savefig(p, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)
    return path.name


# ---------------------------------------------------------------- the file
def _model_section(report: StressReport) -> list[str]:
    m = report.model
    k = len(m.start_prob_)
    trans = pd.DataFrame(m.transmat_, index=[f"from {i}" for i in range(k)],
                         columns=[f"to {j}" for j in range(k)])  # fmt: skip
    lines = [
        f"Model fitted on the {m.train_window} trading days up to {report.date.date()} "
        "(nothing later): GARCH per asset, the market HMM's transition matrix, and a "
        f"stationary block bootstrap (mean block {m.block_length:g} days) of standardised "
        "residual vectors within each regime's training days.",
        "",
        "Regime probabilities at the date (0 = calmest): "
        + ", ".join(f"{p:.1%}" for p in m.start_prob_)
        + "; training days per regime: "
        + ", ".join(str(int((m.residual_regime_ == s).sum())) for s in range(k))
        + ".",
        "",
        "| Transition | " + " | ".join(trans.columns) + " |",
        "|---|" + "---:|" * k,
        *(f"| {i} | " + " | ".join(f"{v:.3f}" for v in row) + " |"
          for i, row in zip(trans.index, trans.to_numpy(), strict=True)),
    ]  # fmt: skip
    return lines


def _market_text(report: StressReport) -> str:
    if report.market_name is None:
        return ""
    return (
        f" market: the return of {report.market_name} over the same window; vs_ columns: "
        "the policy's return minus the reference's."
    )


def _notes(notes: list[str]) -> list[str]:
    return ["", *(f"- note: {n}" for n in notes)] if notes else []


def write_stress(report: StressReport, folder: str | os.PathLike) -> Path:
    """Write ``stress.md`` and its PNGs into ``folder`` atomically and add them to the
    manifest; returns the path of ``stress.md``."""
    folder = Path(folder)
    risk = report.scenarios
    figures = [fan_chart(risk, folder / FAN_PNG)]
    hist, rep = report.historical, report.replay
    if len(hist.table):
        figures.append(_windows_chart(hist.table, "Crisis windows: return of each policy",
                                      folder / WINDOWS_PNG))  # fmt: skip
    hold_text = (
        "bought and held over the horizon (weights drift, nothing is traded, no cost)"
        if risk.mode == "hold"
        else "traded back to their weights of the date every day, at the run's exact costs"
    )
    lines = [
        "# Stress tests and scenarios",
        "",
        "## Historical stress windows",
        "",
        "Each policy's own out-of-sample track (its trades and costs) over each window "
        "(returns dated after the start's close, up to the end's close). days_to_recover: "
        "trading days from the window's deepest trough back to the prior peak."
        + _market_text(report),
        "",
        markdown(hist.table)
        if len(hist.table)
        else "No window lies inside the run's out-of-sample dates.",
        *_notes(hist.notes),
        "",
        "## Replay: what if it happened now",
        "",
        f"Each window's daily asset returns applied to each policy's weights of "
        f"{report.date.date()}, bought and held through the window (no trade, no cost)."
        + _market_text(report),
        "",
        markdown(rep.table) if len(rep.table) else "No window lies inside the data.",
        *_notes(rep.notes),
        "",
        "## Monte Carlo scenarios",
        "",
        f"{report.n_paths} paths of {report.horizon} trading days after "
        f"{report.date.date()} (seed {report.seed}). Each policy starts from its weights of "
        f"the date and is {hold_text}. VaR/ES are losses of the {report.horizon}-day "
        f"return; p_drawdown: probability of a drawdown worse than {risk.drawdown:.0%}.",
        "",
        markdown(risk.table),
        "",
        *_model_section(report),
        *_notes(report.model.notes_),
        "",
        *(f"![{name}]({name})" for name in figures),
        "",
    ]
    path = atomic_write(folder / "stress.md", lambda p: Path(p).write_text("\n".join(lines)))
    write_manifest(folder, ["stress.md", *figures])
    return path
