"""Agents by name: construction, hyperparameter checks, reproducibility, save/load."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from allocgym.agents import (
    AGENTS,
    AgentPolicy,
    AssetEncoder,
    EquivariantActorCriticPolicy,
    FinancialMetricsCallback,
    RLAgent,
    asset_encoder_kwargs,
    episode_metrics,
    equivariant_hyperparameters,
    list_agents,
    make_agent,
)
from allocgym.envs import EnvSettings, PortfolioEnv
from allocgym.exceptions import ConfigError
from allocgym.policy import PolicyState
from allocgym.predictors.panel import FeaturePanel


def _params(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in model.policy.parameters()])


@pytest.fixture
def env(synthetic_market):
    return PortfolioEnv(
        synthetic_market[:300], None, window=5, random_start=True, episode_length=20
    )


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_every_agent_builds_and_learns_a_few_steps(env, name):
    off_policy = {"learning_starts": 16, "batch_size": 16, "buffer_size": 1000}
    hp = off_policy if name in ("sac", "td3", "ddpg") else {}
    if name in ("ppo", "recurrent_ppo"):
        hp = {"n_steps": 32, "batch_size": 16, "n_epochs": 1}
    model = make_agent(name, env, seed=0, **hp)
    before = _params(model)
    model.learn(64)
    assert not torch.equal(_params(model), before)  # it did learn something
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(action.astype(np.float32))
    assert name in list_agents()


def test_unknown_agent_and_hyperparameter_messages(env):
    with pytest.raises(ConfigError, match=r"unknown agent 'ppo2' \(did you mean 'ppo'\?\)"):
        make_agent("ppo2", env)
    with pytest.raises(ConfigError, match=r"'learning_rat' \(did you mean 'learning_rate'\?\)"):
        make_agent("ppo", env, learning_rat=0.1)


def _train(env_factory, seed):
    env = env_factory()
    model = make_agent("ppo", env, seed=seed, n_steps=64, batch_size=32, n_epochs=2)
    model.learn(128)
    return _params(model)


def test_same_seed_same_model_on_cpu(synthetic_market):
    def factory():
        return PortfolioEnv(
            synthetic_market[:300], None, window=5, random_start=True, episode_length=20
        )

    a, b, c = _train(factory, 1), _train(factory, 1), _train(factory, 2)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def _permuted(env, obs, perm):
    """``obs`` with the assets in the order ``perm`` (panel features, returns, mask, weights)."""
    n, out = env.n_assets, obs.clone()
    for key in ("features", "returns", "mask"):
        sl = env.observation_layout.slices.get(key)
        if sl is not None and sl.stop > sl.start:
            out[:, sl] = obs[:, sl].reshape(len(obs), n, -1)[:, perm].reshape(len(obs), -1)
    wsl = env.observation_layout.slices["weights"]
    out[:, wsl.start + 1 : wsl.stop] = obs[:, wsl.start + 1 : wsl.stop][:, perm]
    return out


def test_asset_encoder_is_permutation_equivariant(synthetic_market):
    env = PortfolioEnv(synthetic_market[:300], None, window=5)
    kwargs = asset_encoder_kwargs(env)["features_extractor_kwargs"]
    enc = AssetEncoder(
        env.observation_space, embed_dim=4, **{k: v for k, v in kwargs.items() if k != "embed_dim"}
    )
    obs = torch.as_tensor(env.reset(seed=0)[0])[None].repeat(2, 1)
    obs[1] = obs[0] + 0.1 * torch.randn_like(obs[0])
    n = env.n_assets
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out, out_p = enc(obs), enc(_permuted(env, obs, perm))
    emb = out[:, : n * 4].reshape(2, n, 4)
    emb_p = out_p[:, : n * 4].reshape(2, n, 4)
    torch.testing.assert_close(emb_p, emb[:, perm])
    torch.testing.assert_close(out_p[:, n * 4 :], out[:, n * 4 :])


@pytest.mark.parametrize(
    ("algorithm", "action"), [("ppo", "simplex"), ("a2c", "simplex"), ("ppo", "residual_current")]
)
def test_equivariant_actor_permutes_its_action_with_the_assets(synthetic_market, algorithm, action):
    """The whole actor is equivariant: permuting the assets of an observation permutes the
    asset entries of the action (cash, entry 0 of a simplex action, is unchanged), after
    training too; the dense head over the same encoder is not. A residual map's action
    has one entry per asset and no cash entry."""
    market = synthetic_market[:300]
    env = PortfolioEnv(market, _signal_panel(market), window=5, action=action)
    cash = int(env.action_space.shape[0] == env.n_assets + 1)
    assert cash == (action == "simplex")
    hp = equivariant_hyperparameters(algorithm.upper(), env)
    assert hp["policy"] is EquivariantActorCriticPolicy
    batch = {"batch_size": 16} if algorithm == "ppo" else {}
    model = make_agent(algorithm, env, n_steps=16, **batch, **hp)
    model.learn(32)
    dense = make_agent(algorithm, env, n_steps=16, policy_kwargs=asset_encoder_kwargs(env))
    obs = torch.as_tensor(env.reset(seed=0)[0])[None].repeat(3, 1)
    noise = torch.randn(obs[1:].shape, generator=torch.Generator().manual_seed(0))
    obs[1:] += 0.3 * noise
    perm = torch.randperm(env.n_assets, generator=torch.Generator().manual_seed(1))
    for m, equivariant in ((model, True), (dense, False)):
        with torch.no_grad():
            a = m.policy.get_distribution(obs).distribution.mean
            a_p = m.policy.get_distribution(_permuted(env, obs, perm)).distribution.mean
        expected = torch.cat([a[:, :cash], a[:, cash:][:, perm]], dim=1)
        assert torch.allclose(a_p, expected, atol=1e-6) == equivariant


def test_equivariant_policy_refuses_a_dense_policy_layer(env):
    hp = equivariant_hyperparameters("PPO", env)
    hp["policy_kwargs"]["net_arch"] = {"pi": [16], "vf": [16]}
    with pytest.raises(ValueError, match=r"net_arch pi=\[\]"):
        make_agent("ppo", env, n_steps=16, batch_size=16, **hp)
    assert "policy" not in equivariant_hyperparameters("SAC", env)


def test_equivariant_network_trains_with_ppo(env):
    model = make_agent(
        "ppo", env, n_steps=32, batch_size=16, n_epochs=1, policy_kwargs=asset_encoder_kwargs(env)
    )
    encoder = model.policy.features_extractor
    assert isinstance(encoder, AssetEncoder)
    before = torch.cat([p.detach().flatten().clone() for p in encoder.parameters()])
    model.learn(32)
    after = torch.cat([p.detach().flatten() for p in encoder.parameters()])
    assert not torch.equal(after, before)  # the gradient flows through the encoder


def test_episode_metrics_match_hand_computation():
    r = [0.01, -0.02, 0.03]
    m = episode_metrics(r, [0.5, 0.1, 0.0], [0.001, 0.0, 0.0], [0.5, 0.25, 0.25])
    wealth = np.cumprod(1 + np.array(r))
    assert m["wealth"] == pytest.approx(wealth[-1])
    assert m["max_drawdown"] == pytest.approx(1 - wealth[1] / wealth[0])
    assert m["sharpe"] == pytest.approx(np.mean(r) / np.std(r, ddof=1) * np.sqrt(252))
    assert m["turnover"] == pytest.approx(0.6) and m["cost"] == pytest.approx(0.001)
    assert m["concentration"] == pytest.approx(1 / 3)


def test_callback_collects_one_record_per_finished_episode(env):
    cb = FinancialMetricsCallback()
    model = make_agent("ppo", env, n_steps=64, batch_size=32, n_epochs=1)
    model.learn(128, callback=cb)
    # 128 steps of 20-step episodes: 6 finished episodes
    assert len(cb.episodes_) == 6
    assert all(0 < e["wealth"] < 10 and e["length"] == 20 for e in cb.episodes_)


def test_agent_policy_save_load_roundtrip(tmp_path, env, synthetic_market):
    model = make_agent("ppo", env, n_steps=32, batch_size=16, n_epochs=1)
    model.learn(32)
    policy = AgentPolicy.from_env(model, env, "PPO")
    obs, _ = env.reset(seed=3)
    state = PolicyState.at(synthetic_market, env.t, env.weights, observation=obs)
    w = policy.act(state)
    assert w.shape == (synthetic_market.n_assets + 1,)
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all()
    policy.save(tmp_path / "ppo")
    like = make_agent("ppo", env, n_steps=32, batch_size=16, n_epochs=1)
    loaded = AgentPolicy.load(tmp_path / "ppo", env.action_map, like=like)
    np.testing.assert_array_equal(loaded.act(state), w)


def test_agent_policy_acts_through_a_band_map_from_the_weights_held(tmp_path, synthetic_market):
    band_env = PortfolioEnv(
        synthetic_market[:300], None, window=5, action="band", random_start=True, episode_length=20
    )
    model = make_agent("ppo", band_env, n_steps=32, batch_size=16, n_epochs=1)
    policy = AgentPolicy.from_env(model, band_env, "PPO-band")
    obs, _ = band_env.reset(seed=1)
    target = band_env.action_map.inner.to_weights(
        model.predict(obs, deterministic=True)[0], np.ones(synthetic_market.n_assets + 1),
        np.empty(synthetic_market.n_assets + 1),
    )  # fmt: skip
    # held weights within the band of the target: the agent's decision trades nothing
    near = 0.99 * target + 0.01 * np.eye(synthetic_market.n_assets + 1)[0]
    state = PolicyState.at(synthetic_market, band_env.t, near, observation=obs)
    np.testing.assert_allclose(policy.act(state), near, rtol=0, atol=1e-15)
    # far from the target (all cash): it moves by L1 - band toward the target
    cash = np.eye(synthetic_market.n_assets + 1)[0]
    policy.reset()
    w = policy.act(PolicyState.at(synthetic_market, band_env.t, cash, observation=obs))
    assert np.abs(w - cash)[1:].sum() == pytest.approx(target[1:].sum() - 0.05, abs=1e-12)
    policy.save(tmp_path / "band")
    like = make_agent("ppo", band_env, n_steps=32, batch_size=16, n_epochs=1)
    assert (
        AgentPolicy.load(tmp_path / "band", band_env.action_map, like=like).act(state) is not None
    )
    with pytest.raises(ValueError, match=r"trained with the action map BandMap"):
        AgentPolicy.load(tmp_path / "band", like=like)  # the default SimplexMap would misread it


def test_agent_policy_needs_an_observation(env, synthetic_market):
    model = make_agent("ppo", env, n_steps=32, batch_size=16, n_epochs=1)
    state = PolicyState.at(synthetic_market, 10, env.weights)
    with pytest.raises(ValueError, match=r"state\.observation is None"):
        AgentPolicy.from_env(model, env).act(state)


TINY = EnvSettings(window=5, rebalance_every=5, episode_length=10)
HP = {"n_steps": 32, "batch_size": 16, "n_epochs": 1}


def _rl_agent(folder, progress=None) -> RLAgent:
    return RLAgent(
        "ppo", 64, seed=0, env=TINY, hyperparameters=HP, checkpoint_dir=folder, progress=progress
    )


def test_rl_agent_loads_a_saved_fold_instead_of_retraining(tmp_path, synthetic_market, learn_calls):
    train = synthetic_market[:300]
    first = _rl_agent(tmp_path).fit(train)
    assert (first.n_folds_trained_, first.n_folds_loaded_, len(learn_calls)) == (1, 0, 1)
    saved = tmp_path / f"{train.dates[0]:%Y%m%d}-{train.dates[-1]:%Y%m%d}"
    assert sorted(p.name for p in saved.iterdir()) == ["agent.json", "model.zip"]
    # Overwrite the saved model with other weights: retraining (deterministic, same seed)
    # would reproduce the first model; loading gives exactly the altered one.
    altered = AgentPolicy.load(saved, first.policy_.action_map, like=first.policy_.model)
    with torch.no_grad():
        for p in altered.model.policy.parameters():
            p.add_(0.5)
    altered.save(saved)
    steps: list[int] = []
    resumed = _rl_agent(tmp_path, progress=steps.append).fit(train)
    assert (resumed.n_folds_trained_, resumed.n_folds_loaded_, len(learn_calls)) == (0, 1, 1)
    assert torch.equal(_params(resumed.policy_.model), _params(altered.model))
    assert not torch.equal(_params(resumed.policy_.model), _params(first.policy_.model))
    assert resumed.policy_.rebalance_every == 5 and resumed.policy_.name == "PPO"
    assert steps == [64]  # a loaded fold counts as done on the progress bar
    # another training range is another fold: trained and saved beside the first
    resumed.fit(synthetic_market[50:350])
    assert (resumed.n_folds_trained_, resumed.n_folds_loaded_, len(learn_calls)) == (1, 1, 2)
    assert len(list(tmp_path.iterdir())) == 2


def test_rl_agent_without_checkpoint_dir_keeps_folds_in_memory_only(synthetic_market, learn_calls):
    agent = _rl_agent(None)
    agent.fit(synthetic_market[:300]).fit(synthetic_market[:300])  # the same fold twice
    assert (agent.n_folds_trained_, agent.n_folds_loaded_, len(learn_calls)) == (1, 0, 1)
    assert agent.n_folds_reused_ == 1
    other = _rl_agent(None).fit(synthetic_market[:300])  # nothing saved: another agent trains
    assert (other.n_folds_trained_, len(learn_calls)) == (1, 2)


def test_agent_policy_decides_every_k_days_and_holds_in_between(synthetic_market):
    class Model:  # a stand-in with SB3's predict signature
        calls = 0

        def predict(self, observation, state=None, episode_start=None, deterministic=True):
            Model.calls += 1
            return np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0], dtype=np.float32), None

    policy = AgentPolicy(Model(), rebalance_every=3)
    held = np.array([0.1, 0.2, 0.3, 0.4, 0.0, 0.0])
    targets = []
    for t in range(10, 17):
        state = PolicyState.at(synthetic_market, t, held, observation=np.zeros(3))
        targets.append(policy.act(state))
    assert Model.calls == 3  # decisions at the 1st, 4th and 7th close
    for i, w in enumerate(targets):
        if i % 3:
            np.testing.assert_array_equal(w, held)
        else:
            assert w.sum() == pytest.approx(1.0) and not np.array_equal(w, held)
    policy.reset()
    policy.act(PolicyState.at(synthetic_market, 20, held, observation=np.zeros(3)))
    assert Model.calls == 4  # reset starts a new schedule


def test_rl_agent_defaults_are_the_config_defaults(synthetic_market):
    """One set of defaults: RLAgent() trains in the env a config without ``env:`` makes."""
    from allocgym.experiment import load_config

    agent = RLAgent()
    assert agent.env == EnvSettings() == load_config({}).env
    assert (agent.env.rebalance_every, agent.env.window, agent.env.episode_length) == (5, 20, 50)
    env = agent.make_env(synthetic_market[:400], None)
    assert env.rebalance_every == 5 and env.random_start and env.features is None
    with pytest.raises(TypeError, match=r"env must be an allocgym\.envs\.EnvSettings"):
        RLAgent(env={"window": 5})


def test_backtest_and_rl_agent_from_one_settings_use_equal_settings(synthetic_market, monkeypatch):
    """The training env and the backtest env come from the same EnvSettings: same costs,
    observations and action map; the agent decides every ``rebalance_every`` days while
    the backtest env steps daily (so the baselines keep their own schedule)."""
    from allocgym.backtest import WalkForward, backtest, engine
    from allocgym.baselines import EqualWeight

    settings = EnvSettings(cost_bps=7, reward="differential_sharpe", window=5,
                           rebalance_every=5, episode_length=10, norm_window=50)  # fmt: skip
    built = {}
    real = engine._env_class()

    class Recorded(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built["backtest"] = self

    monkeypatch.setattr(engine, "_env_class", lambda: Recorded)
    agent = RLAgent("ppo", 64, seed=0, env=settings, hyperparameters=HP)
    make_env = agent.make_env
    monkeypatch.setattr(agent, "make_env", lambda *a: built.setdefault("training", make_env(*a)))
    market = synthetic_market[:400]
    res = backtest(
        {"PPO": agent, "1/N": EqualWeight()}, market, splitter=WalkForward(300, 90),
        env=settings, n_boot=20,
    )  # fmt: skip
    train, test = built["training"], built["backtest"]
    assert train.cost_model.cost_bps == test.cost_model.cost_bps == 7.0
    assert type(train.reward_fn) is type(test.reward_fn)
    assert train.observation_space == test.observation_space
    assert repr(train.action_map) == repr(test.action_map)
    assert train.rebalance_every == agent.policy_.rebalance_every == 5
    assert test.rebalance_every == 1
    assert res.config["env"] == settings.to_dict()
    assert res.config["policies"]["PPO"]["params"]["env"] == settings.to_dict()


def test_backtest_refuses_an_agent_trained_on_other_observations(synthetic_market, learn_calls):
    from allocgym.backtest import WalkForward, backtest

    agent = _rl_agent(None)  # window 5
    with pytest.raises(ValueError, match=r"policy 'PPO' trains with env\.window=5 but the "
                       r"backtest steps env\.window=20"):  # fmt: skip
        backtest({"PPO": agent}, synthetic_market[:400], splitter=WalkForward(300, 90))
    assert learn_calls == []  # refused before any training
    # another reward or cost changes only what the agent learns: allowed
    other = dataclasses.replace(TINY, reward="mean_variance", cost_bps=50)
    assert TINY.differences(other) == {}
    assert TINY.differences(dataclasses.replace(TINY, action="long_short")) == {
        "action": ("simplex", "long_short")
    }


def _signal_panel(market) -> FeaturePanel:
    """Two per-asset features and one market feature, all noise; named like the predictors'."""
    rng = np.random.default_rng(3)
    shape = (market.n_dates, market.n_assets)
    values = np.stack([rng.standard_normal(shape)] * 2, axis=-1).astype(np.float32)
    mkt = rng.standard_normal((market.n_dates, 1)).astype(np.float32)
    names = ("mom_5", "garch_vol")
    return FeaturePanel(
        market.dates, market.assets, values, names, mkt, ("regime_p0",), market.available
    )


def test_rl_agent_observes_only_its_features_in_training_and_backtest(synthetic_market):
    from allocgym.backtest import WalkForward, backtest
    from allocgym.envs.observation import ObservationLayout

    m = synthetic_market[:400]
    panel = _signal_panel(m)
    agent = RLAgent("ppo", 64, 0, env=TINY, hyperparameters=HP, observe=["garch"], name="G")
    assert agent.observe == ("garch",)
    res = backtest({"G": agent}, m, panel, splitter=WalkForward(300, 90), env=TINY, n_boot=10)
    # one per-asset feature, no market feature: the observation of the selection
    size = ObservationLayout.build(m.n_assets, 1, 0, TINY.window, False).size
    assert agent.policy_.model.observation_space.shape == (size,)
    assert res.config["policies"]["G"]["params"]["observe"] == ("garch",)
    everything = ObservationLayout.build(m.n_assets, 2, 1, TINY.window, False).size
    assert everything != size
    with pytest.raises(ValueError, match=r"observe=\[\] is invalid"):
        RLAgent("ppo", observe=[])
    with pytest.raises(ValueError, match=r"observe='garch' is invalid"):
        RLAgent("ppo", observe="garch")


def test_a_seed_ensemble_refuses_members_that_observe_different_features():
    from allocgym.agents import SeedEnsemble

    a = RLAgent("ppo", observe=["garch"])
    b = RLAgent("ppo", observe=["technical"])
    with pytest.raises(ValueError, match="members observe different features"):
        SeedEnsemble([a, b], "E")
    ens = SeedEnsemble([a, RLAgent("ppo", 10, 1, observe=["garch"])], "E")
    assert ens.observed_features(None, None) is None


def test_an_unknown_algorithm_is_named_when_the_agent_trains(synthetic_market):
    agent = RLAgent("ppo_not_here", 64, env=TINY, hyperparameters=HP)
    with pytest.raises(ConfigError, match=r"unknown agent 'ppo_not_here'.*expected one of"):
        agent.fit(synthetic_market[:300])
