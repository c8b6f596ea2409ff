"""`write_report`: report.md with the comparison table and PNG plots, written atomically."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from allocgym._io import atomic_write, safe_component
from allocgym.backtest.manifest import write_manifest
from allocgym.backtest.metrics import FLAT, drawdowns
from allocgym.backtest.results import Results
from allocgym.backtest.stats import seed_summary
from allocgym.baselines import plot_dendrogram

__all__ = ["write_report"]

_TABLE = {
    "kind": ("Kind", "{}"),
    "ann_return": ("Ann. return", "{:.2%}"),
    "ann_volatility": ("Ann. vol", "{:.2%}"),
    "sharpe": ("Sharpe", "{:.2f}"),
    "max_drawdown": ("Max DD", "{:.1%}"),
    "win_rate": ("Win rate", "{:.1%}"),
    "information_ratio": ("Info ratio", "{:.2f}"),
    "lw_p_value": ("p (LW vs bench.)", "{:.3f}"),
    "dsr": ("DSR", "{:.2f}"),
    "turnover": ("Turnover/yr", "{:.2f}"),
    "total_costs": ("Costs (sum, % of wealth)", "{:.2%}"),
    "fallbacks": ("Fallbacks", "{:.0f}"),
}


def _save_fig(fig: plt.Figure, path: Path) -> str:
    atomic_write(path, lambda p: fig.savefig(p, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)
    return path.name


def _fmt(value: object, pattern: str) -> str:
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return "–"
    try:
        return pattern.format(value)
    except (TypeError, ValueError):
        return str(value)


_BY_KIND = ("ann_return", "ann_volatility", "sharpe", "max_drawdown", "win_rate",
            "information_ratio")  # fmt: skip


def comparison_table(results: Results, columns: tuple[str, ...] | None = None) -> str:
    """The metrics table in Markdown (the columns of ``_TABLE`` that are present)."""
    m = results.metrics
    cols = [c for c in (columns or _TABLE) if c in m.columns]
    head = "| Policy | " + " | ".join(_TABLE[c][0] for c in cols) + " |"
    rule = "|---|" + "---:|" * len(cols)
    rows = [
        f"| {name} | " + " | ".join(_fmt(m.loc[name, c], _TABLE[c][1]) for c in cols) + " |"
        for name in m.index
    ]
    return "\n".join([head, rule, *rows])


def _cell(m: pd.DataFrame, name: str, col: str) -> str:
    return _fmt(m.loc[name, col], _TABLE[col][1]) if col in m.columns else "–"


def seeds_table(results: Results, level: float = 0.95) -> str:
    """Per agent run with several seeds (``config["seed_groups"]``): each seed's row, the
    mean over seeds with its t-interval (:func:`~allocgym.backtest.stats.seed_summary`),
    and the seed ensemble's row (``config["seed_ensembles"]``); "" when there is none."""
    groups = results.config.get("seed_groups") or {}
    if not groups:
        return ""
    m = results.metrics
    summary = seed_summary(m, groups, level=level)
    ensembles = results.config.get("seed_ensembles") or {}
    pct = f"{level:.0%}"
    head = (
        f"| Policy | Sharpe | Sharpe {pct} CI over seeds | Sharpe sd over seeds | "
        "Turnover/yr | Costs (sum, % of wealth) |"
    )
    rows = [head, "|---|---:|---:|---:|---:|---:|"]

    def row(label: str, name: str) -> str:  # one policy: no interval, no spread
        sharpe, turnover, costs = (_cell(m, name, c) for c in ("sharpe", "turnover", "total_costs"))
        return f"| {label} | {sharpe} |  |  | {turnover} | {costs} |"

    for agent, names in groups.items():
        rows += [row(name, name) for name in names]
        s = summary.loc[agent]
        ci = f"[{_fmt(s['sharpe_ci_low'], '{:.2f}')}, {_fmt(s['sharpe_ci_high'], '{:.2f}')}]"
        rows.append(
            f"| **{agent}: mean of {int(s['n_seeds'])} seeds** | "
            f"**{_fmt(s['sharpe_mean'], '{:.2f}')}** | {ci} | {_fmt(s['sharpe_std'], '{:.2f}')} | "
            f"{_fmt(s['turnover_mean'], '{:.2f}')} | {_fmt(s['total_costs_mean'], '{:.2%}')} |"
        )
        ensemble = ensembles.get(agent)
        if ensemble in m.index:
            rows.append(row(f"{ensemble} (average weights)", ensemble))
    return "\n".join(rows)


def _section(title: str, intro: str, table: str) -> list[str]:
    """A report section's lines: heading, intro and table; none when the table is empty."""
    return [f"## {title}", "", intro, "", table, ""] if table else []


def _seeds_section(results: Results) -> list[str]:
    return _section(
        "Across seeds",
        "One training run of an RL agent is one draw: the same agent trained with another "
        "seed can land far away. Each agent trained with several seeds is shown seed by "
        "seed, then the mean of its seeds' Sharpe ratios with a 95% Student-t interval over "
        "seeds, mean ± t(0.975, n−1)·s/√n (s: the seeds' standard deviation; it is the "
        "spread over training seeds on this test period, not the uncertainty of one track), "
        "the seeds' mean turnover and costs, then the seed ensemble, which holds the average "
        "of the seeds' target weights.",
        seeds_table(results),
    )


def _plots(results: Results, folder: Path, window: int) -> dict[str, str]:
    out = {}
    wealth = results.wealth
    fig, ax = plt.subplots(figsize=(9, 4.5))
    wealth.plot(ax=ax, logy=True, lw=1.0)
    ax.set(title="Equity curves (net of costs, log scale)", ylabel="wealth", xlabel="")
    out["Equity curves"] = _save_fig(fig, folder / "equity.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    dd = pd.DataFrame(
        {c: drawdowns(results.returns[c].to_numpy()) for c in results.policies},
        index=results.returns.index,
    )
    dd.plot(ax=ax, lw=0.8)
    ax.set(title="Drawdowns", ylabel="drawdown", xlabel="")
    out["Drawdowns"] = _save_fig(fig, folder / "drawdowns.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    r = results.returns
    sd = r.rolling(window).std()
    rms = np.sqrt((r * r).rolling(window).mean())
    sd = sd.where(sd > FLAT * rms)  # constant stretches (cash) have no Sharpe ratio
    rolling = r.rolling(window).mean() / sd * np.sqrt(252)
    rolling.plot(ax=ax, lw=0.8)
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set(title=f"Rolling Sharpe ratio ({window} days)", ylabel="Sharpe", xlabel="")
    out["Rolling Sharpe ratio"] = _save_fig(fig, folder / "rolling_sharpe.png")

    for name, w in results.weights.items():
        fig, ax = plt.subplots(figsize=(9, 4))
        shown = top_holdings(w)
        cmap = plt.get_cmap("tab10")
        colors = ["0.85"] + [cmap(i % 10) for i in range(shown.shape[1] - 1)]  # cash: grey
        if "other" in shown.columns:
            colors[-1] = "0.55"
        ax.stackplot(shown.index, shown.to_numpy().T, labels=list(shown.columns), colors=colors,
                     lw=0)  # fmt: skip
        ax.set(title=f"Weights over time: {name}", ylim=(0, 1), ylabel="weight")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, ncol=1)
        out[f"Weights: {name}"] = _save_fig(fig, folder / f"weights_{safe_component(name)}.png")
    return out


def top_holdings(weights: pd.DataFrame, k: int = 8) -> pd.DataFrame:
    """Cash (first column), the ``k`` assets with the largest mean weight, and "other".

    A 20-asset stack of 21 colours cannot be read; the rest of the book is summed into
    one "other" band (absent when there are at most ``k`` assets). Rows still sum to the
    original rows' sums.
    """
    cash, assets = weights.iloc[:, :1], weights.iloc[:, 1:]
    if assets.shape[1] <= k:
        return weights
    top = assets.mean().nlargest(k).index
    rest = assets.drop(columns=top).sum(axis=1).rename("other")
    return pd.concat([cash, assets[top], rest], axis=1)


def _cost_text(cfg: dict) -> object:
    """The costs of the run: ``config["env"]["cost_bps"]`` (top-level in older results)."""
    env = cfg.get("env")
    return (env if isinstance(env, dict) else cfg).get("cost_bps", "?")


def _splitter_text(sp: object) -> str:
    if not isinstance(sp, dict):
        return str(sp)
    step = sp.get("step") or sp.get("test")
    window = "expanding" if sp.get("expanding") else "rolling"
    return (
        f"train {sp.get('train')} days ({window}), test {sp.get('test')} days, "
        f"step {step}, purge {sp.get('purge', 0)}"
    )


def _features_text(names: object) -> str:
    if not names:
        return (
            "none (policies see prices only; Black–Litterman has no views and holds its "
            "reference portfolio)"
        )
    return ", ".join(str(n) for n in names)  # type: ignore[union-attr]


def by_kind_table(results: Results) -> str:
    """Return, volatility, Sharpe, drawdown, win rate and IR, rows grouped by kind."""
    m = results.metrics
    if "kind" not in m.columns:
        return comparison_table(results, _BY_KIND)
    order = {"traditional": 0, "ML-enhanced": 1, "RL": 2}
    ranked = sorted(m.index, key=lambda n: (order.get(str(m.loc[n, "kind"]), 3), str(n)))
    grouped = dataclasses.replace(results, metrics=m.loc[ranked])
    return comparison_table(grouped, ("kind", *_BY_KIND))


def verdicts(results: Results, alpha: float = 0.05) -> list[str]:
    """One plain sentence per policy: does it beat the benchmark, at level ``alpha``?"""
    bench = results.config.get("benchmark")
    m = results.metrics
    if bench is None or bench not in m.index or "lw_p_value" not in m.columns:
        return ["- No benchmark policy in this run, so no policy is tested against one."]
    sb = float(m.loc[bench, "sharpe"])
    out = []
    for name in m.index:
        if name == bench:
            continue
        s, p = float(m.loc[name, "sharpe"]), float(m.loc[name, "lw_p_value"])
        if not np.isfinite(p):
            word = "could not be tested"
        elif p < alpha:
            word = "significantly better than" if s > sb else "significantly worse than"
        else:
            word = "not significantly different from"
        out.append(
            f"- **{name}**: Sharpe {s:.2f} vs {bench} {sb:.2f}, p = {p:.3f}: {word} {bench}"
            + (" (it does not beat the benchmark)." if not (p < alpha and s > sb) else ".")
        )
    return out


def triggers_table(results: Results) -> str:
    """Rebalances per trigger of each dynamically rebalanced policy (``results.triggers``),
    with each policy's total, in Markdown; "" when there is none."""
    rows = ["| Policy | Trigger | Rebalances |", "|---|---|---:|"]
    for name, counts in results.triggers.items():
        rows += [f"| {name} | {cause} | {n} |" for cause, n in counts.items()]
        rows.append(f"| {name} | **all triggers** | **{sum(counts.values())}** |")
    return "\n".join(rows) if results.triggers else ""


def _triggers_section(results: Results) -> list[str]:
    return _section(
        "Dynamic rebalancing: rebalances per trigger",
        "What caused each rebalance of the dynamically rebalanced policies, counted over the "
        "whole out-of-sample track (all folds summed). A rebalance with several causes counts "
        "once, under the first of initial, regime, volatility, target, calendar; 'initial' "
        "is the first decision.",
        triggers_table(results),
    )


def membership_table(tree: dict[str, Any]) -> str:
    """Cluster number and its assets, one row per cluster of a saved tree
    (:func:`~allocgym.backtest.results.cluster_tree`), in Markdown."""
    rows = ["| Cluster | Assets |", "|---:|---|"]
    rows += [f"| {c} | {', '.join(names)} |" for c, names in enumerate(tree["clusters"])]
    return "\n".join(rows)


@dataclasses.dataclass(frozen=True)
class _SavedTree:
    """A saved tree with the fitted attributes :func:`plot_dendrogram` reads of a policy,
    so that a report rewritten from a results folder draws the same picture."""

    linkage_: np.ndarray
    assets_: tuple[str, ...]
    labels_: np.ndarray
    linkage: str | None
    method: str | None

    @classmethod
    def of(cls, tree: dict[str, Any]) -> _SavedTree:
        label = {a: c for c, names in enumerate(tree["clusters"]) for a in names}
        assets = tuple(tree["assets"])
        return cls(np.asarray(tree["tree"], dtype=np.float64), assets,
                   np.array([label[a] for a in assets]), tree.get("linkage"),
                   tree.get("method"))  # fmt: skip


def _cluster_text(tree: dict[str, Any]) -> str:
    date = tree.get("date") or "date not recorded"
    if tree.get("method") is None:  # HRP: the tree, no clusters of its own
        groups = (
            "The clusters are the branches the dendrogram colours (the tree cut at 70% of "
            "its highest merge); HRP's weights come from the recursive bisection of the "
            "tree's leaf order, not from these groups."
        )
    else:
        groups = (
            f"The clusters are the policy's own ({tree['method']}), marked [c] after each "
            "asset; inverse variance inside and across them gives the weights."
        )
    return (
        f"Clusters of the last fold: the tree of the policy's last rebalance ({date}), on the "
        f"lookback returns up to that date ({tree.get('linkage')} linkage of the correlation "
        f"distance). {groups}"
    )


def _clusters_section(results: Results, folder: Path) -> tuple[list[str], list[str]]:
    """Per hierarchical or cluster policy: a dendrogram PNG, a caption, the membership."""
    if not results.clusters:
        return [], []
    lines, files = ["## Clusters of the hierarchical policies", ""], []
    for name, tree in results.clusters.items():
        title = f"{name}: tree of the last fold ({tree.get('date') or 'last rebalance'})"
        fig = plot_dendrogram(_SavedTree.of(tree), title=title)
        files.append(_save_fig(fig, folder / f"dendrogram_{safe_component(name)}.png"))
        lines += [f"### {name}", "", f"![Dendrogram: {name}]({files[-1]})", "",
                  f"*{_cluster_text(tree)}*", "", membership_table(tree), ""]  # fmt: skip
    return lines, files


COMPANION_PAGES = {
    "explain.md": ("What the agent looks at", "allocgym explain", "explain.png"),
    "stress.md": ("Stress tests, scenarios and VaR", "allocgym stress", "stress_fan.png"),
}
"""Pages other commands write into a run folder: file -> (title, command, its main plot)."""


def _companions_section(folder: Path) -> list[str]:
    """Links to the pages ``allocgym explain`` and ``allocgym stress`` wrote into
    ``folder`` (each with its main plot), or nothing when there are none; those commands
    rewrite the report, so the links appear as soon as a page exists."""
    found = [(f, *COMPANION_PAGES[f]) for f in COMPANION_PAGES if (folder / f).is_file()]
    if not found:
        return []
    lines = ["## More on this run", ""]
    lines += [f"- [{title}]({page}), written by `{command}`" for page, title, command, _ in found]
    lines.append("")
    lines += [f"![{title}]({plot})\n" for _, title, _, plot in found if (folder / plot).is_file()]
    return lines


def write_report(
    results: Results,
    folder: str | os.PathLike,
    *,
    rolling_window: int = 252,
    market: pd.Series | str | None = None,
    market_name: str = "the market",
) -> Path:
    """Write ``report.md`` and the PNG plots into ``folder``, add them to the folder's
    ``manifest.json`` (:func:`~allocgym.backtest.manifest.write_manifest`) and return the
    report's path.

    ``market``: daily simple returns of a market index by date; the risk section then
    compares every policy with it (``market_name`` names it in the text). Default: the
    embedded S&P 500 index for runs on the embedded stocks
    (:func:`~allocgym.risk.report_section.default_market`), else no comparison; a run's
    ``report.market`` chooses another. A string is a market spec (``"sp500"``,
    ``"none"``, ``"FILE[:COLUMN]"``; :mod:`allocgym.risk.market`) that overrides it.
    """
    from allocgym.risk.report_section import default_market, risk_section

    if market is None or isinstance(market, str):
        market, market_name = default_market(results, market)

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = results.config
    window = min(rolling_window, max(2, len(results.returns) // 2))
    figs = _plots(results, folder, window)
    risk_lines, risk_figs = risk_section(results, folder, market=market, market_name=market_name)
    figs.update(risk_figs)
    cluster_lines, dendrograms = _clusters_section(results, folder)
    dates = results.returns.index
    bench = cfg.get("benchmark", "–")
    n_trials = cfg.get("n_trials", len(results.policies))
    seeds_counted = (  # each row is one configuration tried: seeds and ensembles count
        ", every seed of every RL agent and every seed ensemble among them"
        if cfg.get("seed_groups") and int(n_trials) >= len(results.policies) else ""
    )  # fmt: skip
    lines = [
        f"# Backtest report: {cfg.get('name', 'allocgym backtest')}",
        "",
        f"- Data: {cfg.get('data', {}).get('source', '?')}, out of sample "
        f"{dates[0].date()} to {dates[-1].date()} ({len(dates)} trading days)",
        f"- Walk-forward: {_splitter_text(cfg.get('splitter'))}; costs "
        f"{_cost_text(cfg)} bps per unit of turnover; every policy stepped through "
        "the same PortfolioEnv",
        f"- Features: {_features_text(cfg.get('data', {}).get('features'))}",
        f"- Benchmark for information ratio and the Ledoit–Wolf (2008) HAC Sharpe test: {bench}",
        f"- Configurations tried (deflated Sharpe ratio, Bailey & López de Prado 2014): "
        f"{n_trials}{seeds_counted}",
        "",
        "## Comparison (annualised, net of costs)",
        "",
        comparison_table(results),
        "",
        "p: two-sided p-value of H0 'Sharpe equals the benchmark's' (HAC, Parzen kernel). "
        "DSR: probability that the true Sharpe exceeds the best of the configurations tried "
        "by luck. Fallbacks: rebalances where the optimiser failed and the previous weights "
        "were kept.",
        "",
        *_seeds_section(results),
        "## Traditional versus ML-enhanced",
        "",
        "The same measured figures grouped by kind (traditional: prices only; ML-enhanced: "
        "uses the predictors' features; RL: trained agents).",
        "",
        by_kind_table(results),
        "",
        "## Verdict",
        "",
        *verdicts(results),
        "",
        *_triggers_section(results),
        *cluster_lines,
        *risk_lines,
        *_companions_section(folder),
        "## Plots",
        "",
    ]
    lines += [f"### {title}\n\n![{title}]({file})\n" for title, file in figs.items()]
    text = "\n".join(lines)
    path = atomic_write(folder / "report.md", lambda p: Path(p).write_text(text))
    write_manifest(folder, [path.name, *dict.fromkeys([*figs.values(), *dendrograms])])
    return path
