"""Min-variance walk-forward: allocgym (exact active-set QP) vs skfolio, same data, same run.

Both sides compute long-only minimum-variance weights from the sample covariance of a
252-day window, re-estimated every 21 days over the embedded S&P 500 data (1990–2022,
about 380 rebalances):

- allocgym: ``MinVariance(covariance="sample")`` asked at each rebalance date through
  the point-in-time ``PolicyState`` (the optimiser's exact active-set fast path; with
  ``--cvxpy`` its compiled cvxpy problem, re-solved, as before the fast path);
- skfolio: ``cross_val_predict(MeanRisk(), X, cv=WalkForward(test_size=21, train_size=252))``.

and the full allocgym ``backtest()`` of the same policy through PortfolioEnv (costs,
drift, daily accounting, metrics and statistics included), the figure a user waits for.

The three are run interleaved ``--repeat`` times (so a change in the machine's load
hits all of them alike) and the medians are compared: the optimiser-only ratio
(skfolio / allocgym walk-forward) and the full-backtest ratio (skfolio / allocgym
``backtest()``), the latter against the target of 5x. It also prints the largest weight
difference between allocgym and skfolio.

Run: ``python benchmarks/bench_minvar.py [--repeat 5] [--cvxpy]`` (skfolio is an
optional ``bench`` dependency).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from allocgym import load_market
from allocgym.backtest import WalkForward, backtest
from allocgym.baselines import MeanRiskOptimizer, MinVariance
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


def allocgym_backtest(market, train: int, test: int) -> tuple[float, object]:
    t0 = time.perf_counter()
    res = backtest(
        {"min_variance": MinVariance(covariance="sample")},
        market,
        splitter=WalkForward(train, test),
        n_boot=200,
        progress=False,
    )
    return time.perf_counter() - t0, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="interleaved repetitions (medians)")
    ap.add_argument("--train", type=int, default=252)
    ap.add_argument("--test", type=int, default=21)
    ap.add_argument(
        "--cvxpy", action="store_true", help="solve with cvxpy, not the exact fast path"
    )
    args = ap.parse_args()
    MeanRiskOptimizer._fast_path = not args.cvxpy
    market = load_market()
    print(market, "(cvxpy)" if args.cvxpy else "(exact active-set fast path)")
    times: dict[str, list[float]] = {"ours": [], "skfolio": [], "backtest": []}
    for i in range(args.repeat):
        t_ours, ours = allocgym_walk_forward(market, args.train, args.test)
        t_theirs, theirs = skfolio_walk_forward(market, args.train, args.test)
        t_full, res = allocgym_backtest(market, args.train, args.test)
        for key, t in zip(times, (t_ours, t_theirs, t_full), strict=True):
            times[key].append(t)
        print(
            f"repeat {i + 1}/{args.repeat}: allocgym walk-forward {t_ours:.3f} s, "
            f"skfolio {t_theirs:.3f} s, allocgym full backtest {t_full:.3f} s"
        )
    med = {k: float(np.median(v)) for k, v in times.items()}
    n = len(ours)
    print(f"rebalances: allocgym {n}, skfolio {len(theirs)}; medians of {args.repeat} repeats:")
    print(
        f"allocgym min-variance walk-forward: {med['ours']:.3f} s "
        f"({1e3 * med['ours'] / n:.2f} ms each)"
    )
    print(f"skfolio  cross_val_predict(MeanRisk): {med['skfolio']:.3f} s")
    print(
        f"allocgym full backtest through PortfolioEnv ({len(res.returns)} days, "
        f"{res.config['n_folds']} folds, 10 bps, metrics and statistics): {med['backtest']:.3f} s; "
        f"Sharpe {res.metrics.loc['min_variance', 'sharpe']:.3f}"
    )
    print(f"speed-up, optimiser only: {med['skfolio'] / med['ours']:.1f}x")
    print(f"speed-up, full backtest:  {med['skfolio'] / med['backtest']:.1f}x (target >= 5x)")
    k = min(n, len(theirs))
    print(f"largest weight difference vs skfolio: {np.abs(ours[:k] - theirs[:k]).max():.2e}")


if __name__ == "__main__":
    main()
