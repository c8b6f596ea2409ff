"""Track: the daily record of an episode, built by hand and recorded by the env."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocgym.envs import PortfolioEnv
from allocgym.envs.track import Track


def test_hand_built_track_frames_and_default_initial_wealth():
    dates = pd.bdate_range("2022-03-01", periods=3)
    net = np.array([0.01, -0.02, 0.005])
    track = Track(
        dates=dates,
        net_returns=net,
        gross_returns=np.array([0.012, -0.02, 0.005]),
        costs=np.array([0.002, 0.0, 0.0]),
        turnover=np.array([0.8, 0.0, 0.0]),
        weights=np.array([[0.2, 0.5, 0.3], [0.21, 0.49, 0.3], [0.2, 0.5, 0.3]]),
        wealth=np.cumprod(1 + net),
        traded=np.array([True, False, False]),
        assets=("A", "B"),
    )
    assert track.initial_wealth == 1.0  # an episode starts from wealth 1 unless told
    assert len(track) == 3
    frame = track.to_frame()
    assert list(frame.columns) == [
        "net_return", "gross_return", "cost", "turnover", "wealth", "traded",
    ]  # fmt: skip
    assert frame.index.equals(dates)
    np.testing.assert_array_equal(frame["wealth"], [1.01, 1.01 * 0.98, 1.01 * 0.98 * 1.005])
    assert frame["traded"].tolist() == [True, False, False]
    weights = track.weights_frame()
    assert list(weights.columns) == ["cash", "A", "B"]
    assert weights.loc[dates[1], "A"] == 0.49


def test_recorded_track_starts_at_the_episode_wealth(small_market):
    env = PortfolioEnv(small_market, features=None, start=40)
    empty = env.track()  # before any reset: no days, the env's starting wealth
    assert len(empty) == 0 and empty.initial_wealth == env.wealth == 1.0

    env = PortfolioEnv(small_market, features=None, start=40, initial_wealth=2.5)
    for wealth, options in ((2.5, None), (4.0, {"wealth": 4.0})):
        env.reset(options=options)
        for _ in range(3):
            env.step(np.linspace(-1, 1, 6))
        track = env.track()
        assert track.initial_wealth == wealth and len(track) == 3
        np.testing.assert_allclose(
            track.wealth, wealth * np.cumprod(1 + track.net_returns), rtol=1e-13
        )
        assert track.wealth[-1] == pytest.approx(env.wealth, rel=1e-14)


def test_a_short_last_period_after_longer_ones_records_every_days_weights(small_market):
    """Periods of several days and a last period of one day (recorded two ways: the
    day-by-day paths, and one day's weights drifted on demand) give one row per day, the
    weights at each close summing to one and the last day's drifted by its own growth."""
    env = PortfolioEnv(small_market, features=None, start=40, end=45, rebalance_every=2)
    env.reset()
    done = False
    while not done:
        *_, terminated, truncated, info = env.step(np.linspace(-1, 1, 6))
        done = terminated or truncated
    track = env.track()
    assert len(track) == 5  # 2 + 2 + 1 days, one row each
    np.testing.assert_allclose(track.weights.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # the last period: traded at the close of day 44, held through day 45
    growth = np.concatenate([[1.0], np.asarray(small_market.returns[45]) + 1.0])
    held = np.asarray(info["weights_after"]) * growth
    np.testing.assert_allclose(track.weights[4], held / held.sum(), rtol=1e-12)
    assert track.dates[-1] == small_market.dates[45]
