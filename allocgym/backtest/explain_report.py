"""``explain.md`` and ``explain.png``: the permutation importance of a run's agents as a page.

See :mod:`allocgym.backtest.explain` for the method.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from allocgym._io import atomic_write
from allocgym.backtest.explain import Importance
from allocgym.backtest.manifest import write_manifest

__all__ = ["EXPLAIN_MD", "EXPLAIN_PNG", "format_table", "write_explain"]

EXPLAIN_MD, EXPLAIN_PNG = "explain.md", "explain.png"


def format_table(importance: Importance) -> str:
    """The table of one policy as aligned text (what the command prints)."""
    t = importance.table
    return t.to_string(float_format=lambda x: f"{x:.4f}")


def _markdown(importance: Importance) -> list[str]:
    t = importance.table
    head = [
        f"## {importance.policy}",
        "",
        f"Sharpe ratio (net of costs) {importance.base_sharpe:.3f} over {importance.n_days} "
        f"test days; {importance.n_repeats} repeats, seed {importance.seed}; mean ± sd.",
        "",
        "| Group | Inputs | Sharpe drop | Weight change | Sensitivity |",
        "|---|---:|---:|---:|---:|",
    ]
    rows = [
        f"| {g} | {int(r.n_inputs)} | {_pm(r.sharpe_drop, r.sharpe_drop_std)} | "
        f"{_pm(r.weight_change, r.weight_change_std)} | {_pm(r.sensitivity, r.sensitivity_std)} |"
        for g, r in t.iterrows()
    ]
    return [*head, *rows, ""]


def _pm(mean: float, std: float) -> str:
    """``mean ± sd``; a dash where not measured (the sensitivity of a seed ensemble)."""
    return "–" if not np.isfinite(mean) else f"{mean:.3f} ± {std:.3f}"


def _plot(importances: Sequence[Importance], path: str) -> None:
    rows = max(4, max(len(imp.table) for imp in importances))
    height = (0.5 + 0.45 * rows) * len(importances)
    fig, axes = plt.subplots(len(importances), 2, figsize=(10, height), squeeze=False)
    for row, imp in zip(axes, importances, strict=True):
        t = imp.table.iloc[::-1]  # most important at the top
        y = np.arange(len(t))
        for ax, col, label in (
            (row[0], "sharpe_drop", "Sharpe drop when shuffled"),
            (row[1], "weight_change", "weight change when shuffled"),
        ):
            ax.barh(y, t[col], xerr=t[f"{col}_std"], color="tab:blue", alpha=0.8)
            ax.set_yticks(y, t.index)
            ax.axvline(0.0, color="black", lw=0.8)
            ax.set_title(f"{imp.policy}: {label}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def write_explain(importances: Sequence[Importance], folder: str | Path) -> Path:
    """Write ``explain.md`` and ``explain.png`` into ``folder`` and add them to its manifest.

    Returns the path of ``explain.md``.
    """
    folder = Path(folder)
    importances = list(importances)
    lines = [
        "# What the agent looks at",
        "",
        "Permutation importance by observation group (allocgym.backtest.explain): each "
        "group's entries shuffled along time within each fold's test window; *Sharpe drop* "
        "= unshuffled minus shuffled annualised Sharpe ratio net of costs; *weight change* "
        "= mean share of wealth allocated differently; *sensitivity* = share of wealth "
        "moved per standard deviation of the group's inputs (central finite difference, "
        "random signs). Correlated groups share importance; shuffling breaks the time "
        "structure within a group.",
        "",
    ]
    names = [EXPLAIN_MD]
    if importances:
        atomic_write(folder / EXPLAIN_PNG, lambda p: _plot(importances, p))
        names.append(EXPLAIN_PNG)
        lines += [f"![permutation importance]({EXPLAIN_PNG})", ""]
        for imp in importances:
            lines += _markdown(imp)
    else:
        lines.append("No RL agent in this run: nothing to explain.")
    text = "\n".join(lines) + "\n"
    path = atomic_write(folder / EXPLAIN_MD, lambda p: Path(p).write_text(text, encoding="utf-8"))
    write_manifest(folder, names)
    return path
