"""Model selection figures: the GARCH family by purged CV, and HMM vs GMM regimes.

Usage::

    python benchmarks/bench_model_selection.py            # all three
    python benchmarks/bench_model_selection.py --only garch
    python benchmarks/bench_model_selection.py --only lstm
    python benchmarks/bench_model_selection.py --only regimes

- ``garch``: GARCH(1,1) vs GJR-GARCH vs EGARCH (Student-t), chosen by purged 5-fold
  cross-validation (1-day labels, 5-day embargo) on the embedded data's first 10 years
  only, scored by the QLIKE of the 1-day variance forecasts on each test fold.
- ``lstm``: LSTM window x width x horizon by purged 5-fold CV (5-day purge, 10-day
  embargo) on the first 1500 of 2500 days of a synthetic market with a planted signal
  (10 assets, strength 0.5), scored by the MSE relative to the zero forecast.
- ``regimes``: out-of-sample accuracy of the argmax regime of the HMM and of the
  Gaussian mixture against the true regimes of synthetic markets (20 assets, 3000 days,
  3 regimes, seed 7, separations 1, 2 and 3; the default walk-forward schedule).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import allocgym
from allocgym.backtest import PurgedKFold
from allocgym.predictors import FeatureConfig, RegimeConfig, walk_forward
from allocgym.predictors.evaluate import regime_accuracy
from allocgym.predictors.regime_gmm import RegimeGMM
from allocgym.predictors.regimes import RegimeHMM
from allocgym.predictors.selection import GarchCandidate, LSTMCandidate, select_by_purged_cv


def garch() -> None:
    market = allocgym.load_market()
    market = market.between(market.dates[0], market.dates[0] + pd.DateOffset(years=10))
    print(f"embedded data, first 10 years: {market!r}")
    cv = PurgedKFold(n_splits=5, horizon=1, embargo=5)
    grid = [{"kind": k} for k in ("garch", "gjr", "egarch")]
    t0 = time.perf_counter()
    result = select_by_purged_cv(GarchCandidate, grid, market, cv=cv)
    print(f"{cv}: {time.perf_counter() - t0:.1f} s")
    print(result.table.to_string(float_format=lambda v: f"{v:.4f}"))
    folds = [c for c in result.table.columns if c.startswith("fold_")]
    paired = result.table[folds] - result.table[folds].min(axis=0)
    print("QLIKE above the best candidate of each fold (paired by fold):")
    print(paired.to_string(float_format=lambda v: f"{v:.4f}"))
    best = f"{result.best_params} (mean QLIKE {result.best_score:.4f})"
    print(f"selected: {best}; {result.n_candidates} candidates tried")


def lstm() -> None:
    syn = allocgym.make_synthetic_market(n_assets=10, n_days=2500, seed=5, signal_strength=0.5)
    market = syn.market[:1500]
    print(f"synthetic market, first 1500 days: {market!r}")
    cv = PurgedKFold(n_splits=5, horizon=5, embargo=10)
    grid = {"window": [10, 30], "hidden": [8, 32], "horizon": [1, 5]}
    t0 = time.perf_counter()
    result = select_by_purged_cv(LSTMCandidate, grid, market, cv=cv)
    print(f"{cv}: {time.perf_counter() - t0:.1f} s")
    print(result.table.to_string(float_format=lambda v: f"{v:.4f}"))
    best = f"{result.best_params} (mean relative MSE {result.best_score:.4f})"
    print(f"selected: {best}; {result.n_candidates} candidates tried")


def regimes() -> None:
    cfg = FeatureConfig()
    rows = []
    for separation in (1.0, 2.0, 3.0):
        syn = allocgym.make_synthetic_market(
            n_assets=20, n_days=3000, n_regimes=3, seed=7, separation=separation
        )
        row = {"separation": separation}
        for name, make in (
            ("hmm", lambda: RegimeHMM(RegimeConfig(), seed=cfg.seed)),
            ("gmm", lambda: RegimeGMM(RegimeConfig(model="gmm"), seed=cfg.seed)),
        ):
            t0 = time.perf_counter()
            probs = walk_forward(
                make,
                syn.market,
                min_train=cfg.min_train,
                refit_every=cfg.refit_every,
                train_window=cfg.train_window,
            )
            row[name] = regime_accuracy(probs, syn.truth.regimes)
            row[f"{name}_s"] = time.perf_counter() - t0
        rows.append(row)
    table = pd.DataFrame(rows).set_index("separation")
    print("regime accuracy (argmax vs truth, out of sample) and fit seconds:")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("garch", "lstm", "regimes"), help="run one part")
    args = parser.parse_args()
    np.set_printoptions(precision=4)
    if args.only in (None, "regimes"):
        regimes()
    if args.only in (None, "garch"):
        garch()
    if args.only in (None, "lstm"):
        lstm()


if __name__ == "__main__":
    main()
