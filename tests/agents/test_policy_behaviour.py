"""`AgentPolicy` and `RLAgent` as documented: default decisions, a recurrent agent's
memory, what a save records and what a load accepts, folds kept in memory, the network
choice, the progress reports and the checks of ``observe`` and ``n_envs``."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from allocgym.agents import AgentPolicy, AssetEncoder, RLAgent, make_agent
from allocgym.envs import EnvSettings, PortfolioEnv
from allocgym.exceptions import ConfigError, DataError
from allocgym.experiment.config import AgentConfig
from allocgym.policy import PolicyState

TINY = EnvSettings(window=5, rebalance_every=5, episode_length=10)
TINY_HP = {"n_steps": 16, "batch_size": 16, "n_epochs": 1, "policy_kwargs": {"net_arch": [8]}}


def _agent(timesteps: int = 16, **kwargs) -> RLAgent:
    """A PPO agent of one 16-step rollout on one portfolio, with a tiny network."""
    kwargs.setdefault("hyperparameters", TINY_HP)
    kwargs.setdefault("n_envs", 1)
    return RLAgent("ppo", timesteps, 0, TINY, **kwargs)


@pytest.fixture
def env(synthetic_market):
    return PortfolioEnv(
        synthetic_market[:300], None, window=5, random_start=True, episode_length=20
    )


def _state(market, env, weights=None) -> PolicyState:
    obs, _ = env.reset(seed=0)
    held = env.weights if weights is None else weights
    return PolicyState.at(market, env.t, held, observation=obs)


def _mapped(env, action, state) -> np.ndarray:
    """What ``action`` becomes through the env's action map at ``state``."""
    tradable = np.concatenate([[1.0], np.asarray(state.available, dtype=np.float64)])
    return env.action_map.to_weights(np.asarray(action), tradable, np.empty(tradable.size))


# ---------------------------------------------------------------- AgentPolicy.act
class _CountingModel:
    """A stand-in with SB3's ``predict`` signature: always the same action."""

    def __init__(self, n_actions: int) -> None:
        self.calls = 0
        self.action = np.linspace(-1.0, 1.0, n_actions).astype(np.float32)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        self.calls += 1
        return self.action, None


def test_by_default_a_policy_decides_at_every_step(synthetic_market, env):
    model = _CountingModel(synthetic_market.n_assets + 1)
    policy = AgentPolicy(model)  # rebalance_every=1
    held = np.full(synthetic_market.n_assets + 1, 1.0 / (synthetic_market.n_assets + 1))
    for _ in range(4):
        w = policy.act(_state(synthetic_market, env, held))
        assert not np.array_equal(w, held)
    assert model.calls == 4


def test_a_policy_decides_every_rebalance_every_steps_and_holds_between(synthetic_market, env):
    """With rebalance_every=4 the model is asked at steps 0, 4 and 8 of 10 only; on the
    other steps the policy returns the weights held (an even period, so that a counter
    stepping by 2 or backwards would decide at other steps)."""
    model = _CountingModel(synthetic_market.n_assets + 1)
    policy = AgentPolicy(model, rebalance_every=4)
    held = np.full(synthetic_market.n_assets + 1, 1.0 / (synthetic_market.n_assets + 1))
    decided = []
    for step in range(10):
        w = policy.act(_state(synthetic_market, env, held))
        if not np.array_equal(w, held):
            decided.append(step)
    assert decided == [0, 4, 8] and model.calls == 3


def test_by_default_a_policy_acts_with_the_mean_action(synthetic_market, env):
    """deterministic=True by default: the same observation gives the same weights, the
    model's deterministic action mapped to weights (an untrained PPO samples with sd 1)."""
    model = make_agent("ppo", env, seed=0, **TINY_HP)
    policy = AgentPolicy(model, env.action_map)
    state = _state(synthetic_market, env)
    first = policy.act(state)
    for _ in range(3):
        policy.reset()
        np.testing.assert_array_equal(policy.act(state), first)
    mean_action, _ = model.predict(state.observation, deterministic=True)
    np.testing.assert_array_equal(first, _mapped(env, mean_action, state))


def test_a_recurrent_policy_carries_its_memory_between_decisions(synthetic_market, env):
    """RecurrentPPO: each decision continues the LSTM state of the previous one, as in
    training; ``reset()`` starts a new episode from a fresh state."""
    hp = {"n_steps": 16, "batch_size": 16, "n_epochs": 1,
          "policy_kwargs": {"net_arch": [8], "lstm_hidden_size": 8}}  # fmt: skip
    model = make_agent("recurrent_ppo", env, seed=0, **hp)
    policy = AgentPolicy(model, env.action_map)
    state = _state(synthetic_market, env)
    # the model's own rollout of three steps on the same observation
    expected, lstm, start = [], None, np.ones((1,), dtype=bool)
    for _ in range(3):
        action, lstm = model.predict(
            state.observation, state=lstm, episode_start=start, deterministic=True
        )
        start = np.zeros((1,), dtype=bool)
        expected.append(_mapped(env, action, state))
    got = [policy.act(state) for _ in range(3)]
    for w, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(w, e, rtol=0, atol=1e-12)
    assert not np.allclose(got[0], got[1])  # the memory changes the decision
    policy.reset()
    np.testing.assert_allclose(policy.act(state), got[0], rtol=0, atol=1e-12)


# ---------------------------------------------------------------- save and load
@pytest.fixture
def saved(tmp_path, synthetic_market):
    """An agent trained on one fold and saved: (agent, training slice, model folder)."""
    train = synthetic_market[:300]
    agent = _agent(checkpoint_dir=tmp_path / "models").fit(train)
    return agent, train, tmp_path / "models" / agent.fold_key(train)


def _edit_meta(folder, **entries) -> None:
    meta = json.loads((folder / "agent.json").read_text())
    meta.update(entries)
    (folder / "agent.json").write_text(json.dumps({k: v for k, v in meta.items() if v is not None}))


def test_a_saved_fold_records_where_it_came_from(saved):
    agent, train, folder = saved
    meta = json.loads((folder / "agent.json").read_text())
    assert meta["config"] == {"algorithm": "ppo", "seed": 0, "fold": agent.fold_key(train)}
    assert (meta["name"], meta["algorithm"], meta["rebalance_every"]) == ("PPO", "PPO", 5)


def test_save_records_the_sha256_of_the_model_file(env, tmp_path):
    """The hash that AgentPolicy.load checks is written by save itself."""
    from allocgym.agents.model_file import file_sha256

    AgentPolicy(make_agent("ppo", env, seed=0, **TINY_HP), env.action_map).save(tmp_path / "p")
    meta = json.loads((tmp_path / "p" / "agent.json").read_text())
    assert meta["model_sha256"] == file_sha256(tmp_path / "p" / "model.zip")


def test_a_policy_saved_with_the_default_map_loads_without_naming_it(saved):
    agent, _, folder = saved
    loaded = AgentPolicy.load(folder, like=agent.policy_.model)
    assert repr(loaded.action_map) == repr(agent.policy_.action_map)


def test_a_save_from_before_maps_were_recorded_loads_unchecked(saved):
    agent, _, folder = saved
    _edit_meta(folder, action_map=None)  # as written by an older allocgym
    loaded = AgentPolicy.load(folder, agent.policy_.action_map, like=agent.policy_.model)
    assert loaded.rebalance_every == 5


def test_a_hash_of_the_wrong_type_is_refused_naming_agent_json(saved):
    agent, _, folder = saved
    _edit_meta(folder, model_sha256=123)
    with pytest.raises(DataError, match=r"agent\.json: missing or invalid entries .*model_sha256"):
        AgentPolicy.load(folder, like=agent.policy_.model)


# ---------------------------------------------------------------- RLAgent
def test_rl_agent_defaults_are_the_config_defaults():
    """One set of defaults: an agent of a config that names only the algorithm trains
    what RLAgent() trains."""
    agent, config = RLAgent(), AgentConfig()
    assert (agent.algorithm, agent.timesteps, agent.seed) == (
        config.name, config.timesteps, config.seeds[0]
    )  # fmt: skip
    assert (agent.name, RLAgent("a2c").name, RLAgent("ppo", name="Mine").name) == (
        "PPO", "A2C", "Mine"
    )  # fmt: skip


def test_reset_restarts_the_decision_schedule(synthetic_market):
    train = synthetic_market[:300]
    agent = _agent()
    agent.reset()  # before fit: nothing to reset, no error
    agent.fit(train)
    env = TINY.make_env(train, None)
    held = np.eye(train.n_assets + 1)[0]  # all cash: any decision trades
    state = _state(train, env, held)
    decided = agent.act(state)
    np.testing.assert_array_equal(agent.act(state), held)  # holds for 4 days
    agent.reset()
    np.testing.assert_array_equal(agent.act(state), decided)  # decides at once again
    assert not np.array_equal(decided, held)


def test_a_refitted_fold_brings_back_its_own_model(synthetic_market, learn_calls):
    first, second = synthetic_market[:300], synthetic_market[50:350]
    agent = _agent()
    policy_first = agent.fit(first).policy_
    policy_second = agent.fit(second).policy_
    assert agent.fit(first).policy_ is policy_first is not policy_second
    assert (agent.n_folds_trained_, agent.n_folds_reused_, len(learn_calls)) == (2, 1, 2)


def test_a_loaded_fold_is_kept_in_memory_not_loaded_again(saved, tmp_path, monkeypatch):
    _, train, _ = saved
    loads = []
    load = AgentPolicy.load.__func__

    def counted(cls, *args, **kwargs):
        loads.append(args[0])
        return load(cls, *args, **kwargs)

    monkeypatch.setattr(AgentPolicy, "load", classmethod(counted))
    resumed = _agent(checkpoint_dir=tmp_path / "models").fit(train).fit(train)
    counts = (resumed.n_folds_loaded_, resumed.n_folds_reused_, resumed.n_folds_trained_)
    assert counts == (1, 1, 0) and len(loads) == 1


def test_the_progress_reports_add_up_to_the_requested_steps_during_training(synthetic_market):
    """SB3 rounds 600 steps up to whole rollouts (10 of 4 x 16 = 640 steps); the
    reports add up to the 600 asked for, arrive while training (every 256 steps, not
    at every env step) and end with the remainder."""
    reports: list[int] = []
    hp = {**TINY_HP, "batch_size": 32}
    agent = _agent(600, n_envs=4, hyperparameters=hp, progress=reports.append)
    agent.fit(synthetic_market[:300])
    assert agent.policy_.model.num_timesteps == 640 and agent.policy_.model.n_steps == 16
    assert sum(reports) == 600
    # 4 portfolios a step: a report as soon as 256 steps are done (at 256 and 512, not
    # at 260), then the remainder of the 600 asked for at the end
    assert reports == [256, 256, 88]


def test_no_empty_progress_report_when_training_ends_on_a_report(synthetic_market):
    """512 steps are 8 whole rollouts of 4 x 16: the reports at 256 and 512 say it all."""
    reports: list[int] = []
    hp = {**TINY_HP, "batch_size": 32}
    _agent(512, n_envs=4, hyperparameters=hp, progress=reports.append).fit(synthetic_market[:300])
    assert reports == [256, 256]


@pytest.mark.parametrize(
    ("network", "policy_kwargs", "encoder"),
    [("mlp", None, False), ("equivariant", None, True), ("equivariant", {"net_arch": [8]}, False)],
)
def test_the_network_setting_decides_the_feature_extractor(
    network, policy_kwargs, encoder, synthetic_market
):
    """ "equivariant" puts an AssetEncoder in front, unless policy_kwargs are given
    (they are kept as written); "mlp" never does."""
    hp = {"n_steps": 16, "batch_size": 16, "n_epochs": 1}
    if policy_kwargs is not None:
        hp["policy_kwargs"] = policy_kwargs
    agent = _agent(network=network, hyperparameters=hp).fit(synthetic_market[:300])
    extractor = agent.policy_.model.policy.features_extractor
    assert isinstance(extractor, AssetEncoder) == encoder


def test_observed_features_without_a_panel_or_a_selection(synthetic_market):
    from tests.agents.test_agents import _signal_panel

    market = synthetic_market[:300]
    panel = _signal_panel(market)
    assert RLAgent("ppo", observe=["garch"]).observed_features(market, None) is None
    assert RLAgent("ppo").observed_features(market, panel) is panel


def test_make_env_names_an_unknown_algorithm(synthetic_market):
    with pytest.raises(ConfigError, match=r"unknown agent 'ppo_not_here'.*expected one of"):
        RLAgent("ppo_not_here", 64, env=TINY).make_env(synthetic_market[:300], None)


@pytest.mark.parametrize("observe", [["technical", ""], [3], ("garch", None)])
def test_observe_entries_must_be_non_empty_names(observe):
    with pytest.raises(ValueError, match=r"observe=.* is invalid; expected None"):
        RLAgent("ppo", observe=observe)


@pytest.mark.parametrize("n_envs", [0, -2, True, 2.0, "4"])
def test_n_envs_must_be_a_positive_integer(n_envs):
    with pytest.raises(ValueError, match=r"n_envs=.* is invalid; expected an integer >= 1"):
        RLAgent("ppo", n_envs=n_envs)


def test_n_envs_accepts_numpy_integers():
    agent = RLAgent("ppo", n_envs=np.int64(3))
    assert agent.n_envs == 3 and type(agent.n_envs) is int


def test_training_on_two_blocks_reports_each_block_as_it_goes(synthetic_market):
    """fit_blocks: two 150-day blocks share 1,024 steps (512 each); the second block
    continues the model's step count, and its reports still come every 256 of its own
    steps rather than all at once."""
    reports: list[int] = []
    hp = {**TINY_HP, "batch_size": 32}
    agent = _agent(1024, n_envs=4, hyperparameters=hp, progress=reports.append)
    agent.fit_blocks([(synthetic_market[:150], None), (synthetic_market[200:350], None)])
    assert agent.policy_.model.num_timesteps == 1024
    assert reports == [256, 256, 256, 256]


def test_one_learning_rate_schedule_runs_across_the_blocks(synthetic_market):
    """A schedule sees the progress of the whole training, 1 down to 0, not one run per
    block: the second block continues where the first stopped (it started over at
    about 0.5 before), and no progress below 0 reaches the schedule (SB3 rounds each
    block up to whole rollouts). The saved model keeps no trace of the override."""
    seen: list[float] = []

    def rate(progress: float) -> float:
        seen.append(progress)
        return 3e-4 * progress

    hp = {**TINY_HP, "batch_size": 32, "learning_rate": rate}
    agent = _agent(1024, n_envs=4, hyperparameters=hp)
    agent.fit_blocks([(synthetic_market[:150], None), (synthetic_market[200:350], None)])
    assert seen[0] == 1.0 and min(seen) >= 0.0 and seen[-1] == pytest.approx(0.0, abs=0.07)
    assert all(b <= a for a, b in itertools.pairwise(seen))  # never back up
    model = agent.policy_.model
    assert "_update_current_progress_remaining" not in vars(model)
