"""`Results`: everything a backtest measured, saved to and loaded from a folder."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from allocgym._io import atomic_write
from allocgym.backtest.manifest import verify_manifest, write_manifest
from allocgym.exceptions import DataError

# atomic_write lives in allocgym._io; still exported here for code that imports it from here
__all__ = ["RESULT_FILES", "Results", "atomic_write", "cluster_tree", "trigger_counts"]


@dataclass(frozen=True, eq=False)
class Results:
    """Out-of-sample tracks of every policy, their metrics and statistics, and the config.

    Attributes
    ----------
    metrics : pandas.DataFrame
        One row per policy: the columns of :func:`allocgym.backtest.metrics.summary`,
        ``fallbacks`` and the statistics of :func:`allocgym.backtest.stats.sharpe_tests`
        (``lw_p_value`` against the benchmark, ``psr``, ``dsr``, Sharpe CI).
    returns : pandas.DataFrame
        Daily net returns, dates × policies.
    gross_returns, costs, turnover : pandas.DataFrame
        Daily gross returns, cost (fraction of wealth) and one-way turnover, dates × policies.
    weights : dict of str to pandas.DataFrame
        Per policy, end-of-day weights (dates × ``cash`` + assets).
    fallbacks : dict of str to int
        Optimiser failures per policy (the previous weights were kept).
    config : dict
        The resolved configuration of the run (data, splitter, costs, policies, ...).
    triggers : dict of str to dict of str to int
        Per policy with a dynamic-rebalancing layer, its rebalances per trigger over the
        whole out-of-sample track (:func:`trigger_counts`); other policies are absent.
    clusters : dict of str to dict
        Per hierarchical or cluster policy, the tree and clusters of its last rebalance
        (:func:`cluster_tree`); other policies are absent.
    """

    metrics: pd.DataFrame
    returns: pd.DataFrame
    gross_returns: pd.DataFrame
    costs: pd.DataFrame
    turnover: pd.DataFrame
    weights: dict[str, pd.DataFrame]
    fallbacks: dict[str, int]
    config: dict[str, Any] = field(default_factory=dict)
    triggers: dict[str, dict[str, int]] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def policies(self) -> list[str]:
        return list(self.returns.columns)

    @property
    def wealth(self) -> pd.DataFrame:
        """Wealth paths from 1, dates × policies."""
        return (1.0 + self.returns).cumprod()

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``metrics.csv``, ``returns.parquet``, ``weights.parquet``, ``config.yaml``.

        ``returns.parquet`` is long: (date, policy, net_return, gross_return, cost,
        turnover); ``weights.parquet`` is long: (date, policy, cash, assets...). Every file
        is written atomically, and ``manifest.json`` (sizes, SHA-256, row counts; see
        :mod:`allocgym.backtest.manifest`) last, so that :meth:`load` can tell a complete
        folder from a damaged one.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        metrics = self.metrics.rename_axis("policy")  # the column load() indexes by
        atomic_write(folder / "metrics.csv", lambda p: metrics.to_csv(p))
        long = pd.concat(
            {
                name: pd.DataFrame(
                    {
                        "net_return": self.returns[name],
                        "gross_return": self.gross_returns[name],
                        "cost": self.costs[name],
                        "turnover": self.turnover[name],
                    }
                )
                for name in self.policies
            },
            names=["policy", "date"],
        ).reset_index()
        atomic_write(folder / "returns.parquet", lambda p: long.to_parquet(p, index=False))
        w = pd.concat(self.weights, names=["policy", "date"]).reset_index()
        atomic_write(folder / "weights.parquet", lambda p: w.to_parquet(p, index=False))
        cfg = {**self.config, "fallbacks": {k: int(v) for k, v in self.fallbacks.items()}}
        # beside the fallbacks; only when present, so that other runs' files do not change
        extras = {"triggers": self.triggers, "clusters": self.clusters}
        cfg.update({k: v for k, v in extras.items() if v})
        atomic_write(
            folder / "config.yaml",
            lambda p: Path(p).write_text(yaml.safe_dump(_plain(cfg), sort_keys=False)),
        )
        rows = {"metrics.csv": len(self.metrics), "returns.parquet": len(long),
                "weights.parquet": len(w)}  # fmt: skip
        write_manifest(folder, RESULT_FILES, rows=rows)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Results:
        """Read a folder written by :meth:`save`, refusing a damaged one.

        The files are checked against ``manifest.json`` (size and SHA-256); a folder
        written before manifests existed is checked for consistency instead: the
        policies of ``metrics.csv`` must be those of ``returns.parquet`` (the source of
        truth), each with its weights, and every metric must be a number.

        Raises
        ------
        FileNotFoundError
            ``folder`` or one of its files does not exist (and no manifest lists it).
        DataError
            A file is damaged (differs from the manifest, cannot be parsed, or
            disagrees with ``returns.parquet``); the message names it and says what to do.
        """
        folder = Path(folder)
        remedy = _remedy(folder)
        if verify_manifest(folder, RESULT_FILES, remedy=remedy) is None:
            missing = [f for f in RESULT_FILES if not (folder / f).is_file()]
            if missing:
                raise FileNotFoundError(
                    f"{folder} is not a results folder: missing {', '.join(missing)}"
                    + (f". {remedy}" if folder.is_dir() else "")
                )
        metrics = _read_metrics(folder / "metrics.csv", remedy)
        long = _read_parquet(folder / "returns.parquet", _RETURN_COLUMNS, remedy)
        w = _read_parquet(folder / "weights.parquet", ("policy", "date"), remedy)
        config = _read_config(folder / "config.yaml", remedy)
        order = list(dict.fromkeys(long["policy"]))
        _check_consistent(folder, metrics, order, set(w["policy"]), remedy)

        def wide(col: str) -> pd.DataFrame:
            out = long.pivot(index="date", columns="policy", values=col)[order]
            out.columns.name = None
            return out

        with _reading(folder / "returns.parquet", "returns table", remedy):
            tracks = {col: wide(col) for col in _RETURN_COLUMNS[2:]}
        weights = {
            name: g.drop(columns="policy").set_index("date") for name, g in w.groupby("policy")
        }
        with _reading(folder / "config.yaml", "YAML config", remedy):
            fallbacks = {str(k): int(v) for k, v in (config.pop("fallbacks", None) or {}).items()}
            triggers = {
                str(k): {str(c): int(n) for c, n in v.items()}
                for k, v in (config.pop("triggers", None) or {}).items()
            }
            clusters = {str(k): dict(v) for k, v in (config.pop("clusters", None) or {}).items()}
        return cls(
            metrics=metrics,
            returns=tracks["net_return"],
            gross_returns=tracks["gross_return"],
            costs=tracks["cost"],
            turnover=tracks["turnover"],
            weights={k: weights[k] for k in order},
            fallbacks=fallbacks,
            config=config,
            triggers=triggers,
            clusters=clusters,
        )


RESULT_FILES = ("metrics.csv", "returns.parquet", "weights.parquet", "config.yaml")
"""The files :meth:`Results.save` writes (besides ``manifest.json``)."""

_RETURN_COLUMNS = ("policy", "date", "net_return", "gross_return", "cost", "turnover")
_TEXT_COLUMNS = frozenset({"kind"})  # every other column of metrics.csv is a number


def _remedy(folder: Path) -> str:
    """What to do about a damaged results folder: write it again, which is cheap."""
    if (folder / "experiment.yaml").is_file():
        return (
            "Re-run `allocgym run` on the experiment's config (a copy is "
            f"{folder / 'experiment.yaml'}): the backtest takes seconds and the saved "
            "models are reused"
        )
    return (
        "Write the folder again: re-run the `allocgym backtest` or `allocgym run` that "
        "made it (the backtest takes seconds; an experiment's saved models are reused)"
    )


@contextmanager
def _reading(path: Path, what: str, remedy: str) -> Iterator[None]:
    """Any failure to read or parse ``path`` as a DataError naming it and the remedy."""
    try:
        yield
    except DataError:
        raise
    except Exception as exc:
        raise DataError(
            f"{path}: cannot be read as a {what} ({type(exc).__name__}: {exc}). {remedy}"
        ) from exc


def _read_metrics(path: Path, remedy: str) -> pd.DataFrame:
    with _reading(path, "metrics table", remedy):
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            raise DataError(f"{path}: the file is empty. {remedy}")
        lines = list(csv.reader(io.StringIO(text)))
        short = [i + 1 for i, row in enumerate(lines) if row and len(row) != len(lines[0])]
        if short or not text.endswith("\n"):  # to_csv ends every line, the last included
            line = short[0] if short else len(lines)
            raise DataError(
                f"{path}: line {line} is cut off or has a different number of fields than "
                f"the header (truncated or edited). {remedy}"
            )
        # labels are text, even "1" or "NA"; to_csv writes a missing number as ""
        metrics = pd.read_csv(
            io.StringIO(text), index_col="policy", dtype={"policy": str, "kind": str},
            keep_default_na=False, na_values=[""],
        )  # fmt: skip
    if metrics.index.has_duplicates:
        dup = sorted(set(metrics.index[metrics.index.duplicated()]))
        raise DataError(f"{path}: policies listed twice: {dup}. {remedy}")
    for col in metrics.columns.difference(list(_TEXT_COLUMNS)):
        numbers = pd.to_numeric(metrics[col], errors="coerce")
        bad = metrics[col][numbers.isna() & metrics[col].notna()]
        if len(bad):
            raise DataError(
                f"{path}: column {col!r}, policy {bad.index[0]!r}: {bad.iloc[0]!r} is not a "
                f"number. {remedy}"
            )
        metrics[col] = numbers
    return metrics


def _read_parquet(path: Path, columns: tuple[str, ...], remedy: str) -> pd.DataFrame:
    with _reading(path, "Parquet table", remedy):
        table = pd.read_parquet(path)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing}. {remedy}")
    return table


def _read_config(path: Path, remedy: str) -> dict[str, Any]:
    with _reading(path, "YAML config", remedy), open(path, encoding="utf-8") as fh:
        config = yaml.safe_load(fh)  # a file object: errors then name the file, line, column
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise DataError(
            f"{path}: expected a mapping of settings, got {type(config).__name__}. {remedy}"
        )
    return config


def _check_consistent(
    folder: Path, metrics: pd.DataFrame, policies: list[str], weighted: set[str], remedy: str
) -> None:
    """The policies of metrics.csv and weights.parquet are those of returns.parquet."""
    lacking = [p for p in policies if p not in metrics.index]
    foreign = [p for p in metrics.index if p not in policies]
    if lacking or foreign:
        parts = [f"no row for {lacking}"] if lacking else []
        parts += [f"rows for {foreign}, which returns.parquet lacks"] if foreign else []
        raise DataError(
            f"{folder / 'metrics.csv'}: {' and '.join(parts)}; returns.parquet, the source "
            f"of truth, has the {len(policies)} policies {policies}. {remedy}"
        )
    unweighted = [p for p in policies if p not in weighted]
    if unweighted:
        raise DataError(f"{folder / 'weights.parquet'}: no weights of {unweighted}, which "
                        f"returns.parquet has. {remedy}")  # fmt: skip


def _plain(x: Any) -> Any:
    """Config values as YAML-safe builtins (numpy scalars, tuples, timestamps)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, pd.Timestamp):
        return str(x.date())
    if x is None or isinstance(x, bool | int | float | str):
        return x
    return str(x)


# ---------------------------------------------------------------------- what a policy reports
def trigger_counts(policy: Any) -> dict[str, int] | None:
    """Rebalances per trigger of ``policy``, or of the first policy it wraps that counts them.

    Reads ``triggers_`` (:class:`~allocgym.overlays.DynamicRebalancing`: every rebalance
    once, under its first cause), as the backtester reads ``n_fallbacks_``; None when no
    layer has it.
    """
    for layer in _layers(policy):
        counts = getattr(layer, "triggers_", None)
        if isinstance(counts, Mapping):
            return {str(k): int(v) for k, v in counts.items()}
    return None


def cluster_tree(policy: Any) -> dict[str, Any] | None:
    """The last tree and clusters of ``policy``, or of the first policy it wraps with them.

    Reads the fitted ``linkage_``, ``assets_``, ``clusters_`` and ``tree_date_`` of
    :class:`~allocgym.baselines.HierarchicalRiskParity` and
    :class:`~allocgym.baselines.ClusterAllocation` (and ``linkage``, ``method``) into
    YAML-safe values: ``tree`` (the scipy linkage matrix as lists), ``assets``,
    ``clusters`` (the asset names of cluster 0, 1, ...), ``date``, ``linkage``, ``method``
    and ``policy`` (the class name). None when no layer has a tree over its assets.
    """
    for layer in _layers(policy):
        tree = getattr(layer, "linkage_", None)
        assets = [str(a) for a in getattr(layer, "assets_", ())]
        clusters = getattr(layer, "clusters_", None)
        if tree is None or not clusters or np.shape(tree) != (len(assets) - 1, 4):
            continue
        date = getattr(layer, "tree_date_", None)
        return {
            "policy": type(layer).__name__,
            "date": None if date is None else str(pd.Timestamp(date).date()),
            "linkage": getattr(layer, "linkage", None),
            "method": getattr(layer, "method", None),
            "assets": assets,
            "clusters": [[str(a) for a in clusters[c]] for c in sorted(clusters)],
            "tree": np.asarray(tree, dtype=np.float64).tolist(),
        }
    return None


def _layers(policy: Any) -> Iterator[Any]:
    """``policy`` and the policies it wraps (an overlay's ``policy``), outermost first."""
    for _ in range(32):  # an overlay chain, not a cycle
        yield policy
        policy = getattr(policy, "policy", None)
        if not callable(getattr(policy, "act", None)):
            return
