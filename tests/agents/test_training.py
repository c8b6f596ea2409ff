"""Vectorised training: the env RLAgent trains on, defaults per algorithm, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import VecMonitor

from allocgym.agents import (
    AGENTS,
    AgentPolicy,
    AssetEncoder,
    FinancialMetricsCallback,
    RLAgent,
    make_agent,
    resolve_hyperparameters,
)
from allocgym.agents.training import training_env
from allocgym.envs import EnvSettings, PortfolioEnv
from allocgym.envs.vector import PerPortfolioReward, PortfolioVecEnv
from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config
from allocgym.experiment.runner import build_policies
from allocgym.policy import PolicyState

SETTINGS = EnvSettings(window=5, rebalance_every=5, episode_length=6, cost_bps=10)
TINY_NET = {"net_arch": [8]}


def _params(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in model.policy.parameters()])


def calm_growth(record) -> float:
    """A reward written for one portfolio (math, an if): it cannot take arrays."""
    if record.net_return <= -1.0:
        return -10.0
    return math.log1p(record.net_return) - 0.5 * record.drawdown * max(-record.net_return, 0.0)


@pytest.mark.parametrize("reward", ["log_return", "differential_sharpe", calm_growth])
def test_training_env_follows_the_single_env_path(synthetic_market, reward):
    """Each portfolio of the agent's vec env (same settings, its random start) has the
    wealth, weights, observations and rewards of a PortfolioEnv given the same actions,
    across an auto-reset; a reward for one portfolio runs once per portfolio."""
    settings = EnvSettings(window=5, rebalance_every=5, episode_length=6, cost_bps=10,
                           reward=reward)  # fmt: skip
    market = synthetic_market[:300]
    agent = RLAgent("ppo", 1_000, seed=3, env=settings, n_envs=4)
    venv = agent.make_env(market, None)
    assert isinstance(venv, PortfolioVecEnv) and venv.num_envs == 4
    assert isinstance(venv.reward_fn, PerPortfolioReward) == (reward is calm_growth)
    venv.reset()
    rng = np.random.default_rng(0)
    for _episode in range(2):
        singles = [settings.make_env(market, None, random_start=True, episode_length=6)
                   for _ in range(4)]  # fmt: skip
        for env, t0 in zip(singles, venv.t.tolist(), strict=True):
            env.reset(options={"start": t0})
        assert len(set(venv.t.tolist())) > 1  # random, seeded starts
        for step in range(6):
            actions = rng.uniform(-1, 1, (4, 6)).astype(np.float32)
            obs, rewards, dones, infos = venv.step(actions)
            assert dones.all() == (step == 5)
            for i, env in enumerate(singles):
                o, r, _, truncated, info = env.step(actions[i])
                assert rewards[i] == pytest.approx(r, rel=1e-5, abs=1e-7)
                assert venv.last["wealth"][i] == pytest.approx(env.wealth, rel=1e-12)
                after = venv.last["weights_after"][i]
                np.testing.assert_allclose(after, info["weights_after"], atol=1e-15)
                if truncated:
                    assert infos[i]["episode_wealth"] == pytest.approx(env.wealth, rel=1e-12)
                    np.testing.assert_allclose(infos[i]["terminal_observation"], o, atol=1e-6)
                else:
                    np.testing.assert_allclose(venv.weights[i], env.weights, atol=1e-14)
                    np.testing.assert_allclose(obs[i], o, rtol=1e-6, atol=1e-7)


def _tiny_ppo(seed: int, market) -> RLAgent:
    hp = {"n_steps": 16, "batch_size": 32, "n_epochs": 2, "policy_kwargs": TINY_NET}
    agent = RLAgent("ppo", 64, seed=seed, env=SETTINGS, n_envs=4, hyperparameters=hp)
    return agent.fit(market)


def test_tiny_vectorised_ppo_is_reproducible_bit_for_bit(synthetic_market):
    market = synthetic_market[:300]
    a, b, c = (_tiny_ppo(s, market) for s in (1, 1, 2))
    assert a.policy_.model.n_envs == 4
    assert torch.equal(_params(a.policy_.model), _params(b.policy_.model))
    assert a.training_episodes_ == b.training_episodes_ and len(a.training_episodes_) == 8
    assert not torch.equal(_params(a.policy_.model), _params(c.policy_.model))
    assert a.training_episodes_ != c.training_episodes_  # other random starts too


def test_rl_agent_trains_on_a_vec_env_by_default(synthetic_market):
    # n_steps=2 so that the default 256 portfolios fill one rollout of the 512-step budget
    hp = {"n_steps": 2, "batch_size": 256, "n_epochs": 1, "policy_kwargs": TINY_NET}
    agent = RLAgent("ppo", 512, seed=0, env=SETTINGS, hyperparameters=hp)
    assert agent.n_envs == AGENTS["ppo"].n_envs == 256
    agent.fit(synthetic_market[:300])
    model = agent.policy_.model
    assert model.n_envs == 256 and model.num_timesteps == 512
    assert isinstance(model.get_env(), VecMonitor)
    assert isinstance(model.get_env().unwrapped, PortfolioVecEnv)
    assert agent.policy_.rebalance_every == 5
    assert repr(agent.policy_.action_map) == repr(model.get_env().unwrapped.action_map)


def test_default_n_envs_per_algorithm_and_budget():
    assert {name: AGENTS[name].n_envs for name in AGENTS} == {
        "ppo": 256, "a2c": 64, "recurrent_ppo": 64, "sac": 32, "td3": 32, "ddpg": 32,
    }  # fmt: skip
    assert RLAgent("ppo", 300_000).n_envs == 256
    assert RLAgent("sac", 300_000).n_envs == 32
    # a budget smaller than one rollout of the default envs: fewer envs, not 8,192 steps
    assert RLAgent("ppo", 64, hyperparameters={"n_steps": 32}).n_envs == 2
    assert RLAgent("ppo", 10).n_envs == 1
    assert RLAgent("ppo", 64, n_envs=8).n_envs == 8  # given: kept
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match=r"n_envs=.* is invalid"):
            RLAgent("ppo", n_envs=bad)


def test_hyperparameter_defaults_depend_on_the_number_of_envs():
    vec = resolve_hyperparameters("ppo")
    assert (vec["n_steps"], vec["batch_size"], vec["n_epochs"]) == (32, 2048, 4)
    single = resolve_hyperparameters("ppo", 1)  # the defaults from before vectorising
    assert (single["n_steps"], single["batch_size"], single["n_epochs"]) == (512, 128, 10)
    assert single["learning_rate"] == 3e-4
    # a default minibatch larger than the rollout is the rollout; one given is kept
    assert resolve_hyperparameters("ppo", 8)["batch_size"] == 8 * 32
    assert resolve_hyperparameters("ppo", 8, batch_size=4096)["batch_size"] == 4096
    sac, sac1 = resolve_hyperparameters("sac"), resolve_hyperparameters("sac", 1)
    assert (sac["train_freq"], sac["gradient_steps"], sac["batch_size"]) == (1, 2, 1024)
    assert (sac1["train_freq"], sac1["gradient_steps"], sac1["batch_size"]) == (1, 1, 128)
    with pytest.raises(ConfigError, match=r"n_envs is not a hyperparameter of PPO"):
        resolve_hyperparameters("ppo", n_envs=4)


def test_n_envs_1_trains_on_the_single_env_with_the_single_env_defaults(synthetic_market):
    hp = {"n_steps": 32, "batch_size": 16, "n_epochs": 1, "policy_kwargs": TINY_NET}
    agent = RLAgent("ppo", 32, seed=0, env=SETTINGS, n_envs=1, hyperparameters=hp)
    assert isinstance(agent.make_env(synthetic_market[:300], None), PortfolioEnv)
    agent.fit(synthetic_market[:300])
    assert agent.policy_.model.n_envs == 1
    assert agent.policy_.model.learning_rate == 3e-4  # single-env default
    assert len(agent.training_episodes_) == 5  # 32 steps of 6-step episodes


def test_callback_reads_the_vec_env_batch(synthetic_market):
    """Episode metrics from the vec env's per-step figures: one record per finished
    episode of each portfolio, its wealth that of SB3's episode return (log wealth)."""
    venv = training_env(SETTINGS, synthetic_market[:300], None, n_envs=4, seed=0)
    model = make_agent("ppo", VecMonitor(venv), n_steps=15, batch_size=30, n_epochs=1,
                       policy_kwargs=TINY_NET)  # fmt: skip
    cb = FinancialMetricsCallback(days_per_step=5)
    model.learn(60, callback=cb)
    assert len(cb.episodes_) == 8 and {e["length"] for e in cb.episodes_} == {6.0}
    logged = sorted(math.exp(e["r"]) for e in model.ep_info_buffer)
    assert sorted(e["wealth"] for e in cb.episodes_) == pytest.approx(logged, rel=1e-5)
    assert all(0.05 <= e["concentration"] <= 1.0 for e in cb.episodes_)


def test_recurrent_ppo_and_the_equivariant_network_train_on_the_vec_env(synthetic_market):
    market = synthetic_market[:300]
    venv = training_env(SETTINGS, market, None, n_envs=8, seed=0)
    lstm = {"net_arch": [8], "lstm_hidden_size": 4}
    model = make_agent("recurrent_ppo", VecMonitor(venv), n_steps=8, batch_size=32, n_epochs=1,
                       policy_kwargs=lstm)  # fmt: skip
    before = _params(model)
    model.learn(64)
    assert model.n_envs == 8 and not torch.equal(_params(model), before)
    policy = AgentPolicy.from_env(model, VecMonitor(venv), "RPPO")
    obs = venv.reset()[0]
    w = policy.act(PolicyState.at(market, 100, np.eye(6)[0], observation=obs))
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all()

    agent = RLAgent("ppo", 64, seed=0, env=SETTINGS, n_envs=4, network="equivariant",
                    hyperparameters={"n_steps": 16, "batch_size": 32, "n_epochs": 1})  # fmt: skip
    agent.fit(market)
    assert isinstance(agent.policy_.model.policy.features_extractor, AssetEncoder)
    assert agent.policy_.model.n_envs == 4


@pytest.mark.parametrize("name", ["sac", "td3"])
def test_off_policy_agents_train_on_the_vec_env(synthetic_market, name):
    venv = training_env(SETTINGS, synthetic_market[:300], None, n_envs=4, seed=0)
    model = make_agent(name, VecMonitor(venv), learning_starts=16, batch_size=16,
                       buffer_size=1_000, policy_kwargs=TINY_NET)  # fmt: skip
    assert (model.train_freq.frequency, model.gradient_steps) == (1, 2)
    before = _params(model)
    model.learn(64)
    assert model.num_timesteps == 64 and not torch.equal(_params(model), before)


@pytest.mark.parametrize(
    ("n_envs", "match"),
    [
        (0, r"agents\[0\]\.n_envs: 0 is invalid; expected null \(the algorithm's default\) or "
            r"an integer >= 1"),
        (-4, r"agents\[0\]\.n_envs: -4 is invalid; expected null"),
        (2.5, r"agents\[0\]\.n_envs: 2\.5 is invalid; expected a value of type int or null"),
        (True, r"agents\[0\]\.n_envs: True is invalid; expected a value of type int or null"),
        ("many", r"agents\[0\]\.n_envs: 'many' is invalid; expected a value of type int"),
    ],
)  # fmt: skip
def test_config_validates_n_envs(n_envs, match):
    with pytest.raises(ConfigError, match=match):
        load_config({"agents": [{"name": "ppo", "n_envs": n_envs}]})


def test_config_n_envs_reaches_the_agent_and_its_defaults(tmp_path):
    config = load_config({
        "output_dir": str(tmp_path), "baselines": [],
        "agents": [{"name": "ppo", "label": "A", "timesteps": 50_000, "n_envs": 16},
                   {"name": "sac", "label": "B", "timesteps": 50_000}],
    })  # fmt: skip
    assert config.agents[0].n_envs == 16 and config.agents[1].n_envs is None
    assert "n_envs: 16" in config.to_yaml()  # the resolved config records it
    policies = build_policies(config)
    assert (policies["A"].n_envs, policies["B"].n_envs) == (16, 32)
    with pytest.raises(ConfigError, match=r"agents\[0\]\.hyperparameters: n_envs is not a hyper"):
        load_config({"agents": [{"name": "ppo", "hyperparameters": {"n_envs": 4}}]})
    # a batch of 16 portfolios takes the vectorised defaults, one env the single-env ones
    assert resolve_hyperparameters("ppo", 16)["n_steps"] == 32


def test_episode_length_fits_the_market_or_names_the_window(synthetic_market):
    from allocgym.agents.training import episode_length
    from allocgym.exceptions import DataError

    market = synthetic_market[:100]
    settings = EnvSettings(window=20, rebalance_every=5, episode_length=50)
    assert episode_length(settings, market) == 15  # (100 - 20 - 1) // 5: shortened to fit
    assert episode_length(EnvSettings(window=20, episode_length=None), market) is None
    assert episode_length(EnvSettings(window=94, rebalance_every=5), market) == 1
    with pytest.raises(DataError, match=r"window=95 leaves no training decision .* <= 94"):
        episode_length(EnvSettings(window=95, rebalance_every=5), market)
