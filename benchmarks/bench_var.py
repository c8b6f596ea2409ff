"""VaR/ES forecasts and backtests on the embedded data: timings and the figures of docs/risk.md.

1/N (monthly rebalancing, 10 bps) is backtested walk-forward on the embedded S&P 500
data (yearly folds after a one-year warm-up: out of sample 1991-2022); its daily net
returns get 1-day VaR/ES forecasts at 95 % and 99 % by each method (1,000-day rolling
window, first forecast after 250 days, GARCH and Student-t refit every 252 days, 5,000
Monte Carlo draws a day) and every backtest. Prints the time of each forecast and of
its backtests (Acerbi-Szekely p-value from ``--sims`` simulations), the backtest
table, 1/N against the S&P 500 index, and ``uptime`` (the machine's load).

Run: ``python benchmarks/bench_var.py [--sims 1000]``.
"""

from __future__ import annotations

import argparse
import subprocess
import time

import pandas as pd

from allocgym import load_market
from allocgym.backtest import backtest
from allocgym.backtest.metrics import relative_metrics
from allocgym.baselines import EqualWeight
from allocgym.data import benchmark_returns, load_benchmark
from allocgym.risk import VAR_METHODS, VaRConfig, backtest_var, forecast_var

COLUMNS = ["n_obs", "violations", "expected", "p_uc", "p_ind", "p_cc", "z2", "p_z2", "zone"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000, help="simulations of the Z2 p-value")
    args = parser.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    market = load_market()
    start = time.perf_counter()
    results = backtest([EqualWeight()], market, progress=False)
    r = results.returns.iloc[:, 0].dropna()
    print(f"1/N backtest: {time.perf_counter() - start:.1f} s, {len(r)} days "
          f"{r.index[0].date()}..{r.index[-1].date()}")  # fmt: skip
    config = VaRConfig()
    print(f"config: {config}")
    tables = {}
    for method in VAR_METHODS:
        t0 = time.perf_counter()
        forecast = forecast_var(r, method, config)
        t1 = time.perf_counter()
        tables[method] = backtest_var(forecast, n_sims=args.sims, seed=0)
        t2 = time.perf_counter()
        print(f"{method:20s} forecast {t1 - t0:6.2f} s   backtests {t2 - t1:6.2f} s")
    table = pd.concat(tables, names=["method"])[COLUMNS]
    with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
        print(table.to_string())
        bench = benchmark_returns(load_benchmark(market=market))
        print(relative_metrics(results.returns, bench).to_string())
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
