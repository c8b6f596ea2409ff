"""The README's short tour, as a script: ``python experiments/tour.py``.

The code between the markers is the README's tour verbatim (a test keeps them equal).
"""

# --- tour ---
import gymnasium as gym

import allocgym  # registers allocgym/Portfolio-v0
from allocgym.agents import RLAgent
from allocgym.backtest import WalkForward, backtest
from allocgym.baselines import BlackLitterman, EqualWeight, MinVariance

market = allocgym.load_market()  # embedded: 20 S&P 500 stocks, 1990-2022
recent = market.between("2015-01-01", None)  # aligned views, no copy
panel = allocgym.build_features(recent, "full")  # technical, GARCH, HMM, LSTM; cached

env = gym.make(
    "allocgym/Portfolio-v0",
    market=recent,
    features=panel,  # None: no features
    cost_bps=10,
    reward="differential_sharpe",
    window=20,
    rebalance_every=5,
)
obs, info = env.reset(seed=0)
obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
print(info["cost"], info["turnover"], info["weights_after"].round(3))

# one validated settings object for training and backtest; these are the defaults
# (a config's env: section): 10 bps, log return, 20-day window, weekly decisions
settings = allocgym.EnvSettings(cost_bps=10, window=20, rebalance_every=5)
results = backtest(
    {
        "PPO": RLAgent("ppo", 100_000, env=settings),
        "1/N": EqualWeight(),
        "MinVar": MinVariance(),
        "BL": BlackLitterman(),  # LSTM views: needs the "full" features
    },
    recent,
    panel,
    splitter=WalkForward(train=756, test=252),
    env=settings,
    out="runs/tour",
)  # a progress bar over policies x folds, with an ETA, in a terminal
print(results.metrics[["sharpe", "ann_return", "max_drawdown", "turnover", "lw_p_value"]])
# --- end of tour ---
