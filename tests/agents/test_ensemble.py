"""`SeedEnsemble`: the average of its members' target weights, members fitted once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from allocgym.agents import RLAgent, SeedEnsemble
from allocgym.envs import EnvSettings
from allocgym.policy import PolicyState


class _Fixed:
    """A policy that always targets ``weights`` and records what it is asked."""

    def __init__(self, weights, name: str, env: EnvSettings | None = None) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.name, self.env = name, env
        self.states: list = []
        self.fits: list = []
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def fit(self, market, features=None):
        self.fits.append((market, features))
        return self

    def act(self, state):
        self.states.append(state)
        return self.weights


def test_ensemble_targets_the_average_of_its_members_weights(synthetic_market):
    n = synthetic_market.n_assets + 1
    rng = np.random.default_rng(0)
    members = [_Fixed(rng.dirichlet(np.ones(n)), f"s{k}") for k in range(3)]
    ensemble = SeedEnsemble(members, "PPO ensemble")
    state = PolicyState.at(synthetic_market, 30, np.eye(n)[0])
    w = ensemble.act(state)
    np.testing.assert_allclose(w, (members[0].weights + members[1].weights
                                   + members[2].weights) / 3, rtol=1e-15)  # fmt: skip
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all()
    assert all(m.states == [state] for m in members)  # each member saw the same state
    train = synthetic_market[:200]
    assert ensemble.fit(train) is ensemble
    assert all(m.fits == [(train, None)] for m in members)
    ensemble.reset()
    assert [m.resets for m in members] == [1, 1, 1]
    assert (ensemble.kind, ensemble.name, ensemble.member_names) == (
        "RL",
        "PPO ensemble",
        ["s0", "s1", "s2"],
    )


def test_ensemble_of_members_that_hold_returns_the_held_weights_unchanged(synthetic_market):
    """(w + w + w) / 3 may differ from w in the last bit; holding must not trade."""
    held = np.full(synthetic_market.n_assets + 1, 0.1)
    held[0] = 1.0 - held[1:].sum()
    assert not np.array_equal(np.mean([held, held, held], axis=0), held)  # 0.1 * 3 / 3
    members = [_Fixed(held.copy(), f"s{k}") for k in range(3)]
    w = SeedEnsemble(members).act(PolicyState.at(synthetic_market, 30, held))
    np.testing.assert_array_equal(w, held)


def test_ensemble_refuses_bad_members():
    with pytest.raises(ValueError, match=r"SeedEnsemble 'x' got 1 member\(s\); expected 2"):
        SeedEnsemble([_Fixed([1.0], "a")], "x")
    with pytest.raises(TypeError, match=r"member 1 \(object\) has no act\(state\)/reset\(\)"):
        SeedEnsemble([_Fixed([1.0], "a"), object()], "x")
    a, b = EnvSettings(window=5), EnvSettings(window=10)
    with pytest.raises(ValueError, match=r"members observe different environments \(env\.window"):
        SeedEnsemble([_Fixed([1.0], "a", a), _Fixed([1.0], "b", b)], "x")
    # another reward or cost changes what a member learnt, not what it observes: allowed
    same_view = dataclasses.replace(a, reward="mean_variance", cost_bps=50)
    ensemble = SeedEnsemble([_Fixed([1.0], "a", a), _Fixed([1.0], "b", same_view)], "x")
    assert ensemble.env is a  # what the backtest checks its own settings against


TINY = EnvSettings(window=5, rebalance_every=5, episode_length=10)
HP = {"n_steps": 16, "batch_size": 16, "n_epochs": 1}  # with n_envs=1: 16-step rollouts


def test_rl_agent_keeps_fitted_folds_in_memory_and_an_ensemble_never_retrains(
    synthetic_market, learn_calls
):
    train = synthetic_market[:300]
    seeds = [RLAgent("ppo", 32, s, TINY, hyperparameters=HP, n_envs=1) for s in (0, 1)]
    ensemble = SeedEnsemble(seeds, "PPO ensemble")
    for agent in seeds:  # the backtest fits each seed's row first
        agent.fit(train)
    fitted = [a.policy_ for a in seeds]
    env = TINY.make_env(train, None)  # one portfolio, what the backtest steps
    obs, _ = env.reset(seed=0)
    held = env.weights.copy()

    def state(t: int) -> PolicyState:
        return PolicyState.at(train, t, held, observation=obs)

    decided = seeds[0].act(state(100))
    np.testing.assert_array_equal(seeds[0].act(state(101)), held)  # holds between decisions
    ensemble.fit(train)  # then the ensemble's row: the same fold, from memory
    assert len(learn_calls) == 2
    assert [(a.n_folds_trained_, a.n_folds_loaded_, a.n_folds_reused_) for a in seeds] == [
        (1, 0, 1), (1, 0, 1)
    ]  # fmt: skip
    assert [a.policy_ for a in seeds] == fitted and list(seeds[0].fold_policies_) == [
        seeds[0].fold_key(train)
    ]  # fmt: skip
    # the fold model is reset when reused: it decides at once, as a fresh one would
    np.testing.assert_array_equal(seeds[0].act(state(101)), decided)
    other = seeds[1].act(state(100))
    assert not np.array_equal(other, decided)  # two seeds, two different policies
    ensemble.reset()  # a new schedule for every member
    np.testing.assert_array_equal(ensemble.act(state(100)), (decided + other) / 2)
    # another training range is another fold: trained
    seeds[0].fit(synthetic_market[50:350])
    assert (seeds[0].n_folds_trained_, len(learn_calls)) == (2, 3)
