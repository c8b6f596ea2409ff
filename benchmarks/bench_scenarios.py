"""Monte Carlo scenarios: 1,000 paths x 21 days x 20 assets for a baseline policy.

On the embedded S&P 500 data (20 stocks) at 2022-12-28, timed in three parts, each the
median of ``--repeat`` runs:

- fit: GARCH per asset and the regime HMM on the last 1,260 days (what ``allocgym
  stress`` does once per run);
- simulate: regime paths, the stationary block bootstrap and the GARCH recursion;
- evaluate: 1/N's weights held through every path with the environment's accounting,
  and the risk table (quantiles, VaR/ES, drawdown probability), in both modes.

Target: fit + simulate + evaluate <= 10 s. It prints the medians and ``uptime`` (the
machine is shared: a high load average explains a slow run).

Run: ``python benchmarks/bench_scenarios.py [--repeat 3] [--paths 1000] [--horizon 21]``.
"""

from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np
import pandas as pd

from allocgym import load_market
from allocgym.risk.scenario_risk import evaluate_scenarios
from allocgym.risk.scenarios import ScenarioModel

TARGET_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--horizon", type=int, default=21)
    parser.add_argument("--date", default="2022-12-28")
    args = parser.parse_args()
    market = load_market()
    n = market.n_assets
    weights = pd.DataFrame({"1/N": [0.0] + [1.0 / n] * n}, index=["cash", *market.assets]).T
    times: dict[str, list[float]] = {"fit": [], "simulate": [], "evaluate (hold)": [],
                                     "evaluate (constant mix, daily)": []}  # fmt: skip
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        model = ScenarioModel().fit(market, args.date)
        t1 = time.perf_counter()
        scenarios = model.simulate(args.paths, args.horizon, seed=0)
        t2 = time.perf_counter()
        held = evaluate_scenarios(scenarios, weights)
        t3 = time.perf_counter()
        evaluate_scenarios(scenarios, weights, mode="constant_mix", rebalance_every=1)
        t4 = time.perf_counter()
        for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            times[key].append(dt)
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(f"{args.paths} paths x {args.horizon} days x {n} assets at {args.date}, "
          f"median of {args.repeat}:")  # fmt: skip
    for key, value in med.items():
        print(f"  {key:32s} {value:7.3f} s")
    total = med["fit"] + med["simulate"] + med["evaluate (hold)"]
    verdict = "meets" if total <= TARGET_S else "misses"
    print(
        f"  fit + simulate + evaluate (hold) {total:7.3f} s  ({verdict} the {TARGET_S:g} s target)"
    )
    row = held.table.loc["1/N"]
    print(f"1/N {args.horizon}-day: mean {row['mean']:+.2%}, VaR95 {row['VaR_95']:.2%}, "
          f"ES95 {row['ES_95']:.2%}, VaR99 {row['VaR_99']:.2%}, ES99 {row['ES_99']:.2%}, "
          f"P(drawdown > 10%) {row['p_drawdown']:.1%}")  # fmt: skip
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
