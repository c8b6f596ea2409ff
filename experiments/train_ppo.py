"""Train PPO with the library API directly (no config file) and compare it with 1/N.

    python experiments/train_ppo.py [--timesteps 20000] [--start 2012-01-01]

1. load the embedded data and build point-in-time features (cached);
2. train PPO on 2012-2019 in a PortfolioEnv with 10 bps costs;
3. backtest the trained agent beside 1/N on 2020-2022 through the same accounting
   engine, print the table and write a report to runs/train_ppo/.
"""

from __future__ import annotations

import argparse

import allocgym
from allocgym.agents import RLAgent
from allocgym.backtest import WalkForward, backtest
from allocgym.baselines import EqualWeight
from allocgym.envs import EnvSettings
from allocgym.predictors import build_features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=20_000)
    parser.add_argument("--start", default="2012-01-01")
    parser.add_argument("--test-from", default="2020-01-01")
    parser.add_argument("--features", default="standard", help="technical, standard or full")
    parser.add_argument("--out", default="runs/train_ppo")
    args = parser.parse_args()

    market = allocgym.load_market().between(args.start, None)
    features = build_features(market, args.features)
    settings = EnvSettings(cost_bps=10.0, window=20, rebalance_every=5, episode_length=50)
    agent = RLAgent("ppo", args.timesteps, seed=0, env=settings)

    train = market.index_of(args.test_from)
    splitter = WalkForward(train=train, test=market.n_dates - train)
    results = backtest(
        {"PPO": agent, "1/N": EqualWeight()},
        market,
        features,
        splitter=splitter,
        env=settings,  # the agent's own settings: same costs, same observations
        name="train_ppo",
        out=args.out,
    )
    print(results.metrics[["ann_return", "ann_volatility", "sharpe", "max_drawdown"]])
    print(f"report: {args.out}/report.md")


if __name__ == "__main__":
    main()
