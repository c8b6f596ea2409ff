"""The benchmark-relative reward: excess log return over the benchmark, net of costs."""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.data import load_benchmark
from allocgym.envs import PortfolioEnv, StepRecord, get_reward
from allocgym.envs.rewards import BenchmarkMissingWarning
from allocgym.envs.vector import PortfolioVecEnv


def record(t, n_days, r):
    w = np.zeros(3)
    return StepRecord(t, n_days, r, r, np.log1p(r), 0.0, 0.0, w, w, 1.0, 1.0, 0.0)


def test_excess_over_the_benchmark_by_hand():
    levels = np.array([100.0, 102.0, 99.0, 101.0])
    fn = get_reward("benchmark_excess", benchmark=levels)
    assert fn(record(0, 1, 0.03)) == pytest.approx(np.log(1.03) - np.log(1.02))
    assert fn(record(1, 2, -0.01)) == pytest.approx(np.log(0.99) - np.log(101 / 102))
    assert fn.components["benchmark"] == pytest.approx(-np.log(101 / 102))
    # batched records (the vectorised env): t and n_days are arrays
    batch = fn(record(np.array([0, 1]), np.array([1, 1]), np.array([0.0, 0.0])))
    np.testing.assert_allclose(batch, [-np.log(1.02), -np.log(99 / 102)])


def test_in_the_env_the_reward_is_log_return_minus_the_benchmarks(embedded_slice):
    market = embedded_slice[:200]
    levels = load_benchmark(market=market)
    kwargs = {"features": None, "start": 30, "rebalance_every": 5, "reward": "benchmark_excess",
              "reward_kwargs": {"benchmark": levels}}  # fmt: skip
    env = PortfolioEnv(market, **kwargs)
    env.reset(seed=0)
    t = env.t
    _, reward, _, _, info = env.step(env.action_space.sample())
    bench = np.log(levels.iloc[t + 5] / levels.iloc[t])
    assert reward == pytest.approx(np.log1p(info["net_return"]) - bench, rel=1e-12)
    venv = PortfolioVecEnv(market, n_envs=2, **kwargs)
    venv.reset()
    _, rewards, _, _ = venv.step(np.zeros((2, market.n_assets + 1), dtype=np.float32))
    assert np.isfinite(rewards).all()


def test_without_a_benchmark_it_warns_and_is_the_log_return():
    with pytest.warns(BenchmarkMissingWarning, match="plain log return"):
        fn = get_reward("benchmark_excess")
    assert fn(record(0, 1, 0.02)) == pytest.approx(np.log(1.02))


def test_bad_benchmarks_are_refused():
    with pytest.raises(ValueError, match="not a positive number"):
        get_reward("benchmark_excess", benchmark=[100.0, np.nan, 101.0])
    with pytest.raises(ValueError, match="expected levels of shape"):
        get_reward("benchmark_excess", benchmark=np.ones((3, 2)))
    fn = get_reward("benchmark_excess", benchmark=[100.0, 101.0])
    with pytest.raises(ValueError, match="the env reached row 5"):
        fn(record(3, 2, 0.0))
