"""Feature-panel speed and predictor quality (figures, not a test).

Run from the repository root::

    python benchmarks/bench_features.py            # everything (about 10 minutes on 2 cores)
    python benchmarks/bench_features.py --no-synthetic

1. Builds the full panel (technical + GARCH + HMM + LSTM, yearly refit) of the embedded
   data (20 assets, 1990-2022) cold into a fresh temporary cache, then loads it again
   from the cache, and prints both times (targets: <= 10 min cold, <= 3 s cached).
2. Prints the out-of-sample quality tables of :mod:`allocgym.predictors.evaluate` on
   the embedded data and on a synthetic market with a planted signal and clearly
   separated regimes (where the true regimes and volatilities are known).

Nothing is tuned on these figures: the configs are the package defaults.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

import allocgym
from allocgym.predictors import FeatureConfig, RegimeConfig, build_features, walk_forward
from allocgym.predictors.evaluate import (
    ewma_variance,
    panel_quality,
    regime_accuracy,
    volatility_forecast_quality,
)
from allocgym.predictors.garch import GarchFallbackWarning
from allocgym.predictors.regimes import RegimeHMM


def _print_tables(title: str, tables: dict[str, pd.DataFrame]) -> None:
    for name, table in tables.items():
        print(f"\n{title}: {name} (out of sample; lower QLIKE/MSE/MAE is better)")
        print(table.to_string(float_format=lambda x: f"{x:.4g}"))


def _timed_build(market, config, cache_dir, label: str):
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GarchFallbackWarning)  # counted in diagnostics
        panel = build_features(market, config, cache_dir=cache_dir, progress=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    # CPU time is what the build costs on an idle core (torch and BLAS run one thread);
    # wall time also counts waiting for other processes on a shared machine.
    print(f"{label}: {seconds:.2f} s wall, {cpu:.2f} s CPU  {panel!r}")
    return panel, seconds


def _garch_wins(panel, market) -> None:
    """On how many assets GARCH has a lower mean QLIKE than each reference."""
    returns = np.asarray(market.returns)
    realised_sq = np.full(returns.shape, np.nan)
    realised_sq[:-1] = returns[1:] ** 2
    models = {
        "garch": np.asarray(panel.feature("garch_vol"), dtype=float) ** 2,
        "ewma_0.94": ewma_variance(returns),
        "realised_21d": np.asarray(panel.feature("rvol_21"), dtype=float) ** 2,
    }
    per_asset = {
        name: volatility_forecast_quality(
            {k: v[:, [i]] for k, v in models.items()}, realised_sq[:, [i]]
        )["qlike"]
        for i, name in enumerate(market.assets)
    }
    table = pd.DataFrame(per_asset).T
    for ref in ("ewma_0.94", "realised_21d"):
        wins = int((table["garch"] < table[ref]).sum())
        print(f"GARCH has a lower QLIKE than {ref} on {wins}/{len(table)} assets")
    worst = (table["garch"] - table["ewma_0.94"]).idxmax()
    print(f"largest GARCH shortfall vs EWMA: {worst}")


def embedded(cache_root: str) -> None:
    market = allocgym.load_market()
    print(f"data: {market!r}")
    panel, _ = _timed_build(market, "full", cache_root, "full panel, cold")
    print(f"  per stage (s): {panel.diagnostics.get('seconds')}")
    print(
        f"  refits: {panel.diagnostics.get('refits')}, GARCH fallbacks to EWMA: "
        f"{panel.diagnostics.get('garch_fallbacks')}"
    )
    _timed_build(market, "full", cache_root, "full panel, from cache")
    _print_tables("embedded S&P 500", panel_quality(panel, market))
    _garch_wins(panel, market)
    probs = panel.market_values
    ok = np.isfinite(probs).all(axis=1)
    share = np.bincount(probs[ok].argmax(axis=1), minlength=probs.shape[1]) / ok.sum()
    print(f"\nregime occupancy on the embedded data (argmax share, state 0 = calm): {share}")


def synthetic() -> None:
    syn = allocgym.make_synthetic_market(
        n_assets=20, n_days=3000, n_regimes=3, seed=7, separation=3.0, signal_strength=0.5
    )
    market, truth = syn.market, syn.truth
    print(f"\nsynthetic: {market!r} (separation=3, signal_strength=0.5)")
    panel, _ = _timed_build(market, FeatureConfig(), False, "full panel, cold")
    tables = panel_quality(panel, market)
    true_next = np.full(truth.volatility.shape, np.nan)
    true_next[:-1] = truth.volatility[1:] ** 2
    tables["volatility vs the true variance"] = volatility_forecast_quality(
        {"garch": np.asarray(panel.feature("garch_vol"), dtype=float) ** 2}, true_next
    )
    lstm = np.asarray(panel.feature("lstm_forecast"), dtype=float)
    ok = np.isfinite(lstm) & np.isfinite(truth.expected_returns)
    corr = np.corrcoef(lstm[ok], truth.expected_returns[ok])[0, 1]
    _print_tables("synthetic", tables)
    print(f"\ncorrelation of lstm_forecast with the true expected return: {corr:.3f}")
    acc = regime_accuracy(panel.market_values, truth.regimes)
    print(f"HMM regime accuracy (3 regimes, separation 3, out of sample): {acc:.3f}")
    cfg = FeatureConfig()
    for separation in (1.0, 2.0):
        s = allocgym.make_synthetic_market(
            n_assets=20, n_days=3000, n_regimes=3, seed=7, separation=separation
        )
        probs = walk_forward(
            lambda: RegimeHMM(RegimeConfig(), seed=cfg.seed),
            s.market,
            min_train=cfg.min_train,
            refit_every=cfg.refit_every,
            train_window=cfg.train_window,
        )
        acc = regime_accuracy(probs, s.truth.regimes)
        print(f"HMM regime accuracy (separation {separation}, out of sample): {acc:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-synthetic", action="store_true", help="skip the synthetic market")
    parser.add_argument("--no-embedded", action="store_true", help="skip the embedded data")
    args = parser.parse_args()
    pd.set_option("display.width", 120)
    with tempfile.TemporaryDirectory(prefix="allocgym-bench-") as cache_root:
        if not args.no_embedded:
            embedded(cache_root)
    if not args.no_synthetic:
        synthetic()


if __name__ == "__main__":
    main()
