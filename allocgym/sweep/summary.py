"""The sweep's summary: every trial and configuration tried, the selection and its DSR.

The configuration selected is the one with the highest validation Sharpe ratio
averaged over its seeds, among those whose mean validation turnover is at most
``sweep.max_turnover`` when that is set (the test windows play no part in the choice;
none qualifying selects nothing, and ``allocgym sweep`` exits with 1). Its deflated
Sharpe ratio (Bailey & López de Prado 2014) is computed on its out-of-sample returns
(averaged over seeds) with ``n_trials`` = the number of configurations tried, failed
and early-stopped ones included, and the variance of the Sharpe ratios across the
configurations that finished:

.. math:: \\mathrm{DSR} = \\Phi\\left(\\frac{(\\widehat{SR} - SR_0)\\sqrt{T-1}}
          {\\sqrt{1 - \\gamma_3 \\widehat{SR} + \\frac{\\gamma_4 - 1}{4}\\widehat{SR}^2}}\\right),
   \\quad SR_0 = \\sqrt{V[\\widehat{SR}_n]}\\,\\mathbb{E}[\\max_n Z_n].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from allocgym._io import atomic_write
from allocgym.backtest.manifest import verify_manifest
from allocgym.exceptions import DataError
from allocgym.experiment.sweep_config import SweepConfig
from allocgym.sweep.space import Trial
from allocgym.sweep.trial import read_record, redo_trial

__all__ = ["SweepResults", "summarise"]


@dataclass(frozen=True)
class SweepResults:
    """What a sweep found.

    Attributes
    ----------
    trials : DataFrame
        One row per trial (index ``trial_id``): config_id, seed, status, val_sharpe,
        val_turnover, ``oos_*`` metrics, the parameters (one column per dotted path), error.
    configs : DataFrame
        One row per configuration (index ``config_id``): seeds finished, mean
        validation and out-of-sample metrics, parameters.
    n_configurations : int
        Configurations tried (the ``n_trials`` of the deflated Sharpe ratio).
    selected : str or None
        The configuration with the best mean validation Sharpe (among those whose mean
        validation turnover is at most ``sweep.max_turnover``, when it is set); None
        when no configuration qualifies.
    selected_dsr : float
        Its deflated Sharpe ratio out of sample (NaN if it has no returns).
    root : Path
        The sweep folder.
    """

    trials: pd.DataFrame
    configs: pd.DataFrame
    n_configurations: int
    selected: str | None
    selected_dsr: float
    root: Path

    @property
    def n_failed(self) -> int:
        return int((self.trials["status"] == "error").sum()) if len(self.trials) else 0

    def table_text(self) -> str:
        wanted = ("config_id", "seed", "status", "val_sharpe", "val_turnover", "oos_sharpe")
        cols = [c for c in wanted if c in self.trials]
        table = self.trials[cols].to_string(float_format=lambda x: f"{x:.4f}")
        chosen = (
            f"selected: {self.selected} (deflated Sharpe {self.selected_dsr:.4f} with "
            f"n_trials={self.n_configurations})"
            if self.selected is not None
            else "selected: none (no configuration finished, or none within sweep.max_turnover)"
        )
        return (
            f"\n{table}\n\n{self.n_configurations} configurations tried, "
            f"{len(self.trials)} trials, {self.n_failed} failed; {chosen}"
        )


def _records(root: Path, trials: list[Trial] | None) -> list[dict[str, Any]]:
    if trials is None:
        dirs = sorted(p for p in (root / "trials").glob("*") if (p / "trial.json").is_file())
        return [read_record(p) for p in dirs]  # type: ignore[misc]
    out = []
    for t in trials:
        record = read_record(root / "trials" / t.trial_id)
        out.append(record or {**_basic(t), "status": "not run"})
    return out


def _basic(t: Trial) -> dict[str, Any]:
    return {"trial_id": t.trial_id, "config_id": t.config_id, "seed": t.seed, "params": t.params}


def _oos_returns(root: Path, record: dict[str, Any]) -> pd.Series | None:
    trial_dir = root / "trials" / record["trial_id"]
    path = trial_dir / "returns.parquet"
    if record.get("status") != "ok" or not path.is_file():
        return None
    remedy = redo_trial(trial_dir)
    verify_manifest(trial_dir, [path.name], remedy=remedy)  # folders without one: not checked
    try:
        long = pd.read_parquet(path, columns=["policy", "date", "net_return"])
    except Exception as exc:  # any reader failure: name the file and the way out
        raise DataError(f"{path}: unreadable ({type(exc).__name__}: {exc}). {remedy}") from exc
    mine = long[long["policy"] == record["label"]]
    return mine.set_index("date")["net_return"]


def summarise(
    root: Path, config: Any, sweep: SweepConfig, trials: list[Trial] | None = None
) -> SweepResults:
    """Collect the trial records in ``root``, write sweep.csv, configs.csv and sweep.md."""
    from allocgym.backtest.stats import sharpe_tests

    records = _records(root, trials)
    rows = []
    for r in records:
        row = {k: r.get(k) for k in ("trial_id", "config_id", "seed", "status")}
        row["val_sharpe"] = r.get("val_sharpe", math.nan)
        row["val_turnover"] = r.get("val_turnover", math.nan)
        row.update({f"oos_{k}": v for k, v in (r.get("oos") or {}).items()})
        row.update(r.get("params", {}))
        row["error"] = r.get("error")
        row["elapsed_s"] = r.get("elapsed_s")
        rows.append(row)
    table = pd.DataFrame(rows).set_index("trial_id") if rows else pd.DataFrame()
    n_configs = int(table["config_id"].nunique()) if len(table) else 0

    returns = {}
    for cid in dict.fromkeys(r["config_id"] for r in records):
        series = [s for r in records if r["config_id"] == cid and (s := _oos_returns(root, r))
                  is not None]  # fmt: skip
        if series:
            returns[cid] = pd.concat(series, axis=1).mean(axis=1)
    configs = _config_table(table, sweep)
    selected, dsr = _select(configs, sweep.max_turnover), math.nan
    if returns:
        frame = pd.DataFrame(returns).dropna()
        tests = sharpe_tests(frame, n_trials=max(n_configs, 1), n_boot=200)
        configs["dsr"] = tests["dsr"]
        if selected in tests.index:
            dsr = float(tests.loc[selected, "dsr"])
    results = SweepResults(table, configs, n_configs, selected, dsr, root)
    atomic_write(root / "sweep.csv", lambda p: table.to_csv(p))
    atomic_write(root / "configs.csv", lambda p: configs.to_csv(p))
    text = _markdown(results, config, sweep)
    atomic_write(root / "sweep.md", lambda p: Path(p).write_text(text))
    return results


def _select(configs: pd.DataFrame, max_turnover: float | None) -> str | None:
    """The best mean validation Sharpe among the configurations within the turnover cap."""
    if not len(configs):
        return None
    eligible = configs["val_sharpe"].dropna()
    if max_turnover is not None:
        within = configs["val_turnover"].reindex(eligible.index) <= max_turnover
        eligible = eligible[within.fillna(False).astype(bool)]
    return str(eligible.idxmax()) if len(eligible) else None


def _config_table(table: pd.DataFrame, sweep: SweepConfig) -> pd.DataFrame:
    if not len(table):
        return pd.DataFrame()
    params = [c for c in table.columns if c in sweep.space or "." in str(c)]
    ok = table[table["status"] == "ok"]
    metrics = [c for c in table.columns if str(c).startswith(("val_", "oos_"))]
    grouped = ok.groupby("config_id")[metrics].mean() if len(ok) else pd.DataFrame()
    first = table.groupby("config_id")[params].first()
    out = first.join(grouped, how="left")
    out.insert(0, "seeds_ok", ok.groupby("config_id").size().reindex(out.index).fillna(0))
    out.insert(0, "seeds", table.groupby("config_id").size())
    return out


def _validated(sweep: SweepConfig) -> str:
    """Where the validation returns come from, in words."""
    cv = sweep.cv
    if cv.kind == "purged_kfold":
        return (
            f"of the out-of-fold returns of purged {cv.n_splits}-fold cross-validation "
            f"(embargo {cv.embargo} days) inside each fold's training part"
        )
    if cv.kind == "combinatorial_purged":
        n_paths = math.comb(cv.n_groups - 1, cv.n_test_groups - 1)
        return (
            f"averaged over the {n_paths} backtest paths of combinatorial purged "
            f"cross-validation ({cv.n_groups} groups, {cv.n_test_groups} tested per split, "
            f"embargo {cv.embargo} days) inside each fold's training part"
        )
    return f"on the last {sweep.validation} days of each fold's training part"


def _markdown(results: SweepResults, config: Any, sweep: SweepConfig) -> str:
    def fmt(df: pd.DataFrame) -> str:
        if not len(df):
            return "(none)"

        def cell(x: Any) -> str:
            return f"{x:.4f}" if isinstance(x, float) else str(x)

        head = f"| {df.index.name or ''} | " + " | ".join(map(str, df.columns)) + " |"
        rule = "|---|" + "---|" * len(df.columns)
        body = [f"| {i} | " + " | ".join(cell(x) for x in row) + " |"
                for i, row in zip(df.index, df.itertuples(index=False), strict=True)]  # fmt: skip
        return "\n".join([head, rule, *body])

    lines = [
        f"# Sweep {config.name}",
        "",
        f"- search: {sweep.search}, scheduler: {sweep.scheduler}, seeds: {list(sweep.seeds)}",
        f"- metric: validation Sharpe {_validated(sweep)} "
        "(test windows never used to choose)"
        + (
            ""
            if sweep.max_turnover is None
            else f"; only configurations with a mean validation turnover <= "
            f"{sweep.max_turnover:g}x a year can be selected"
        ),
        f"- **configurations tried: {results.n_configurations}** "
        f"({len(results.trials)} trials, {results.n_failed} failed)",
        f"- selected configuration: **{results.selected}**, out-of-sample deflated Sharpe "
        f"ratio {results.selected_dsr:.4f} (n_trials = {results.n_configurations})",
        "",
        "## Configurations",
        "",
        fmt(results.configs),
        "",
        "## Trials",
        "",
        fmt(results.trials.drop(columns=["error"], errors="ignore")),
    ]
    failed = results.trials[results.trials["status"] == "error"] if len(results.trials) else []
    if len(failed):
        lines += ["", "## Failed trials", ""]
        lines += [f"- {tid}: {err}" for tid, err in failed["error"].items()]
    return "\n".join(lines) + "\n"
