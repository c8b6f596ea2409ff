"""The overlays on the embedded data: turnover, Sharpe and the volatility of a vol target.

One ``backtest()`` (same data, same 10 bps costs, same timing) on the embedded S&P 500
data with a monthly walk-forward (``WalkForward(train=252, test=21)``: out-of-sample
from the first trading day of 1991 to the end of 2022) and the point-in-time ``standard``
features (GARCH volatility, HMM regimes; built once and cached). Policies:

- 1/N and min-variance (the baselines: monthly rebalancing, 252-day Ledoit–Wolf), each
  alone, with the cost-aware overlay (implied expected returns, and the window mean for
  1/N) and with 5-point tolerance bands: turnover and Sharpe with and without, same run;
- 1/N with dynamic rebalancing (daily 1/N target; the trigger counts are printed);
- 1/N with a constant 10 % volatility target, and with the case study's regime target
  (15 % base, x0.8 above a 25 % forecast, x1.2 below 12 %): the realised volatility over
  the whole period against the target (issue 14 asks for +/- 2 points), and per year.

Before the first GARCH refit (the predictors need 504 days, i.e. until early 1992) the
vol target uses each asset's sample volatility instead of the forecast; the count of
such asset-forecasts is printed.

Run: ``python benchmarks/bench_overlays.py [--start 1991-01-01] [--end 2022-12-31]``;
``uptime`` is printed first (how loaded the machine is) and the wall time last.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd

from allocgym import load_market
from allocgym.backtest import WalkForward, backtest
from allocgym.backtest.stats import ledoit_wolf_test
from allocgym.baselines import EqualWeight, MinVariance
from allocgym.overlays import (
    CostAwareRebalancing,
    DynamicRebalancing,
    ToleranceBands,
    VolatilityTarget,
)
from allocgym.predictors import build_features

COLUMNS = ["ann_return", "ann_volatility", "sharpe", "turnover", "total_costs", "max_drawdown",
           "lw_p_value"]  # fmt: skip
PAIRS = [(f"{base}{suffix}", base) for base in ("1/N", "Min-variance")
         for suffix in (" + cost-aware", " + bands 5pt")] + [
    ("1/N + cost-aware (window mean)", "1/N"), ("1/N + dynamic", "1/N"),
    ("1/N + vol target 10%", "1/N"), ("1/N + vol target 15% regime", "1/N")]  # fmt: skip


def _policies() -> dict[str, object]:
    return {
        "1/N": EqualWeight(),
        "1/N + cost-aware": CostAwareRebalancing(EqualWeight()),
        "1/N + cost-aware (window mean)": CostAwareRebalancing(
            EqualWeight(), expected_returns="historical"
        ),
        "1/N + bands 5pt": ToleranceBands(EqualWeight(), band=0.05),
        "Min-variance": MinVariance(),
        "Min-variance + cost-aware": CostAwareRebalancing(MinVariance()),
        "Min-variance + bands 5pt": ToleranceBands(MinVariance(), band=0.05),
        "1/N + dynamic": DynamicRebalancing(EqualWeight(rebalance_every=1)),
        "1/N + vol target 10%": VolatilityTarget(
            EqualWeight(), target=0.10, high_vol=None, low_vol=None
        ),
        "1/N + vol target 15% regime": VolatilityTarget(EqualWeight(), target=0.15),
    }


def _uptime() -> str:
    try:
        return os.popen("uptime").read().strip()
    except OSError:
        return "(uptime unavailable)"


def _vol_report(name: str, overlay: VolatilityTarget, returns: pd.Series) -> None:
    realised = returns.std() * np.sqrt(252)
    taus = np.array([tau for _, _, tau, _ in overlay.scales_])
    scales = np.array([s for *_, s in overlay.scales_])
    print(f"\n{name}: realised volatility {realised:.2%} vs target {overlay.target:.0%} "
          f"(mean regime target {taus.mean():.2%}); difference "
          f"{(realised - overlay.target) * 100:+.2f} points")  # fmt: skip
    print(f"  rescalings {len(scales)}, scale < 1 in {np.mean(scales < 1 - 1e-9):.0%}, regimes "
          f"{overlay.regimes_}, sample-vol fallbacks {overlay.n_vol_fallbacks_}")  # fmt: skip
    yearly = returns.groupby(returns.index.year).std() * np.sqrt(252)
    within = np.abs(yearly - overlay.target) <= 0.02
    print(f"  per calendar year: median {yearly.median():.2%}, min {yearly.min():.2%} "
          f"({yearly.idxmin()}), max {yearly.max():.2%} ({yearly.idxmax()}), "
          f"{within.sum()}/{within.size} years within +/- 2 points")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default=None, help="first date of the data (default: all)")
    parser.add_argument("--end", default=None, help="last date of the data (default: all)")
    args = parser.parse_args(argv)
    print("command:", " ".join(["python", *sys.argv]))
    print("uptime:", _uptime())
    t0 = time.perf_counter()
    market = load_market()
    if args.start or args.end:
        market = market.between(args.start or market.dates[0], args.end or market.dates[-1])
    features = build_features(market, "standard", progress=False)
    t_features = time.perf_counter() - t0
    policies = _policies()
    results = backtest(policies, market, features, splitter=WalkForward(train=252, test=21),
                       n_boot=200, progress=False)  # fmt: skip
    t_total = time.perf_counter() - t0
    r = results.returns
    print(f"\nout of sample {r.index[0].date()} to {r.index[-1].date()} ({len(r)} days), "
          f"{market.n_assets} assets, 10 bps, monthly walk-forward")  # fmt: skip
    shown = {
        "display.width": 200,
        "display.max_columns": None,
        "display.float_format": "{:.4f}".format,
    }
    with pd.option_context(*[x for kv in shown.items() for x in kv]):
        print(results.metrics[COLUMNS])
    print("(lw_p_value: Sharpe vs 1/N; turnover: one-way, annualised; total_costs: summed)")
    print("\nSharpe with the overlay minus without (Ledoit-Wolf 2008 HAC test, same days):")
    for wrapped, base in PAIRS:
        test = ledoit_wolf_test(r[wrapped].to_numpy(), r[base].to_numpy())
        diff = results.metrics.loc[wrapped, "sharpe"] - results.metrics.loc[base, "sharpe"]
        print(f"  {wrapped:<32} vs {base:<13} {diff:+.3f}  p = {test.p_value:.3f}")
    print("\ncost-aware trades/holds (examinations):")
    for name in ("1/N + cost-aware", "1/N + cost-aware (window mean)", "Min-variance + cost-aware"):
        ca = policies[name]
        print(f"  {name}: {ca.n_trades_} trades, {ca.n_holds_} holds, {ca.n_partial_} partial")
    for name in ("1/N + bands 5pt", "Min-variance + bands 5pt"):
        b = policies[name]
        print(f"  {name}: {b.n_rebalances_} rebalances, {b.n_entries_traded_} entries traded")
    dyn = policies["1/N + dynamic"]
    print(f"\n1/N + dynamic: {dyn.n_rebalances_} rebalances by cause {dyn.triggers_}; "
          f"firings {dyn.signals_}")  # fmt: skip
    for name in ("1/N + vol target 10%", "1/N + vol target 15% regime"):
        _vol_report(name, policies[name], r[name])
    print(f"\nwall time: {t_total:.1f} s (features {t_features:.1f} s, from the cache if built "
          "before); uptime after:", _uptime())  # fmt: skip


if __name__ == "__main__":
    main()
