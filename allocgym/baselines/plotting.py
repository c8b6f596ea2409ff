"""A dendrogram of a hierarchical baseline's last tree, for reports (matplotlib, no display).

Uses :class:`matplotlib.figure.Figure` directly (no pyplot, no GUI backend), so it works
headless and does not change the process's matplotlib state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy.cluster.hierarchy import dendrogram

from allocgym._typing import FloatArray

__all__ = ["plot_dendrogram"]


def plot_dendrogram(
    source: Any,
    labels: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
    title: str | None = None,
) -> Figure:
    """Draw the tree of a fitted HRP or cluster policy (or a linkage matrix).

    Parameters
    ----------
    source : HierarchicalRiskParity, ClusterAllocation or ndarray of shape (k − 1, 4)
        A policy after at least one rebalance (its ``linkage_`` and ``assets_``; a
        cluster policy's ``labels_`` are appended to the leaf names as ``[c]``), or a
        scipy linkage matrix.
    labels : sequence of str, optional
        Leaf names (default: the policy's ``assets_``, or ``0..k−1``).
    ax : matplotlib Axes, optional
        Where to draw; default a new figure.
    path : str or Path, optional
        Save the figure there (PNG, or any format matplotlib infers from the suffix).
    title : str, optional
        Axes title (default: the policy's class name and linkage).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        A policy that has not rebalanced yet (no ``linkage_``), or a matrix that is not
        a linkage matrix.
    """
    z, names, default_title = _tree(source, labels)
    if ax is None:
        fig = Figure(figsize=(max(6.0, 0.35 * len(names) + 2), 4.0), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.get_figure()
    cluster = getattr(source, "labels_", None)
    k = 0 if labels is not None or cluster is None else len(np.unique(cluster))
    threshold = None  # scipy's default colouring, or one colour per cluster of the cut
    if getattr(source, "method", None) == "hierarchical" and 1 < k <= z.shape[0]:
        threshold = 0.5 * (z[-k, 2] + z[-k + 1, 2])
    dendrogram(z, labels=list(names), ax=ax, leaf_rotation=90, color_threshold=threshold)
    ax.set_ylabel("merge height, distance √(½(1 − ρ))")
    ax.set_title(title if title is not None else default_title)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _tree(source: Any, labels: Sequence[str] | None) -> tuple[FloatArray, list[str], str]:
    if isinstance(source, np.ndarray):
        z = np.asarray(source, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != 4:
            raise ValueError(f"linkage has shape {z.shape}; expected (k - 1, 4)")
        names = list(labels) if labels is not None else [str(i) for i in range(z.shape[0] + 1)]
        return z, names, "Hierarchical clustering"
    z = getattr(source, "linkage_", None)
    if z is None:
        raise ValueError(
            f"{type(source).__name__} has no linkage_ yet; plot after a rebalance (act or a "
            "backtest), or pass a linkage matrix"
        )
    names = list(labels) if labels is not None else list(getattr(source, "assets_", ()))
    cluster = getattr(source, "labels_", None)
    if labels is None and cluster is not None:
        names = [f"{a} [{c}]" for a, c in zip(names, cluster, strict=True)]
    how = getattr(source, "linkage", "")
    return z, names, f"{type(source).__name__} ({how} linkage)"
