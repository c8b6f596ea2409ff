"""Min-variance walk-forward: allocgym (compiled DPP problem) vs skfolio, same data, same run.

Both sides compute long-only minimum-variance weights from the sample covariance of a
252-day window, re-estimated every 21 days over the embedded S&P 500 data (1990–2022,
about 380 rebalances):

- allocgym: ``MinVariance(covariance="sample")`` asked at each rebalance date through
  the point-in-time ``PolicyState`` (cvxpy problem compiled once, re-solved);
- skfolio: ``cross_val_predict(MeanRisk(), X, cv=WalkForward(test_size=21, train_size=252))``.

It prints both times, their ratio, the largest weight difference between the two, and
the time of the full allocgym backtest of the same policy through PortfolioEnv (costs,
drift, daily accounting, metrics and statistics included).

Run: ``python benchmarks/bench_minvar.py [--repeat 3]`` (skfolio is an optional
``bench`` dependency).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from allocgym import load_market
from allocgym.backtest import WalkForward, backtest
from allocgym.baselines import MinVariance
from allocgym.policy import PolicyState


def allocgym_walk_forward(market, train: int, test: int) -> tuple[float, np.ndarray]:
    policy = MinVariance(covariance="sample", lookback=train, rebalance_every=test)
    cash = np.eye(market.n_assets + 1)[0]
    # X = returns[1:]; a fold trained on X rows [a, a + train) decides at market row a + train
    folds = list(WalkForward(train, test).split(market.n_dates - 1))
    t0 = time.perf_counter()
    weights = [policy.act(PolicyState.at(market, int(tr[-1]) + 1, cash))[1:] for tr, _ in folds]
    elapsed = time.perf_counter() - t0
    assert policy.n_fallbacks_ == 0, policy.fallbacks_
    return elapsed, np.array(weights)


def skfolio_walk_forward(market, train: int, test: int) -> tuple[float, np.ndarray]:
    from skfolio.model_selection import WalkForward as SkWalkForward
    from skfolio.model_selection import cross_val_predict
    from skfolio.optimization import MeanRisk

    x = market.to_frame("returns").iloc[1:]
    t0 = time.perf_counter()
    pred = cross_val_predict(MeanRisk(), x, cv=SkWalkForward(test_size=test, train_size=train))
    elapsed = time.perf_counter() - t0
    return elapsed, np.array([p.weights for p in pred.portfolios])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions (best is kept)")
    ap.add_argument("--train", type=int, default=252)
    ap.add_argument("--test", type=int, default=21)
    args = ap.parse_args()
    market = load_market()
    print(market)
    ours = min(
        (allocgym_walk_forward(market, args.train, args.test) for _ in range(args.repeat)),
        key=lambda r: r[0],
    )
    theirs = min(
        (skfolio_walk_forward(market, args.train, args.test) for _ in range(args.repeat)),
        key=lambda r: r[0],
    )
    n = len(ours[1])
    print(f"rebalances: allocgym {n}, skfolio {len(theirs[1])}")
    print(f"allocgym min-variance walk-forward: {ours[0]:.3f} s ({1e3 * ours[0] / n:.2f} ms each)")
    print(f"skfolio  cross_val_predict(MeanRisk): {theirs[0]:.3f} s")
    print(f"speed-up: {theirs[0] / ours[0]:.1f}x (target >= 5x)")
    k = min(n, len(theirs[1]))
    diff = np.abs(ours[1][:k] - theirs[1][:k]).max()
    print(f"largest weight difference vs skfolio: {diff:.2e}")

    t0 = time.perf_counter()
    res = backtest(
        {"min_variance": MinVariance(covariance="sample")},
        market,
        splitter=WalkForward(args.train, args.test),
        n_boot=200,
    )
    total = time.perf_counter() - t0
    print(
        f"full allocgym backtest through PortfolioEnv ({len(res.returns)} days, "
        f"{res.config['n_folds']} folds, 10 bps): {total:.2f} s; "
        f"Sharpe {res.metrics.loc['min_variance', 'sharpe']:.3f}"
    )


if __name__ == "__main__":
    main()
