"""SPEC invariants checked end to end, with an RL agent in the loop.

The per-module tests pin each invariant where it is implemented (predictors, env,
baselines, backtester); these tests check that the whole chain keeps them when an RL
agent trains inside the walk-forward backtest:

1. point in time: changing every price after t leaves the agent's and the baselines'
   weights at dates <= t bit-identical (features, observations, training data and
   actions all come from data <= t);
4. honest comparison: the agent is fitted only on data dated before each test window;
5. reproducible: the same config and seed give identical numbers in a fresh run.
"""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.agents import RLAgent
from allocgym.backtest import WalkForward, backtest
from allocgym.baselines import (
    ClusterAllocation,
    EqualWeight,
    HierarchicalRiskParity,
    MeanVariance,
    MinVariance,
    RiskParity,
    SparseMaxSharpe,
)
from allocgym.data import MarketData
from allocgym.envs import EnvSettings
from allocgym.overlays import CostAwareRebalancing, ToleranceBands
from allocgym.predictors import build_features

ENV = EnvSettings(window=5, rebalance_every=5, episode_length=10)
HP = {"n_steps": 32, "batch_size": 16, "n_epochs": 1}
TOOLBOX = {  # the risk-based and sparse baselines of issue 14
    "RiskParity": lambda: RiskParity(lookback=100),
    "HRP": lambda: HierarchicalRiskParity(lookback=100),
    "Cluster": lambda: ClusterAllocation(lookback=100, n_clusters=2, method="kmeans"),
    "SparseMaxSharpe": lambda: SparseMaxSharpe(lookback=100, gamma=0.05),
}


class RecordingAgent(RLAgent):
    """An RLAgent that remembers the date range of every training slice it was given."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fits: list[tuple] = []

    def fit(self, market, features=None):
        self.fits.append((market.dates[0], market.dates[-1]))
        return super().fit(market, features)


def _run(market, seed=0):
    features = build_features(market, "technical", cache_dir=False, progress=False)
    agent = RecordingAgent("ppo", 64, seed=seed, env=ENV, hyperparameters=HP)
    results = backtest(
        {
            "PPO": agent,
            "1/N": EqualWeight(),
            "MinVar": MinVariance(lookback=100),
            # overlays that need no predictor feature (the others: tests/overlays)
            "MinVar cost-aware": CostAwareRebalancing(MinVariance(lookback=100), partial=True),
            "1/N bands": ToleranceBands(EqualWeight(rebalance_every=1), band=0.02),
            **{name: make() for name, make in TOOLBOX.items()},
        },
        market,
        features,
        splitter=WalkForward(train=250, test=150),
        env=ENV,
        n_boot=20,
    )
    return results, agent


@pytest.fixture(scope="module")
def market(synthetic_market):
    m = synthetic_market
    return MarketData.from_prices(np.array(m.prices[:700, :4]), m.dates[:700], m.assets[:4])


@pytest.fixture(scope="module")
def base_run(market):
    return _run(market)


def test_agent_and_baselines_are_point_in_time(market, base_run):
    t = 480  # inside the second test window [400, 550)
    prices = np.array(market.prices, copy=True)
    rng = np.random.default_rng(5)
    prices[t + 1 :] *= np.exp(np.cumsum(rng.normal(0, 0.03, prices[t + 1 :].shape), axis=0))
    changed_results, _ = _run(market.with_prices(prices))
    results, _ = base_run
    cutoff = market.dates[t]
    for name in ("PPO", "1/N", "MinVar", "MinVar cost-aware", "1/N bands", *TOOLBOX):
        a = results.weights[name].loc[:cutoff]
        b = changed_results.weights[name].loc[:cutoff]
        # weights at the close of t are the drifted weights after trading at t - 1 and
        # earning returns[t]: everything up to and including t must be unchanged
        np.testing.assert_array_equal(a.to_numpy(), b.to_numpy(), err_msg=name)
        later = results.weights[name].loc[cutoff:].iloc[2:]
        changed_later = changed_results.weights[name].loc[cutoff:].iloc[2:]
        # the later prices do reach the policies that trade on them (1/N drifts with them)
        assert not np.array_equal(later.to_numpy(), changed_later.to_numpy()), name


def test_agent_is_fitted_only_on_data_before_each_test_window(market, base_run):
    results, agent = base_run
    folds = list(WalkForward(train=250, test=150).split(market.n_dates))
    assert len(agent.fits) == len(folds) == 3
    assert (agent.n_folds_trained_, agent.n_folds_loaded_) == (3, 0)  # no checkpoint_dir
    for (first, last), (train, test) in zip(agent.fits, folds, strict=True):
        assert last == market.dates[train[-1]] < market.dates[test[0]]
        assert first == market.dates[train[0]]
    assert results.returns.index[0] == market.dates[folds[0][1][0] + 1]


def test_same_seed_fresh_run_gives_identical_numbers(market, base_run):
    results, _ = base_run
    again, _ = _run(market)
    np.testing.assert_array_equal(again.returns.to_numpy(), results.returns.to_numpy())
    other, _ = _run(market, seed=1)
    assert not np.array_equal(other.returns["PPO"].to_numpy(), results.returns["PPO"].to_numpy())


@pytest.mark.parametrize("model", ["hmm", "gmm"])
def test_regime_features_and_regime_covariance_are_point_in_time(market, model):
    # issue 16: regime probabilities (HMM or Gaussian mixture) and the regime-aware
    # covariance and expected returns they feed; changing every price after t leaves
    # them unchanged at <= t
    t = 480
    prices = np.array(market.prices, copy=True)
    rng = np.random.default_rng(5)
    prices[t + 1 :] *= np.exp(np.cumsum(rng.normal(0, 0.03, prices[t + 1 :].shape), axis=0))
    config = {"garch": None, "lstm": None, "min_train": 250, "refit_every": 150,
              "regime": {"model": model, "n_restarts": 1, "n_iter": 30}}  # fmt: skip
    runs = []
    for m in (market, market.with_prices(prices)):
        features = build_features(m, config, cache_dir=False, progress=False)
        results = backtest(
            {
                "MinVar regime": MinVariance(lookback=100, covariance="regime"),
                # the regime-weighted expected returns, alone and with the regime covariance
                "MV regime mean": MeanVariance(lookback=100, expected_returns="regime"),
                "MaxSharpe regime": MeanVariance(
                    "max_sharpe", lookback=100, covariance="regime", expected_returns="regime"
                ),
            },
            m,
            features,
            splitter=WalkForward(train=250, test=150),
            env=ENV,
            n_boot=20,
        )
        runs.append((features.market_values, results.weights))
    (pa, wa), (pb, wb) = runs
    np.testing.assert_array_equal(pa[: t + 1], pb[: t + 1])
    assert np.isfinite(pa[250:]).all() and not np.array_equal(pa[t + 1 :], pb[t + 1 :])
    cutoff = market.dates[t]
    for name in ("MinVar regime", "MV regime mean", "MaxSharpe regime"):
        a, b = wa[name], wb[name]
        np.testing.assert_array_equal(a.loc[:cutoff].to_numpy(), b.loc[:cutoff].to_numpy(), name)
        assert not np.array_equal(a.loc[cutoff:].to_numpy(), b.loc[cutoff:].to_numpy()), name
