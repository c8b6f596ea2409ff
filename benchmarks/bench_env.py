"""Steps per second of PortfolioEnv, its vectorised twin and a bare numpy loop.

All three do the same economic work per portfolio-step on the embedded data (20 assets):
map an action in [-1, 1]^21 to long-only weights (softmax with temperature 5), pay the
exact transaction cost (remainder factor mu, 10 bps), earn the next day's returns and
drift the weights. The environments also validate the action, build the full observation
(technical feature panel, 30-day return window, mask, weights), compute the reward, fill
``info`` and record the daily track. A second bare loop charges the first-order cost
``c * turnover`` instead of the exact mu (less work; printed for reference).

Rounds alternate between the contenders and the medians are reported, so background
load hits all of them alike.

Run::

    python benchmarks/bench_env.py            # about a minute
    python benchmarks/bench_env.py --quick    # fewer rounds
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import allocgym
from allocgym.envs import CostModel, PortfolioEnv
from allocgym.envs.vector import PortfolioVecEnv

TAU = 5.0
COST_BPS = 10.0


def bare_loop(
    growth: np.ndarray, tradable: np.ndarray, actions: np.ndarray, exact: bool
) -> Callable[[], int]:
    """A minimal loop: action -> weights over tradable assets, cost, return, drift, wealth.

    No validation, observation, reward, info or record.
    """
    n1 = growth.shape[1]
    c = COST_BPS * 1e-4
    inv, k = CostModel(COST_BPS).coefficients(n1 - 1)
    ones = np.ones(n1)
    noncash = ones.copy()
    noncash[0] = 0.0

    lo, hi, tau = (np.full(n1, v, dtype=np.float32) for v in (-1.0, 1.0, TAU))

    def run() -> int:
        pair = np.zeros((2, n1))
        pair[0, 0] = 1.0
        wd, wt = pair[0], pair[1]
        tmp = np.empty(n1)
        x = np.empty(n1, dtype=np.float32)
        wealth = 1.0
        for t in range(len(actions)):
            # the env's primitives: float32 clip and exp, array constants, dot for sums
            np.maximum(actions[t], lo, out=x)
            np.minimum(x, hi, out=x)
            x *= tau
            np.exp(x, out=wt)
            row = tradable[t]
            wt *= row
            wt *= 1.0 / wt.dot(row)
            if exact:  # exact mu: Newton on the piecewise-linear fixed point
                a, d = pair.dot(inv).tolist()
                sell = wd > wt
                while True:
                    s_d, s_t = pair.dot(k * sell).tolist()
                    mu = (a - s_d) / (d - s_t)
                    np.multiply(wt, mu, out=tmp)
                    new = wd > tmp
                    if not np.count_nonzero(new != sell):
                        break
                    sell = new
            else:
                np.subtract(wt, wd, out=tmp)
                np.abs(tmp, out=tmp)
                mu = 1.0 - c * tmp.dot(noncash)
            row = growth[t + 1]
            g = wt.dot(row)
            np.multiply(wt, row, out=wd)
            wd *= 1.0 / g
            wealth *= mu * g
        return len(actions)

    return run


def env_loop(env: PortfolioEnv, actions: np.ndarray) -> Callable[[], int]:
    def run() -> int:
        env.reset(seed=0)
        step = env.step
        for a in actions:
            _, _, terminated, truncated, _ = step(a)
            if terminated or truncated:
                env.reset()
        return len(actions)

    return run


def vec_loop(venv: PortfolioVecEnv, actions: np.ndarray) -> Callable[[], int]:
    def run() -> int:
        venv.reset()
        for a in actions:
            venv.step(a)
        return actions.shape[0] * actions.shape[1]

    return run


def timed(fn: Callable[[], int]) -> float:
    t0 = time.perf_counter()
    n = fn()
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    parser.add_argument("--steps", type=int, default=5000, help="single-env steps per round")
    parser.add_argument("--batch", type=int, nargs="+", default=[512, 1024, 4096])
    args = parser.parse_args()
    rounds = 3 if args.quick else 7

    import gymnasium as gym

    from allocgym.predictors import build_features

    market = allocgym.load_market()
    panel = build_features(market, "technical", progress=False)
    env = PortfolioEnv(market, features=panel, cost_bps=COST_BPS)
    wrapped = gym.make("allocgym/Portfolio-v0", market=market, features=panel)
    print(f"market: {market}")
    print(f"features: {panel}")
    print(f"observation: {env.observation_space.shape[0]} floats; action: 21 floats in [-1, 1]")

    rng = np.random.default_rng(0)
    n = min(args.steps, market.n_dates - env.t - 1)
    actions = rng.uniform(-1, 1, size=(n, market.n_assets + 1)).astype(np.float32)
    growth, tradable = env._data.growth[env.t :], env._data.tradable[env.t :]
    contenders = {
        "bare numpy loop, exact mu": bare_loop(growth, tradable, actions, exact=True),
        "bare numpy loop, c*turnover": bare_loop(growth, tradable, actions, exact=False),
        "PortfolioEnv.step": env_loop(env, actions),
        "gymnasium.make(...).step": env_loop(wrapped, actions),
    }
    vec_steps = 50 if args.quick else 100
    for b in args.batch:
        venv = PortfolioVecEnv(market, features=panel, n_envs=b, random_start=True, seed=0)
        acts = rng.uniform(-1, 1, size=(vec_steps, b, market.n_assets + 1)).astype(np.float32)
        contenders[f"PortfolioVecEnv B={b}"] = vec_loop(venv, acts)

    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values():
        fn()  # warm-up
    for _ in range(rounds):
        for name, fn in contenders.items():
            rates[name].append(timed(fn))
    med = {name: statistics.median(r) for name, r in rates.items()}
    ref = med["bare numpy loop, exact mu"]
    print(f"\nmedian of {rounds} rounds (portfolio-steps per second):")
    for name, rate in med.items():
        print(f"  {name:32s} {rate:14,.0f}   {rate / ref:7.1%} of the bare exact-mu loop")
    single = med["PortfolioEnv.step"]
    print(
        f"\nsingle env / bare loop (same economic work): {single / ref:.1%} (target >= 50%)"
        f"\nsingle env / bare loop with c*turnover cost:  "
        f"{single / med['bare numpy loop, c*turnover']:.1%}"
    )
    best = max(v for k, v in med.items() if k.startswith("PortfolioVecEnv"))
    print(f"vectorised env: {best:,.0f} portfolio-steps/s (target >= 1,000,000)")


if __name__ == "__main__":
    main()
