"""Time one rebalance of the toolbox baselines: risk parity, HRP, cluster, sparse max-Sharpe.

One rebalance is what a baseline does at a rebalance date of a backtest: ``act`` on the
point-in-time ``PolicyState`` (return window of the last 252 days of the 20 assets of the
embedded data, Ledoit–Wolf covariance, the allocation), after ``reset()`` so that every
call rebalances. It is timed at ``--dates`` rebalance dates spread over 1991–2022, the
baselines interleaved ``--repeat`` times so that a change in the machine's load hits all
alike; the median over dates and repeats is printed, with the share spent in the
covariance estimate (timed alone on the same windows) and the time a 33-year monthly
walk-forward of the policy's rebalances would take (median × about 380 rebalances).
Target (issue 14): <= 5 ms for HRP and risk parity on 20 assets.

Run: ``python benchmarks/bench_toolbox.py [--repeat 5] [--dates 60]``; ``uptime`` first
tells how loaded the machine is.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from allocgym import load_market
from allocgym.baselines import BASELINES, get_covariance
from allocgym.baselines._schedule import return_window
from allocgym.policy import PolicyState

CONFIGS = {  # label -> (registry name, parameters)
    "risk_parity": ("risk_parity", {}),
    "hrp": ("hrp", {}),
    "cluster": ("cluster", {}),
    "cluster kmeans": ("cluster", {"method": "kmeans"}),
    "sparse_max_sharpe": ("sparse_max_sharpe", {}),
}
NAMES = tuple(CONFIGS)
TARGET_MS = {"risk_parity": 5.0, "hrp": 5.0}
LOOKBACK = 252


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dates", type=int, default=60)
    args = parser.parse_args()

    market = load_market()
    cash = np.eye(market.n_assets + 1)[0]
    ts = np.linspace(LOOKBACK + 1, market.n_dates - 1, args.dates).astype(int)
    states = [PolicyState.at(market, int(t), cash) for t in ts]
    policies = {
        label: BASELINES.create(name, lookback=LOOKBACK, **params)
        for label, (name, params) in CONFIGS.items()
    }
    lw = get_covariance("ledoit_wolf")
    windows = [return_window(s, LOOKBACK) for s in states]
    for policy in policies.values():  # warm-up: imports, cvxpy compilation
        policy.reset()
        policy.act(states[0])

    times: dict[str, list[float]] = {name: [] for name in (*NAMES, "covariance")}
    for _ in range(args.repeat):
        for name, policy in policies.items():
            for s in states:
                policy.reset()
                times[name].append(_time(lambda p=policy, s=s: p.act(s)))
            assert policy.n_fallbacks_ == 0, (name, policy.fallbacks_)
        for s, (cols, x) in zip(states, windows, strict=True):
            times["covariance"].append(_time(lambda x=x, s=s, c=cols: lw.estimate(x, s, c)))

    n_rebalances = (market.n_dates - LOOKBACK) // 21
    cov_ms = 1e3 * float(np.median(times["covariance"]))
    print(
        f"one rebalance, {market.n_assets} assets, {LOOKBACK}-day lookback, Ledoit-Wolf; "
        f"median of {args.dates} dates x {args.repeat} repeats"
    )
    print(f"{'baseline':<20}{'median ms':>10}{'p90 ms':>9}{'target':>11}{'walk-forward s':>16}")
    for name in NAMES:
        ms = 1e3 * np.asarray(times[name])
        target = TARGET_MS.get(name)
        mark = (
            ""
            if target is None
            else f"<= {target:g}" + (" ok" if np.median(ms) <= target else " MISS")
        )
        print(
            f"{name:<20}{np.median(ms):>10.2f}{np.percentile(ms, 90):>9.2f}{mark:>11}"
            f"{np.median(ms) * n_rebalances / 1e3:>16.2f}"
        )
    print(f"{'(covariance alone)':<20}{cov_ms:>10.2f}")
    print(
        f"walk-forward: {n_rebalances} monthly rebalances over {market.dates[0].year}-"
        f"{market.dates[-1].year}"
    )


if __name__ == "__main__":
    main()
